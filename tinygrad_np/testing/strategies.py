"""Hypothesis strategies for property-testing code written with tinygrad_np.

Everything here draws small shapes and well-scaled float64 values by default,
which is what finite-difference gradient checks want.

>>> import numpy as np
>>> from hypothesis import given
>>> import tinygrad_np as tg
>>> from tinygrad_np.testing import gradcheck
>>> from tinygrad_np.testing.strategies import tensors
>>> @given(tensors(requires_grad=True))
... def test_softplus(x):
...     gradcheck(lambda x: (1 + x.exp()).log(), [x])
>>> test_softplus()

`programs()` draws whole random programs of library ops with their inputs
(defined in `tinygrad_np.testing.programs`, re-exported here).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_np._tensor import Tensor

__all__ = ["shapes", "broadcastable_shapes", "arrays", "tensors", "axes", "reduction_axes",
           "programs", "Program", "OpRow", "OPS"]


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[tuple]:
    """Array shapes, e.g. (), (3,), (2, 1, 4).

    >>> from hypothesis import given
    >>> @given(shapes(min_dims=1, max_dims=2))
    ... def test(shape):
    ...     assert 1 <= len(shape) <= 2 and all(1 <= n <= 4 for n in shape)
    >>> test()
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4) -> st.SearchStrategy[tuple]:
    """Tuples of `num_shapes` shapes that broadcast together, e.g. ((3, 1), (2, 1, 4)).

    Their common shape is `np.broadcast_shapes(*shapes)`.

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(broadcastable_shapes(3))
    ... def test(shapes):
    ...     np.broadcast_shapes(*shapes)   # never raises
    >>> test()
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda drawn: tuple(drawn.input_shapes))


def _representable(bound: float, dtype: np.dtype, up: bool) -> float:
    """The nearest value of `dtype` at or above (up) / at or below (not up) `bound`.

    Hypothesis refuses a bound such as 0.1 for 32-bit floats, which cannot hold it;
    rounding it inwards keeps exactly the values of dtype that satisfy the bound.
    """
    with np.errstate(over="ignore"):
        rounded = dtype.type(bound)
    # NOTE: compare as Python floats: NumPy would round `bound` to dtype first
    if up and float(rounded) < bound:
        rounded = np.nextafter(rounded, dtype.type(np.inf))
    elif not up and float(rounded) > bound:
        rounded = np.nextafter(rounded, dtype.type(-np.inf))
    return float(rounded)


def _floats(min_value: float, max_value: float, min_magnitude: float,
            dtype: np.dtype) -> st.SearchStrategy[float]:
    def between(lo: float, hi: float) -> st.SearchStrategy[float] | None:
        lo, hi = _representable(lo, dtype, up=True), _representable(hi, dtype, up=False)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            return None  # no finite value of dtype in [lo, hi]
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                         width=8 * dtype.itemsize)

    if min_magnitude <= 0:
        parts = [between(min_value, max_value)]
    else:
        magnitude = _representable(min_magnitude, dtype, up=True)
        parts = [between(max(min_value, magnitude), max_value),
                 between(min_value, min(max_value, -magnitude))]
    parts = [p for p in parts if p is not None]
    if not parts:
        raise ValueError(f"no finite {dtype} value lies in [{min_value}, {max_value}] with "
                         f"magnitude >= {min_magnitude}")
    return st.one_of(parts)


def arrays(shape: Any = None, dtype: Any = np.float64, min_value: float = -3.0,
           max_value: float = 3.0, min_magnitude: float = 0.0,
           unique: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Float ndarrays with finite values in [min_value, max_value].

    `shape` is a tuple or a strategy of tuples (default: `shapes()`);
    `min_magnitude` keeps values away from 0 (e.g. for abs, relu, division);
    `unique` makes all elements distinct.

    >>> from hypothesis import given
    >>> @given(arrays((2, 3), min_value=0.5))
    ... def test(a):
    ...     assert a.shape == (2, 3) and a.dtype == np.float64 and (a >= 0.5).all()
    >>> test()
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"arrays() draws floating-point arrays, got dtype {dtype}")
    shape = shapes() if shape is None else shape
    elements = _floats(min_value, max_value, min_magnitude, dtype)
    return hnp.arrays(dtype, shape, elements=elements, unique=unique)


def tensors(shape: Any = None, dtype: Any = np.float64, requires_grad: bool = False,
            **array_options: Any) -> st.SearchStrategy[Tensor]:
    """Tensors around `arrays(shape, dtype, **array_options)`.

    >>> from hypothesis import given
    >>> @given(tensors((3,), requires_grad=True, min_value=0.1))
    ... def test(x):
    ...     assert x.requires_grad and x.shape == (3,) and (x.data >= 0.1).all()
    >>> test()
    """
    return arrays(shape, dtype, **array_options).map(
        lambda a: Tensor(a, requires_grad=requires_grad))


def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True,
         allow_negative: bool = True) -> st.SearchStrategy[Any]:
    """Valid NumPy `axis` arguments for an ndim-dimensional array: None, an int or a tuple.

    Ints may be negative; tuples hold distinct axes (possibly empty).

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(axes(3))
    ... def test(axis):
    ...     np.zeros((2, 3, 4)).sum(axis=axis)   # never raises
    >>> test()
    """
    def signed(a: int) -> st.SearchStrategy[int]:
        return st.sampled_from([a, a - ndim]) if allow_negative else st.just(a)

    options: list[st.SearchStrategy[Any]] = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(0, ndim - 1).flatmap(signed))
    if allow_tuple:
        options.append(hnp.valid_tuple_axes(ndim).flatmap(
            lambda t: st.tuples(*(signed(a % ndim) for a in t))))
    if not options:
        raise ValueError(f"no axis argument is valid for ndim={ndim} with these options")
    return st.one_of(options)


def reduction_axes(ndim: int) -> st.SearchStrategy[dict]:
    """Keyword arguments `{"axis": ..., "keepdims": ...}` for a reduction.

    >>> from hypothesis import given
    >>> @given(reduction_axes(2))
    ... def test(kwargs):
    ...     np.ones((2, 3)).max(**kwargs)
    >>> test()
    """
    return st.fixed_dictionaries({"axis": axes(ndim), "keepdims": st.booleans()})


from tinygrad_np.testing.programs import OPS, OpRow, Program, programs  # noqa: E402
