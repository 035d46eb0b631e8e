"""Activations and losses as functions (`tg.nn.functional`, PyTorch's `F`).

Everything here is a composite of Tensor ops, so gradients come from the
primitives -- except `binary_cross_entropy`, whose clamped logs need PyTorch's
fused derivative to stay finite at 0 and 1 (see `ops.BinaryCrossEntropy`), and the
common case of `cross_entropy`, one node for speed (see `ops.CrossEntropy`).
Inputs may be Tensors or ndarrays; targets that need no gradient are cast to
the input's dtype, so a float32 model keeps float32 losses.

>>> import tinygrad_np as tg
>>> import tinygrad_np.nn.functional as F
>>> logits = tg.tensor([[1000.0, -1000.0]], dtype="float64")
>>> float(F.cross_entropy(logits, [1]).item())
2000.0
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, where

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ helpers
def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _float_target(target: Any, like: Tensor) -> Tensor:
    """The target as a Tensor; one that needs no grad is cast to the input's float dtype."""
    if isinstance(target, Tensor) and target.requires_grad:
        return target
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    return Tensor(array, dtype=like.dtype if like.dtype.kind == "f" else None)


def _check_reduction(reduction: str, loss_name: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss_name}: reduction must be one of 'mean', 'sum', 'none', "
                         f"got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(x: Tensor, target: Tensor, loss_name: str) -> None:
    if x.shape != target.shape:
        raise ValueError(f"{loss_name}: input shape {x.shape} and target shape {target.shape} "
                         "differ; they must be equal (for a (N, 1) output and (N,) labels, "
                         "use target.reshape(input.shape))")


