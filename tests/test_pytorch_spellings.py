"""PyTorch habits, one by one: each PyTorch spelling gives the values AND the gradients of
the same expression written the NumPy way in tinygrad_np; mixed spellings raise clear
errors; and the differences the README's "Coming from PyTorch" table lists hold.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import _spellings
from tinygrad_np.testing.strategies import arrays, shapes


# ------------------------------------------------------------------ helpers
def value_and_grad(fn: Callable[[tg.Tensor], Any], values: np.ndarray) -> tuple:
    """fn(x)'s values and the gradient of sum(w * fn(x)) at x, w = 1, 2, 3... (so every
    output element weighs differently); a (values, indices) result counts by its values."""
    x = tg.tensor(values, requires_grad=True)
    out = fn(x)
    out = out.values if isinstance(out, tuple) else out
    weights = np.arange(1.0, out.size + 1).reshape(out.shape)
    (out * weights).sum().backward()
    return out.data, x.grad.data


def assert_same(torch_way: Callable, numpy_way: Callable, values: np.ndarray) -> None:
    got_value, got_grad = value_and_grad(torch_way, values)
    want_value, want_grad = value_and_grad(numpy_way, values)
    assert got_value.shape == want_value.shape and got_value.dtype == want_value.dtype
    np.testing.assert_allclose(got_value, want_value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-12, atol=1e-14)


def case_with_dim(min_dims: int = 1, **options: Any) -> st.SearchStrategy:
    """(values, dim) with dim a valid int axis, negative or not."""
    return shapes(min_dims, 3, 1, 4).flatmap(lambda s: st.tuples(
        arrays(s, unique=True, **options), st.integers(-len(s), len(s) - 1)))


REDUCTIONS = ["sum", "mean", "amax", "amin", "var", "std", "logsumexp"]


# ------------------------------------------------------- dim= and keepdim=
@pytest.mark.parametrize("name", REDUCTIONS)
@given(case=case_with_dim(), keep=st.booleans())
def test_dim_keepdim_is_axis_keepdims(name: str, case: tuple, keep: bool) -> None:
    values, d = case
    assert_same(lambda x: getattr(x, name)(dim=d, keepdim=keep),
                lambda x: getattr(x, name)(axis=d, keepdims=keep), values)
    assert_same(lambda x: getattr(x, name)(d, keepdim=keep),  # positional dim, PyTorch's keepdim
                lambda x: getattr(x, name)(d, keep), values)
    assert_same(lambda x: getattr(x, name)(axis=d, keepdim=keep),  # axis= with keepdim= is fine
                lambda x: getattr(x, name)(axis=d, keepdims=keep), values)
    if name in ("amax", "amin"):  # NumPy's max and min (distinct values: one gradient)
        assert_same(lambda x: getattr(x, name)(dim=d, keepdim=keep),
                    lambda x: getattr(x, name[1:])(axis=d, keepdims=keep), values)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "var", "std"])
def test_dim_takes_tuples_and_lists_as_axis_does(name: str) -> None:
    values = np.arange(24.0).reshape(2, 3, 4) % 7
    assert_same(lambda x: getattr(x, name)(dim=(0, 2), keepdim=True),
                lambda x: getattr(x, name)(axis=(0, 2), keepdims=True), values)
    assert_same(lambda x: getattr(x, name)(dim=[-1, 0]),
                lambda x: getattr(x, name)(axis=(0, 2)), values)


@given(case=case_with_dim())
def test_softmax_log_softmax_and_argmax_take_dim(case: tuple) -> None:
    values, d = case
    assert_same(lambda x: x.softmax(dim=d), lambda x: x.softmax(axis=d), values)
    assert_same(lambda x: x.log_softmax(dim=d), lambda x: x.log_softmax(d), values)
    assert_same(lambda x: F.softmax(x, dim=d), lambda x: x.softmax(d), values)
    assert_same(lambda x: F.log_softmax(x, dim=d), lambda x: x.log_softmax(d), values)
    assert_same(lambda x: tg.nn.Softmax(dim=d)(x), lambda x: tg.nn.Softmax(d)(x), values)
    assert_same(lambda x: tg.nn.LogSoftmax(dim=d)(x), lambda x: x.log_softmax(d), values)
    x = tg.tensor(values)
    for keep in (False, True):
        np.testing.assert_array_equal(x.argmax(dim=d, keepdim=keep).data,
                                      np.argmax(values, axis=d, keepdims=keep))
        np.testing.assert_array_equal(x.argmin(dim=d, keepdim=keep).data,
                                      np.argmin(values, axis=d, keepdims=keep))


@given(case=case_with_dim())
def test_shape_functions_take_dim(case: tuple) -> None:
    values, d = case
    assert_same(lambda x: x.unsqueeze(d), lambda x: x.expand_dims(d), values)
    assert_same(lambda x: x.expand_dims(dim=d), lambda x: x.expand_dims(axis=d), values)
    assert_same(lambda x: tg.cat([x, x * 2], dim=d), lambda x: tg.concatenate([x, x * 2], d),
                values)
    assert_same(lambda x: tg.cat([x, x * 2], d), lambda x: tg.concatenate([x, x * 2], axis=d),
                values)
    assert_same(lambda x: tg.concatenate([x, x], dim=d), lambda x: tg.concatenate([x, x], d),
                values)
    assert_same(lambda x: tg.stack([x, x * 2], dim=d), lambda x: tg.stack([x, x * 2], d), values)
    ones = tuple(i for i, n in enumerate(values.shape) if n == 1)
    assert_same(lambda x: x.squeeze(dim=ones), lambda x: x.squeeze(axis=ones), values)


SPELLED_BOTH_WAYS: list[tuple[str, Callable]] = [
    ("sum", lambda x: x.sum(axis=0, dim=0)),
    ("mean", lambda x: x.mean(1, dim=1)),
    ("max", lambda x: x.max(axis=0, dim=0)),
    ("min", lambda x: x.min(0, dim=1)),
    ("amax", lambda x: x.amax(axis=0, dim=1)),
    ("amin", lambda x: x.amin(axis=0, dim=1)),
    ("var", lambda x: x.var(axis=0, dim=0)),
    ("std", lambda x: x.std(axis=0, dim=0)),
    ("logsumexp", lambda x: x.logsumexp(axis=0, dim=0)),
    ("softmax", lambda x: x.softmax(axis=0, dim=1)),
    ("log_softmax", lambda x: x.log_softmax(0, dim=0)),
    ("argmax", lambda x: x.argmax(axis=0, dim=0)),
    ("argmin", lambda x: x.argmin(axis=0, dim=0)),
    ("squeeze", lambda x: x.squeeze(axis=0, dim=0)),
    ("expand_dims", lambda x: x.expand_dims(axis=0, dim=0)),
    ("concatenate", lambda x: tg.concatenate([x, x], axis=1, dim=1)),
    ("concatenate", lambda x: tg.cat([x, x], 1, axis=0)),
    ("stack", lambda x: tg.stack([x, x], axis=1, dim=1)),
    ("softmax", lambda x: F.softmax(x, 1, dim=1)),
    ("Softmax", lambda x: tg.nn.Softmax(axis=1, dim=1)),
    ("sum", lambda x: tg.sum(x, 0, dim=0)),
]


@pytest.mark.parametrize("name, call", SPELLED_BOTH_WAYS)
def test_axis_and_dim_together_is_a_type_error(name: str, call: Callable) -> None:
    x = tg.ones(1, 2, requires_grad=True)
    with pytest.raises(TypeError, match=rf"{name}\(\) got both axis= and dim=.*pass only one"):
        call(x)


def test_keepdims_and_keepdim_together_is_a_type_error() -> None:
    x = tg.ones(2, 2)
    with pytest.raises(TypeError, match=r"sum\(\) got both keepdims= and keepdim="):
        x.sum(0, keepdims=True, keepdim=True)
    with pytest.raises(TypeError, match=r"max\(\) got both keepdims= and keepdim="):
        x.max(dim=0, keepdims=True, keepdim=False)


def test_bad_dims_name_the_op_and_the_shape() -> None:
    x = tg.ones(2, 3)
    with pytest.raises(np.exceptions.AxisError, match=r"sum: axis 2 .*\(2, 3\)"):
        x.sum(dim=2)
    with pytest.raises(np.exceptions.AxisError, match=r"max: axis -3 .*\(2, 3\)"):
        x.max(dim=-3)
    with pytest.raises(TypeError, match=r"max\(dim=...\) takes one int.*amax\(dim="):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match=r"min\(dim=...\) takes one int.*amin\(dim="):
        x.min(dim=[0])
    with pytest.raises(IndexError, match=r"max\(dim=0\) of a tensor of shape \(0, 3\).*empty"):
        tg.zeros(0, 3).max(dim=0)
    with pytest.raises(TypeError, match=r"max\(other\).*tg.maximum\(a, b\)"):
        x.max(tg.ones(2, 3))
    with pytest.raises(TypeError, match=r"min\(other\).*tg.minimum\(a, b\)"):
        tg.min(x, x)
    with pytest.raises(TypeError, match=r"expand_dims\(\) needs the axis"):
        x.expand_dims()


# ---------------------------------------------------------- var and std
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_take_correction_and_unbiased_and_keep_numpy_default(name: str) -> None:
    values = np.array([[1.0, 4.0, 2.5], [3.0, -1.0, 0.5]])
    numpy = getattr(np, name)
    for kwargs, ddof in [({}, 0), ({"dim": 1}, 0), ({"unbiased": True}, 1),
                         ({"unbiased": False}, 0), ({"correction": 1}, 1),
                         ({"correction": 0}, 0), ({"correction": 2, "dim": 1}, 2),
                         ({"ddof": 1}, 1)]:
        axis = kwargs.get("dim")
        x = tg.tensor(values)
        np.testing.assert_allclose(getattr(x, name)(**kwargs).data,
                                   numpy(values, axis=axis, ddof=ddof), rtol=1e-12)
    assert_same(lambda x: getattr(x, name)(dim=0, unbiased=True, keepdim=True),
                lambda x: getattr(x, name)(axis=0, keepdims=True, ddof=1), values)
    assert_same(lambda x: getattr(x, name)(1, correction=2),
                lambda x: getattr(x, name)(1, ddof=2), values)


@pytest.mark.parametrize("kwargs", [{"ddof": 1, "unbiased": True}, {"ddof": 1, "correction": 1},
                                    {"correction": 1, "unbiased": True},
                                    {"ddof": 2, "correction": 0}])
def test_two_spellings_of_ddof_are_a_type_error(kwargs: dict) -> None:
    x = tg.ones(3)
    for name in ("var", "std"):
        with pytest.raises(TypeError, match=rf"{name}\(\) got .* and .*pass only one"):
            getattr(x, name)(**kwargs)


# ----------------------------------------------------- max / min with dim
@pytest.mark.parametrize("name", ["max", "min"])
@given(case=case_with_dim(), keep=st.booleans())
def test_max_min_with_dim_give_values_and_indices(name: str, case: tuple, keep: bool) -> None:
    values, d = case
    arg = np.argmax if name == "max" else np.argmin
    x = tg.tensor(values, requires_grad=True)
    result = getattr(x, name)(dim=d, keepdim=keep)
    vals, idx = result  # unpacks like torch.return_types.max
    assert isinstance(result, tuple) and type(result).__name__ == name
    assert result.values is vals and result.indices is idx
    assert idx.dtype == np.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.data, arg(values, axis=d, keepdims=keep))
    picked = np.take_along_axis(values, arg(values, axis=d, keepdims=True), axis=d)
    np.testing.assert_array_equal(vals.data, picked if keep else picked.squeeze(d))
    # the NumPy way: the values only, and with distinct values the same gradient
    assert_same(lambda x: getattr(x, name)(dim=d, keepdim=keep),
                lambda x: getattr(x, name)(axis=d, keepdims=keep), values)
    assert_same(lambda x: getattr(x, name)(dim=d).values, lambda x: getattr(x, name)(d), values)


def test_positional_and_axis_max_keep_numpy_values_only_result() -> None:
    x = tg.tensor([[1.0, 5.0], [7.0, 2.0]])
    for out in (x.max(1), x.max(axis=1), x.max(1, keepdim=True), tg.max(x, 1), x.min(0)):
        assert isinstance(out, tg.Tensor)
    np.testing.assert_array_equal(x.max(1).data, [5.0, 7.0])
    vals, idx = tg.max(x, dim=1)
    np.testing.assert_array_equal(idx.data, [1, 0])
    vals, idx = x.min(dim=0, keepdims=True)  # NumPy's keepdims with PyTorch's dim: fine
    assert vals.shape == (1, 2) and idx.shape == (1, 2)


def test_ties_max_dim_gives_the_first_index_amax_splits_evenly() -> None:
    values = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    x = tg.tensor(values, requires_grad=True)
    vals, idx = x.max(dim=1)
    np.testing.assert_array_equal(idx.data, [1, 0])  # torch: the first occurrence
    vals.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.amax(dim=1).sum().backward()  # torch's amax: ties share the gradient
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [0.5, 0.5, 0]])
    x.grad = None
    x.amin(1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1, 0, 0], [0, 0, 1]])


def test_max_with_dim_of_a_0d_tensor() -> None:
    x = tg.tensor(2.5, requires_grad=True)
    vals, idx = x.max(dim=0)
    assert vals.shape == () and idx.item() == 0
    vals.backward()
    assert x.grad.item() == 1.0


# ----------------------------------------------------------- shape habits
@given(values=arrays(shapes(1, 3, 1, 4)))
def test_view_is_reshape_and_needs_no_contiguity(values: np.ndarray) -> None:
    assert_same(lambda x: x.view(-1), lambda x: x.reshape(-1), values)
    assert_same(lambda x: x.view(values.shape[::-1]), lambda x: x.reshape(*values.shape[::-1]),
                values)
    assert_same(lambda x: x.T.view(-1), lambda x: x.T.reshape(-1), values)  # not contiguous
    assert_same(lambda x: x.T.contiguous().view(-1), lambda x: x.T.reshape(-1), values)
    assert_same(lambda x: x.view_as(x.T), lambda x: x.reshape(values.shape[::-1]), values)
    assert_same(lambda x: x.reshape_as(np.zeros(values.size)), lambda x: x.flatten(), values)


@given(values=arrays(shapes(0, 4, 1, 3)), data=st.data())
def test_permute_is_transpose_with_axes(values: np.ndarray, data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(values.ndim)))
    assert_same(lambda x: x.permute(*order), lambda x: x.transpose(tuple(order)), values)
    assert_same(lambda x: x.permute(order), lambda x: x.transpose(tuple(order)), values)
    assert_same(lambda x: tg.permute(x, order), lambda x: x.transpose(tuple(order)), values)


def test_permute_needs_a_permutation() -> None:
    x = tg.ones(2, 3, 4)
    with pytest.raises(ValueError, match=r"permute\(0, 1\) of a tensor of shape \(2, 3, 4\).*"
                                         r"permutation of its 3 axes"):
        x.permute(0, 1)
    with pytest.raises(ValueError, match=r"permute: repeated axis"):
        x.permute(0, 1, 1)
    with pytest.raises(np.exceptions.AxisError, match=r"permute: axis 3 is out of bounds"):
        x.permute(0, 1, 3)


@given(values=arrays(shapes(1, 4, 1, 3)), data=st.data())
def test_transpose_of_two_ints_swaps_them(values: np.ndarray, data: st.DataObject) -> None:
    n = values.ndim
    d0, d1 = data.draw(st.tuples(st.integers(-n, n - 1), st.integers(-n, n - 1)))
    assert_same(lambda x: x.transpose(d0, d1), lambda x: x.swapaxes(d0, d1), values)
    assert_same(lambda x: tg.transpose(x, d0, d1), lambda x: x.swapaxes(d0, d1), values)
    np.testing.assert_array_equal(tg.tensor(values).transpose(d0, d1).data,
                                  np.swapaxes(values, d0, d1))


def test_transpose_keeps_numpy_full_permutations_and_reversal() -> None:
    values = np.arange(24.0).reshape(2, 3, 4)
    x = tg.tensor(values)
    np.testing.assert_array_equal(x.transpose(2, 0, 1).data, values.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.transpose((1, 2, 0)).data, values.transpose(1, 2, 0))
    np.testing.assert_array_equal(x.transpose().data, values.T)
    m = tg.tensor(np.arange(6.0).reshape(2, 3))
    assert m.transpose(1, 0).shape == m.transpose(0, 1).shape == (3, 2)  # 2-D: same as .T
    np.testing.assert_array_equal(m.transpose(0, 1).data, m.T.data)
    # the one difference: a 2-int *permutation* is a tuple (NumPy's a.transpose(0, 1) is a no-op)
    np.testing.assert_array_equal(m.transpose((0, 1)).data, m.data)
    with pytest.raises(ValueError, match=r"transpose\(0, 1\) of a tensor of shape \(2, 3, 4\)"):
        x.transpose((0, 1))


@given(values=arrays(shapes(0, 4, 1, 3)), data=st.data())
def test_flatten_start_end_is_reshape(values: np.ndarray, data: st.DataObject) -> None:
    n = max(values.ndim, 1)
    start = data.draw(st.integers(0, n - 1))
    end = data.draw(st.integers(start, n - 1))
    shape = values.shape or (1,)
    want = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
    assert_same(lambda x: x.flatten(start, end), lambda x: x.reshape(want), values)
    assert_same(lambda x: x.flatten(start - n, end - n), lambda x: x.reshape(want), values)
    assert_same(lambda x: x.flatten(), lambda x: x.reshape(-1), values)
    assert_same(lambda x: tg.flatten(x, start_dim=start), lambda x: x.reshape(
        shape[:start] + (-1,)), values)


def test_flatten_errors() -> None:
    x = tg.ones(2, 3, 4)
    with pytest.raises(ValueError, match=r"flatten\(start_dim=2, end_dim=1\).*comes after"):
        x.flatten(2, 1)
    with pytest.raises(IndexError, match=r"flatten\(start_dim=3, end_dim=-1\): dimension 3 is "
                                         r"out of range for an input of shape \(2, 3, 4\)"):
        x.flatten(3)


def test_expand_is_broadcast_to_with_minus_one_keeping_an_axis() -> None:
    values = np.array([[1.0], [2.0]])
    assert_same(lambda x: x.expand(3, -1, 4), lambda x: x.broadcast_to((3, 2, 4)), values)
    assert_same(lambda x: x.expand((2, 5)), lambda x: x.broadcast_to((2, 5)), values)
    assert_same(lambda x: x.expand_as(np.zeros((2, 2))), lambda x: x.broadcast_to((2, 2)),
                values)
    with pytest.raises(ValueError, match=r"expand\(3,\) of a tensor of shape \(2, 1\)"):
        tg.tensor(values).expand(3)


# ------------------------------------------------------- split and chunk
@given(case=case_with_dim(), size=st.integers(1, 5))
def test_split_and_chunk_pieces_are_slices(case: tuple, size: int) -> None:
    values, d = case
    n = values.shape[d]

    def joined(pieces: tuple) -> tg.Tensor:  # each piece weighted differently
        return tg.concatenate([p * (i + 1) for i, p in enumerate(pieces)], axis=d)

    def sliced(x: tg.Tensor, step: int) -> tg.Tensor:
        lead = (slice(None),) * (d % values.ndim)
        return joined(tuple(x[lead + (slice(i, i + step),)] for i in range(0, n, step)))

    assert_same(lambda x: joined(x.split(size, d)), lambda x: sliced(x, size), values)
    step = -(-n // size)  # chunk: pieces of ceil(n / chunks)
    assert_same(lambda x: joined(x.chunk(size, dim=d)), lambda x: sliced(x, step), values)
    assert_same(lambda x: joined(tg.chunk(x, size, d)), lambda x: sliced(x, step), values)
    sizes = [n // 2, 0, n - n // 2]
    assert [p.shape[d] for p in tg.tensor(values).split(sizes, d)] == sizes


@pytest.mark.parametrize("n, arg, want", [
    (5, ("chunk", 4), [2, 2, 1]), (6, ("chunk", 4), [2, 2, 2]), (2, ("chunk", 5), [1, 1]),
    (10, ("chunk", 4), [3, 3, 3, 1]), (0, ("chunk", 3), [0, 0, 0]), (5, ("split", 2), [2, 2, 1]),
    (0, ("split", 2), [0]), (0, ("split", 0), [0]), (5, ("split", [2, 0, 3]), [2, 0, 3]),
])  # the lengths torch.chunk / torch.split give
def test_split_and_chunk_lengths_are_pytorchs(n: int, arg: tuple, want: list) -> None:
    method, size = arg
    assert [len(p) for p in getattr(tg.arange(float(n)), method)(size)] == want


def test_split_and_chunk_errors() -> None:
    x = tg.ones(3, 2)
    with pytest.raises(ValueError, match=r"split: split_size must be a positive int, got 0"):
        x.split(0)
    with pytest.raises(ValueError, match=r"split: the sizes \[1, 1\] must be >= 0 and add up "
                                         r"to 3"):
        x.split([1, 1])
    with pytest.raises(ValueError, match=r"chunk: chunks must be a positive int, got 0"):
        x.chunk(0)
    with pytest.raises(np.exceptions.AxisError, match=r"split: axis 2 is out of bounds"):
        x.split(1, dim=2)
    with pytest.raises(ValueError, match=r"0-d tensor has no dimension"):
        tg.tensor(1.0).chunk(1)


# ------------------------------------------------- copies, casts, fills
def test_clone_copies_the_data_and_passes_the_gradient() -> None:
    values = np.array([1.0, -2.0, 3.0])
    assert_same(lambda x: x.clone() * x, lambda x: x * x, values)
    x = tg.tensor(values, requires_grad=True)
    y = x.clone()
    assert y.grad_fn.name == "CloneBackward" and not np.shares_memory(x.data, y.data)
    with tg.no_grad():
        assert not x.clone().requires_grad
    ints = tg.tensor([1, 2]).clone()
    assert ints.dtype == np.int64 and ints.tolist() == [1, 2]


def test_float_and_double_are_differentiable_casts() -> None:
    values = np.array([1.5, -2.0])
    assert_same(lambda x: x.float().double() * x, lambda x: x.astype(np.float32).astype(
        np.float64) * x, values)
    x = tg.tensor(values, dtype=np.float32, requires_grad=True)
    assert x.float() is x  # already float32: the tensor itself, as PyTorch
    y = x.double()
    assert y.dtype == np.float64 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    assert_same(lambda x: x.to(np.float32).to(x), lambda x: x.astype(np.float32).astype(
        np.float64), values)
    assert_same(lambda x: x.type_as(tg.ones(1, dtype=np.float32)),
                lambda x: x.astype(np.float32), values)


def test_long_int_bool_are_casts_without_gradient() -> None:
    x = tg.tensor([1.7, -2.2, 0.0], requires_grad=True)
    for cast, dtype in [(x.long, np.int64), (x.int, np.int32), (x.bool, np.bool_)]:
        out = cast()
        assert out.dtype == dtype and not out.requires_grad
        np.testing.assert_array_equal(out.data, x.data.astype(dtype))
    assert x.to(np.int64).dtype == np.int64


def test_identity_methods_and_devices() -> None:
    x = tg.ones(2, requires_grad=True)
    assert x.contiguous() is x and x.cpu() is x and x.to("cpu") is x and x.to(x) is x
    assert x.to(device="cpu:0") is x and x.to(x.dtype) is x
    copy = x.to(copy=True)
    assert copy is not x and copy.requires_grad
    with pytest.raises(RuntimeError, match=r"to\('cuda'\): tinygrad_np runs on the CPU"):
        x.to("cuda")
    with pytest.raises(RuntimeError, match=r"runs on the CPU"):
        x.to(device="mps")


def test_detach_in_place() -> None:
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_numel_size_and_dim() -> None:
    x = tg.zeros(2, 3, 4)
    assert x.numel() == x.size == 24 and tg.numel(x) == 24 and x.dim() == x.ndim == 3
    assert type(x.size) is int  # NumPy's int: PyTorch's x.size() is x.shape
    # a plain int stays a weak Python number, in the graph and in NumPy
    y = tg.ones(3, dtype=np.float32)
    assert (y.sum() / y.size).dtype == np.float32 and (y.data / y.size).dtype == np.float32


def test_zero_and_fill_in_place_on_plain_tensors() -> None:
    array = np.arange(4.0)
    t = tg.from_numpy(array)
    assert t.fill_(7) is t and array.tolist() == [7.0] * 4  # in place: the array sees it
    t.zero_()
    assert array.tolist() == [0.0] * 4
    grad_holder = tg.ones(2, requires_grad=True)
    (grad_holder * 3).sum().backward()
    grad_holder.grad.zero_()  # the common PyTorch idiom
    assert grad_holder.grad.tolist() == [0.0, 0.0]
    ints = tg.tensor([1, 2]).fill_(2.7)
    assert ints.dtype == np.int64 and ints.tolist() == [2, 2]
    with pytest.raises(ValueError, match=r"fill_ takes a number or a 0-d tensor, got shape \(2,\)"):
        t.fill_(np.ones(2))


def test_fill_follows_pytorchs_in_place_rules() -> None:
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf Tensor that requires grad .*fill_"):
        w.fill_(0)
    with pytest.raises(RuntimeError, match=r"leaf Tensor that requires grad .*fill_"):
        w.zero_()
    with tg.no_grad():
        w.zero_()  # the initialiser's idiom: allowed, in place
    assert w.tolist() == [0.0] * 3 and w.is_leaf and w.requires_grad
    # a non-leaf is rebound to a recorded fill: no gradient reaches what was overwritten
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    v = tg.tensor(3.0, requires_grad=True)
    y = x * 2
    y.fill_(v)
    assert y.tolist() == [3.0, 3.0] and y.grad_fn is not None
    (y * tg.tensor([1.0, 10.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and v.grad.item() == 11.0


def test_in_place_arithmetic_with_alpha() -> None:
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    p.grad = tg.tensor([0.5, -1.0])
    with tg.no_grad():
        p.add_(p.grad, alpha=-0.1)  # PyTorch's SGD step
    np.testing.assert_allclose(p.data, [0.95, 2.1])
    t = tg.tensor([1.0, 2.0])
    t.sub_(1.0).mul_(3.0).div_(2.0).add_(1.0)
    assert t.tolist() == [1.0, 2.5]
    t.sub_(tg.tensor([1.0, 1.0]), alpha=2)
    assert t.tolist() == [-1.0, 0.5]
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        p.mul_(2)


# ------------------------------------------------------------ masked_fill
@given(values=arrays(shapes(1, 3, 1, 4)), data=st.data())
def test_masked_fill_is_where(values: np.ndarray, data: st.DataObject) -> None:
    mask = data.draw(arrays(values.shape[1:]).map(lambda a: a > 0))  # broadcasts over axis 0
    assert_same(lambda x: x.masked_fill(mask, -1.5), lambda x: tg.where(mask, -1.5, x), values)
    assert_same(lambda x: x.masked_fill(tg.tensor(mask), 0), lambda x: tg.where(mask, 0.0, x),
                values)
    assert_same(lambda x: tg.masked_fill(x, x > 0, 0.0), lambda x: tg.where(x > 0, 0.0, x),
                values)


def test_masked_fill_value_tensor_dtype_and_errors() -> None:
    x = tg.tensor([1.0, 2.0, 3.0], dtype=np.float32, requires_grad=True)
    v = tg.tensor(5.0, dtype=np.float64, requires_grad=True)
    out = x.masked_fill(np.array([True, False, True]), v)
    assert out.dtype == np.float32 and out.tolist() == [5.0, 2.0, 5.0]  # self's dtype
    (out * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert v.grad.item() == 4.0 and x.grad.tolist() == [0.0, 2.0, 0.0]
    assert v.grad.dtype == np.float64
    wide = tg.ones(3).masked_fill(np.array([[True], [False]]), 0.0)  # both broadcast, as torch
    assert wide.shape == (2, 3)
    assert tg.tensor([1, 2]).masked_fill(np.array([True, False]), 0.7).tolist() == [0, 2]
    with pytest.raises(TypeError, match=r"masked_fill: the mask must hold bools, got dtype int"):
        x.masked_fill(np.array([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match=r"value must be a number or a 0-d tensor.*tg.where"):
        x.masked_fill(np.array([True, False, True]), tg.ones(3))


# ----------------------------------------------------------------- format
def test_format_of_one_element_tensors() -> None:
    loss = tg.tensor(0.123456, requires_grad=True) * 1
    assert f"{loss:.3f}" == "0.123" and f"{tg.tensor([2.5]):>6.2f}" == "  2.50"
    assert f"{tg.tensor([[7]]):03d}" == "007"
    assert f"{loss}" == str(loss) and format(tg.ones(2), "") == str(tg.ones(2))
    with pytest.raises(TypeError, match=r"format spec '.3f' needs a one-element tensor.*\(2,\)"):
        f"{tg.ones(2):.3f}"


# ------------------------------------------------------- module functions
UNARY_FUNCTIONS = ["exp", "sqrt", "tanh", "sigmoid", "relu", "abs", "clone", "erf", "sin", "cos",
                   "log1p", "expm1", "square"]


@pytest.mark.parametrize("name", UNARY_FUNCTIONS + ["log"])
def test_elementwise_functions_are_the_methods(name: str) -> None:
    values = np.array([[0.5, 1.5], [2.0, 0.25]])
    assert_same(lambda x: getattr(tg, name)(x), lambda x: getattr(x, name)(), values)
    assert isinstance(getattr(tg, name)(values), tg.Tensor)  # arrays are lifted


@pytest.mark.parametrize("name", REDUCTIONS + ["softmax", "log_softmax", "squeeze",
                                               "expand_dims", "unsqueeze"])
def test_reduction_and_shape_functions_are_the_methods(name: str) -> None:
    values = np.array([[0.5, -1.5, 2.0]])
    assert_same(lambda x: getattr(tg, name)(x, 0), lambda x: getattr(x, name)(0), values)
    if name != "unsqueeze":
        assert_same(lambda x: getattr(tg, name)(x, dim=0), lambda x: getattr(x, name)(0), values)


def test_more_functions_are_the_methods() -> None:
    values = np.arange(6.0).reshape(2, 3) - 2
    checks = [
        (lambda x: tg.clip(x, -1, 1), lambda x: x.clip(-1, 1)),
        (lambda x: tg.clamp(x, min=0), lambda x: x.clip(0)),
        (lambda x: x.clamp(max=1.5), lambda x: x.clip(None, 1.5)),
        (lambda x: tg.reshape(x, 3, 2), lambda x: x.reshape(3, 2)),
        (lambda x: tg.view(x, -1), lambda x: x.reshape(-1)),
        (lambda x: tg.swapaxes(x, 0, 1), lambda x: x.T),
        (lambda x: tg.broadcast_to(x, (4, 2, 3)), lambda x: x.broadcast_to((4, 2, 3))),
        (lambda x: tg.split(x, 2, 1)[1], lambda x: x[:, 2:]),
        (lambda x: tg.matmul(x, x.T), lambda x: x @ x.T),
        (lambda x: tg.max(x, dim=1).values, lambda x: x.max(1)),
        (lambda x: tg.min(x), lambda x: x.min()),
        (lambda x: tg.var(x, 1, correction=1), lambda x: x.var(1, ddof=1)),
    ]
    for torch_way, numpy_way in checks:
        assert_same(torch_way, numpy_way, values)
    np.testing.assert_array_equal(tg.argmax(values, dim=1).data, [2, 2])
    np.testing.assert_array_equal(tg.argmin(values).data, 0)


def test_pytorch_functions_of_the_newer_ops_are_numpys() -> None:
    values = np.arange(6.0).reshape(2, 3) - 2.5
    index = np.array([[2, 0], [1, 1]])
    checks = [
        (lambda x: tg.cat([x, x * 2], dim=1), lambda x: tg.concatenate([x, x * 2], axis=1)),
        (lambda x: tg.cat((x, x), -1), lambda x: tg.concatenate((x, x), axis=-1)),
        (lambda x: tg.gather(x, 1, index), lambda x: tg.take_along_axis(x, index, axis=1)),
        (lambda x: x.repeat(2, 1), lambda x: x.tile((2, 1))),
        (lambda x: tg.repeat(x, 1, 1, 2), lambda x: tg.tile(x, (1, 1, 2))),
        (lambda x: tg.cumsum(x, dim=1), lambda x: x.cumsum(axis=1)),
        (lambda x: tg.flip(x, dims=(0,)), lambda x: x.flip(0)),
        (lambda x: tg.einsum("ij,kj->ik", x, x), lambda x: x @ x.T),
    ]
    for torch_way, numpy_way in checks:
        assert_same(torch_way, numpy_way, values)


def test_every_elementwise_op_and_reduction_is_a_function() -> None:
    names = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clip", "clamp", "erf",
             "sin", "cos", "log1p", "expm1", "square", "sum", "mean", "max", "min", "amax",
             "amin", "var", "std", "logsumexp", "softmax", "log_softmax", "argmax", "argmin",
             "cumsum", "maximum", "minimum", "where"]
    assert [name for name in names if not callable(getattr(tg, name, None))] == []


def test_max_with_dim_unpacks_as_pytorchs() -> None:
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert indices.dtype == np.int64 and not indices.requires_grad
    values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_set_grad_enabled_as_a_call_and_a_block() -> None:
    x = tg.tensor([1.0], requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    tg.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad and not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_from_numpy_shares_memory_and_keeps_the_dtype() -> None:
    array = np.array([1.0, 2.0])
    t = tg.from_numpy(array)
    array[0] = 10.0  # a later change to the array shows in the tensor
    assert t.tolist() == [10.0, 2.0] and np.shares_memory(t.data, array)
    assert tg.from_numpy(np.arange(3)).dtype == np.int64
    assert tg.from_numpy(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert tg.from_numpy(np.ones(2, dtype=np.float64)).dtype == np.float64
    assert tg.tensor(array).data is not array  # tg.tensor copies
    with pytest.raises(TypeError, match=r"from_numpy expects a numpy.ndarray, got list"):
        tg.from_numpy([1.0])
    with pytest.raises(TypeError, match=r"from_numpy: .*dtype <U1"):
        tg.from_numpy(np.array(["a"]))


def test_star_import_keeps_pythons_builtins() -> None:
    namespace: dict = {}
    exec("from tinygrad_np import *", namespace)
    assert "sum" not in namespace and "max" not in namespace and "cat" in namespace


# ----------------------------------------------- PyTorch names we lack
def test_missing_pytorch_names_say_what_to_use() -> None:
    x = tg.ones(2)
    with pytest.raises(AttributeError, match=r"no attribute 'cuda'; tinygrad_np runs on the CPU "
                                             r"with NumPy; drop .cuda\(\)"):
        x.cuda()
    with pytest.raises(AttributeError, match=r"'clamp_'; there is no in-place clamp_; use the "
                                             r"out-of-place t = t.clamp\(...\)"):
        x.clamp_(0, 1)
    with pytest.raises(AttributeError, match=r"'mm'; use the operator: a @ b"):
        x.mm(x)
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'nonsense'$"):
        _ = x.nonsense
    with pytest.raises(AttributeError, match=r"'Parameter' object has no attribute 'device'"):
        _ = tg.nn.Parameter(np.ones(2)).device
    assert not hasattr(x, "cuda") and getattr(x, "nonsense", 5) == 5
    with pytest.raises(AttributeError) as error:  # no "Did you mean: 'add_'?" after the hint
        x.add(x)
    assert error.value.name is None and "Did you mean" not in "".join(
        traceback.format_exception(error.value))
    with pytest.raises(AttributeError) as error:  # Python's own suggestion for a typo stays
        x.sqeeze()
    assert error.value.name == "sqeeze" and error.value.obj is x
    assert not hasattr(x, "__array_interface__")


def test_every_hint_is_for_a_name_tensor_lacks() -> None:
    """A name that gains an implementation must leave the hint table."""
    implemented = [name for name in _spellings.HINTS if hasattr(tg.Tensor, name)]
    assert implemented == []
    assert [name for name in _spellings.MODULE_HINTS if name in vars(tg)] == []


def test_missing_pytorch_functions_say_what_to_use() -> None:
    with pytest.raises(AttributeError, match=r"module 'tinygrad_np' has no attribute 'cuda'; "
                                             r"tinygrad_np runs on the CPU with NumPy"):
        tg.cuda.is_available()
    with pytest.raises(AttributeError, match=r"'int64'; dtypes are NumPy's: use np.int64"):
        _ = tg.int64
    with pytest.raises(AttributeError, match=r"'mm'; use a @ b or tg.matmul\(a, b\)") as error:
        _ = tg.mm
    assert error.value.name is None  # no "Did you mean" guess after the advice
    with pytest.raises(AttributeError, match=r"^module 'tinygrad_np' has no attribute 'tanhh'$"):
        _ = tg.tanhh
    assert not hasattr(tg, "cuda") and getattr(tg, "nonsense", 5) == 5


# ------------------------------------------- differences from PyTorch
def test_numpy_promotion_rules() -> None:
    x = tg.ones(2, dtype=np.float32)
    assert (x * np.ones(2)).dtype == np.float64  # torch would keep float32
    assert (x * np.float64(2)).dtype == np.float64
    assert (x * 0.5).dtype == np.float32  # Python numbers stay weak, as in torch


def test_default_dtypes() -> None:
    assert tg.tensor([1.0]).dtype == np.float32 and tg.tensor([1]).dtype == np.int64
    assert tg.tensor(np.ones(1)).dtype == np.float64  # an ndarray keeps its dtype


def test_in_place_on_a_graph_tensor_rebinds_it() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    old = y.data
    y.add_(1.0)
    assert y.tolist() == [2.0, 3.0] and old.tolist() == [1.0, 2.0]  # the old array is intact
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_squeeze_of_a_longer_axis_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"squeeze\(axis=0\) of a tensor of shape \(2, 1\)"):
        tg.ones(2, 1).squeeze(dim=0)  # torch would return the tensor unchanged


def test_positional_arguments_follow_numpy() -> None:
    x = tg.tensor([[1.0, 2.0], [3.0, 5.0]])
    assert x.var(0, True).shape == (1, 2)  # the second is keepdims, not torch's unbiased
    np.testing.assert_allclose(x.var(0, True).data, [[1.0, 2.25]])
