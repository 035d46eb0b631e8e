"""The primitive ops: each forward sits beside its derivative.

A backward rule reads `self.saved == (out, *inputs)` and returns one gradient
per input. An elementwise op whose forward is one NumPy ufunc names it instead
(`ufunc = np.add`): the engine calls it with no Python frame in between. An op
whose rule never reads its output says `keeps_output = False`, one that reads
only its output `keeps_inputs = False`: `saved` then holds None there, and that
memory is freed as soon as the user drops it. The walk calls a
rule with NumPy arrays -- or, under create_graph, with Tensors wired into the
graph -- so every rule is written with operators and the few two-way helpers
below, and the same line serves first and higher order. Broadcasting is undone
by the walk, never here. Factors that have no derivative of their own (masks,
signs) are taken from `value(x)`, a plain array either way. Hot rules avoid
Python numbers next to arrays (NumPy converts one on every call, ~0.5 us): they
write out - out * out for out * (1 - out), or number_array(0, x).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np.autograd import Function, number_array, unbroadcast
from tinygrad_np.tensor import Tensor


# ------------------------------------------------- helpers for both array kinds
def value(x: Any) -> Any:
    """The plain array behind x: constants for masks and signs."""
    return x.data if isinstance(x, Tensor) else x


def log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else np.log(x)


def exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def stable_shift(a: np.ndarray, axis: Any) -> np.ndarray:
    """What to subtract before exp(): the max along axis (kept), 0 where it is not finite.

    NOTE: exp(a - max) <= 1 never overflows; the shift is a constant whose gradient cancels.
    """
    if not a.size:
        return np.zeros((), a.dtype)
    m = a.max(axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, number_array(0, m))


def expand(g: Any, shape: tuple) -> Any:
    """Broadcast g up to shape."""
    if isinstance(g, Tensor):
        return g.broadcast_to(shape)
    out = np.empty(shape, dtype=g.dtype)  # NOTE: not np.broadcast_to: ~8 us of Python per call
    out[...] = g
    return out


def select(condition: np.ndarray, a: Any, b: Any) -> Any:
    """where(condition, a, b) for arrays or Tensors."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return Where.apply(a, b, condition=condition)
    return np.where(condition, a, b)


def normalize_axis(axis: Any, shape: tuple, op: str = "reduction") -> tuple[int, ...]:
    """None | int | tuple -> a sorted tuple of non-negative axes, checked against shape."""
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise np.exceptions.AxisError(
                f"{op}: axis {a} is out of bounds for a tensor of shape {shape}")
        result.append(int(a) % max(ndim, 1) if ndim else 0)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis} for a tensor of shape {shape}")
    return tuple(sorted(result)) if ndim else ()


