"""The v2 ops beyond the op table (tests/test_ops.py has their property rows): einsum's
forms, PyTorch's spellings (gather, repeat, F.pad, dims=, shifts=, diagonal=), one_hot,
and the errors. Expected values are written out (and were checked against PyTorch 2.13)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np.testing import gradcheck, gradgradcheck

A = np.arange(12.0).reshape(3, 4)
B = np.arange(20.0).reshape(4, 5) / 10
SQUARE = np.arange(9.0).reshape(3, 3)


def leaf(a: np.ndarray) -> tg.Tensor:
    return tg.tensor(a, dtype=np.float64, requires_grad=True)


# ------------------------------------------------------------------ einsum
@pytest.mark.parametrize("subscripts, operands, expected", [
    ("ij,jk->ik", (A, B), A @ B),
    ("ij,jk", (A, B), A @ B),                           # implicit output: j used twice
    ("ii->i", (SQUARE,), np.diag(SQUARE)),
    ("ii", (SQUARE,), np.trace(SQUARE)),
    ("ij->ji", (A,), A.T),
    ("ba", (A,), A.T),                                  # implicit output is sorted: 'ab'
    ("ij->", (A,), A.sum()),
    ("i,j->ij", (A[0], B[0]), np.outer(A[0], B[0])),
    ("ij,ij->i", (A, A), (A * A).sum(1)),
    ("...ij,jk->...ik", (np.stack([A, -A]), B), np.stack([A @ B, -A @ B])),
    ("...ij,...jk", (A[None], np.stack([B, B])), np.stack([A @ B, A @ B])),  # '...' broadcasts
    (" i j -> j i ", (A,), A.T),                        # spaces are ignored
])
def test_einsum_forms(subscripts: str, operands: tuple, expected: np.ndarray) -> None:
    xs = [leaf(x) for x in operands]
    out = tg.einsum(subscripts, *xs)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda *x: tg.einsum(subscripts, *x), xs)
    assert gradgradcheck(lambda *x: tg.einsum(subscripts, *x), xs)


def test_einsum_gradients_of_trace_and_diagonal_are_written_out() -> None:
    x = leaf(SQUARE)
    tg.einsum("ii", x).backward()
    np.testing.assert_array_equal(x.grad.data, np.eye(3))
    y = leaf(SQUARE)
    (tg.einsum("ii->i", y) * tg.tensor([1.0, 2.0, 3.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(y.grad.data, np.diag([1.0, 2.0, 3.0]))


def test_einsum_accepts_pytorchs_list_of_operands_arrays_and_keeps_float32() -> None:
    a = tg.tensor(A.tolist(), requires_grad=True)   # float32 (the default dtype)
    out = tg.einsum("ij,jk", [a, tg.tensor(B.tolist())])
    assert out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.data, np.ones((3, 5)) @ B.T, rtol=1e-6)
    np.testing.assert_allclose(tg.einsum("ij,jk", a, B.astype(np.float32)).data, A @ B,
                               rtol=1e-6)


def test_einsum_large_contraction_uses_a_path_and_matches_matmul() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", a, b).data, a @ b, rtol=1e-10)


@pytest.mark.parametrize("subscripts, shapes, message", [
    ("ij,jk", [(2, 3)], "2 comma-separated terms for 1 operands"),
    ("ijk", [(2, 3)], "operand 0 has 2 axes but its term 'ijk' labels 3"),
    ("i1", [(2, 3)], "invalid subscript '1'"),
    ("i.j", [(2, 3)], "'.' that is not part of one '...'"),
    ("ij->k", [(2, 3)], "output label 'k' appears in no operand"),
    ("ij->ii", [(2, 3)], "output label 'i' appears twice"),
    ("ij,jk", [(2, 3), (2, 3)], "label 'j' has size 3 in operand 0 but 2 in operand 1"),
    ("ii", [(2, 3)], "label 'i' is repeated in operand 0 on axes of sizes 2 and 3"),
    ("ij->i->j", [(2, 3)], "at most one '->'"),
    ("...j->j", [(2, 2, 3)], "write '...' in the output too"),
])
def test_einsum_errors_name_the_subscripts_the_shapes_and_the_fix(
        subscripts: str, shapes: list, message: str) -> None:
    with pytest.raises(ValueError, match="einsum") as error:
        tg.einsum(subscripts, *[tg.ones(s) for s in shapes])
    assert message in str(error.value) and str(shapes[0]) in str(error.value)
    with pytest.raises(TypeError, match="subscripts must be a string"):
        tg.einsum(3, tg.ones(2))


# ----------------------------------------------------------- gather / take
def test_gather_follows_pytorchs_rule() -> None:
    x = leaf(A)
    index = np.array([[0, 3, 3], [1, 1, 1]])   # smaller than x off dim 1: the first rows
    out = x.gather(1, index)
    np.testing.assert_array_equal(out.data, [[0.0, 3.0, 3.0], [5.0, 5.0, 5.0]])
    out.sum().backward()   # repeated indices add up
    np.testing.assert_array_equal(x.grad.data, [[1, 0, 0, 2], [0, 3, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(leaf(A).gather(0, np.array([[2, 0]])).data, [[8.0, 1.0]])
    np.testing.assert_array_equal(leaf(A).gather(-1, tg.tensor([[1], [2], [0]])).data,
                                  [[1.0], [6.0], [8.0]])


@pytest.mark.parametrize("dim, index, error, message", [
    (1, [[-1]], IndexError, "index -1 is out of bounds for axis 1 of size 4"),
    (1, [[4]], IndexError, "index 4 is out of bounds"),
    (0, [[0, 0, 0, 0, 0]], ValueError, "no larger than the input of shape (3, 4)"),
    (1, [0, 0], ValueError, "as many dims as the input"),
    (1, [[0.0]], TypeError, "must hold integers"),
    (2, [[0]], np.exceptions.AxisError, "axis 2 is out of bounds"),
])
def test_gather_errors(dim: int, index: list, error: type, message: str) -> None:
    with pytest.raises(error, match="gather") as raised:
        leaf(A).gather(dim, np.array(index))
    assert message in str(raised.value)


def test_take_along_axis_negative_broadcast_flattened_and_repeated() -> None:
    x = leaf(A)
    out = x.take_along_axis(np.array([[-1, 0, 0]]), axis=1)  # one row of indices, broadcast
    np.testing.assert_array_equal(out.data, [[3.0, 0, 0], [7, 4, 4], [11, 8, 8]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.tile([2.0, 0, 0, 1], (3, 1)))
    np.testing.assert_array_equal(tg.take_along_axis(A, [11, 0], None).data, [11.0, 0.0])
    np.testing.assert_array_equal(leaf(A).take_along_axis(np.array([[1], [0], [2]]), dim=1).data,
                                  [[1.0], [4.0], [10.0]])


def test_take_along_axis_errors() -> None:
    x = leaf(A)
    with pytest.raises(IndexError, match=r"take_along_axis: index 4 .* axis 1 of size 4"):
        x.take_along_axis(np.array([[4]]), 1)
    with pytest.raises(ValueError, match="as many dims"):
        x.take_along_axis(np.array([0]), 1)
    with pytest.raises(ValueError, match="must broadcast on every axis but 1"):
        x.take_along_axis(np.zeros((2, 1), int), 1)
    with pytest.raises(TypeError, match="both axis= and dim="):
        x.take_along_axis(np.array([[0]]), axis=1, dim=1)


# ------------------------------------------------------------------ one_hot
def test_one_hot_values_dtype_and_no_grad() -> None:
    out = F.one_hot(tg.tensor([[0, 3], [1, 1]]))
    assert out.dtype == np.int64 and not out.requires_grad and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data[0], [[1, 0, 0, 0], [0, 0, 0, 1]])
    np.testing.assert_array_equal(F.one_hot(np.array(2), 3).data, [0, 0, 1])
    assert F.one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)


@pytest.mark.parametrize("values, num_classes, error, message", [
    ([0, 5], 3, ValueError, "class values must be smaller than num_classes=3"),
    ([0, -1], 3, ValueError, "class values must be non-negative"),
    ([0, -1], -1, ValueError, "class values must be non-negative"),
    (np.array([], dtype=np.int64), -1, ValueError, "can not infer the number of classes"),
    ([1.0], -1, TypeError, "needs integer class indices"),
])
def test_one_hot_errors_as_pytorch(values: list, num_classes: int, error: type,
                                   message: str) -> None:
    with pytest.raises(error, match=message):
        F.one_hot(np.asarray(values), num_classes)


# --------------------------------------------------------------------- pad
def test_pad_numpy_forms_and_spellings() -> None:
    x = tg.tensor(SQUARE)
    for width in [1, (1,), (1, 2), ((1, 0), (0, 2)), [[2, 1]]]:
        np.testing.assert_array_equal(x.pad(width, 7.0).data,
                                      np.pad(SQUARE, width, constant_values=7.0))
    np.testing.assert_array_equal(tg.pad(SQUARE, 1, "constant", constant_values=2.0).data,
                                  np.pad(SQUARE, 1, constant_values=2.0))
    with pytest.raises(ValueError, match="negative width .* tg.nn.functional.pad"):
        x.pad(-1)
    with pytest.raises(ValueError, match=r"does not fit a tensor of shape \(3, 3\)"):
        x.pad(((1, 2, 3),))
    with pytest.raises(TypeError, match="must hold integers"):
        x.pad(1.5)
    with pytest.raises(NotImplementedError, match="only mode='constant'"):
        x.pad(1, mode="reflect")
    with pytest.raises(TypeError, match="fill value must be a number"):
        x.pad(1, tg.ones(1, requires_grad=True))


def test_functional_pad_is_pytorchs_last_axis_first_and_crops() -> None:
    x = leaf(SQUARE)
    out = F.pad(x, (1, -1, 0, 2), value=0.5)   # last axis: 1 left, crop 1 right; rows: 2 below
    expected = np.full((5, 3), 0.5)
    expected[:3, 1:] = SQUARE[:, :2]
    np.testing.assert_array_equal(out.data, expected)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0, 1, 0]] * 3)
    np.testing.assert_array_equal(F.pad(x, (1, 1), "constant", 2.0).data[:, 0], [2.0] * 3)
    np.testing.assert_array_equal(F.pad(x, (1, 1), 2.0).data[:, 0], [2.0] * 3)
    assert F.pad(x, (-3, 0)).shape == (3, 0)
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="at most one pair per axis"):
        F.pad(x, (1,) * 6)
    with pytest.raises(ValueError, match="crop less"):
        F.pad(x, (-4, 0))
    with pytest.raises(NotImplementedError, match="only mode='constant'"):
        F.pad(x, (1, 1), "reflect")


# ------------------------------------------------- flip, roll, tril, tile...
def test_pytorch_spellings_of_flip_roll_tril_cumsum() -> None:
    x = tg.tensor(A)
    np.testing.assert_array_equal(x.flip(0, 1).data, A[::-1, ::-1])
    np.testing.assert_array_equal(x.flip(dims=(1,)).data, A[:, ::-1])
    np.testing.assert_array_equal(tg.flip(A).data, A[::-1, ::-1])
    np.testing.assert_array_equal(x.roll(shifts=(1, -1), dims=(0, 1)).data,
                                  np.roll(A, (1, -1), (0, 1)))
    np.testing.assert_array_equal(x.roll(1).data, np.roll(A, 1))   # no axis: flattened
    np.testing.assert_array_equal(x.tril(diagonal=1).data, np.tril(A, 1))
    np.testing.assert_array_equal(tg.triu(A, -1).data, np.triu(A, -1))
    np.testing.assert_array_equal(x.cumsum(dim=0).data, A.cumsum(0))
    np.testing.assert_array_equal(tg.cumsum(A).data, A.cumsum())
    for call in [lambda: x.flip(0, dims=1), lambda: x.roll(1, shifts=1),
                 lambda: x.cumsum(0, dim=0), lambda: x.tril(1, diagonal=1)]:
        with pytest.raises(TypeError, match="pass one"):
            call()
    with pytest.raises(TypeError, match="missing the shift"):
        x.roll()
    with pytest.raises(ValueError, match="do not pair up"):
        x.roll((1, 2, 3), (0, 1))
    with pytest.raises(ValueError, match="at least 2 dims"):
        tg.ones(3).tril()
    with pytest.raises(ValueError, match="repeated axis"):
        x.flip(0, 0)


def test_tril_gives_zero_gradient_where_it_zeroes_even_for_inf() -> None:
    x = leaf(SQUARE)
    y = x.tril()
    with np.errstate(invalid="ignore"):  # masked() meets inf * 0 first, then selects
        y.backward(np.full((3, 3), np.inf))
    assert np.isposinf(x.grad.data[np.tril_indices(3)]).all()
    np.testing.assert_array_equal(x.grad.data[np.triu_indices(3, 1)], 0.0)


def test_tile_and_pytorchs_repeat() -> None:
    x = leaf(A[:2, :2])
    np.testing.assert_array_equal(x.tile(2).data, np.tile(A[:2, :2], 2))       # (2, 4)
    np.testing.assert_array_equal(x.tile((2, 1, 1)).data, np.tile(A[:2, :2], (2, 1, 1)))
    out = x.repeat(2, 3)
    assert out.shape == (4, 6)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 2), 6.0))
    with pytest.raises(ValueError, match="PyTorch's repeat needs one per axis"):
        x.repeat(2)
    with pytest.raises(ValueError, match="must be >= 0"):
        x.tile(-1)


def test_cumsum_of_a_0d_tensor_and_of_integers() -> None:
    assert tg.tensor(2.0).cumsum().shape == (1,)      # NumPy flattens
    out = tg.tensor([1, 2, 3]).cumsum()
    assert out.dtype.kind == "i"
    np.testing.assert_array_equal(out.data, [1, 3, 6])


def test_elementwise_functions_and_small_arguments() -> None:
    tiny = np.array([1e-12, -3e-13])
    np.testing.assert_array_equal(tg.log1p(tiny).data, np.log1p(tiny))
    np.testing.assert_array_equal(tg.expm1(tiny).data, np.expm1(tiny))
    np.testing.assert_allclose(tg.sin([0.0, np.pi / 2]).data, [0.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(tg.cos(np.array([0.0])).data, [1.0])
    np.testing.assert_array_equal(tg.square([3.0]).data, [9.0])
    x = leaf(np.array([0.5, -1.0]))
    (x.sin() + x.cos() + x.square()).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(x.data) - np.sin(x.data) + 2 * x.data)
