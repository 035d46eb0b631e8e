"""Convolution and pooling over N spatial axes (NCL, NCHW, ...): im2col, its adjoint, windows.

Convolution is an im2col -- a strided view of the padded input, copied once into
columns -- and ONE matrix product per call (one per group). The three primitives
    Conv(x, w, b)          y = conv(x, w) + b
    ConvInputGrad(g, w)    the adjoint in x: conv_transpose(g, w) (col2im of w^T g)
    ConvWeightGrad(x, g)   the adjoint in w: g @ im2col(x)^T
are bilinear, and each one's backward is written with the three of them, so
derivatives of every order stay in this closed set (see `_conv`, `_input_grad`,
`_weight_grad`: arrays go to NumPy, Tensors -- under create_graph -- to the primitives).

Pooling reads the input through its windows, one strided slice per kernel position
(a loop over the few kernel positions, each step vectorised over the whole batch):
    MaxPool(x)             the max of each window; ties go to the first in the window
                           (row-major), as PyTorch's argmax rule; NaN wins, as there
    PoolScatter(g)         g put back where each max came from (MaxPool's backward)
    PoolGather(h)          h read where each max came from (PoolScatter's backward)
    AvgPool(x)             window sums times 1/divisor (PyTorch's count_include_pad rule)
    AvgPoolTranspose(g)    its adjoint: g / divisor spread over each window
Geometry (shapes, stride, padding...) is checked once, by `conv_geometry` and
`pool_geometry`, whose errors name the op and the shapes.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function


# ------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class ConvGeometry:
    """Everything about one convolution but its numbers; shapes are (N, C, *spatial)."""

    x_shape: tuple
    w_shape: tuple      # (out_channels, in_channels // groups, *kernel)
    stride: tuple
    padding: tuple      # ((before, after), ...) per spatial axis
    dilation: tuple
    groups: int
    out: tuple          # output spatial shape

    @property
    def kernel(self) -> tuple:
        return self.w_shape[2:]

    @property
    def out_shape(self) -> tuple:
        return (self.x_shape[0], self.w_shape[0], *self.out)


@dataclass(frozen=True)
class PoolGeometry:
    """One pooling: kernel, stride, dilation, padding ((before, after) per axis) and sizes."""

    x_shape: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    out: tuple

    @property
    def out_shape(self) -> tuple:
        return (*self.x_shape[:2], *self.out)

    @property
    def overlapping(self) -> bool:
        """Whether an input element can sit in two windows (stride < window extent)."""
        return any(s < d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride,
                                                            self.dilation))


def as_tuple(value: Any, n: int, what: str, op: str, minimum: int = 1) -> tuple:
    """An int or a sequence of n ints (each >= minimum) as a tuple of n ints."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items: tuple = (value,) * n
    else:
        try:
            items = tuple(value)
        except TypeError:
            items = ()
    if len(items) != n or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                  for v in items):
        raise TypeError(f"{op}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{op}: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def conv_geometry(x_shape: tuple, w_shape: tuple, stride: Any, padding: Any, dilation: Any,
                  groups: int, op: str) -> ConvGeometry:
    """Check one convolution's arguments against the input and weight shapes."""
    n = len(w_shape) - 2
    if len(x_shape) != n + 2:
        raise ValueError(f"{op}: expected a {n + 2}-D input (N, C, {_axes(n)}), got shape "
                         f"{x_shape}")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be an int >= 1, got {groups!r}")
    out_channels, per_group = w_shape[:2]
    if out_channels % groups:
        raise ValueError(f"{op}: weight of shape {w_shape} has {out_channels} output "
                         f"channels, not divisible by groups={groups}")
    if x_shape[1] != per_group * groups:
        raise ValueError(f"{op}: expected an input with {per_group * groups} channels on "
                         f"axis 1 (weight of shape {w_shape}, groups={groups}), got an input "
                         f"of shape {x_shape}")
    stride = as_tuple(stride, n, "stride", op)
    dilation = as_tuple(dilation, n, "dilation", op)
    kernel = w_shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' needs stride 1 (got stride={stride}); "
                                 "give the padding as numbers for a strided convolution")
            total = [d * (k - 1) for k, d in zip(kernel, dilation)]
            pads = tuple((t // 2, t - t // 2) for t in total)  # the odd one after, as PyTorch
        else:
            raise ValueError(f"{op}: padding must be an int, a tuple of ints, 'same' or "
                             f"'valid', got {padding!r}")
    else:
        pads = tuple((p, p) for p in as_tuple(padding, n, "padding", op, minimum=0))
    out = []
    for i, (size, k, s, d, (lo, hi)) in enumerate(zip(x_shape[2:], kernel, stride, dilation,
                                                     pads)):
        padded, extent = size + lo + hi, d * (k - 1) + 1
        if extent > padded:
            raise ValueError(
                f"{op}: the kernel is larger than the padded input along spatial axis {i}: "
                f"kernel {k} (dilation {d}) spans {extent}, the input {size} padded by "
                f"{lo}+{hi} is {padded}; input shape {x_shape}, weight shape {w_shape}")
        out.append((padded - extent) // s + 1)
    return ConvGeometry(tuple(x_shape), tuple(w_shape), stride, pads, dilation, int(groups),
                        tuple(out))


def pool_geometry(x_shape: tuple, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                  ceil_mode: bool, op: str) -> PoolGeometry:
    """Check one pooling's arguments against the input shape (PyTorch's output-size rule)."""
    n = len(x_shape) - 2
    kernel = as_tuple(kernel_size, n, "kernel_size", op)
    stride = kernel if stride is None else as_tuple(stride, n, "stride", op)
    pads = as_tuple(padding, n, "padding", op, minimum=0)
    dilation = as_tuple(dilation, n, "dilation", op)
    out, padding_pairs = [], []
    for i, (size, k, s, p, d) in enumerate(zip(x_shape[2:], kernel, stride, pads, dilation)):
        extent = d * (k - 1) + 1
        if p > extent // 2:
            raise ValueError(f"{op}: padding {p} is more than half the kernel ({extent}) along "
                             f"spatial axis {i}; padding should be at most half of the kernel")
        span = size + 2 * p - extent
        if span < 0:
            raise ValueError(
                f"{op}: the kernel is larger than the padded input along spatial axis {i}: "
                f"kernel {k} (dilation {d}) spans {extent}, the input {size} padded by {p} on "
                f"each side is {size + 2 * p}; input shape {x_shape}")
        count = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (count - 1) * s >= size + p:
            count -= 1  # the last window must start inside the input or its left padding
        out.append(count)
        # after-padding that the last window reaches (ceil_mode may reach past 2p)
        padding_pairs.append((p, max(p, (count - 1) * s + extent - size - p)))
    return PoolGeometry(tuple(x_shape), kernel, stride, tuple(padding_pairs), dilation,
                        tuple(out))


def _axes(n: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}.get(n, "...")


# ------------------------------------------------------------ NumPy kernels
# NOTE: arrays are (N, C, *spatial) as seen by the user, but what this module allocates is
# channels-last in memory ((N, *spatial, C), seen through np.moveaxis): an im2col row then
# reads kernel-width x C contiguous floats instead of one output row's few, and the
# product's result is already in that layout (W7's step: see benchmarks/README.md).
def channels_last(x: np.ndarray) -> bool:
    """Whether x's channel axis (1) is the innermost in memory."""
    return x.ndim > 2 and x.strides[1] == x.itemsize and x.shape[1] > 1


def _new(shape: tuple, dtype: np.dtype, value: float = 0, last: bool = True) -> np.ndarray:
    """A new (N, C, *spatial) array filled with value, channels-last in memory if `last`."""
    if not last:
        return np.full(shape, value, dtype) if value else np.zeros(shape, dtype)
    inner = (shape[0], *shape[2:], shape[1])
    memory = np.full(inner, value, dtype) if value else np.zeros(inner, dtype)
    return np.moveaxis(memory, -1, 1)


def _same_layout(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A copy of a in like's memory layout."""
    out = np.empty_like(like, a.dtype)
    out[...] = a
    return out


def _padded_shape(shape: tuple, pads: tuple) -> tuple:
    return shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], pads))


def _pad(x: np.ndarray, pads: tuple, value: float, last: bool = True) -> np.ndarray:
    """x with its spatial axes padded by `value` (x itself when there is no padding)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    out = _new(_padded_shape(x.shape, pads), x.dtype, value, last)
    out[_interior(x.shape, pads)] = x
    return out


def _interior(shape: tuple, pads: tuple) -> tuple:
    """The index of the unpadded input inside its padded copy."""
    return (slice(None), slice(None)) + tuple(slice(lo, lo + n) for n, (lo, _) in
                                              zip(shape[2:], pads))


def _window_slices(kernel: tuple, stride: tuple, dilation: tuple, out: tuple) -> list:
    """For each kernel position (row-major), the index of what it sees in every window:
    element (N, C, *o) of `padded[index]` is that position of window o."""
    lead = (slice(None), slice(None))
    return [lead + tuple(slice(j * d, j * d + s * (o - 1) + 1, s)
                         for j, s, d, o in zip(position, stride, dilation, out))
            for position in itertools.product(*(range(k) for k in kernel))]


def _im2col(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The columns of x, a fresh (groups, N * prod(out), prod(kernel) * C/groups) array:
    row (n, *o) of group g holds window o of sample n, kernel position-major, channel-minor."""
    xp = _pad(x, geo.padding, 0)
    n, c = x.shape[:2]
    per_group = c // geo.groups
    s_n, s_c, *s_sp = xp.strides
    view = as_strided(xp, (geo.groups, n, *geo.out, *geo.kernel, per_group),
                      (per_group * s_c, s_n, *(st * s for st, s in zip(geo.stride, s_sp)),
                       *(d * s for d, s in zip(geo.dilation, s_sp)), s_c), writeable=False)
    return view.reshape(geo.groups, n * math.prod(geo.out), -1)  # the one copy


def _weight_matrix(w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """w (O, C/G, *kernel) as (G, prod(kernel) * C/G, O/G), the columns' row order."""
    groups, nd = geo.groups, len(geo.kernel)
    per_group = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])  # (G, O/G, C/G, *k)
    order = (0, *range(3, nd + 3), 2, 1)
    return per_group.transpose(order).reshape(groups, -1, w.shape[0] // groups)


def _rows(g: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """An output-shaped g as (G, N * prod(out), O/G) (no copy when g is channels-last and
    there is one group)."""
    moved = np.moveaxis(g, 1, -1)  # (N, *out, O)
    if geo.groups == 1:
        return moved.reshape(1, -1, g.shape[1])
    split = moved.reshape(-1, geo.groups, g.shape[1] // geo.groups)
    return np.ascontiguousarray(split.swapaxes(0, 1))


def _np_conv(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, cols: Any = None,
             b: Any = None) -> np.ndarray:
    cols = _im2col(x, geo) if cols is None else cols
    wm = _weight_matrix(w, geo)
    if geo.groups == 1:
        out = cols[0] @ wm[0]  # (N * prod(out), O)
    else:
        out = np.matmul(cols, wm).swapaxes(0, 1).reshape(cols.shape[1], -1)
    if b is not None:
        if b.dtype == out.dtype:
            out += b  # in place: out is ours
        else:
            out = out + b
    return np.moveaxis(out.reshape(geo.x_shape[0], *geo.out, -1), -1, 1)


def _np_input_grad(g: np.ndarray, w: np.ndarray, geo: ConvGeometry,
                   rows: Any = None) -> np.ndarray:
    """conv_transpose(g, w), the adjoint of _im2col applied to rows @ W^T (col2im), fused:
    per kernel position k, the column block rows @ W_k^T (G, N*L, C/G) is added back where
    position k read from, so the whole column gradient is never stored."""
    n, c, *spatial = geo.x_shape
    groups, kernel, per_group = geo.groups, math.prod(geo.kernel), geo.w_shape[1]
    rows = _rows(g, geo) if rows is None else rows  # (G, N*L, O/G)
    wk = _weight_matrix(w, geo).reshape(groups, kernel, per_group, -1).swapaxes(2, 3)
    part = np.empty((groups, rows.shape[1], per_group), np.result_type(rows, wk))
    padded = _padded_shape(geo.x_shape, geo.padding)
    memory = np.zeros((n, *padded[2:], c), part.dtype)  # channels-last, seen as (N, C, ...)
    for k, index in enumerate(_window_slices(geo.kernel, geo.stride, geo.dilation, geo.out)):
        np.matmul(rows, wk[:, k], out=part)
        block = part[0] if groups == 1 else part.swapaxes(0, 1)
        # NOTE: (N, *out, C) against the buffer's (N, *padded, C): for stride 1, runs of
        # out_width * C contiguous floats on both sides; a (N*L, K*C) column gradient
        # added back per position ran ~20% slower (W7's second conv) and took 2.4 MB more
        memory[(slice(None), *index[2:])] += block.reshape(n, *geo.out, c)
    unpadded = memory[(slice(None), *_interior(geo.x_shape, geo.padding)[2:])]
    return np.moveaxis(unpadded, -1, 1)


def _np_weight_grad(x: np.ndarray, g: np.ndarray, geo: ConvGeometry, cols: Any = None,
                    rows: Any = None) -> np.ndarray:
    cols = _im2col(x, geo) if cols is None else cols
    rows = _rows(g, geo) if rows is None else rows
    gw = cols[0].T @ rows[0] if geo.groups == 1 else np.matmul(cols.swapaxes(1, 2), rows)
    # (G, prod(k) * C/G, O/G) -> (O, C/G, *k), C-ordered like the weight
    nd, groups = len(geo.kernel), geo.groups
    gw = gw.reshape(groups, *geo.kernel, geo.w_shape[1], geo.w_shape[0] // groups)
    order = (0, nd + 2, nd + 1, *range(1, nd + 1))
    return np.ascontiguousarray(gw.transpose(order)).reshape(geo.w_shape)


# --------------------------------------- the three bilinear maps, arrays or Tensors
def _conv(x: Any, w: Any, geo: ConvGeometry) -> Any:
    if isinstance(x, Tensor) or isinstance(w, Tensor):
        return Conv.apply(x, w, None, geometry=geo)
    return _np_conv(x, w, geo)


def _input_grad(g: Any, w: Any, geo: ConvGeometry) -> Any:
    if isinstance(g, Tensor) or isinstance(w, Tensor):
        return ConvInputGrad.apply(g, w, geometry=geo)
    return _np_input_grad(g, w, geo)


def _weight_grad(x: Any, g: Any, geo: ConvGeometry) -> Any:
    if isinstance(x, Tensor) or isinstance(g, Tensor):
        return ConvWeightGrad.apply(x, g, geometry=geo)
    return _np_weight_grad(x, g, geo)


class Conv(Function):
    """conv(x, w) + b over N spatial axes, as im2col and one matrix product.

    The columns are kept for the weight's gradient when `save_columns` (in `saved`,
    so the walk frees them with the rest); otherwise they are recomputed if needed.
    """

    keeps_output = False

    def forward(self, x, w, b, geometry, save_columns=True):
        self.geometry = geometry
        cols = _im2col(x, geometry)
        if save_columns:
            self.save_for_backward(cols)
        return _np_conv(x, w, geometry, cols, b)

    def backward(self, g):
        x, w, b = self.saved[1:4]
        cols = self.saved[4] if len(self.saved) > 4 else None
        px, pw, pb = self.parents
        geo = self.geometry
        if not isinstance(g, Tensor):  # first order: g's rows once, the saved columns
            rows = _rows(g, geo)
            gx = None if px is None else _np_input_grad(g, w, geo, rows)
            gw = None if pw is None else _np_weight_grad(x, g, geo, cols, rows)
            # NOTE: sums over rows as ones @ rows, one BLAS call (~10x axis-1 sum's speed)
            gb = None if pb is None else (np.ones(rows.shape[1], rows.dtype) @ rows).reshape(-1)
            return gx, gw, gb
        spatial = tuple(range(2, len(geo.x_shape)))
        return (None if px is None else _input_grad(g, w, geo),
                None if pw is None else _weight_grad(x, g, geo),
                None if pb is None else g.sum(axis=(0, *spatial)))


class ConvInputGrad(Function):
    """The adjoint of conv in its input: conv_transpose(g, w), x-shaped."""

    keeps_output = False

    def forward(self, g, w, geometry):
        self.geometry = geometry
        return _np_input_grad(g, w, geometry)

    def backward(self, h):
        _, g, w = self.saved
        geo = self.geometry
        return (None if self.parent0 is None else _conv(h, w, geo),
                None if self.parent1 is None else _weight_grad(h, g, geo))


class ConvWeightGrad(Function):
    """The adjoint of conv in its weight: g @ im2col(x)^T, w-shaped."""

    keeps_output = False

    def forward(self, x, g, geometry):
        self.geometry = geometry
        return _np_weight_grad(x, g, geometry)

    def backward(self, v):
        _, x, g = self.saved
        geo = self.geometry
        return (None if self.parent0 is None else _input_grad(g, v, geo),
                None if self.parent1 is None else _conv(x, v, geo))


# ------------------------------------------------------------------ pooling
def _spread(parts: Any, geo: PoolGeometry, dtype: np.dtype, last: bool) -> np.ndarray:
    """Sum of `parts(k)` (output-shaped) put at kernel position k of every window."""
    buffer = _new(_padded_shape(geo.x_shape, geo.padding), dtype, last=last)
    for k, index in enumerate(_window_slices(geo.kernel, geo.stride, geo.dilation, geo.out)):
        buffer[index] += parts(k)
    return buffer[_interior(geo.x_shape, geo.padding)]


def _np_pool_scatter(g: np.ndarray, offsets: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """g put at the kernel position `offsets` names in each window (x-shaped)."""
    last = channels_last(offsets)
    if last and not channels_last(g):  # one copy into offsets' layout: the loops then agree
        g = _same_layout(g, offsets)
    if geo.overlapping or not math.isfinite(g.sum()):
        zero = np.zeros((), g.dtype)  # np.where: 0, not inf * 0, off the maximum
        return _spread(lambda k: np.where(offsets == k, g, zero), geo, g.dtype, last)
    buffer = _new(_padded_shape(geo.x_shape, geo.padding), g.dtype, last=last)
    for k, index in enumerate(_window_slices(geo.kernel, geo.stride, geo.dilation, geo.out)):
        # windows apart: each element is written once; g is finite, so g * 0 is 0
        np.multiply(g, offsets == k, out=buffer[index])
    return buffer[_interior(geo.x_shape, geo.padding)]


def _np_pool_gather(h: np.ndarray, offsets: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """h read at the kernel position `offsets` names in each window (output-shaped)."""
    hp = _pad(h, geo.padding, 0, channels_last(h))
    out = np.empty_like(offsets, h.dtype)
    for k, index in enumerate(_window_slices(geo.kernel, geo.stride, geo.dilation, geo.out)):
        np.copyto(out, hp[index], where=offsets == k)
    return out


def _pool_scatter(g: Any, offsets: np.ndarray, geo: PoolGeometry) -> Any:
    if isinstance(g, Tensor):
        return PoolScatter.apply(g, offsets=offsets, geometry=geo)
    return _np_pool_scatter(g, offsets, geo)


def _pool_gather(h: Any, offsets: np.ndarray, geo: PoolGeometry) -> Any:
    if isinstance(h, Tensor):
        return PoolGather.apply(h, offsets=offsets, geometry=geo)
    return _np_pool_gather(h, offsets, geo)


class MaxPool(Function):
    """The max of each window; the gradient goes to the first maximum (a NaN wins)."""

    keeps_output = False

    def forward(self, x, geometry):
        self.geometry = geometry
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = _pad(x, geometry.padding, low, channels_last(x))
        slices = _window_slices(geometry.kernel, geometry.stride, geometry.dilation,
                                geometry.out)
        best = xp[slices[0]].copy(order="K")  # x's memory layout, kept below
        offsets = np.zeros_like(best, np.uint8 if len(slices) < 256 else np.intp)
        # NaN wins, as in PyTorch's `val > max || isnan(val)`: checked per position only
        # when x holds one (min() propagates NaN; one pass, no temporary)
        nan_aware = x.dtype.kind == "f" and x.size > 0 and math.isnan(x.min())
        for k, index in enumerate(slices[1:], 1):
            candidate = xp[index]
            better = candidate > best  # strictly: the first of equal maxima keeps its place
            if nan_aware:
                better |= np.isnan(candidate)
            np.maximum(best, candidate, out=best)  # NaN propagates, as in PyTorch
            # NOTE: the last k that was better is the largest: max(offsets, better * k), two
            # SIMD loops where np.copyto(where=) took a masked copy 10x slower
            np.maximum(offsets, np.multiply(better, k, dtype=offsets.dtype), out=offsets)
        self.save_for_backward(offsets)
        return best

    def backward(self, g):
        return _pool_scatter(g, self.saved[2], self.geometry)


class PoolScatter(Function):
    """g put where each window's max came from: MaxPool's backward, recorded under
    create_graph."""

    keeps_output = False

    def forward(self, g, offsets, geometry):
        self.offsets, self.geometry = offsets, geometry
        return _np_pool_scatter(g, offsets, geometry)

    def backward(self, h):
        return _pool_gather(h, self.offsets, self.geometry)


class PoolGather(Function):
    """h read where each window's max came from: PoolScatter's backward."""

    keeps_output = False

    def forward(self, h, offsets, geometry):
        self.offsets, self.geometry = offsets, geometry
        return _np_pool_gather(h, offsets, geometry)

    def backward(self, g):
        return _pool_scatter(g, self.offsets, self.geometry)


def avg_divisor(geo: PoolGeometry, count_include_pad: bool, divisor_override: Any,
                dtype: np.dtype) -> np.ndarray:
    """1 / the divisor of each window (output spatial shape, or a 0-d array), PyTorch's rule:
    the window clipped to the padded input (count_include_pad) or to the input itself."""
    if divisor_override is not None:
        return np.asarray(1.0 / divisor_override, dtype)
    sizes = []
    for n, k, s, (p, _), o in zip(geo.x_shape[2:], geo.kernel, geo.stride, geo.padding, geo.out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    count = sizes[0]
    for size in sizes[1:]:
        count = np.multiply.outer(count, size)
    if np.all(count == count.flat[0]):
        return np.asarray(1.0 / count.flat[0], dtype)
    return (1.0 / count).astype(dtype)


def _np_avg_pool(x: np.ndarray, scale: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    xp = _pad(x, geo.padding, 0, channels_last(x))
    slices = _window_slices(geo.kernel, geo.stride, geo.dilation, geo.out)
    total = xp[slices[0]].copy(order="K")
    for index in slices[1:]:
        total += xp[index]
    total *= scale
    return total


def _avg_pool(x: Any, scale: np.ndarray, geo: PoolGeometry) -> Any:
    if isinstance(x, Tensor):
        return AvgPool.apply(x, scale=scale, geometry=geo)
    return _np_avg_pool(x, scale, geo)


def _avg_pool_transpose(g: Any, scale: np.ndarray, geo: PoolGeometry) -> Any:
    if isinstance(g, Tensor):
        return AvgPoolTranspose.apply(g, scale=scale, geometry=geo)
    scaled = g * scale
    return _spread(lambda k: scaled, geo, scaled.dtype, channels_last(g))


class AvgPool(Function):
    """The mean of each window: window sums times `scale` (1 / divisor, see avg_divisor)."""

    keeps_output = False

    def forward(self, x, scale, geometry):
        self.scale, self.geometry = scale, geometry
        return _np_avg_pool(x, scale, geometry)

    def backward(self, g):
        return _avg_pool_transpose(g, self.scale, self.geometry)


class AvgPoolTranspose(Function):
    """AvgPool's adjoint: g * scale spread over each window (x-shaped)."""

    keeps_output = False

    def forward(self, g, scale, geometry):
        self.scale, self.geometry = scale, geometry
        return _avg_pool_transpose(g, scale, geometry)

    def backward(self, h):
        return _avg_pool(h, self.scale, self.geometry)
