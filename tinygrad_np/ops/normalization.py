"""Normalize: (x - mean) / sqrt(var + eps) over some axes, the core of LayerNorm and BatchNorm.

NOTE: one fused node where the composite records seven (mean, sub, mul, mean, add, pow,
mul): 1.92M against 2.15M instructions for forward + backward of LayerNorm(64) with
affine on 16*32 rows (callgrind, differencing 10 and 30 steps), -11%. The backward
    dx = inv * (g - mean(g) - xhat * mean(g * xhat))
reads the output xhat and the kept 1/std on arrays; under create_graph it recomputes
them from x with Tensor ops, so second derivatives come from the same formula.
"""
from __future__ import annotations

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function


class Normalize(Function):
    """(x - mean) * (var + eps) ** -0.5 with the mean and biased variance over `axes`.

    `stats=(mean, var)` (kept dims) hands in statistics the caller already computed
    from x's data (BatchNorm needs them for its running averages).
    """

    def forward(self, a, axes, eps, stats=None):
        self.axes, self.eps = axes, eps
        if stats is None:
            mean = a.mean(axis=axes, keepdims=True)
            centred = a - mean
            var = (centred * centred).mean(axis=axes, keepdims=True)
        else:
            mean, var = stats
            centred = a - mean
        self.inv = (var + eps) ** -0.5
        return centred * self.inv

    def backward(self, g):
        out, x = self.saved
        axes = self.axes
        if isinstance(x, Tensor):  # create_graph: everything as a function of x
            centred = x - x.mean(axes, keepdims=True)
            inv = ((centred * centred).mean(axes, keepdims=True) + self.eps) ** -0.5
            out = centred * inv
        else:
            inv = self.inv
        return inv * (g - g.mean(axes, keepdims=True)
                      - out * (g * out).mean(axes, keepdims=True))
