"""Picking elements along an axis: take_along_axis (NumPy) and gather (PyTorch).

Both are indexing with integer arrays built from the indices, so both record
`TakeAlongAxis`, which is `GetItem` under its own name: its gradient adds each output's
gradient back where it was taken from (repeated indices add up), and under create_graph
that scatter is recorded too. The two spellings differ only in the rule that turns the
indices into that index (`along_axis_index`, `gather_index`), with each library's checks.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.ops.helpers import normalize_axis
from tinygrad_np.ops.shape import GetItem


class TakeAlongAxis(GetItem):
    """a[index] for an index built by take_along_axis or gather (the adjoint: scatter-add)."""


def _integer_indices(indices: Any, op: str, name: str, shape: tuple) -> np.ndarray:
    array = np.asarray(indices)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {array.dtype} (tensor of "
                        f"shape {shape}); convert them with .astype(int)")
    return array


def _check_range(index: np.ndarray, size: int, axis: int, shape: tuple, op: str,
                 allow_negative: bool) -> None:
    if not index.size:
        return
    lo, hi = int(index.min()), int(index.max())
    low = -size if allow_negative else 0
    if lo < low or hi >= size:
        bad = lo if lo < low else hi
        allowed = f"[{low}, {size})" if size else "none: the axis is empty"
        raise IndexError(f"{op}: index {bad} is out of bounds for axis {axis} of size {size} "
                         f"(tensor of shape {shape}); indices along it must lie in {allowed}")


def along_axis_index(shape: tuple, indices: Any, axis: Any) -> tuple:
    """NumPy's take_along_axis rule: indices have the input's ndim (1-D with axis None: the
    input flattened); the other axes broadcast. Returns (index into the input, its shape
    to index, i.e. `shape` or the flattened size)."""
    op = "take_along_axis"
    index = _integer_indices(indices, op, "indices", shape)
    if axis is None:
        if index.ndim != 1:
            raise ValueError(f"{op}: with axis=None the input (shape {shape}) is flattened, so "
                             f"indices must be 1-D, got shape {index.shape}")
        size = int(np.prod(shape))
        _check_range(index, size, 0, (size,), op, allow_negative=True)
        return (index,), (size,)
    if index.ndim != len(shape):
        raise ValueError(f"{op}: indices of shape {index.shape} must have as many dims as the "
                         f"input of shape {shape}; add axes of length 1 (expand_dims) to them")
    if not shape:
        raise ValueError(f"{op}: a 0-d input has no axis to take along; pass axis=None")
    (axis,) = normalize_axis(axis, shape, op)
    _check_range(index, shape[axis], axis, shape, op, allow_negative=True)
    rest = [n for i, n in enumerate(shape) if i != axis]
    index_rest = [n for i, n in enumerate(index.shape) if i != axis]
    try:
        np.broadcast_shapes(tuple(rest), tuple(index_rest))
    except ValueError:
        raise ValueError(f"{op}: indices of shape {index.shape} and input of shape {shape} must "
                         f"broadcast on every axis but {axis}; give the indices size 1 or the "
                         "input's size there") from None
    return _fancy_index(shape, index, axis), shape


def gather_index(shape: tuple, dim: Any, index: Any) -> tuple:
    """PyTorch's gather rule: index has the input's ndim, index.shape[d] <= shape[d] for every
    d != dim (the first positions are taken, no broadcasting), 0 <= index < shape[dim]."""
    op = "gather"
    array = _integer_indices(index, op, "index", shape)
    if array.ndim != len(shape):
        raise ValueError(f"{op}: index of shape {array.shape} must have as many dims as the "
                         f"input of shape {shape} (PyTorch's rule)")
    if not shape:  # PyTorch lets a 0-d input take its one element
        normalize_axis(dim, shape, op)
        _check_range(array, 1, dim, shape, op, allow_negative=False)
        return (...,)
    (dim,) = normalize_axis(dim, shape, op)
    if any(m > n for d, (m, n) in enumerate(zip(array.shape, shape)) if d != dim):
        raise ValueError(f"{op}: index of shape {array.shape} must be no larger than the input "
                         f"of shape {shape} on every dim but {dim}")
    _check_range(array, shape[dim], dim, shape, op, allow_negative=False)
    ranges = [np.arange(m).reshape([-1 if i == d else 1 for i in range(array.ndim)])
              for d, m in enumerate(array.shape)]
    return tuple(array if d == dim else r for d, r in enumerate(ranges))


def _fancy_index(shape: tuple, index: np.ndarray, axis: int) -> tuple:
    """The integer-array index with a[result] == np.take_along_axis(a, index, axis)."""
    ndim = len(shape)
    return tuple(index if d == axis else
                 np.arange(n).reshape([-1 if i == d else 1 for i in range(ndim)])
                 for d, n in enumerate(shape))
