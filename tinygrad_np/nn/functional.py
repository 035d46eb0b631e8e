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

import math
from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, where
from tinygrad_np import grad_mode, versions  # nn layers (Beyond MLPs)
from tinygrad_np._tensor import draw, get_default_dtype  # nn layers
from tinygrad_np.grad_mode import is_grad_enabled
from tinygrad_np.ops.conv import avg_divisor, conv_geometry, pool_geometry

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


# ------------------------------------------------------ convolution and pooling
# (primitives in tinygrad_np/ops/conv.py; `op` names the caller in error messages)
def _batched(x: Any, n: int, op: str) -> tuple[Tensor, bool]:
    """x as (N, C, *spatial); an unbatched (C, *spatial) input gets a batch axis of 1."""
    x = _lift(x)
    if x.ndim == n + 1:
        return x.reshape((1, *x.shape)), True  # errors below then show the batch axis
    if x.ndim != n + 2:
        axes = {1: "L", 2: "H, W"}.get(n, "...")
        raise ValueError(f"{op}: expected a {n + 1}-D (C, {axes}) or {n + 2}-D (N, C, {axes}) "
                         f"input, got shape {x.shape}")
    return x, False


def _unbatched(out: Tensor, unbatched: bool) -> Tensor:
    return out.reshape(out.shape[1:]) if unbatched else out


def _conv_nd(x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any,
             groups: int, n: int, op: str) -> Tensor:
    x, unbatched = _batched(x, n, op)
    weight = _lift(weight)
    if weight.ndim != n + 2:
        raise ValueError(f"{op}: expected a {n + 2}-D weight (out_channels, in_channels / "
                         f"groups, *kernel), got shape {weight.shape}")
    if bias is not None and np.shape(bias) != (weight.shape[0],):
        raise ValueError(f"{op}: bias of shape {np.shape(bias)} does not fit a weight of shape "
                         f"{weight.shape}; it must be ({weight.shape[0]},)")
    geometry = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups, op)
    save_columns = weight.requires_grad and is_grad_enabled()
    out = ops.Conv.apply(x, weight, bias, geometry=geometry, save_columns=save_columns)
    return _unbatched(out, unbatched)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch's) of (N, C_in, L) with a weight
    (C_out, C_in / groups, k); padding an int, a 1-tuple, 'same' or 'valid'."""
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch's) of (N, C_in, H, W) with a weight
    (C_out, C_in / groups, kH, kW); stride, padding, dilation an int or a pair; padding
    also 'same' or 'valid'.

    >>> import tinygrad_np as tg
    >>> conv2d(tg.ones(1, 1, 3, 3), tg.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _max_pool_nd(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                 ceil_mode: bool, n: int, op: str) -> Tensor:
    x, unbatched = _batched(x, n, op)
    geometry = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode, op)
    return _unbatched(ops.MaxPool.apply(x, geometry=geometry), unbatched)


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """The max of each window of (N, C, L); stride defaults to kernel_size, padding is -inf."""
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, 1,
                        "max_pool1d")


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               dilation: Any = 1, ceil_mode: bool = False) -> Tensor:
    """The max of each window of (N, C, H, W); stride defaults to kernel_size, padding is
    -inf. Of equal maxima the first in the window (row-major) gets the gradient, as PyTorch.

    >>> import numpy as np, tinygrad_np as tg
    >>> max_pool2d(tg.tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool_nd(input, kernel_size, stride, padding, dilation, ceil_mode, 2,
                        "max_pool2d")


def _avg_pool_nd(x: Any, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
                 count_include_pad: bool, divisor_override: Any, n: int, op: str) -> Tensor:
    x, unbatched = _batched(x, n, op)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive int or None, got "
                         f"{divisor_override!r}")
    geometry = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, op)
    scale = avg_divisor(geometry, count_include_pad, divisor_override, x.dtype)
    return _unbatched(ops.AvgPool.apply(x, scale=scale, geometry=geometry), unbatched)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """The mean of each window of (N, C, L); zero padding counts unless count_include_pad
    is False (PyTorch's rule)."""
    return _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        None, 1, "avg_pool1d")


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each window of (N, C, H, W); zero padding counts unless
    count_include_pad is False (PyTorch's rule); divisor_override replaces the count."""
    return _avg_pool_nd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override, 2, "avg_pool2d")


