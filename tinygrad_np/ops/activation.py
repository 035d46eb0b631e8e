"""Activations that need a primitive: ELU (expm1) and Softplus (log1p, PyTorch's threshold).

Both would lose accuracy as composites of today's ops: alpha * (exp(x) - 1) is off by
8e-8 relative at x = -1e-10 where PyTorch's expm1 is exact, and log(1 + exp(z)) is 0
at z = -40 where log1p gives 4.2e-18. Their backward rules are written with operators
and the two-way helpers, so second derivatives come from the same lines.
"""
from __future__ import annotations

import numpy as np

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function, array_of
from tinygrad_np.ops.helpers import exp, select, zero


def _sigmoid(z):
    """1 / (1 + exp(-z)) of an array (stably) or a Tensor."""
    if isinstance(z, Tensor):
        return z.sigmoid()
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1, e) / (1 + e)


class ELU(Function):
    """x for x > 0, alpha * expm1(x) otherwise; derivative 1, or alpha * exp(x) (x <= 0),
    as PyTorch's rule (alpha at 0)."""

    keeps_output = False

    def forward(self, a, alpha):
        self.alpha = alpha
        return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0)))

    def backward(self, g):
        x = self.saved[1]
        positive = array_of(x) > 0
        # exp sees only x <= 0 (0 elsewhere): no overflow, no inf in the unused branch
        slope = exp(select(positive, zero(x), x)) * self.alpha
        return select(positive, g, g * slope)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule);
    derivative sigmoid(beta x), 1 above the threshold."""

    keeps_output = False

    def forward(self, a, beta, threshold):
        self.beta, self.threshold = beta, threshold
        z = a * beta
        self.above = z > threshold
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(self.above, a, soft)

    def backward(self, g):
        x = self.saved[1]
        return select(self.above, g, g * _sigmoid(x * self.beta))
