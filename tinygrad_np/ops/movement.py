"""Ops that move, copy or mask elements: flip, roll, pad, tile, tril/triu, and cumsum.

Each adjoint is an op of the same family: flip's is flip, roll's the opposite roll,
pad's the opposite pad (padding and cropping are adjoint), tile's a sum over the copies,
tril/triu's the same mask, cumsum's a cumsum from the other end. The helpers below
apply an op to an array or, under create_graph, record it on a Tensor, so each rule is
one line for every order. The `*_args` functions turn user arguments into the ops'
parameters, with errors that name the op, the shapes and the fix.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function, number_array
from tinygrad_np.ops.helpers import masked, normalize_axis


def _on(op: type, x: Any, **params: Any) -> Any:
    """op applied to an array, or recorded on a Tensor."""
    return op.apply(x, **params) if isinstance(x, Tensor) else op().forward(x, **params)


class Flip(Function):
    keeps_output = False
    keeps_inputs = False

    def forward(self, a, axes):
        self.axes = axes
        flipped = slice(None, None, -1)  # (a view, as np.flip; `...` keeps a 0-d one an array)
        return a[tuple(flipped if i in axes else slice(None) for i in range(a.ndim)) + (...,)]

    def backward(self, g): return _on(Flip, g, axes=self.axes)


class Roll(Function):
    """np.roll: shift elements along axes (axis None: of the flattened data) with wrap-around."""

    keeps_output = False
    keeps_inputs = False

    def forward(self, a, shift, axis):
        self.shift, self.axis = shift, axis
        return np.roll(a, shift, axis)

    def backward(self, g):
        back = -self.shift if self.axis is None else tuple(-s for s in self.shift)
        return _on(Roll, g, shift=back, axis=self.axis)


class Pad(Function):
    """A constant border: widths ((before, after), ...) per axis; a negative width crops."""

    keeps_output = False

    def forward(self, a, widths, value=0):
        self.widths, self.value = widths, value
        shape = tuple(n + before + after for n, (before, after) in zip(a.shape, widths))
        out = np.full(shape, value, dtype=a.dtype)
        out[tuple(slice(max(b, 0), m - max(e, 0)) for m, (b, e) in zip(shape, widths))] = \
            a[tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(a.shape, widths))]
        return out

    def backward(self, g):
        return _on(Pad, g, widths=tuple((-b, -e) for b, e in self.widths))


class Tile(Function):
    """np.tile: the data repeated reps[i] times along axis i."""

    keeps_output = False

    def forward(self, a, reps):
        self.reps = reps
        return np.tile(a, reps)

    def backward(self, g):
        shape = self.saved[1].shape
        ndim = max(len(shape), len(self.reps))
        reps = (1,) * (ndim - len(self.reps)) + self.reps
        sides = (1,) * (ndim - len(shape)) + shape
        copies = g.reshape(tuple(n for pair in zip(reps, sides) for n in pair))
        return copies.sum(axis=tuple(range(0, 2 * ndim, 2))).reshape(shape)


class Tril(Function):
    """The lower triangle (j <= i + k) of the last two axes; zeros above it."""

    keeps_output = False
    keeps_inputs = False

    def keep(self, rows: int, cols: int) -> np.ndarray:
        return np.tri(rows, cols, self.k, dtype=bool)

    def forward(self, a, k):
        self.k = k
        self.kept = self.keep(*a.shape[-2:])
        return np.where(self.kept, a, number_array(0, a))

    def backward(self, g): return masked(g, self.kept)


class Triu(Tril):
    """The upper triangle (j >= i + k) of the last two axes; zeros below it."""

    def keep(self, rows: int, cols: int) -> np.ndarray:
        return ~np.tri(rows, cols, self.k - 1, dtype=bool)


class Cumsum(Function):
    """Running sums along one axis (None: of the flattened data, as NumPy)."""

    keeps_output = False

    def forward(self, a, axis):
        self.axis, self.shape = axis, a.shape
        return np.cumsum(a, axis=axis)

    def backward(self, g):
        # each input feeds every running sum from its position on: a cumsum from the end
        axis = 0 if self.axis is None else self.axis
        reverse = _on(Flip, _on(Cumsum, _on(Flip, g, axes=(axis,)), axis=axis), axes=(axis,))
        return reverse.reshape(self.shape)


# ----------------------------------------------------------- user arguments
def pad_widths(pad_width: Any, shape: tuple, op: str = "pad") -> tuple:
    """NumPy's pad_width (int, (n,), (before, after), or one pair per axis) -> pairs per axis."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu" or widths.ndim > 2:
        raise TypeError(f"{op}: pad_width must hold integers, as an int, (before, after) or "
                        f"one (before, after) pair per axis; got {pad_width!r} for a tensor of "
                        f"shape {shape}")
    try:
        pairs = np.broadcast_to(widths, (len(shape), 2))
    except ValueError:
        raise ValueError(f"{op}: pad_width {pad_width!r} does not fit a tensor of shape {shape} "
                         f"({len(shape)} axes): give an int, (before, after), or {len(shape)} "
                         "(before, after) pairs") from None
    if (pairs < 0).any():
        raise ValueError(f"{op}: pad_width {pad_width!r} holds a negative width (tensor of shape "
                         f"{shape}); NumPy's pad only adds. To crop, slice the tensor or use "
                         "tg.nn.functional.pad, whose negative pads crop")
    return tuple((int(b), int(e)) for b, e in pairs)