def _adaptive_matrix(size: int, out: int, dtype: np.dtype) -> np.ndarray:
    """(out, size): row i averages input[floor(i*size/out) : ceil((i+1)*size/out)]."""
    i = np.arange(out)
    start, end = (i * size) // out, -((-(i + 1) * size) // out)
    j = np.arange(size)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_avg_pool_nd(x: Any, output_size: Any, n: int, op: str) -> Tensor:
    x, unbatched = _batched(x, n, op)
    sizes = (output_size,) * n if isinstance(output_size, (int, np.integer, type(None))) \
        else tuple(output_size)
    if len(sizes) != n or not all(s is None or (isinstance(s, (int, np.integer)) and s >= 1)
                                  for s in sizes):
        raise ValueError(f"{op}: output_size must be an int >= 1 or a tuple of {n} of them "
                         f"(None keeps that axis), got {output_size!r}")
    sizes = tuple(x.shape[2 + i] if s is None else int(s) for i, s in enumerate(sizes))
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}")
    if sizes == (1,) * n:  # global average pooling
        out = x.mean(axis=tuple(range(2, 2 + n)), keepdims=True)
    else:  # NOTE: linear in x: A_H x A_W^T with one averaging matrix per axis
        out = x
        if sizes[-1] != x.shape[-1]:
            out = ops.MatMul.apply(out, _adaptive_matrix(x.shape[-1], sizes[-1], x.dtype).T)
        if n == 2 and sizes[0] != x.shape[2]:
            out = ops.MatMul.apply(_adaptive_matrix(x.shape[2], sizes[0], x.dtype), out)
    return _unbatched(out, unbatched)


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling of (N, C, L) to output_size, PyTorch's windows
    [floor(i L / out), ceil((i + 1) L / out))."""
    return _adaptive_avg_pool_nd(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Average pooling of (N, C, H, W) to output_size (an int, a pair, None keeps an axis),
    with PyTorch's windows [floor(i H / out), ceil((i + 1) H / out)) per axis."""
    return _adaptive_avg_pool_nd(input, output_size, 2, "adaptive_avg_pool2d")
# ================================================ nn layers (Beyond MLPs)
# Activations, dropout, embedding and normalisation. Composites where they are exact and
# stable; ELU and softplus are primitives (expm1, log1p: see ops/activation.py).
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (gradient negative_slope at 0, as PyTorch)."""
    x = _lift(x)
    # NOTE: one Mul by a constant factor, not a where over two branches: one node, and the
    # same products PyTorch forms (x * slope), forward and backward.
    factor = np.where(x.data > 0, 1, negative_slope).astype(_float_dtype(x), copy=False)
    return x * factor


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2))); approximate="tanh" uses PyTorch's
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))."""
    x = _lift(x)
    if approximate == "none":
        return x * 0.5 * (1 + (x * _SQRT1_2).erf())
    if approximate == "tanh":
        return x * 0.5 * (1 + ((x + x * x * x * 0.044715) * _SQRT_2_OVER_PI).tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> Tensor:
    """x * sigmoid(x) (also called swish); finite for any x."""
    x = _lift(x)
    return x * x.sigmoid()


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1), computed with expm1 as PyTorch does."""
    return ops.ELU.apply(_lift(x), alpha=alpha)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule)."""
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero (the result divides by beta)")
    return ops.Softplus.apply(_lift(x), beta=beta, threshold=threshold)