# -------------------------------------------------------------- activations
def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise."""
    return _lift(x).relu()


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)) elementwise."""
    return _lift(x).sigmoid()


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return _lift(x).tanh()


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis` (or PyTorch's `dim`), computed stably."""
    return _lift(x).softmax(axis, dim=dim)


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - logsumexp(x) along `axis` (or `dim`): finite even for logits of +-1000."""
    return _lift(x).log_softmax(axis, dim=dim)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    x, weight = _lift(x), _lift(weight)
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit a weight of shape "
                         f"{weight.shape}: the input's last dimension must be "
                         f"in_features = weight.shape[1]")
    return ops.Linear.apply(x, weight, bias)


# ------------------------------------------------------------------- losses
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error: (input - target)**2, reduced."""
    _check_reduction(reduction, "mse_loss")
    x = _lift(input)
    y = _float_target(target, x)
    _check_same_shape(x, y, "mse_loss")
    diff = x - y
    return _reduce(diff * diff, reduction)


def binary_cross_entropy(input: Any, target: Any, weight: Any = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1]; logs clamped at -100 like PyTorch (finite at 0 and 1).

    Prefer `binary_cross_entropy_with_logits` on raw scores: it is stabler.
    """
    _check_reduction(reduction, "binary_cross_entropy")
    x = _lift(input)
    y = _float_target(target, x)
    _check_same_shape(x, y, "binary_cross_entropy")
    for what, t in (("input", x), ("target", y)):
        # min/max: two passes where (t >= 0) & (t <= 1) took four; NaN fails either way
        if t.data.size and not (t.data.min() >= 0 and t.data.max() <= 1):
            bad = t.data[~((t.data >= 0) & (t.data <= 1))].flat[0]
            raise ValueError(f"binary_cross_entropy: every {what} element must lie in [0, 1], "
                             f"found {bad}; for raw scores use "
                             "binary_cross_entropy_with_logits / BCEWithLogitsLoss")
    loss = ops.BinaryCrossEntropy.apply(x, y)
    if weight is not None:
        loss = loss * _float_target(weight, x)
    return _reduce(loss, reduction)


def _softplus(z: Tensor) -> Tensor:
    """log(1 + exp(z)): finite for any z, and smooth to every order.

    NOTE: each branch gets an input it cannot overflow on (z > 0 uses
    z + log(1 + exp(-z))); the unused branch sees 0, so no inf * 0 reaches the
    gradient. Unlike max(z, 0) + log(1 + exp(-|z|)) it has no kink at z = 0,
    so second derivatives there are right too (sigmoid'(0) = 1/4).
    """
    positive = z.data > 0
    z_pos, z_neg = where(positive, z, 0.0), where(positive, 0.0, z)
    return where(positive, z_pos + (1 + (-z_pos).exp()).log(), (1 + z_neg.exp()).log())


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """BCE of sigmoid(input) computed from the logits directly: finite for any logit.

    loss = (1 - y) x + (1 + (p - 1) y) softplus(-x), PyTorch's formula
    ((1 - y) x - log_sigmoid(x) without pos_weight p), which equals
    max(x, 0) - x y + log(1 + exp(-|x|)); softplus is computed stably.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _lift(input)
    y = _float_target(target, x)
    _check_same_shape(x, y, "binary_cross_entropy_with_logits")
    softplus_neg = _softplus(-x)  # = -log_sigmoid(x)
    if pos_weight is not None:
        softplus_neg = (1 + (_float_target(pos_weight, x) - 1) * y) * softplus_neg
    loss = (1 - y) * x + softplus_neg
    if weight is not None:
        loss = loss * _float_target(weight, x)
    return _reduce(loss, reduction)


def _class_targets(target: Any, x: Tensor, loss_name: str,
                   ignore_index: int) -> tuple[np.ndarray, bool]:
    """Integer class indices checked against the input's shape and class count, and
    whether none of them is `ignore_index`."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{loss_name}: target must hold integer class indices, got dtype "
                        f"{t.dtype}; convert it with target.astype(int) (probability targets "
                        "go to cross_entropy with the input's shape)")
    class_axis = 0 if x.ndim == 1 else 1
    expected = x.shape[:class_axis] + x.shape[class_axis + 1:]
    if x.ndim == 0 or t.shape != expected:
        raise ValueError(f"{loss_name}: input shape {x.shape} and target shape {t.shape} do "
                         f"not fit; input is (N, C) or (N, C, d1, ...) and target (N,) or "
                         f"(N, d1, ...), so target shape {expected} was expected")
    n_classes = x.shape[class_axis]
    if not t.size:
        return t, True
    lo, hi = t.min(), t.max()
    if lo >= 0 and hi < n_classes:  # two passes, not five; the usual -100 is outside [lo, hi]
        return t, not lo <= ignore_index <= hi or bool((t != ignore_index).all())
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if np.any(bad):
        raise ValueError(f"{loss_name}: target holds class index {t[bad].flat[0]}, outside "
                         f"[0, {n_classes}) for an input with {n_classes} classes")
    return t, False  # the targets outside [0, n_classes) are all ignore_index


def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -input[n, target[n]] (input holds log-probabilities).

    input (N, C) or (N, C, d1, ...), or (C,) with a 0-d target. With class `weight`
    w, each term is scaled by w[target] and "mean" divides by the sum of those
    weights (PyTorch's rule); targets equal to `ignore_index` are left out.
    """
    _check_reduction(reduction, "nll_loss")
    x = _lift(input)
    t, every = _class_targets(target, x, "nll_loss", ignore_index)
    return _nll(x, t, every, weight, ignore_index, reduction)


def _nll(x: Tensor, t: np.ndarray, every: bool, weight: Any, ignore_index: int,
         reduction: str) -> Tensor:
    """nll_loss on checked class targets; `every`: none of them is ignore_index."""
    kept = True if every else t != ignore_index
    safe = t if every else np.where(kept, t, 0)
    if x.ndim == 1:
        index: tuple = (safe,)
    elif t.ndim == 1:
        index = (np.arange(len(t)), safe)
    else:
        grid = np.indices(t.shape, sparse=True)
        index = (grid[0], safe, *grid[1:])
    picked = x[index]
    if weight is None and every:  # the common case: three nodes (pick, negate, reduce)
        return _reduce(-picked, reduction)
    if weight is None:
        scale = np.asarray(kept, dtype=x.dtype)
        w = None
    else:
        w = _float_target(weight, x)
        if w.shape != (x.shape[0 if x.ndim == 1 else 1],):
            raise ValueError(f"nll_loss: weight must have one entry per class, shape "
                             f"({x.shape[0 if x.ndim == 1 else 1]},), got {w.shape}")
        scale = w[safe] * np.asarray(kept, dtype=x.dtype)
    loss = -(picked * scale)
    if reduction == "mean":
        denominator = scale.sum() if w is not None else float(np.sum(kept))
        if not denominator:  # every target ignored: NaN, with zero gradients (PyTorch's result)
            return loss.sum() * 0.0 + np.nan
        return loss.sum() / denominator
    return _reduce(loss, reduction)


def cross_entropy(input: Any, target: Any, weight: Any = None,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from logits: nll_loss(log_softmax(input, axis=1), target).

    target: integer class indices (N,) -- a Tensor, ndarray or list -- or class
    probabilities with the input's shape (float). Stable for logits of +-1000.
    """
    _check_reduction(reduction, "cross_entropy")
    x = _lift(input)
    class_axis = 0 if x.ndim == 1 else 1
    raw = target.data if isinstance(target, Tensor) else np.asarray(target)
    if raw.dtype.kind == "f" and raw.shape == x.shape and x.ndim > 0:
        # probability targets: -sum_c w_c y_c log p_c per sample
        y = _float_target(target, x)
        terms = x.log_softmax(class_axis) * y
        if weight is not None:
            w = _float_target(weight, x)
            terms = terms * w.reshape((-1,) + (1,) * (x.ndim - class_axis - 1))
        loss = -terms.sum(axis=class_axis)
        if reduction == "mean":
            return loss.sum() / (loss.size if loss.ndim else 1)
        return _reduce(loss, reduction)
    t, every = _class_targets(target, x, "cross_entropy", ignore_index)
    if x.ndim == 2 and len(t) and weight is None and reduction != "none" and every:
        return ops.CrossEntropy.apply(x, t, mean=reduction == "mean")
    return _nll(x.log_softmax(class_axis), t, every, weight, ignore_index, reduction)
