"""Tensor construction, dtype rules, attributes, conversions, repr and in-place ops."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.testing.strategies import arrays, shapes


# ------------------------------------------------------------- constructors
@pytest.mark.parametrize("make", [
    lambda **kw: tg.zeros(2, 3, **kw), lambda **kw: tg.zeros((2, 3), **kw),
    lambda **kw: tg.ones(2, 3, **kw), lambda **kw: tg.full((2, 3), 7.0, **kw),
    lambda **kw: tg.randn(2, 3, **kw), lambda **kw: tg.rand((2, 3), **kw),
    lambda **kw: tg.zeros_like(np.empty((2, 3)), **kw),
    lambda **kw: tg.ones_like(tg.zeros(2, 3), **kw),
])
def test_constructors_take_dtype_and_requires_grad(make) -> None:
    default = make()
    assert default.shape == (2, 3) and not default.requires_grad and default.is_leaf
    t = make(dtype=np.float64, requires_grad=True)
    assert t.shape == (2, 3) and t.dtype == np.float64 and t.requires_grad and t.is_leaf


def test_constructor_values() -> None:
    np.testing.assert_array_equal(tg.zeros(2).data, [0.0, 0.0])
    np.testing.assert_array_equal(tg.ones(1, 2).data, [[1.0, 1.0]])
    np.testing.assert_array_equal(tg.full(3, 2.5).data, [2.5, 2.5, 2.5])
    np.testing.assert_array_equal(tg.eye(2).data, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(tg.eye(2, 3).data, [[1, 0, 0], [0, 1, 0]])
    assert tg.eye(3, dtype=np.float64, requires_grad=True).requires_grad
    np.testing.assert_array_equal(tg.arange(4).data, [0, 1, 2, 3])
    assert tg.arange(4).dtype == np.int64
    np.testing.assert_array_equal(tg.arange(0.0, 1.0, 0.25).data, [0, 0.25, 0.5, 0.75])
    assert tg.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert tg.arange(1, 3, dtype=np.float64, requires_grad=True).dtype == np.float64
    r = tg.rand(1000)
    assert r.dtype == np.float32 and 0 <= r.data.min() and r.data.max() < 1
    n = tg.randn(10000)
    assert abs(float(n.data.mean())) < 0.05 and abs(float(n.data.std()) - 1) < 0.05


def test_like_constructors_keep_the_dtype() -> None:
    source = tg.tensor(np.zeros((2, 2), dtype=np.float64))
    assert tg.zeros_like(source).dtype == np.float64
    assert tg.ones_like(source, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(tg.ones_like(source).data, np.ones((2, 2)))


@pytest.mark.parametrize("make", [
    lambda: tg.arange(3, requires_grad=True),
    lambda: tg.zeros(2, dtype=np.int64, requires_grad=True),
    lambda: tg.tensor([1, 2], requires_grad=True), lambda: tg.Tensor([True], requires_grad=True),
    lambda: tg.tensor([1, 2]).requires_grad_(),
])
def test_integer_and_bool_tensors_cannot_require_grad(make) -> None:
    with pytest.raises(TypeError, match="floating-point"):
        make()


# --------------------------------------------------------------- dtype rules
@given(arrays(dtype=np.float64))
def test_float64_arrays_stay_float64(a: np.ndarray) -> None:
    t = tg.Tensor(a, requires_grad=True)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.data, a)
    assert (t * 2.0 + 1).dtype == np.float64


@given(arrays(dtype=np.float32))
def test_float32_arrays_stay_float32(a: np.ndarray) -> None:
    t = tg.Tensor(a)
    assert t.dtype == np.float32
    assert (t * 2.0 - 1).dtype == np.float32  # Python scalars do not promote (NumPy's rule)


NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.integers(-(2**70), 2**70), st.sampled_from([0.0, -0.0, 1, -1, 1e-45]))
ARITHMETIC = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b]


@given(st.sampled_from([np.float16, np.float32, np.float64]).flatmap(
           lambda dtype: arrays((3,), dtype=dtype, min_value=-1e4, max_value=1e4)),
       NUMBERS, st.sampled_from(range(4)), st.booleans())
def test_python_numbers_in_arithmetic_give_numpys_result_bit_for_bit(
        a: np.ndarray, number: float, op: int, number_first: bool) -> None:
    # The engine passes such numbers to NumPy as cached 0-d arrays of the tensor's dtype.
    fn = ARITHMETIC[op]
    t = tg.Tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):
        try:
            want = fn(number, a) if number_first else fn(a, number)
        except OverflowError:  # an int beyond the dtype: NumPy's own error, untouched
            with pytest.raises(OverflowError):
                fn(number, t) if number_first else fn(t, number)
            return
        for _ in range(2):  # the second time from the cache
            got = fn(number, t) if number_first else fn(t, number)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got.data, want)
            assert np.array_equal(np.signbit(got.data), np.signbit(want))  # -0.0 stays -0.0
        got.backward(np.ones(3, a.dtype))
    assert t.grad.dtype == a.dtype


def test_number_operands_of_int_tensors_and_custom_functions_are_untouched() -> None:
    seen = []

    class Scale(tg.Function):
        def forward(ctx, x, k):
            seen.append(k)
            return x * k

        def backward(ctx, g):
            return g * seen[-1], None

    Scale.apply(tg.ones(2, requires_grad=True), 3)
    assert seen == [3] and type(seen[0]) is int
    assert (tg.Tensor(np.arange(3)) * 1.5).dtype == np.float64  # NumPy's rule for int arrays
    assert (tg.Tensor(np.arange(3)) + 1).dtype == np.arange(3).dtype


def test_python_floats_and_lists_take_the_default_dtype() -> None:
    assert tg.get_default_dtype() == np.float32
    assert tg.Tensor(1.5).dtype == np.float32
    assert tg.Tensor([1.0, 2]).dtype == np.float32
    assert tg.Tensor([[1.0], [2.0]], dtype=np.float64).dtype == np.float64
    tg.set_default_dtype(np.float64)
    assert tg.get_default_dtype() == np.float64
    assert tg.Tensor([1.0, 2.0]).dtype == np.float64
    assert tg.zeros(2).dtype == np.float64 and tg.randn(2).dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        tg.set_default_dtype(np.int32)


def test_integer_and_bool_data_keep_their_dtype() -> None:
    assert tg.Tensor([1, 2]).dtype == np.int64
    assert tg.Tensor(np.array([1, 2], dtype=np.int32)).dtype == np.int32
    assert tg.Tensor([True, False]).dtype == np.bool_
    assert tg.Tensor(3).dtype == np.int64


def test_construction_copies_and_rejects_non_numbers() -> None:
    a = np.zeros(2)
    t = tg.Tensor(a)
    a[0] = 5.0
    assert t.data[0] == 0.0
    u = tg.Tensor(t)
    t.data[1] = 3.0
    assert u.data[1] == 0.0
    with pytest.raises(TypeError, match="cannot make a Tensor"):
        tg.Tensor("hello")


# ---------------------------------------------------- attributes, conversions
def test_attributes() -> None:
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.name = "x"
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert x.T.shape == (3, 2) and x.is_leaf and x.grad is None and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name == "MulBackward"
    assert y.name is None and x.name == "x"


def test_conversions() -> None:
    x = tg.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert x.numpy() is x.data
    assert np.asarray(x) is x.data
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert len(x) == 2
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and isinstance(x[0, 0].item(), float)
    assert float(x[1, 1]) == 4.0 and int(x[1, 0]) == 3
    assert [row.tolist() for row in x] == [[1.5, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError, match=r"one-element.*\(2, 2\)"):
        x.item()
    with pytest.raises(TypeError, match="0-d"):
        len(tg.tensor(1.0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(x)
    assert bool(tg.tensor([2.0]) > 1)


def test_repr_is_like_pytorch() -> None:
    assert repr(tg.tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(tg.tensor([1.0, 2.0], requires_grad=True)) == \
        "Tensor([1., 2.], requires_grad=True)"
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "Tensor([2., 4.], grad_fn=<MulBackward>)"
    assert repr((x * 2).sum()) == "Tensor(6., grad_fn=<SumBackward>)"
    assert repr(tg.tensor(np.array([0.5]))) == "Tensor([0.5], dtype=float64)"
    assert repr(tg.tensor([[1, 2], [3, 4]])) == "Tensor([[1, 2],\n        [3, 4]])"


# ------------------------------------------------------------------ in-place
def test_inplace_ops_mutate_plain_tensors() -> None:
    t = tg.tensor([1.0, 2.0])
    data, same = t.data, t
    t += 1
    t *= tg.tensor([2.0, 3.0])
    t -= np.array([1.0, 1.0])
    t /= 2
    assert t is same and t.data is data
    np.testing.assert_array_equal(t.data, [1.5, 4.0])


def test_inplace_on_a_leaf_that_requires_grad_is_an_error() -> None:
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    for update in (lambda w: w.__iadd__(1), lambda w: w.__isub__(1),
                   lambda w: w.__imul__(2), lambda w: w.__itruediv__(2)):
        with pytest.raises(RuntimeError, match=r"leaf Tensor that requires grad.*\(2,\).*no_grad"):
            update(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


def test_inplace_on_a_leaf_under_no_grad_is_allowed() -> None:
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with tg.no_grad():
        w -= 0.25 * w.grad
    np.testing.assert_array_equal(w.data, [0.5, 1.0])
    assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_inplace_on_a_non_leaf_keeps_gradients_correct() -> None:
    x = tg.tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    y = x * 2
    z = y * y  # saves y's values before the in-place updates below
    y += x
    y *= 3  # y = 9 x
    (y.sum() + z.sum()).backward()
    np.testing.assert_array_equal(y.data, [9.0, -18.0])
    np.testing.assert_array_equal(x.grad.data, 9.0 + 8.0 * x.data)  # d(4x^2)/dx = 8x


def test_inplace_with_a_tensor_that_requires_grad_starts_recording() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    acc = tg.zeros(2)
    acc += x * x
    assert acc.requires_grad and acc.grad_fn is not None
    acc.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_setitem_on_plain_tensors_and_refused_on_grad_tensors() -> None:
    t = tg.zeros(3)
    t[1] = 5.0
    t[tg.tensor([0, 2])] = tg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(t.data, [1.0, 5.0, 2.0])
    w = tg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="item assignment"):
        w[0] = 1.0


# ---------------------------------------------------------------- randomness
@given(shapes(max_side=3))
def test_manual_seed_makes_random_constructors_reproducible(shape: tuple) -> None:
    tg.manual_seed(123)
    first = (tg.randn(*shape).data, tg.rand(shape).data)
    tg.manual_seed(123)
    second = (tg.randn(*shape).data, tg.rand(shape).data)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_different_seeds_differ_and_generator_argument_is_used() -> None:
    tg.manual_seed(0)
    a = tg.randn(5).data
    tg.manual_seed(1)
    assert not np.array_equal(a, tg.randn(5).data)
    g = np.random.default_rng(0)
    np.testing.assert_array_equal(tg.rand(4, generator=g).data,
                                  np.random.default_rng(0).random(4).astype(np.float32))
    assert tg.manual_seed(7) is tg.default_generator()


def test_np_array_of_a_tensor_is_a_copy_but_asarray_shares():
    t = tg.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 9.0
    assert t.data[0] == 1.0
    assert np.asarray(t) is t.data