def plain_index(index: Any) -> Any:
    """An index with Tensors replaced by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _has_int_array(index: Any) -> bool:
    """True when an index may select one element twice (integer arrays or lists)."""
    for i in index if isinstance(index, tuple) else (index,):
        if isinstance(i, (list, np.ndarray)) and np.asarray(i).dtype.kind != "b":
            return True
    return False


def scatter_add(g: Any, index: Any, shape: tuple) -> Any:
    """Zeros of `shape` with g added at `index` (repeated positions add up)."""
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, index=index, shape=shape)
    out = np.zeros(shape, dtype=g.dtype)
    if _has_int_array(index):
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


# ---------------------------------------------------------------- arithmetic
class Add(Function):
    numbers_as_arrays = True
    ufunc = np.add
    def backward(self, g): return g, g


class Sub(Function):
    numbers_as_arrays = True
    ufunc = np.subtract
    def backward(self, g): return g, (None if self._p1 is None else -g)


class Neg(Function):
    ufunc = np.negative
    def backward(self, g): return -g


class Mul(Function):
    numbers_as_arrays = True
    ufunc = np.multiply

    def backward(self, g):
        _, a, b = self.saved
        pa, pb = self._p0, self._p1
        return (None if pa is None else g * b), (None if pb is None else g * a)


class Div(Function):
    numbers_as_arrays = True
    ufunc = np.true_divide

    def backward(self, g):
        _, a, b = self.saved
        pa, pb = self._p0, self._p1
        return (None if pa is None else g / b), (None if pb is None else -g * a / (b * b))


class Pow(Function):
    def forward(self, a, b): return a ** b

    def backward(self, g):
        out, a, b = self.saved
        pa, pb = self._p0, self._p1
        ga = None if pa is None else g * b * a ** (b - 1)
        # NOTE: d(a**b)/db = a**b * log(a); taken as 0 where a == 0, like PyTorch.
        gb = None if pb is None else g * out * log(select(value(a) == 0, 1.0, a))
        return ga, gb


def _is_transposed(x: Any) -> bool:
    """True for a Fortran-ordered matrix, e.g. the view W.T of a C-ordered weight."""
    flags = value(x).flags
    return flags.f_contiguous and not flags.c_contiguous


class MatMul(Function):
    keeps_output = False
    def forward(self, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes "
                             f"{np.shape(a)} and {np.shape(b)}; use * for scalars")
        return np.matmul(a, b)

    def backward(self, g):
        _, a, b = self.saved
        pa, pb = self._p0, self._p1
        if a.ndim == 2 and b.ndim == 2:
            # NOTE: (g.T @ a).T == a.T @ g; taking the form that matches b's memory layout
            # gives x @ W.T a C-ordered weight gradient (an SGD update 5x faster than on
            # a transposed one). Same for a.
            ga = gb = None
            if pa is not None:
                ga = (b @ g.T).T if _is_transposed(a) else g @ b.T
            if pb is not None:
                gb = (g.T @ a).T if _is_transposed(b) else a.T @ g
            return ga, gb
        # NOTE: 1-D operands act as (1, n) rows / (n, 1) columns, as in numpy.matmul;
        # batch axes broadcast, so each gradient is summed back to its operand's shape.
        a2 = a if a.ndim > 1 else a.reshape((1, -1))
        b2 = b if b.ndim > 1 else b.reshape((-1, 1))
        shape = list(g.shape)
        if b.ndim == 1:
            shape.append(1)
        if a.ndim == 1:
            shape.insert(len(shape) - 1, 1)
        g2 = g.reshape(tuple(shape))
        ga = gb = None
        if pa is not None:
            ga = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if pb is not None:
            gb = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return ga, gb


class Linear(Function):
    """x @ weight.T + bias as one node: what nn.Linear records.

    NOTE: fused rather than Transpose + MatMul + Add: one node instead of three and
    one array kept for backward instead of two (benchmarks W1 and W5).
    """

    keeps_output = False

    def forward(self, x, weight, bias=None):
        out = np.matmul(x, weight.T)
        if bias is None:
            return out
        if getattr(bias, "dtype", None) == out.dtype:
            out += bias  # in place: out is a fresh array of our own
            return out
        return out + bias

    def backward(self, g):
        _, x, weight, _ = self.saved
        px, pw, pb = self.parents
        gx = None if px is None else g @ weight
        # batch axes folded into rows: dW = sum over every row of g_row^T x_row
        rows = g.reshape((-1, g.shape[-1]))
        gw = None if pw is None else rows.T @ x.reshape((-1, x.shape[-1]))
        return gx, gw, (None if pb is None else g)  # the walk sums g to the bias's shape


# --------------------------------------------------------------- elementwise
class Exp(Function):
    keeps_inputs = False
    ufunc = np.exp
    def backward(self, g): return g * self.saved[0]


class Log(Function):
    ufunc = np.log
    def backward(self, g): return g / self.saved[1]


class Sqrt(Function):
    keeps_inputs = False
    ufunc = np.sqrt
    def backward(self, g): return g / (2 * self.saved[0])


class Abs(Function):
    ufunc = np.abs
    def backward(self, g): return g * np.sign(value(self.saved[1]))


class Tanh(Function):
    keeps_inputs = False
    ufunc = np.tanh

    def backward(self, g):
        out = self.saved[0]
        return g - g * out * out  # g * (1 - out**2) without a Python 1 (~0.6 us on small arrays)


class Sigmoid(Function):
    keeps_inputs = False
    def forward(self, a):
        # NOTE: exp(-|a|) never overflows; the two branches give 1/(1+e^-a) exactly.
        e = np.exp(-np.abs(a))
        one = number_array(1, a)
        return np.where(a >= number_array(0, a), one, e) / (one + e)

    def backward(self, g):
        out = self.saved[0]
        return g * (out - out * out)  # out * (1 - out)


class ReLU(Function):
    keeps_inputs = False
    def forward(self, a): return np.maximum(a, number_array(0, a))

    def backward(self, g):
        out = value(self.saved[0])
        return g * (out > number_array(0, out))


class Clip(Function):
    def forward(self, a, lo=None, hi=None):
        self.lo, self.hi = lo, hi
        return np.clip(a, lo, hi)

    def backward(self, g):
        a = value(self.saved[1])
        inside = np.ones(a.shape, dtype=bool)
        if self.lo is not None:
            inside &= a >= self.lo
        if self.hi is not None:
            inside &= a <= self.hi
        return g * inside


class Maximum(Function):
    def forward(self, a, b): return np.maximum(a, b)

    def backward(self, g):
        out, a, b = self.saved
        va, vb = value(a), value(b)
        # NOTE: at ties each side gets half the gradient, as in PyTorch.
        share = np.where(va > vb, 1.0, np.where(va == vb, 0.5, 0.0)).astype(value(out).dtype)
        pa, pb = self._p0, self._p1
        return (None if pa is None else g * share), (None if pb is None else g * (1 - share))


class Where(Function):
    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, g):
        pa, pb = self._p0, self._p1
        c = self.condition
        return (None if pa is None else g * c), (None if pb is None else g * ~c)


class Cast(Function):
    def forward(self, a, dtype): return a.astype(dtype)
    def backward(self, g): return g.astype(self.saved[1].dtype)


# ---------------------------------------------------------------- reductions
class Sum(Function):
    def forward(self, a, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        shape = self.saved[1].shape
        if not self.keepdims:
            g = g.reshape(tuple(1 if i in self.axis else n for i, n in enumerate(shape)))
        return expand(g, shape)


class Mean(Sum):
    """Sum times 1/count: one node where a composite would record a Sum and a Mul."""

    def forward(self, a, axis, keepdims):
        count = math.prod(a.shape[i] for i in axis)  # not np.prod: 5 us per call
        self.scale = 1.0 / count if count else np.nan  # an empty mean is NaN, as in NumPy
        return super().forward(a, axis, keepdims) * self.scale

    def backward(self, g):
        return super().backward(g * self.scale)


class LogSoftmax(Function):
    """x - logsumexp(x) along one axis: one node where the composite recorded five.

    NOTE: (x - m) - log(sum(exp(x - m))) with m the (finite) max, as PyTorch computes
    it: x - logsumexp(x) would add m back first and lose digits when |m| is large.
    The derivative reads only the output: g - softmax * sum(g), softmax = exp(out).
    """

    keeps_inputs = False

    def forward(self, a, axis):
        self.axis = axis
        shifted = a - stable_shift(a, axis)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, g):
        return g - exp(self.saved[0]) * g.sum(axis=self.axis, keepdims=True)


class Max(Function):
    def forward(self, a, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return a.max(axis=axis, keepdims=keepdims)

    def backward(self, g):
        out, a = self.saved
        kept = tuple(1 if i in self.axis else n for i, n in enumerate(a.shape))
        hit = value(a) == value(out).reshape(kept)
        # NOTE: ties share the gradient evenly (the derivative of amax in PyTorch).
        share = (hit / hit.sum(axis=self.axis, keepdims=True)).astype(value(a).dtype)
        return expand(g.reshape(kept), a.shape) * share


# --------------------------------------------------------------------- shape
class Reshape(Function):
    def forward(self, a, shape): return a.reshape(shape)
    def backward(self, g): return g.reshape(self.saved[1].shape)


class Transpose(Function):
    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        if self.axes is None:
            return g.transpose(None)
        return g.transpose(tuple(np.argsort([a % len(self.axes) for a in self.axes])))


class BroadcastTo(Function):
    def forward(self, a, shape): return np.broadcast_to(a, shape)
    def backward(self, g): return g  # the walk sums it back to the input's shape


class GetItem(Function):
    def forward(self, a, index):
        self.index = index
        return a[index]

    def backward(self, g): return scatter_add(g, self.index, self.saved[1].shape)


class ScatterAdd(Function):
    """The adjoint of indexing; recorded only when differentiating a gradient."""

    def forward(self, g, index, shape):
        self.index = index
        return scatter_add(g, index, shape)

    def backward(self, g): return g[self.index]


class Concatenate(Function):
    def forward(self, *arrays, axis=0):
        self.axis = axis % max(np.ndim(arrays[0]), 1)
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.axis
        for a in self.saved[1:]:
            stop = start + np.shape(a)[self.axis]
            grads.append(g[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)