def dropout(x: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the rest by
    1/(1-p); the identity when not training or p = 0 (x itself is returned), all zeros
    (x * 0) when p = 1. Masks come from the generator `tg.manual_seed` seeds."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
            or not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be between 0 and 1, got {p!r}")
    x = _lift(x)
    if not training or p == 0 or x.size == 0:
        return x
    if p == 1:
        return x * np.zeros((), _float_dtype(x))
    keep = draw("random", x.shape) >= p
    dtype = _float_dtype(x)
    return x * (keep.astype(dtype) * np.asarray(1 / (1 - p), dtype))


def embedding(input: Any, weight: Any, padding_idx: int | None = None,  # noqa: A002
              *, layer: str = "embedding") -> Tensor:
    """Rows of `weight` (num_embeddings, embedding_dim) picked by the integer indices in
    `input`: output shape input.shape + (embedding_dim,). The row `padding_idx` never
    receives a gradient. An index outside [0, num_embeddings) raises IndexError."""
    weight = _lift(weight)
    if weight.ndim != 2:
        raise ValueError(f"{layer}: weight must be 2-D (num_embeddings, embedding_dim), "
                         f"got shape {weight.shape}")
    index = np.asarray(input.data if isinstance(input, Tensor) else input)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{layer}: indices must be integers, got dtype {index.dtype} (shape "
                        f"{index.shape}); convert them with .astype(np.int64)")
    n = weight.shape[0]
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = index[(index < 0) | (index >= n)].flat[0]
        raise IndexError(f"{layer}: index {bad} is out of range for num_embeddings={n} "
                         f"(valid indices are 0 .. {n - 1})")
    out = weight[index]
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, n, layer)
        pad = index == padding_idx
        if pad.any() and out.requires_grad:  # the padding row gets no gradient (PyTorch)
            out = where(pad[..., None], weight.data[padding_idx], out)
    return out


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None,  # noqa: A002
               bias: Any = None, eps: float = 1e-5, *, layer: str = "layer_norm") -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape)
    axes, with the biased variance (PyTorch's)."""
    x = _lift(input)
    shape = _shape_tuple(normalized_shape)
    if not shape or x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{layer}: normalized_shape={shape} needs an input of shape "
                         f"(*, {', '.join(map(str, shape))}), got {x.shape}")
    y = ops.Normalize.apply(x, axes=tuple(range(x.ndim - len(shape), x.ndim)), eps=eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def batch_norm(input: Any, running_mean: Any, running_var: Any,  # noqa: A002
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, *, layer: str = "batch_norm") -> Tensor:
    """Normalise each channel (axis 1) of x: (N, C) or (N, C, *spatial).

    training=True uses the batch's mean and biased variance, and updates running_mean
    and running_var in place (when given) by PyTorch's rule
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch
    variance. training=False uses the running statistics. Everything is checked
    before anything is updated.
    """
    x = _lift(input)
    if x.ndim < 2:
        raise ValueError(f"{layer}: input must be (N, C) or (N, C, *spatial), got shape "
                         f"{x.shape}")
    channels = x.shape[1]
    stats = [running_mean, running_var]
    for what, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and np.shape(t) != (channels,):
            raise ValueError(f"{layer}: {what} has shape {np.shape(t)}, but the input of shape "
                             f"{x.shape} has {channels} channels on axis 1: ({channels},) needed")
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // channels if channels else 0
    use_batch = training or running_mean is None or running_var is None
    if use_batch and count <= 1:
        raise ValueError(f"{layer}: expected more than 1 value per channel when training, "
                         f"got input of shape {x.shape}; use a batch of at least 2 or eval()")
    view = (1, channels) + (1,) * (x.ndim - 2)
    if use_batch:
        batch_mean = x.data.mean(axis=axes, keepdims=True)
        centred = x.data - batch_mean
        batch_var = (centred * centred).mean(axis=axes, keepdims=True)  # biased
        y = ops.Normalize.apply(x, axes=axes, eps=eps, stats=(batch_mean, batch_var))
    else:
        mean, var = (np.asarray(_data(s)).reshape(view) for s in stats)
        y = (x - mean) * ((var + eps) ** -0.5)
    if weight is not None:
        y = y * _lift(weight).reshape(view)
    if bias is not None:
        y = y + _lift(bias).reshape(view)
    if training and running_mean is not None and running_var is not None:
        mean = batch_mean.reshape(channels)
        var = batch_var.reshape(channels) * (count / (count - 1))  # unbiased
        update_running((_data(running_mean), _data(running_var)), (mean, var), momentum)
    return y


def update_running(stats: tuple, batch: tuple, momentum: float) -> None:
    """stat = momentum * batch + (1 - momentum) * stat, in place, for each running stat
    (inside tg.compile's recording: one step of the plan, run at every replay)."""
    tracer = grad_mode.step_tracer()
    if tracer is not None:
        tracer.call(update_running, stats, batch, momentum)
        return
    for array, value in zip(stats, batch):
        array[...] = momentum * value + (1 - momentum) * array
        versions.mark_modified(array)


_SQRT1_2 = 0.7071067811865476  # 1/sqrt(2), as PyTorch's M_SQRT1_2
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi), PyTorch's kBeta


