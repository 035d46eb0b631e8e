"""Dropout: inverted dropout while training, the identity in eval mode."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.nn import functional as F
from tinygrad_np.nn.module import Module
from tinygrad_np._tensor import Tensor


class Dropout(Module):
    """Zero each element with probability p and scale the rest by 1/(1-p) while training
    (`model.train()`, the default); pass x through unchanged after `model.eval()`.

    Masks are drawn from the global generator that `tg.manual_seed` seeds, so a seeded
    run repeats exactly. p = 0 returns x itself; p = 1 gives zeros (as PyTorch).

    >>> import tinygrad_np as tg
    >>> drop = tg.nn.Dropout(0.5).eval()
    >>> drop(tg.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
                or not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be between 0 and 1, got {p!r}")
        self.p = p

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
