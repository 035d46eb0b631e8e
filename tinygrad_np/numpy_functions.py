"""NumPy's functions on Tensors: the table FUNCTIONS that `np.sum(t)`, `np.concatenate`...
dispatch through (see numpy_protocol), and the functions they stand for.

Each entry takes NumPy's signature and builds the result from Tensor ops (composites
need no backward of their own); an argument it cannot record raises NotDifferentiable,
and numpy_protocol then runs NumPy on the values or refuses, as for any other call.
PLAIN lists the functions whose results carry no gradient (NumPy's result, always).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

import tinygrad_np
from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, concatenate, maximum, minimum, stack, where
from tinygrad_np.function import apply_binary, array_of, make_tensor
from tinygrad_np.numpy_protocol import (NotDifferentiable, _arrays, _cast, _keep, _method,
                                        _requiring_grad, _tensor, _unsupported)
from tinygrad_np.ops.helpers import normalize_axis

_NoValue = np._NoValue  # NumPy's "argument not given" default


# ------------------------------------------------------------------ functions
def _sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: Any = _NoValue,
         initial: Any = _NoValue, where: Any = _NoValue) -> Tensor:
    _unsupported(initial=initial, where=where)
    return _cast(_tensor(a), dtype).sum(axis=axis, keepdims=_keep(keepdims))


def _mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: Any = _NoValue, *, where: Any = _NoValue) -> Tensor:
    _unsupported(where=where)
    return _cast(_tensor(a), dtype).mean(axis=axis, keepdims=_keep(keepdims))


def _prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
          keepdims: Any = _NoValue, initial: Any = _NoValue, where: Any = _NoValue) -> Tensor:
    """np.prod as products of halves (log2(n) steps): exact gradients also where x == 0."""
    _unsupported(initial=initial, where=where)
    x = _cast(_tensor(a), dtype)
    if x.dtype.kind != "f":  # integers and booleans carry no gradient: NumPy's values
        return make_tensor(np.asarray(np.prod(x.data, axis=axis, keepdims=_keep(keepdims))),
                           None)
    reduced = [a for a in normalize_axis(axis, x.shape, "np.prod") if a < x.ndim]
    kept = [i for i in range(x.ndim) if i not in reduced]
    n = int(np.prod([x.shape[i] for i in reduced]))
    y = x.transpose(tuple(kept + reduced)) if x.ndim > 1 else x
    y = y.reshape(tuple(x.shape[i] for i in kept) + (n,))
    if n == 0:  # the empty product is 1
        y = y.sum(axis=-1, keepdims=True) + 1.0
    while y.shape[-1] > 1:
        half = y.shape[-1] // 2
        pairs = y[..., :half] * y[..., half:2 * half]
        y = pairs if y.shape[-1] % 2 == 0 else concatenate([pairs, y[..., 2 * half:]], axis=-1)
    if _keep(keepdims):
        return y.reshape(tuple(1 if i in reduced else n for i, n in enumerate(x.shape)))
    return y.reshape(tuple(x.shape[i] for i in kept))


def _extremum(name: str) -> Callable:
    def call(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _NoValue,
             initial: Any = _NoValue, where: Any = _NoValue) -> Tensor:
        _unsupported(initial=initial, where=where)
        return getattr(_tensor(a), name)(axis=axis, keepdims=_keep(keepdims))
    return call


def _spread(name: str) -> Callable:
    """np.var / np.std, with NumPy's ddof (or its newer spelling correction)."""
    def call(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
             keepdims: Any = _NoValue, *, where: Any = _NoValue, mean: Any = _NoValue,
             correction: Any = _NoValue) -> Tensor:
        _unsupported(where=where, mean=mean)
        if correction is not _NoValue:
            if ddof != 0:
                raise ValueError(f"np.{name}: ddof and correction can't be provided together")
            ddof = correction
        x = _cast(_tensor(a), dtype)
        return getattr(x, name)(axis=axis, keepdims=_keep(keepdims), ddof=ddof)
    return call


def _join(arrays: Any, axis: Any, dtype: Any, casting: str) -> list:
    if casting != "same_kind":
        raise NotDifferentiable(f"with casting={casting!r}")
    return [_cast(_tensor(x), dtype) for x in arrays]


