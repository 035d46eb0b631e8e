"""Embedding: a lookup table of learned vectors, indexed by integers."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.nn import functional as F
from tinygrad_np.nn import init
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np._tensor import Tensor, get_default_dtype


class Embedding(Module):
    """Row i of `weight` (num_embeddings, embedding_dim) for each index i of the input.

    weight is drawn from N(0, 1) (PyTorch's init, from `generator` or the global
    generator `tg.manual_seed` seeds); the row `padding_idx` (negative counts from
    the end) starts at zero and never receives a gradient. An index outside
    [0, num_embeddings) raises IndexError naming the layer. PyTorch's max_norm,
    scale_grad_by_freq and sparse options are not supported.

    >>> import tinygrad_np as tg
    >>> emb = tg.nn.Embedding(10, 3, padding_idx=0)
    >>> emb([[0, 2, 9]]).shape, emb([0]).tolist()
    ((1, 3, 3), [[0.0, 0.0, 0.0]])
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        for what, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"Embedding: {what} must be a non-negative int, got {n!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            padding_idx = F._padding_index(padding_idx, self.num_embeddings, "Embedding")
        self.padding_idx = padding_idx
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype))
        init.normal_(self.weight, generator=init._rng(generator, None, "Embedding"))
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding whose weight is a copy of `embeddings` (2-D); frozen by default."""
        array = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if array.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D "
                             f"(num_embeddings, embedding_dim), got shape {array.shape}")
        layer = cls(*array.shape, padding_idx=padding_idx, dtype=array.dtype, generator=0)
        layer.weight.data[...] = array
        layer.weight.requires_grad_(not freeze)
        return layer

    def forward(self, x: Any) -> Tensor:
        return F.embedding(x, self.weight, self.padding_idx,
                           layer=f"Embedding({self.extra_repr()})")

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
