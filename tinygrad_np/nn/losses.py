"""Loss modules: thin wrappers that keep the options of the `functional` losses.

>>> import tinygrad_np as tg
>>> loss = tg.nn.MSELoss()(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 4.0]))
>>> float(loss.item())
2.0
"""
from __future__ import annotations

from typing import Any

from tinygrad_np.nn import functional as F
from tinygrad_np.nn.module import Module
from tinygrad_np._tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error between input and target (equal shapes)."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities; logs clamped at -100 like PyTorch."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = weight

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (sigmoid fused in): stable for any logit."""

    def __init__(self, weight: Any = None, reduction: str = "mean",
                 pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                  self.pos_weight)


class _ClassLoss(_Loss):
    """A loss over integer class targets, with per-class `weight` and `ignore_index`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index


class CrossEntropyLoss(_ClassLoss):
    """Softmax cross-entropy from logits (N, C) and integer class targets (N,)."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction)


class NLLLoss(_ClassLoss):
    """Negative log-likelihood from log-probabilities (N, C) and class targets (N,)."""

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)