def torch_pad_widths(pad: Any, shape: tuple) -> tuple:
    """PyTorch's pad (last axis first: (left, right, top, bottom, ...)) -> pairs per axis."""
    pad = tuple(pad)
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad: the padding {pad!r} must hold ints")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2 (one (before, after) pair "
                         f"per axis, last axis first), got {pad!r}")
    if len(pad) > 2 * len(shape):
        raise ValueError(f"pad: padding {pad!r} has {len(pad) // 2} pairs but the input of shape "
                         f"{shape} has {len(shape)} axes; give at most one pair per axis")
    pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)][::-1]
    widths = ((0, 0),) * (len(shape) - len(pairs)) + tuple(pairs)
    for n, (before, after) in zip(shape, widths):
        if n + before + after < 0:
            raise ValueError(f"pad: the input of shape {shape}, padded with {pad!r}, would have "
                             f"an axis of size {n} + {before} + {after} < 0; crop less")
    return widths


def roll_args(shift: Any, axis: Any, shape: tuple) -> tuple:
    """np.roll's shift and axis -> (total shift, None) or (shifts, axes) with one per axis."""
    shifts, axes = np.asarray(shift), np.asarray(0 if axis is None else axis)
    if shifts.dtype.kind not in "iu" or axes.dtype.kind not in "iu":
        raise TypeError(f"roll: shift and axis must be ints (or tuples of ints), got {shift!r} "
                        f"and {axis!r}")
    if axis is None:
        return int(shifts.sum()), None
    try:
        shifts, axes = np.broadcast_arrays(shifts, axes)
    except ValueError:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} do not pair up (tensor of "
                         f"shape {shape}); give one shift per axis, or one for all") from None
    axes = tuple(normalize_axis(int(a), shape, "roll")[0] if len(shape) else 0 for a in axes.flat)
    return tuple(int(s) for s in shifts.flat), axes


def tile_reps(reps: Any, op: str, shape: tuple) -> tuple:
    """reps as a tuple of non-negative ints."""
    reps = tuple(reps) if isinstance(reps, (tuple, list, np.ndarray)) else (reps,)
    if not all(isinstance(r, (int, np.integer)) and not isinstance(r, bool) for r in reps):
        raise TypeError(f"{op}: repetitions must be ints, got {reps!r}")
    if any(r < 0 for r in reps):
        raise ValueError(f"{op}: repetitions {reps!r} for a tensor of shape {shape} must be >= 0")
    return tuple(int(r) for r in reps)


def cumsum_axis(axis: Any, shape: tuple) -> int | None:
    """None, or the one axis as a non-negative int."""
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"cumsum: axis must be None or one int, got {axis!r} for a tensor of "
                        f"shape {shape}")
    if not shape:  # NumPy treats a 0-d array's axis 0 as the flattened one
        normalize_axis(axis, shape, "cumsum")
        return None
    return normalize_axis(axis, shape, "cumsum")[0]


def triangle_check(shape: tuple, k: Any, op: str) -> int:
    if len(shape) < 2:
        raise ValueError(f"{op}: the input must have at least 2 dims (it works on the last two), "
                         f"got shape {shape}")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"{op}: the diagonal offset k must be an int, got {k!r}")
    return int(k)



def pad_value(value: Any, mode: Any, op: str) -> Any:
    """The fill of a constant pad (None: 0), checked; other modes are not implemented."""
    if mode != "constant":
        raise NotImplementedError(f"{op}: only mode='constant' is implemented, got mode={mode!r}; "
                                  "reflect/replicate/circular padding can be written with "
                                  "slicing and tg.concatenate")
    if value is None:
        return 0
    if isinstance(value, Tensor) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{op}: the fill value must be a number, got {type(value).__name__}; "
                        "for a fill that needs a gradient, pad with 0 and add value * mask")
    return value