def _concatenate(arrays: Any, axis: Any = 0, out: Any = None, *, dtype: Any = None,
                 casting: str = "same_kind") -> Tensor:
    tensors = _join(arrays, axis, dtype, casting)
    if axis is None:  # NumPy flattens first
        tensors, axis = [t.reshape(-1) for t in tensors], 0
    return concatenate(tensors, axis=axis)


def _stack(arrays: Any, axis: int = 0, out: Any = None, *, dtype: Any = None,
           casting: str = "same_kind") -> Tensor:
    return stack(_join(arrays, axis, dtype, casting), axis=axis)


def _reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
             copy: Any = None) -> Tensor:
    if order != "C":
        raise NotDifferentiable(f"with order={order!r}")
    shape = newshape if shape is None else shape
    return _tensor(a).reshape((shape,) if isinstance(shape, int) else tuple(shape))


def _transpose(a: Any, axes: Any = None) -> Tensor:
    return _tensor(a).transpose() if axes is None else _tensor(a).transpose(tuple(axes))


def _ravel(a: Any, order: str = "C") -> Tensor:
    return _reshape(a, -1, order)


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Tensor:
    return _tensor(array).broadcast_to((shape,) if isinstance(shape, int) else tuple(shape))


def _where(condition: Any, x: Any = _NoValue, y: Any = _NoValue) -> Any:
    if x is _NoValue and y is _NoValue:  # np.where(cond): indices, no gradient
        return np.where(array_of(condition))
    if x is _NoValue or y is _NoValue:
        raise ValueError("np.where: either both or neither of x and y should be given")
    return where(condition, x, y)


def _clip(a: Any, a_min: Any = _NoValue, a_max: Any = _NoValue, out: Any = None, *,
          min: Any = _NoValue, max: Any = _NoValue, **kwargs: Any) -> Tensor:  # noqa: A002
    if kwargs:
        raise NotDifferentiable(f"with {next(iter(kwargs))}=")
    lo = None if a_min is _NoValue else a_min
    hi = None if a_max is _NoValue else a_max
    lo = lo if min is _NoValue else min
    hi = hi if max is _NoValue else max
    x = _tensor(a)
    if _requiring_grad((lo, hi)) is None:
        return x.clip(array_of(lo), array_of(hi))
    # a bound that requires grad: NumPy's definition, minimum(maximum(a, lo), hi)
    if lo is not None:
        x = maximum(x, lo)
    return x if hi is None else minimum(x, hi)


def _dot(a: Any, b: Any, out: Any = None) -> Tensor:
    ndims = (np.ndim(array_of(a)), np.ndim(array_of(b)))
    if 0 in ndims:
        return apply_binary(ops.Mul, a, b)
    if max(ndims) > 2:  # np.dot's N-d rule is not matmul's
        raise NotDifferentiable(f"for {max(ndims)}-d operands (np.matmul is)")
    return apply_binary(ops.MatMul, a, b)


def _outer_product(a: Any, b: Any, out: Any = None) -> Tensor:
    return apply_binary(ops.Mul, _tensor(a).reshape(-1, 1), _tensor(b).reshape(1, -1))


def _einsum(*operands: Any, out: Any = None, optimize: Any = False, dtype: Any = None,
            **kwargs: Any) -> Tensor:
    if kwargs:
        raise NotDifferentiable(f"with {next(iter(kwargs))}=")
    if not operands or not isinstance(operands[0], str):
        raise NotDifferentiable("with operands and sublists (write the subscripts string)")
    einsum = getattr(tinygrad_np, "einsum", None)
    if einsum is None:
        raise NotDifferentiable("(this version of tinygrad_np has no tg.einsum)")
    return einsum(operands[0], *(_cast(_tensor(x), dtype) for x in operands[1:]))


def _cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tensor:
    return _method("cumsum")(_cast(_tensor(a), dtype), axis)


def _pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    value = kwargs.pop("constant_values", 0)
    if mode != "constant" or kwargs:
        raise NotDifferentiable(f"with mode={mode!r}" if mode != "constant"
                                else f"with {next(iter(kwargs))}=")
    if np.ndim(array_of(value)) != 0:
        raise NotDifferentiable("with constant_values per axis (one number is supported)")
    return _method("pad")(array, array_of(pad_width), value=array_of(value))


def _triangle(name: str) -> Callable:
    def call(m: Any, k: int = 0) -> Tensor:
        return _method(name)(m, k)
    return call


def _take_along_axis(arr: Any, indices: Any, axis: Any = -1) -> Tensor:
    return _method("take_along_axis")(arr, array_of(indices), axis)


