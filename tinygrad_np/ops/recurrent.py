"""The gates of the recurrent cells: one node per step for what the composite spreads over ten.

Each takes the pre-activations the layer computes with `Linear` (gi = x W_ih^T + b_ih,
gh = h W_hh^T + b_hh; PyTorch's gate order) and returns the new state. Forward keeps the
gate activations for backward; under create_graph the rule recomputes them from its
Tensor inputs, so it is differentiable like every other rule (second order works).

NOTE: fused rather than composite: per GRU step 3 nodes instead of 13 and a third of the
arrays kept for backward. Benchmark W8 (GRU 32 -> 128, 32 steps, batch 32, SGD step),
paired timing in one process, 40 alternating steps, one BLAS thread: best 18.4 ms against
24.5 ms for the composite (medians 20.8 and 27.5 ms; NumPy by hand: about 15 ms).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor, concatenate
from tinygrad_np.function import Function


def _any_tensor(*xs: Any) -> bool:
    return any(isinstance(x, Tensor) for x in xs)


def _sigmoid(a: Any) -> Any:
    if isinstance(a, Tensor):
        return a.sigmoid()
    with np.errstate(over="ignore"):  # exp(-a) = inf for a << 0 gives the limit 0
        return 1 / (1 + np.exp(-a))


def _tanh(a: Any) -> Any:
    return a.tanh() if isinstance(a, Tensor) else np.tanh(a)


def _cat(parts: list) -> Any:
    """Concatenate along the last axis (arrays, or Tensors under create_graph)."""
    if _any_tensor(*parts):
        return concatenate(parts, axis=-1)
    return np.concatenate(parts, axis=-1)


def _zeros(like: Any, width: int) -> np.ndarray:
    """Zeros of like's shape but `width` on the last axis, and like's dtype."""
    array = like.data if isinstance(like, Tensor) else like
    return np.zeros(array.shape[:-1] + (width,), dtype=array.dtype)


class GRUGates(Function):
    """h' = (1 - z) * n + z * h, r, z = sigmoid(gi_rz + gh_rz), n = tanh(gi_n + r * gh_n)
    from gi, gh (..., 3H) laid out [r | z | n] and h (..., H)."""

    keeps_output = False

    def forward(self, gi, gh, h):
        rz, n = self.gates(gi, gh, h.shape[-1])
        self.save_for_backward(rz, n)
        return n + rz[..., h.shape[-1]:] * (h - n)

    @staticmethod
    def gates(gi: Any, gh: Any, n_hidden: int) -> tuple[Any, Any]:
        """(sigmoid of the [r | z] pre-activations, n), for arrays or Tensors."""
        rz = _sigmoid(gi[..., :2 * n_hidden] + gh[..., :2 * n_hidden])
        return rz, _tanh(gi[..., 2 * n_hidden:] + rz[..., :n_hidden] * gh[..., 2 * n_hidden:])

    def backward(self, g):
        _, gi, gh, h, rz, n = self.saved
        n_hidden = np.shape(h)[-1]
        if _any_tensor(gi, gh):  # create_graph: the gates as functions of the inputs
            rz, n = self.gates(gi, gh, n_hidden)
        r, z = rz[..., :n_hidden], rz[..., n_hidden:]
        d_pre_n = g * (1 - z) * (1 - n * n)
        d_rz = _cat([d_pre_n * gh[..., 2 * n_hidden:], g * (h - n)]) * (rz - rz * rz)
        parents = self.parents
        return (None if parents[0] is None else _cat([d_rz, d_pre_n]),
                None if parents[1] is None else _cat([d_rz, d_pre_n * r]),
                None if parents[2] is None else g * z)


class LSTMCellState(Function):
    """c' = f * c + i * g with i, f = sigmoid, g = tanh of their quarters of the
    pre-activations `gates` (..., 4H) laid out [i | f | g | o]; c (..., H)."""

    keeps_output = False

    def forward(self, gates, c):
        ifg = self.gates(gates, c.shape[-1])
        self.save_for_backward(ifg)
        i, f, g = np.split(ifg, 3, axis=-1)
        return f * c + i * g

    @staticmethod
    def gates(gates: Any, n_hidden: int) -> Any:
        """[sigmoid(i) | sigmoid(f) | tanh(g)], (..., 3H), for arrays or Tensors."""
        return _cat([_sigmoid(gates[..., :2 * n_hidden]),
                     _tanh(gates[..., 2 * n_hidden:3 * n_hidden])])

    def backward(self, grad):
        _, gates, c, ifg = self.saved
        n_hidden = np.shape(c)[-1]
        if isinstance(gates, Tensor):
            ifg = self.gates(gates, n_hidden)
        i, f, g = (ifg[..., k * n_hidden:(k + 1) * n_hidden] for k in range(3))
        d_gates = None
        if self.parent0 is not None:
            d_gates = _cat([grad * g * (i - i * i), grad * c * (f - f * f),
                            grad * i * (1 - g * g), _zeros(grad, n_hidden)])
        return d_gates, (None if self.parent1 is None else grad * f)


class LSTMHidden(Function):
    """h' = o * tanh(c') with o = sigmoid of the last quarter of `gates` (..., 4H)."""

    keeps_output = False

    def forward(self, gates, c):
        o = _sigmoid(gates[..., 3 * c.shape[-1]:])
        tanh_c = np.tanh(c)
        self.save_for_backward(o, tanh_c)
        return o * tanh_c

    def backward(self, grad):
        _, gates, c, o, tanh_c = self.saved
        n_hidden = np.shape(c)[-1]
        if isinstance(gates, Tensor):
            o = _sigmoid(gates[..., 3 * n_hidden:])
        if isinstance(c, Tensor):
            tanh_c = c.tanh()
        d_gates = None
        if self.parent0 is not None:
            d_gates = _cat([_zeros(grad, 3 * n_hidden), grad * tanh_c * (o - o * o)])
        return d_gates, (None if self.parent1 is None else grad * o * (1 - tanh_c * tanh_c))
