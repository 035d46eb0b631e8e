"""Reductions: sum, mean, max, std, and log_softmax along an axis."""
from __future__ import annotations

import math

import numpy as np

from tinygrad_np.function import Function, array_of
from tinygrad_np.ops.helpers import exp, expand, masked, select, stable_shift


def _kept_shape(shape: tuple, axis: tuple) -> tuple:
    """shape with the reduced axes kept as 1s (what keepdims=True gives)."""
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, a, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return a.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        shape = self.saved[1].shape
        if not self.keepdims:
            g = g.reshape(_kept_shape(shape, self.axis))
        return expand(g, shape)


class Mean(Sum):
    """Sum times 1/count: one node where a composite would record a Sum and a Mul."""

    def forward(self, a, axis, keepdims):
        count = math.prod(a.shape[i] for i in axis)  # not np.prod: 5 us per call
        self.scale = 1.0 / count if count else np.nan  # an empty mean is NaN, as in NumPy
        return super().forward(a, axis, keepdims) * self.scale

    def backward(self, g):
        return super().backward(g * self.scale)


class Std(Function):
    """Standard deviation over axis with NumPy's ddof.

    NOTE: a primitive for its derivative at 0. sqrt(var) would give
    inf * 0 = NaN for constant data; the derivative (x - mean) / ((n - ddof) std) is
    taken as 0 where std is 0, as PyTorch does (its denominator made safe first, so a
    second derivative meets no inf either).
    """

    def forward(self, a, axis, keepdims, ddof):
        self.axis, self.keepdims = axis, keepdims
        self.divisor = math.prod(a.shape[i] for i in axis) - ddof
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= ddof: inf/NaN, as NumPy
            return np.std(a, axis=axis, keepdims=keepdims, ddof=ddof)

    def backward(self, g):
        out, a = self.saved
        kept = _kept_shape(a.shape, self.axis)
        out, g = out.reshape(kept), g.reshape(kept)
        constant = array_of(out) == 0
        scale = masked(g / (select(constant, 1, out) * self.divisor), ~constant)
        return scale * (a - a.mean(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along one axis: one node where the composite recorded five.

    NOTE: (x - m) - log(sum(exp(x - m))) with m the (finite) max, as PyTorch computes
    it: x - logsumexp(x) would add m back first and lose digits when |m| is large.
    The derivative reads only the output: g - softmax * sum(g), softmax = exp(out).
    """

    traceable = True
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
        kept = _kept_shape(a.shape, self.axis)
        hit = array_of(a) == array_of(out).reshape(kept)
        # NOTE: ties share the gradient evenly (the derivative of amax in PyTorch).
        share = (hit / hit.sum(axis=self.axis, keepdims=True)).astype(array_of(a).dtype)
        return expand(g.reshape(kept), a.shape) * share