def _tile(A: Any, reps: Any) -> Tensor:  # noqa: N803  (NumPy's parameter name)
    return _method("tile")(A, reps)


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
           out: Any = None) -> Tensor:
    x = _cast(_tensor(a), dtype)
    if offset != 0 or x.ndim != 2 or (axis1, axis2) not in ((0, 1), (1, 0), (-2, -1)):
        raise NotDifferentiable("beyond the main diagonal of a 2-d Tensor")
    return tinygrad_np.einsum("ii->", x)


def _vdot(a: Any, b: Any) -> Tensor:
    return apply_binary(ops.MatMul, _tensor(a).reshape(-1), _tensor(b).reshape(-1))


def _inner(a: Any, b: Any) -> Tensor:
    """np.inner: sums over the last axes, the other axes of a then of b."""
    a, b = _tensor(a), _tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return apply_binary(ops.Mul, a, b)
    k = a.shape[-1]
    flat = apply_binary(ops.MatMul, a.reshape(-1, k), b.reshape(-1, k).transpose())
    return flat.reshape(a.shape[:-1] + b.shape[:-1])


def _atleast(x: Any, ndim: int) -> Tensor:
    t = _tensor(x)
    return t.reshape({0: (1, 1), 1: (1, -1)}.get(t.ndim, t.shape)) if ndim == 2 else t


def _vstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    return concatenate([_atleast(t, 2) for t in _join(tup, 0, dtype, casting)], axis=0)


def _hstack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Tensor:
    tensors = [t.reshape(1) if t.ndim == 0 else t for t in _join(tup, 0, dtype, casting)]
    return concatenate(tensors, axis=0 if tensors and tensors[0].ndim == 1 else 1)


