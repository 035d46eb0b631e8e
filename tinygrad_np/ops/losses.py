"""The fused loss nodes: binary cross-entropy with clamped logs, and softmax cross-entropy."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor, maximum
from tinygrad_np.function import Function, number_array
from tinygrad_np.ops.helpers import stable_shift

BCE_EPS = 1e-12  # PyTorch's floor for x * (1 - x) in binary_cross_entropy's derivative


class BinaryCrossEntropy(Function):
    """-(y log x + (1 - y) log(1 - x)) with each log clamped at -100, elementwise.

    NOTE: a fused op, not a composite: the derivative of the clamped logs is 0/0
    at x = 0 or 1, so we use PyTorch's (x - y) / max(x (1 - x), 1e-12), which is
    finite everywhere and equals the true derivative inside (0, 1).
    """

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        log_1mx, log_x = _clamped_logs(x)
        return (y - number_array(1, y)) * log_1mx - y * log_x

    def backward(self, g: Any) -> tuple:
        _, x, y = self.saved
        px, py = self.parent0, self.parent1
        grad_x = grad_y = None
        if px is not None:
            if isinstance(x, Tensor):
                grad_x = g * (x - y) / maximum(x * (1 - x), BCE_EPS)
            else:
                grad_x = g * (x - y) / np.maximum(x - x * x, number_array(BCE_EPS, x))
        if py is not None:  # d/dy = clamped log(1 - x) - clamped log(x)
            log_1mx, log_x = _clamped_logs(x)
            grad_y = g * (log_1mx - log_x)
        return grad_x, grad_y


def _clamped_logs(x: Any) -> tuple:
    """(log(1 - x), log(x)), each clamped at -100 as PyTorch's BCE does; arrays or Tensors."""
    if isinstance(x, Tensor):
        return (1 - x).log().clip(lo=-100.0), x.log().clip(lo=-100.0)
    floor = number_array(-100.0, x)
    with np.errstate(divide="ignore"):
        return np.maximum(np.log1p(-x), floor), np.maximum(np.log(x), floor)


class CrossEntropy(Function):
    """Mean (or sum) over rows of -log_softmax(x)[row, t[row]]; x (N, C), t (N,) ints.

    NOTE: one node where log_softmax + pick + negate + reduce recorded four; the
    derivative is (softmax(x) - onehot(t)) * g / N, as PyTorch's fused kernels have it.
    """

    traceable = True
    def forward(self, x: np.ndarray, t: np.ndarray, mean: bool) -> np.ndarray:
        self.mean = mean
        self.shift = stable_shift(x, 1)
        shifted = x - self.shift
        self.log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # (N, 1): small
        picked = shifted[np.arange(len(t)), t] - self.log_sum[:, 0]
        return np.asarray(-picked.mean() if mean else -picked.sum())

    def backward(self, g: Any) -> tuple:
        _, x, t = self.saved
        scale = g / len(t) if self.mean else g
        rows = np.arange(len(t))
        if isinstance(x, Tensor):  # create_graph: softmax as Tensor ops, differentiable again
            onehot = np.zeros(x.shape, x.dtype)
            onehot[rows, t] = 1
            return (x.softmax(1) - onehot) * scale, None
        grad = np.exp((x - self.shift) - self.log_sum)
        grad[rows, t] -= 1
        grad *= scale
        return grad, None
