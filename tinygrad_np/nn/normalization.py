"""Normalisation layers: LayerNorm, and BatchNorm1d/2d with running statistics."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np import grad_mode
from tinygrad_np.nn import functional as F
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np._tensor import Tensor, get_default_dtype


class LayerNorm(Module):
    """Normalise over the last axes: (x - mean) / sqrt(var + eps) * weight + bias.

    normalized_shape: an int or a tuple, the trailing shape of the input. The
    variance is the biased one (PyTorch's). weight starts at ones, bias at zeros,
    both of shape normalized_shape (none with elementwise_affine=False; no bias
    with bias=False).

    >>> import tinygrad_np as tg
    >>> y = tg.nn.LayerNorm(4)(tg.tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> [round(v, 4) for v in y.tolist()[0]]
    [-1.3416, -0.4472, 0.4472, 1.3416]
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        shape = F._shape_tuple(normalized_shape)
        if not shape or any(n <= 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple "
                             f"of them, got {normalized_shape!r}")
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype))
            self.bias = Parameter(np.zeros(shape, dtype)) if bias else None
        else:
            self.weight = self.bias = None

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps,
                            layer=f"LayerNorm({self.extra_repr()})")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ in the input ranks they accept."""

    ranks: tuple[int, ...] = ()
    layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(num_features, (int, np.integer)) or isinstance(num_features, bool) \
                or num_features <= 0:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must lie in [0, 1] (or be None for a "
                             f"cumulative average), got {momentum!r}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(buffer, None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0 (in place)."""
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        name = f"{type(self).__name__}({self.extra_repr()})"
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{name} got an input of shape {x.shape}; it expects "
                             f"{self.layout.replace('C', str(self.num_features))} "
                             f"(num_features={self.num_features} channels on axis 1)")
        update = self.training and self.track_running_stats
        momentum = self.momentum
        if update and momentum is None:  # a cumulative average over the batches seen
            if grad_mode.tracer() is not None:
                raise TypeError(f"{name}: momentum=None (a cumulative average) inside "
                                "tg.compile would freeze the average's weight at recording; "
                                "give a momentum, or run without tg.compile")
            momentum = 1.0 / (int(self.num_batches_tracked.data) + 1)
        y = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         training=self.training or not self.track_running_stats,
                         momentum=0.0 if momentum is None else momentum, eps=self.eps,
                         layer=name)
        if update:  # after F.batch_norm checked everything and updated the running stats
            _count_batch(self.num_batches_tracked.data)
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per channel C.

    Training (`model.train()`): normalise with the batch's mean and biased variance,
    and update the buffers running_mean, running_var (with the unbiased variance) by
    running = (1 - momentum) * running + momentum * batch; momentum=None averages
    all batches equally. num_batches_tracked counts the updates. Eval mode uses the
    running statistics. Then * weight + bias (affine=True). PyTorch's rules and
    state_dict names; a failed forward changes nothing.

    >>> import tinygrad_np as tg
    >>> bn = tg.nn.BatchNorm1d(2)
    >>> _ = bn(tg.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> bn.running_mean.tolist(), bn.running_var.tolist(), int(bn.num_batches_tracked)
    ([0.10000000149011612, 0.20000000298023224], [1.100000023841858, 1.100000023841858], 1)
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, per channel C (see BatchNorm1d)."""

    ranks = (4,)
    layout = "(N, C, H, W)"


def _count_batch(counter: np.ndarray) -> None:
    """counter += 1 (inside tg.compile's recording: a step of the plan)."""
    tracer = grad_mode.step_tracer()
    if tracer is not None:
        tracer.call(_count_batch, counter)
        return
    counter += 1