def _split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """np.split / np.array_split: slices of the Tensor, each in the graph."""
    x = _tensor(ary)
    n = x.shape[axis]
    if np.ndim(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("np.split: number sections must be larger than 0.")
        size, extra = divmod(n, sections)
        bounds = np.cumsum([0] + [size + 1] * extra + [size] * (sections - extra))
    else:
        bounds = [0, *indices_or_sections, n]
    lead = (slice(None),) * (axis % x.ndim)
    return [x[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]


def _even_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    if np.ndim(indices_or_sections) == 0 and _tensor(ary).shape[axis] % indices_or_sections:
        raise ValueError("np.split: array split does not result in an equal division")
    return _split(ary, indices_or_sections, axis)


def _diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = _NoValue,
          append: Any = _NoValue) -> Tensor:
    x = _tensor(a)
    if x.ndim == 0:
        raise ValueError("np.diff: diff requires input that is at least one dimensional")
    lead = (slice(None),) * (axis % x.ndim)
    parts = [p for p in (prepend, x, append) if p is not _NoValue]
    if len(parts) > 1:
        shape = list(x.shape)
        shape[axis] = 1
        parts = [p if p is x or np.ndim(array_of(p)) else
                 _tensor(p).broadcast_to(tuple(shape)) for p in parts]
        x = concatenate(parts, axis=axis)
    for _ in range(n):
        x = x[lead + (slice(1, None),)] - x[lead + (slice(None, -1),)]
    return x


def _like(func: Callable) -> Callable:
    """np.zeros_like(t) and kin: a Tensor without grad (its values do not depend on t)."""
    def call(*args: Any, **kwargs: Any) -> Tensor:
        return make_tensor(np.asarray(func(*_arrays(args), **_arrays(kwargs))), None)
    return call


def _copy(a: Any, order: str = "K", subok: bool = False) -> Tensor:
    x = _tensor(a)
    return x.astype(x.dtype)  # Cast copies and passes the gradient through


# ---------------------------------------------------------------- linalg.norm
def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """np.linalg.norm from Tensor ops: vector norms 2, 1, inf, -inf; matrix norms 'fro', 1,
    -1, inf, -inf (the SVD-based 2, -2 and 'nuc' are not differentiable here)."""
    t = _tensor(x)
    if t.dtype.kind != "f":
        t = t.astype(np.float64)  # NumPy's norm of integers is float64
    if axis is None:
        if ord is None:  # the 2-norm of all elements, whatever the ndim
            return _safe_sqrt((t * t).sum(keepdims=keepdims))
        axis = tuple(range(t.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % t.ndim if -t.ndim <= a < t.ndim else a for a in axes)
    if len(axes) == 1:
        return _vector_norm(t, ord, axes[0], keepdims)
    if len(axes) == 2 and axes[0] != axes[1]:
        return _matrix_norm(t, ord, axes, keepdims)
    raise NotDifferentiable(f"with axis={axis}")


def _vector_norm(t: Tensor, ord: Any, axis: int, keepdims: bool) -> Tensor:  # noqa: A002
    if ord is None or ord == 2:
        return _safe_sqrt((t * t).sum(axis=axis, keepdims=keepdims))
    if ord == 1:
        return t.abs().sum(axis=axis, keepdims=keepdims)
    if ord in (np.inf, -np.inf):
        return getattr(t.abs(), "max" if ord > 0 else "min")(axis=axis, keepdims=keepdims)
    raise NotDifferentiable(f"with ord={ord!r} for vectors (2, 1, inf and -inf are)")


def _matrix_norm(t: Tensor, ord: Any, axes: tuple, keepdims: bool) -> Tensor:  # noqa: A002
    if ord is None or ord == "fro":
        return _safe_sqrt((t * t).sum(axis=axes, keepdims=keepdims))
    if ord not in (1, -1, np.inf, -np.inf):
        raise NotDifferentiable(f"with ord={ord!r} for matrices ('fro', 1, -1, inf, -inf are)")
    row, col = axes
    inner, outer = (row, col) if ord in (1, -1) else (col, row)
    sums = t.abs().sum(axis=inner, keepdims=True)
    out = getattr(sums, "max" if ord > 0 else "min")(axis=outer, keepdims=True)
    if keepdims:
        return out
    return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in axes))


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt(s) with gradient 0 where s == 0 (as PyTorch's norm), not inf * 0 = NaN."""
    positive = s.data > 0
    if positive.all():
        return s.sqrt()
    return where(positive, where(positive, s, 1.0).sqrt(), 0.0)


FUNCTIONS: dict[Callable, Callable] = {
    np.sum: _sum, np.mean: _mean, np.prod: _prod,
    np.max: _extremum("max"), np.amax: _extremum("max"),
    np.min: _extremum("min"), np.amin: _extremum("min"),
    np.var: _spread("var"), np.std: _spread("std"),
    np.concatenate: _concatenate, np.stack: _stack,
    np.reshape: _reshape, np.ravel: _ravel, np.transpose: _transpose,
    np.swapaxes: lambda a, axis1, axis2: _tensor(a).swapaxes(axis1, axis2),
    np.squeeze: lambda a, axis=None: _tensor(a).squeeze(axis),
    np.expand_dims: lambda a, axis: _tensor(a).expand_dims(axis),
    np.broadcast_to: _broadcast_to, np.where: _where, np.clip: _clip,
    np.dot: _dot, np.outer: _outer_product, np.einsum: _einsum, np.linalg.norm: _norm,
    np.copy: _copy,
    np.zeros_like: _like(np.zeros_like), np.ones_like: _like(np.ones_like),
    np.full_like: _like(np.full_like), np.empty_like: _like(np.empty_like),
    # added by the new-ops branch; until then they behave as functions outside the table
    np.cumsum: _cumsum, np.pad: _pad,
    np.flip: lambda m, axis=None: _method("flip")(m, axis),
    np.roll: lambda a, shift, axis=None: _method("roll")(a, shift, axis),
    np.tril: _triangle("tril"), np.triu: _triangle("triu"),
    np.take_along_axis: _take_along_axis, np.tile: _tile,
    np.trace: _trace, np.vdot: _vdot, np.inner: _inner, np.vstack: _vstack,
    np.hstack: _hstack, np.split: _even_split, np.array_split: _split, np.diff: _diff,
}

# Functions whose results carry no gradient (indices, counts, truth values, shapes,
# text): NumPy's own result for the arrays, whatever requires grad.
PLAIN: frozenset = frozenset(getattr(np, name) for name in (
    "argmax", "argmin", "argsort", "argpartition", "argwhere", "nonzero", "flatnonzero",
    "count_nonzero", "searchsorted", "digitize", "any", "all", "isclose", "allclose",
    "array_equal", "array_equiv", "isin", "iscomplex", "isreal", "iscomplexobj", "isrealobj",
    "shape", "ndim", "size", "result_type", "can_cast", "min_scalar_type",
    "may_share_memory", "shares_memory", "array2string", "array_repr", "array_str",
) if hasattr(np, name))