def _float_dtype(x: Tensor) -> np.dtype:
    return x.dtype if x.dtype.kind == "f" else get_default_dtype()


def _data(t: Any) -> np.ndarray:
    """The array of a Tensor or an ndarray (written in place for running statistics)."""
    array = t.data if isinstance(t, Tensor) else t
    if not isinstance(array, np.ndarray):
        raise TypeError(f"running statistics must be Tensors or ndarrays, got {type(t).__name__}")
    return array


def _shape_tuple(shape: Any) -> tuple:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


def _padding_index(padding_idx: int, n: int, layer: str) -> int:
    """padding_idx checked against num_embeddings n; a negative one counts from the end."""
    if not -n <= padding_idx < n:
        raise ValueError(f"{layer}: padding_idx={padding_idx} must lie within "
                         f"num_embeddings={n} (-{n} <= padding_idx < {n})")
    return int(padding_idx) % n

# --- v2 ops: pad (PyTorch's pairs, last axis first) and one_hot
def pad(input: Any, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """PyTorch's F.pad, constant mode: `pad` holds (before, after) pairs for the last axes,
    last axis first -- (left, right, top, bottom, ...); a negative pad crops.

    >>> F.pad(tg.ones(2, 2), (1, 0, 0, 1)).shape       # one column left, one row below
    (3, 3)

    `F.pad(x, pad, value)` (a number where PyTorch puts the mode) works too. NumPy's
    pad_width is `Tensor.pad`.
    """
    if not isinstance(mode, str):  # the contract's F.pad(x, pad, value)
        mode, value = "constant", mode
    x = _lift(input)
    widths = ops.torch_pad_widths(pad, x.shape)
    return ops.Pad.apply(x, widths=widths, value=ops.pad_value(value, mode, "pad"))


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices -> int64 one-hot vectors on a new last axis, as PyTorch
    (num_classes=-1: one more than the largest index). No gradient.

    >>> F.one_hot(tg.tensor([0, 2]), 3)
    Tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    t = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot: needs integer class indices, got dtype {t.dtype} (shape "
                        f"{t.shape}); convert them with .astype(int)")
    if num_classes == -1:
        if not t.size:
            raise ValueError(f"one_hot: can not infer the number of classes from an empty "
                             f"tensor (shape {t.shape}); pass num_classes")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {t.min()} "
                         f"(shape {t.shape})")
    if t.size and t.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes="
                         f"{num_classes}, got {t.max()} (shape {t.shape})")
    return Tensor(t[..., None] == np.arange(num_classes), dtype=np.int64)


