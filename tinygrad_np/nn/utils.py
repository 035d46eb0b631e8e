"""tg.nn.utils: gradient clipping, as torch.nn.utils.

>>> import tinygrad_np as tg
>>> w = tg.tensor([0.0, 0.0], requires_grad=True)
>>> w.grad = tg.tensor([3.0, 4.0])
>>> tg.nn.utils.clip_grad_norm_([w], max_norm=1.0)
Tensor(5.)
>>> print(w.grad.numpy().round(5))   # scaled by 1 / (5 + 1e-6)
[0.6 0.8]

The gradients (`p.grad` of each parameter that has one) are changed in place,
so call these between `backward()` and `optimizer.step()`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from tinygrad_np import versions
from tinygrad_np._tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors: Tensor | Iterable[Tensor], what: str) -> list[Tensor]:
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{what}: item {i} is a {type(t).__name__}, not a Tensor")
    return tensors


def _vector_norm(x: np.ndarray, norm_type: float) -> np.ndarray:
    """The p-norm of x's elements as one vector, as torch.linalg.vector_norm (0-d array)."""
    a = np.abs(x)
    if norm_type == math.inf:
        return np.max(a, initial=0).astype(x.dtype)
    if norm_type == -math.inf:
        return np.min(a, initial=math.inf).astype(x.dtype)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(x), dtype=x.dtype)
    if norm_type == 1:
        return np.sum(a)
    if norm_type == 2:
        return np.sqrt(np.sum(a * a))
    return np.sum(a ** norm_type) ** (1.0 / norm_type)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> Tensor:
    """The norm of all `tensors` (e.g. gradients) taken together as one vector, computed as
    PyTorch does: the norm of their norms (so norm_type=0 counts the tensors that have a
    nonzero element). A 0-d Tensor (0.0 for no tensors); `norm_type` may be `math.inf`."""
    arrays = [t.data for t in _as_list(tensors, "get_total_norm")]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(0.0)
    with np.errstate(over="ignore"):  # an overflowing norm is inf, as in PyTorch
        norms = [_vector_norm(a, norm_type) for a in arrays]
        total = _vector_norm(np.stack(norms), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} of the gradients is {total}, "
                           "so they cannot be clipped; find where they become non-finite "
                           "(tg.detect_anomaly() names the op), or pass "
                           "error_if_nonfinite=False to scale them by it anyway")
    return Tensor(np.asarray(total))


def _rewrite_grads(parameters: list[Tensor], rewrite: Callable[[np.ndarray], None]) -> None:
    """Apply an in-place `rewrite` to every parameter's gradient array."""
    written = []
    for p in parameters:
        if p.grad is None:
            continue
        if p.grad.grad_fn is not None or not p.grad.data.flags.writeable:
            # a create_graph gradient belongs to a graph: replace it, never write into it
            p.grad = Tensor(np.array(p.grad.data))
        rewrite(p.grad.data)
        written.append(p.grad.data)
    versions.mark_modified(*written)  # a graph that saved a gradient can't backward now


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                          total_norm: Any) -> None:
    """Scale the gradients by min(max_norm / (total_norm + 1e-6), 1), in place."""
    parameters = _as_list(parameters, "clip_grads_with_norm_")
    total = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    clip_coef = np.minimum(float(max_norm) / (total + 1e-6), 1.0)  # NaN stays NaN, as torch

    def scale(g: np.ndarray) -> None:
        # the factor in the gradient's dtype, as PyTorch's mul_ by a 0-d tensor; an inf
        # gradient times a factor of 0 is NaN, as in PyTorch (error_if_nonfinite catches it)
        with np.errstate(invalid="ignore"):
            np.multiply(g, clip_coef.astype(g.dtype), out=g)

    _rewrite_grads(parameters, scale)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their total norm is at most `max_norm`.

    The total norm is that of every `p.grad` taken as one vector (`norm_type` 2 by
    default, `math.inf` for the largest magnitude). If it exceeds max_norm, every
    gradient is multiplied by max_norm / (total_norm + 1e-6). Returns the total norm
    before clipping, as a 0-d Tensor. A non-finite total norm raises with
    `error_if_nonfinite=True`; otherwise the gradients are scaled by it (NaN or 0), as
    in PyTorch. `foreach` is accepted for PyTorch's signature and ignored.
    """
    parameters = _as_list(parameters, "clip_grad_norm_")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place (NaN stays NaN).
    `foreach` is accepted for PyTorch's signature and ignored."""
    parameters = _as_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    _rewrite_grads(parameters, lambda g: np.clip(g, -clip_value, clip_value, out=g))
