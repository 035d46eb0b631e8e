"""Attention: MultiheadAttention and TransformerEncoderLayer, with PyTorch's parameters.

Both are composites of primitives (Linear, reshape/transpose, matmul, softmax), built on
`tg.nn.functional.attend`, the function behind `scaled_dot_product_attention`. A
PyTorch state dict converted to arrays loads as it is and gives the same outputs.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, get_default_dtype
from tinygrad_np.nn import functional as F
from tinygrad_np.nn import init
from tinygrad_np.nn.dropout import Dropout
from tinygrad_np.nn.layers import Linear
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np.nn.normalization import LayerNorm


def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class MultiheadAttention(Module):
    """Multi-head attention as PyTorch's: `in_proj_weight` (3E, E), `in_proj_bias` (3E,),
    `out_proj` (a Linear(E, E)); returns (output, attention weights).

    Inputs (L, N, E) ((N, L, E) with batch_first, (L, E) unbatched); key and value
    (S, N, E). `attn_mask` (L, S) or (N * num_heads, L, S): bool True = *not*
    allowed (PyTorch's MultiheadAttention convention, the opposite of
    `scaled_dot_product_attention`'s), float = added; `key_padding_mask` (N, S):
    True = a padding key to ignore. `is_causal=True` without an attn_mask applies
    the causal mask (PyTorch requires the mask too; with one, the flag is only a
    hint, as there). Weights: averaged over heads (N, L, S), or per head (N,
    num_heads, L, S) with `average_attn_weights=False`; None with
    `need_weights=False`. A query whose every key is masked gets zeros (PyTorch's
    gives NaN there).

    >>> import tinygrad_np as tg
    >>> mha = tg.nn.MultiheadAttention(8, 2)
    >>> x = tg.zeros(5, 3, 8)
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((5, 3, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"MultiheadAttention: {name} must be an int >= 1, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible "
                             f"by num_heads ({num_heads}): each head gets embed_dim / num_heads "
                             "features")
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        rng = init._rng(generator, None, "MultiheadAttention")
        # PyTorch's order: the parameters declared, out_proj made (its init draws), then
        # in_proj_weight ~ xavier_uniform_ and the biases zeroed.
        self.in_proj_weight = Parameter(np.empty((3 * self.embed_dim, self.embed_dim), dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * self.embed_dim, dtype)) if bias else None
        self.out_proj = Linear(self.embed_dim, self.embed_dim, bias=bias, dtype=dtype,
                               generator=rng)
        init.xavier_uniform_(self.in_proj_weight, generator=rng)
        if bias:
            init.zeros_(self.out_proj.bias)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (
            f", dropout={self.dropout}" if self.dropout else "") + (
            ", batch_first=True" if self.batch_first else "")

    def _name(self) -> str:
        return f"MultiheadAttention({self.embed_dim}, {self.num_heads})"

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(output shaped like query, attention weights or None)."""
        q, k, v = _lift(query), _lift(key), _lift(value)
        unbatched = self._check(q, k, v)
        if unbatched:
            q, k, v = (t.expand_dims(0) for t in (q, k, v))
        elif not self.batch_first:
            q, k, v = (t.swapaxes(0, 1) for t in (q, k, v))  # -> (N, L, E)
        n, length, source = q.shape[0], q.shape[1], k.shape[1]
        keep, add = self._masks(attn_mask, key_padding_mask, is_causal, n, length, source,
                                unbatched, q.dtype)
        e = self.embed_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        # NOTE: the weight, not the projection, is cut in three: a slice's gradient is a
        # zero-filled array of what it cuts, and the weight (3E, E) is smaller than N*L rows.
        parts = [ops.Linear.apply(x, w[i * e:(i + 1) * e], None if b is None else
                                  b[i * e:(i + 1) * e]) for i, x in enumerate((q, k, v))]
        qh, kh, vh = (self._heads(p) for p in parts)  # (N, heads, L, head_dim)
        dropout_p = self.dropout if self.training else 0.0
        out, weights = F.attend(qh, kh, vh, keep, add, dropout_p, None, self._name())
        out = out.transpose(0, 2, 1, 3).reshape(n, length, e)
        out = self.out_proj(out)
        if unbatched:
            out = out.reshape(length, e)
        elif not self.batch_first:
            out = out.swapaxes(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(axis=1)
        return out, (weights.reshape(weights.shape[1:]) if unbatched else weights)

    def _heads(self, x: Tensor) -> Tensor:
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _check(self, q: Tensor, k: Tensor, v: Tensor) -> bool:
        """Shapes checked; returns True for unbatched (L, E) inputs."""
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if q.ndim not in (2, 3) or q.shape[-1] != self.embed_dim:
            raise ValueError(f"{self._name()}: query of shape {q.shape} must be {layout} or "
                             f"(L, E) with E = embed_dim = {self.embed_dim}")
        for name, t in (("key", k), ("value", v)):
            if t.ndim != q.ndim or t.shape[-1] != self.embed_dim:
                raise ValueError(f"{self._name()}: {name} of shape {t.shape} must have the "
                                 f"query's {q.ndim} axes (query {q.shape}) and last axis "
                                 f"embed_dim = {self.embed_dim}")
        batch_axis = 0 if self.batch_first else 1
        if q.ndim == 3 and not q.shape[batch_axis] == k.shape[batch_axis] == v.shape[batch_axis]:
            raise ValueError(f"{self._name()}: query {q.shape}, key {k.shape} and value "
                             f"{v.shape} must have the same batch size (axis {batch_axis} with "
                             f"batch_first={self.batch_first})")
        if k.shape[:-1] != v.shape[:-1]:
            raise ValueError(f"{self._name()}: key of shape {k.shape} and value of shape "
                             f"{v.shape} must have the same sequence length and batch")
        return q.ndim == 2

    def _masks(self, attn_mask: Any, key_padding_mask: Any, is_causal: bool, n: int,
               length: int, source: int, unbatched: bool, dtype: np.dtype) -> tuple[Any, Any]:
        """(keep: bool array or None, add: float array/Tensor or None), each broadcasting to
        the weights' shape (N, heads, L, S)."""
        keep = add = None
        if attn_mask is not None:
            mask = attn_mask if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            allowed = ((length, source), (n * self.num_heads, length, source))
            if tuple(mask.shape) not in allowed:
                raise ValueError(f"{self._name()}: attn_mask of shape {tuple(mask.shape)} must "
                                 f"be (L, S) = {allowed[0]} or (N * num_heads, L, S) = "
                                 f"{allowed[1]} for query length L={length}, key length "
                                 f"S={source}, batch N={n}")
            if mask.ndim == 3:
                mask = mask.reshape(n, self.num_heads, length, source)
            keep, add = _split_mask(mask, "attn_mask", self._name())
        elif is_causal:
            keep = F.causal_mask(length, source)
        if key_padding_mask is not None:
            mask = key_padding_mask if isinstance(key_padding_mask, Tensor) else \
                np.asarray(key_padding_mask)
            expected = (source,) if unbatched else (n, source)
            if tuple(mask.shape) != expected:
                raise ValueError(f"{self._name()}: key_padding_mask of shape "
                                 f"{tuple(mask.shape)} must be (N, S) = {expected} "
                                 "(True marks a key to ignore)")
            mask = mask.reshape(n, 1, 1, source)
            pad_keep, pad_add = _split_mask(mask, "key_padding_mask", self._name())
            keep = pad_keep if keep is None else (keep if pad_keep is None else keep & pad_keep)
            add = pad_add if add is None else (add if pad_add is None else add + pad_add)
        if add is not None and not isinstance(add, Tensor):
            add = add.astype(dtype, copy=False)
        return keep, add


def _split_mask(mask: Any, name: str, what: str) -> tuple[Any, Any]:
    """A MultiheadAttention mask as (keep, add): bool True = masked out, float = added."""
    if mask.dtype == np.bool_:
        return ~(mask.data if isinstance(mask, Tensor) else mask), None
    if mask.dtype.kind == "f":
        return None, mask
    raise TypeError(f"{what}: {name} must be bool (True = masked out) or float (added to the "
                    f"scores), got {mask.dtype}")


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual and a LayerNorm,
    as PyTorch's (same submodule and parameter names, same order of operations).

    Post-norm (default): x = norm1(x + sa(x)); x = norm2(x + ff(x)); with
    norm_first=True: x = x + sa(norm1(x)); x = x + ff(norm2(x)). ff(x) =
    linear2(dropout(activation(linear1(x)))); activation "relu", "gelu" or a callable.

    >>> import tinygrad_np as tg
    >>> layer = tg.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    >>> layer(tg.zeros(5, 3, 8)).shape
    (5, 3, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise ValueError(f"TransformerEncoderLayer: activation must be 'relu', 'gelu' "
                                 f"or a callable, got {activation!r}")
            activation = F.relu if activation == "relu" else F.gelu
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, dtype=dtype)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.batch_first = batch_first

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """The encoded sequence, shaped like src."""
        x = _lift(src)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool) -> Tensor:
        out = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                             need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))