# ------------------------------------------------------------ attention (branch wt-rnnattn)
def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value over the last two axes, as PyTorch's.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading
    (batch, head) axes broadcast. scale defaults to 1/sqrt(E). attn_mask broadcasts to
    (..., L, S): a bool mask keeps the positions where it is True, a float mask is added
    to the scores. is_causal keeps key j <= query i (no attn_mask then). A query row
    with every key masked gives zeros, as PyTorch's does. dropout_p > 0 drops attention
    weights (inverted dropout, masks from the `tg.manual_seed` generator) whenever it
    is called: pass 0.0 when evaluating, as PyTorch users do.

    >>> import tinygrad_np as tg
    >>> q = tg.ones(2, 3, 4)
    >>> tg.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).shape
    (2, 3, 4)
    """
    what = "scaled_dot_product_attention"
    q, k, v = _lift(query), _lift(key), _lift(value)
    _check_attention_shapes(q, k, v, what)
    keep = add = None
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{what}: pass either attn_mask or is_causal=True, not both "
                             "(fold the causal mask into attn_mask)")
        keep = causal_mask(q.shape[-2], k.shape[-2])
    elif attn_mask is not None:
        mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype == np.bool_:
            keep = mask.data if isinstance(mask, Tensor) else mask
        elif mask.dtype.kind == "f":
            add = mask
        else:
            raise TypeError(f"{what}: attn_mask must be bool (True = attend) or float (added "
                            f"to the scores), got {mask.dtype}")
    return attend(q, k, v, keep, add, dropout_p, scale, what)[0]


def causal_mask(queries: int, keys: int) -> np.ndarray:
    """(queries, keys) bool: True where key j <= query i (PyTorch's top-left causal mask)."""
    return np.tri(queries, keys, dtype=bool)


def _check_attention_shapes(q: Tensor, k: Tensor, v: Tensor, what: str) -> None:
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"{what}: query, key and value need at least 2 axes (..., length, "
                         f"features), got shapes {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{what}: query of shape {q.shape} and key of shape {k.shape} must "
                         "have the same last axis (the features compared by q @ k^T)")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{what}: key of shape {k.shape} and value of shape {v.shape} must "
                         "have the same sequence length (axis -2)")


def attend(q: Tensor, k: Tensor, v: Tensor, keep: Any, add: Any, dropout_p: float,
           scale: float | None, what: str) -> tuple[Tensor, Tensor]:
    """(softmax(q k^T scale + mask) v, the attention weights); keep: bool array (True =
    attend) or None, add: float mask (array or Tensor) or None, both broadcasting to the
    weights' shape (..., L, S)."""
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"{what}: dropout_p must be in [0, 1], got {dropout_p}")
    shape = np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    for name, mask in (("mask", keep), ("float mask", add)):
        if mask is not None and _broadcasts_to(np.shape(mask), shape) is False:
            raise ValueError(f"{what}: the attention {name} of shape {tuple(np.shape(mask))} "
                             f"does not broadcast to the attention weights' shape {shape} "
                             "(batch..., queries L, keys S)")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q * scale) @ k.swapaxes(-1, -2)
    dead = None
    if keep is not None or add is not None:
        bias = np.zeros((), q.dtype) if keep is None else \
            np.where(keep, 0, -np.inf).astype(scores.dtype)
        if add is not None and not (isinstance(add, Tensor) and add.requires_grad):
            bias, add = bias + np.asarray(add.data if isinstance(add, Tensor) else add,
                                          scores.dtype), None
        total = bias if add is None else bias + add.data
        dead = np.all(np.isneginf(total), axis=-1, keepdims=True)
        if dead.any():  # NOTE: rows with nothing to attend to: finite scores, zeroed after
            bias = np.where(dead, 0, bias).astype(scores.dtype)
            add = None if add is None else where(dead, 0.0, add)
        else:
            dead = None
        scores = scores + bias
        if add is not None:
            scores = scores + add
    weights = scores.softmax(-1)
    if dead is not None:
        weights = where(dead, 0.0, weights)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights @ v, weights


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False
