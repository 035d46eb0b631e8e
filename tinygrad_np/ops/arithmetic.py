"""+ - * / ** and matrix products."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np.autograd import unbroadcast
from tinygrad_np.function import Function, array_of
from tinygrad_np.ops.helpers import log, masked, select


class Add(Function):
    traceable = True
    numbers_as_arrays = True
    ufunc = np.add
    def backward(self, g): return g, g


class Sub(Function):
    traceable = True
    numbers_as_arrays = True
    ufunc = np.subtract
    def backward(self, g): return g, (None if self.parent1 is None else -g)


class Neg(Function):
    traceable = True
    ufunc = np.negative
    def backward(self, g): return -g


class Mul(Function):
    traceable = True
    numbers_as_arrays = True
    ufunc = np.multiply

    def backward(self, g):
        _, a, b = self.saved
        return (None if self.parent0 is None else g * b), (None if self.parent1 is None else g * a)


class Div(Function):
    traceable = True
    numbers_as_arrays = True
    ufunc = np.true_divide

    def backward(self, g):
        _, a, b = self.saved
        ga = None if self.parent0 is None else g / b
        return ga, (None if self.parent1 is None else -g * a / (b * b))


class Pow(Function):
    """a ** b, with PyTorch's derivatives at base 0 (NOTE: each masked term is computed
    on safe values first, so no inf or NaN sits in an unselected branch, where a second
    derivative would meet it as 0 * inf)."""

    def forward(self, a, b): return a ** b

    def backward(self, g):
        out, a, b = self.saved
        ga = gb = None
        if self.parent0 is not None:  # d/da = b a**(b-1), and 0 where b == 0 (even at a = 0)
            bv = array_of(b)
            if isinstance(bv, np.ndarray):  # mask only 0 * 0**-1: elsewhere d/db stays right
                at_zero = (bv == 0) & (array_of(a) == 0)
                safe_b = select(at_zero, 1, b)
                ga = masked(g * (safe_b * a ** (safe_b - 1)), ~at_zero)
            elif bv == 0:
                ga = masked(g, np.zeros(np.shape(array_of(g)), bool))  # zeros
            else:
                ga = g * b * a ** (b - 1)
        if self.parent1 is not None:  # d/db = a**b log(a), and 0 where a == 0 and b >= 0
            av = array_of(a)
            if isinstance(av, np.ndarray):
                at_zero = av == 0
                gb = masked(g * out * log(select(at_zero, 1, a)), ~(at_zero & (array_of(b) >= 0)))
            else:  # a Python number: its log as one too, so a float32 b keeps float32
                gb = g * out * (math.log(av) if av > 0 else 0.0 if av == 0 else math.nan)
        return ga, gb


def _is_transposed(x: Any) -> bool:
    """True for a Fortran-ordered matrix, e.g. the view W.T of a C-ordered weight."""
    flags = array_of(x).flags
    return flags.f_contiguous and not flags.c_contiguous


class MatMul(Function):
    traceable = True
    keeps_output = False

    def forward(self, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError(f"matmul needs at least 1-D operands, got shapes "
                             f"{np.shape(a)} and {np.shape(b)}; use * for scalars")
        return np.matmul(a, b)

    def backward(self, g):
        _, a, b = self.saved
        pa, pb = self.parent0, self.parent1
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

    traceable = True
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

