"""tg.func: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp.

Checked against written-out math (quadratic forms, linear maps, elementwise
functions), against central finite differences (the transforms' results, and
tg.testing.gradcheck of functions built from them: a result computed from a
Tensor that requires grad must be differentiable w.r.t. it), against each other
(J v = jvp, u^T J = vjp, hessian = jacobian(grad)), and for the contract's
details: the kinds results come back as, argnums, has_aux, composition, the
caller's tensors left alone, and the errors.
"""
from __future__ import annotations

import doctest

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import func
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing.strategies import arrays


def quadratic(A: np.ndarray):
    return lambda x: x @ (A @ x)  # x^T A x (A a constant ndarray)


def smooth(x):
    """A scalar function with every second derivative non-zero."""
    return (x.tanh() * x.sum()).sum() + (x * x * x).sum() / 3 + x.exp().sum()


def vector_valued(x, y):
    """R^3 x R^(2,3) -> R^2."""
    return (y @ x).tanh() * (x * x).sum() + (y.exp() * x).sum()


def finite_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, shape f(x).shape + x.shape."""
    def value(z):
        with tg.no_grad():
            return np.asarray(f(tg.Tensor(z)).data, dtype=np.float64)
    columns = []
    for k in range(x.size):
        step = np.zeros(x.size)
        step[k] = eps
        step = step.reshape(x.shape)
        columns.append((value(x + step) - value(x - step)) / (2 * eps))
    out_shape = value(x).shape
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def square_matrices(max_n: int = 4):
    return st.integers(1, max_n).flatmap(lambda n: arrays((n, n)))


# ------------------------------------------------------------------ written-out math
@given(square_matrices(), st.data())
def test_quadratic_form_gradient_hessian_hvp_jvp(A: np.ndarray, data: st.DataObject) -> None:
    n = len(A)
    x, v = data.draw(arrays((n,))), data.draw(arrays((n,)))
    f = quadratic(A)
    S = A + A.T
    np.testing.assert_allclose(func.grad(f)(x), S @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(func.hessian(f)(x), S, rtol=1e-12, atol=1e-12)
    value, product = func.hvp(f, x, v)
    np.testing.assert_allclose(value, x @ A @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(product, S @ v, rtol=1e-12, atol=1e-12)
    value, tangent = func.jvp(f, (x,), (v,))  # the directional derivative (S x) . v
    np.testing.assert_allclose(tangent, (S @ x) @ v, rtol=1e-10, atol=1e-10)
    _, tangent = func.jvp(func.grad(f), (x,), (v,))  # forward over reverse: H v again
    np.testing.assert_allclose(tangent, S @ v, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 4).flatmap(lambda m: st.integers(1, 4).flatmap(
    lambda n: st.tuples(arrays((m, n)), arrays((n,)), arrays((n,)), arrays((m,))))))
def test_linear_map_jacobian_is_the_matrix(case: tuple) -> None:
    W, x, v, u = case
    f = lambda x: W @ x  # noqa: E731
    np.testing.assert_allclose(func.jacobian(f)(x), W, rtol=1e-12, atol=1e-12)
    out, tangent = func.jvp(f, (x,), (v,))
    np.testing.assert_allclose(out, W @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent, W @ v, rtol=1e-12, atol=1e-12)
    out, vjp_fn = func.vjp(f, x)
    (pulled,) = vjp_fn(u)
    np.testing.assert_allclose(pulled, u @ W, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("method", "derivative"), [
    ("tanh", lambda x: 1 - np.tanh(x) ** 2),
    ("exp", np.exp),
    ("sigmoid", lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2),
])
def test_jacobian_of_an_elementwise_function_is_diagonal(method: str, derivative) -> None:
    x = np.random.default_rng(0).normal(size=(2, 3))
    J = func.jacobian(lambda x: getattr(x, method)())(x)
    assert J.shape == (2, 3, 2, 3)
    expected = np.diag(derivative(x).ravel()).reshape(2, 3, 2, 3)
    np.testing.assert_allclose(J, expected, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ finite differences
def test_gradient_and_jacobian_match_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=3), rng.normal(size=(2, 3))
    np.testing.assert_allclose(func.grad(smooth)(x), finite_jacobian(smooth, x), rtol=1e-6)
    J = func.jacobian(vector_valued, argnums=(0, 1))(x, y)
    assert J[0].shape == (2, 3) and J[1].shape == (2, 2, 3)
    np.testing.assert_allclose(J[0], finite_jacobian(lambda x: vector_valued(x, tg.Tensor(y)), x),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(J[1], finite_jacobian(lambda y: vector_valued(tg.Tensor(x), y), y),
                               rtol=1e-6, atol=1e-8)
    H = func.hessian(smooth)(x)
    np.testing.assert_allclose(H, finite_jacobian(lambda x: tg.Tensor(func.grad(smooth)(
        x.data)), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, rtol=1e-12)


def test_results_are_differentiable_wrt_a_callers_tensor_gradcheck() -> None:
    """Each transform, called on Tensors that require grad, gives results in their graph:
    gradcheck compares those derivatives (second and third order) with finite differences."""
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.normal(size=3), requires_grad=True)
    y = tg.tensor(rng.normal(size=(2, 3)), requires_grad=True)
    v = tg.tensor(rng.normal(size=3), requires_grad=True)
    u = tg.tensor(rng.normal(size=2), requires_grad=True)
    assert gradcheck(lambda x: func.grad(smooth)(x), [x])
    assert gradcheck(lambda x, y: func.grad(lambda x, y: vector_valued(x, y).sum(),
                                            argnums=(0, 1))(x, y), [x, y])
    assert gradcheck(lambda x, v: func.hvp(smooth, x, v)[1], [x, v])
    assert gradcheck(lambda x: func.hessian(smooth)(x), [x])
    assert gradcheck(lambda x, y, v: func.jvp(vector_valued, (x, y), (v, y * 0.5))[1],
                     [x, y, v])
    assert gradcheck(lambda x, y, u: func.vjp(vector_valued, x, y)[1](u), [x, y, u])
    assert gradcheck(lambda x, y: func.jacobian(vector_valued)(x, y), [x, y])


# ------------------------------------------------------------------ consistency
@given(st.data())
def test_jvp_vjp_and_jacobian_agree(data: st.DataObject) -> None:
    x, y = data.draw(arrays((3,))), data.draw(arrays((2, 3)))
    tx, ty, u = data.draw(arrays((3,))), data.draw(arrays((2, 3))), data.draw(arrays((2,)))
    Jx, Jy = func.jacobian(vector_valued, argnums=(0, 1))(x, y)
    out, tangent = func.jvp(vector_valued, (x, y), (tx, ty))
    np.testing.assert_allclose(out, vector_valued(tg.Tensor(x), tg.Tensor(y)).data)
    np.testing.assert_allclose(tangent, Jx @ tx + np.einsum("ijk,jk->i", Jy, ty),
                               rtol=1e-9, atol=1e-9)
    gx, gy = func.vjp(vector_valued, x, y)[1](u)
    np.testing.assert_allclose(gx, u @ Jx, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gy, np.einsum("i,ijk->jk", u, Jy), rtol=1e-9, atol=1e-9)


def test_hessian_is_the_jacobian_of_the_gradient_and_hvp_its_product() -> None:
    x, v = np.array([0.3, -0.7, 1.1]), np.array([1.0, 2.0, -0.5])
    H = func.hessian(smooth)(x)
    np.testing.assert_allclose(func.jacobian(func.grad(smooth))(x), H, rtol=1e-12)
    np.testing.assert_allclose(func.jacobian(func.jacobian(smooth))(x), H, rtol=1e-12)
    np.testing.assert_allclose(func.hvp(smooth, x, v)[1], H @ v, rtol=1e-12)
    np.testing.assert_allclose(func.jvp(func.grad(smooth), (x,), (v,))[1], H @ v, rtol=1e-12)
    value, g = func.value_and_grad(smooth)(x)
    np.testing.assert_allclose(g, func.grad(smooth)(x))
    assert value == pytest.approx(float(smooth(tg.Tensor(x)).item()))


# ------------------------------------------------------------------ composition
def test_transforms_compose() -> None:
    cube = lambda x: x ** 3  # noqa: E731
    assert func.grad(func.grad(cube))(2.0) == pytest.approx(12.0)
    assert func.grad(func.grad(func.grad(cube)))(2.0) == pytest.approx(6.0)
    assert func.grad(lambda x: func.grad(cube)(x) * x)(2.0) == pytest.approx(36.0)  # 3x^3 -> 9x^2
    x = np.array([0.5, -1.0])
    third = func.jacobian(func.hessian(lambda x: (x ** 4).sum()))(x)  # 24 x on the diagonal
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0], expected[1, 1, 1] = 24 * x
    np.testing.assert_allclose(third, expected)


def test_a_nested_function_may_close_over_the_outer_variable() -> None:
    # d/da [d/db a b^2 at b=3] = d/da 6a = 6
    assert func.grad(lambda a: func.grad(lambda b: a * b * b)(3.0))(2.0) == pytest.approx(6.0)
    a = np.array([1.0, 2.0])
    inner = lambda a: func.grad(lambda b: (a * b * b).sum())(np.ones(2))  # noqa: E731  2 a b
    np.testing.assert_allclose(func.grad(lambda a: (inner(a) * a).sum())(a), 4 * a)
    np.testing.assert_allclose(func.jacobian(inner)(a), 2 * np.eye(2))


# ------------------------------------------------------------------ argnums and has_aux
def test_argnums_int_tuple_and_negative() -> None:
    f = lambda x, y, z: (x * y * z).sum()  # noqa: E731
    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    np.testing.assert_allclose(func.grad(f)(x, y, z), y * z)
    np.testing.assert_allclose(func.grad(f, argnums=-1)(x, y, z), x * y)
    gy, gx = func.grad(f, argnums=(1, 0))(x, y, z)
    np.testing.assert_allclose(gy, x * z)
    np.testing.assert_allclose(gx, y * z)
    (only,) = func.grad(f, argnums=(2,))(x, y, z)  # a tuple of one for a tuple of one
    np.testing.assert_allclose(only, x * y)
    (Hxx, Hxy), (Hyx, Hyy) = func.hessian(f, argnums=(0, 1))(x, y, z)
    np.testing.assert_allclose(Hxy, np.diag(z))
    np.testing.assert_allclose(Hyx, np.diag(z))
    np.testing.assert_allclose(Hxx, np.zeros((2, 2)))


def test_arguments_not_differentiated_pass_through_unchanged() -> None:
    labels = np.array([0, 1, 1])  # integers: fine when not in argnums
    seen = []

    def loss(w, X, labels, scale=1.0):
        seen.append((type(X), labels.dtype))
        return ((X @ w - labels) ** 2).sum() * scale
    X, w = np.eye(3), np.array([0.5, 0.5, 0.5])
    np.testing.assert_allclose(func.grad(loss)(w, X, labels, scale=2.0), 4 * (w - labels))
    assert seen == [(np.ndarray, np.dtype(np.int64))]


def test_has_aux() -> None:
    def f(x):
        y = x * x
        return y.sum(), {"squares": y, "label": "sq"}
    x = np.array([1.0, 2.0])
    g, aux = func.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * x)
    assert isinstance(aux["squares"], np.ndarray) and aux["label"] == "sq"
    (value, aux), g = func.value_and_grad(f, has_aux=True)(x)
    assert value == 5.0 and isinstance(aux["squares"], np.ndarray)
    X = tg.tensor(x)
    (value, aux), g = func.value_and_grad(f, has_aux=True)(X)
    assert isinstance(aux["squares"], tg.Tensor) and aux["squares"].grad_fn is None
    out, vjp_fn, aux = func.vjp(lambda x: (x * 2, x.sum()), x, has_aux=True)
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], [2.0, 2.0])
    assert aux == 3.0 or float(aux) == 3.0
    out, tangent, aux = func.jvp(lambda x: (x * 2, "aux"), (x,), (np.ones(2),), has_aux=True)
    np.testing.assert_allclose(tangent, [2.0, 2.0])
    assert aux == "aux"
    J, aux = func.jacobian(lambda x: (x * 2, 7), has_aux=True)(x)
    np.testing.assert_allclose(J, 2 * np.eye(2))
    assert aux == 7


def test_several_outputs_for_vjp_jvp_and_jacobian() -> None:
    f = lambda x: (x * 2, (x * x).sum())  # noqa: E731
    x = np.array([1.0, 3.0])
    (a, b), vjp_fn = func.vjp(f, x)
    np.testing.assert_allclose(vjp_fn((np.ones(2), 1.0))[0], 2 + 2 * x)
    (a, b), (ta, tb) = func.jvp(f, (x,), (np.array([1.0, 0.0]),))
    np.testing.assert_allclose(ta, [2.0, 0.0])
    assert tb == pytest.approx(2.0)
    Ja, Jb = func.jacobian(f)(x)
    np.testing.assert_allclose(Ja, 2 * np.eye(2))
    np.testing.assert_allclose(Jb, 2 * x)


# ------------------------------------------------------------------ what comes back
def test_results_come_back_as_the_inputs_came_in() -> None:
    f = lambda x: (x ** 3).sum()  # noqa: E731
    g = func.grad(f)(np.array([1.0, 2.0]))
    assert type(g) is np.ndarray and g.dtype == np.float64
    g = func.grad(f)(np.array([1.0, 2.0], dtype=np.float32))
    assert type(g) is np.ndarray and g.dtype == np.float32
    g = func.grad(f)(tg.tensor([1.0, 2.0]))
    assert type(g) is tg.Tensor and g.dtype == np.float32 and g.grad_fn is None
    assert not g.requires_grad
    for scalar in (2.0, np.float64(2.0), np.float32(2.0)):
        value, g = func.value_and_grad(lambda x: x ** 3)(scalar)
        assert type(value) is float and type(g) is float and g == pytest.approx(12.0)
    assert type(func.jacobian(lambda x: x * np.ones(2))(2.0)) is np.ndarray
    assert type(func.hessian(lambda x: x ** 3)(2.0)) is float
    value, product = func.hvp(lambda x: x ** 3, 2.0, 1.0)
    assert (value, product) == (8.0, 12.0)
    value, products = func.hvp(lambda x, y: x * y * y, (2.0, 3.0), (1.0, 0.0))
    assert type(products) is tuple and products == (0.0, 6.0)
    # per argument: an ndarray and a Tensor in one call
    gx, gy = func.grad(lambda x, y: (x * y).sum(), argnums=(0, 1))(np.ones(2), tg.ones(2))
    assert type(gx) is np.ndarray and type(gy) is tg.Tensor


def test_a_constant_or_unused_input_has_zero_gradient() -> None:
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(func.grad(lambda x: 3.0)(x), [0.0, 0.0])
    gx, gy = func.grad(lambda x, y: (x * x).sum(), argnums=(0, 1))(x, np.ones(3))
    np.testing.assert_array_equal(gy, np.zeros(3))
    np.testing.assert_array_equal(func.jacobian(lambda x: np.ones(2))(x), np.zeros((2, 2)))
    assert func.jvp(lambda x: np.ones(2), (x,), (x,))[1].tolist() == [0.0, 0.0]
    assert func.hvp(lambda x: x.sum(), x, x)[1].tolist() == [0.0, 0.0]


# ------------------------------------------------------------------ the caller's tensors
def test_the_callers_tensors_are_never_changed() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    data = x.data.copy()

    def f(x):
        x.data[0] = 100.0  # even a function that writes into its argument's array
        return (x * x).sum()
    func.grad(f)(x)
    func.hvp(f, x, np.ones(2))
    np.testing.assert_array_equal(x.data, data)
    assert x.grad is None and x.is_leaf
    array = np.array([1.0, 2.0])
    func.grad(f)(array)
    np.testing.assert_array_equal(array, [1.0, 2.0])


def test_a_tensor_that_requires_grad_keeps_the_results_differentiable() -> None:
    x = tg.tensor([0.5, 1.0], dtype=np.float64, requires_grad=True)
    g = func.grad(lambda x: (x ** 3).sum())(x)  # 3 x^2
    assert g.grad_fn is not None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)
    with tg.no_grad():  # outside grad mode the results are plain, as in torch.func
        g = func.grad(lambda x: (x ** 3).sum())(x)
    assert g.grad_fn is None and not g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)


def test_a_closed_over_tensor_is_a_constant_at_top_level() -> None:
    w = tg.tensor([2.0, 3.0], requires_grad=True)
    g = func.grad(lambda x: (w * x).sum())(np.array([1.0, 1.0]))
    assert type(g) is np.ndarray
    np.testing.assert_allclose(g, w.data)
    assert w.grad is None


def test_module_docstring_examples_run() -> None:
    failures, _ = doctest.testmod(func, verbose=False)
    assert failures == 0


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: func.grad(lambda x: x * 2)(np.ones(3)), ValueError,
     ["tg.func.grad", "scalar", "(3,)", ".sum()"]),
    (lambda: func.hessian(lambda x: x * 2)(np.ones(2)), ValueError,
     ["tg.func.hessian", "scalar", "(2,)"]),
    (lambda: func.value_and_grad(lambda x: x * 2)(tg.ones(2, 2)), ValueError,
     ["tg.func.value_and_grad", "(2, 2)"]),
    (lambda: func.hvp(lambda x: x * 2, np.ones(2), np.ones(2)), ValueError,
     ["tg.func.hvp", "(2,)"]),
    (lambda: func.grad(lambda x: x)(3), TypeError, ["tg.func.grad", "argument 0", "3.0"]),
    (lambda: func.grad(lambda x: x.sum())(np.arange(3)), TypeError,
     ["argument 0", "int64", "(3,)", "astype", "argnums"]),
    (lambda: func.jacobian(lambda x: x)(tg.tensor([1, 2])), TypeError,
     ["tg.func.jacobian", "int64"]),
    (lambda: func.vjp(lambda x: x, True), TypeError, ["tg.func.vjp", "integer"]),
    (lambda: func.grad(lambda x: x)([1.0, 2.0]), TypeError, ["list", "np.asarray"]),
    (lambda: func.grad(lambda x, y: x, argnums=2)(1.0, 2.0), ValueError,
     ["argnums=2", "2 positional arguments"]),
    (lambda: func.grad(lambda x: x, argnums=(0, 0))(1.0), ValueError, ["twice"]),
    (lambda: func.grad(lambda x: x, argnums=1.5), TypeError, ["argnums", "1.5"]),
    (lambda: func.grad(lambda x: (x, x))(1.0), TypeError, ["tuple of 2", "has_aux=True"]),
    (lambda: func.grad(lambda x: x, has_aux=True)(1.0), TypeError, ["has_aux", "pair"]),
    (lambda: func.grad(lambda x: "x")(1.0), TypeError, ["must return a Tensor", "str"]),
    (lambda: func.jvp(lambda x: x, (np.ones(2),), (np.ones(3),)), ValueError,
     ["tg.func.jvp", "tangent 0", "(3,)", "(2,)"]),
    (lambda: func.jvp(lambda x, y: x, (1.0, 2.0), (1.0,)), ValueError, ["2 primals", "1 tangents"]),
    (lambda: func.hvp(lambda x: x.sum(), np.ones(2), np.ones(3)), ValueError, ["tg.func.hvp"]),
    (lambda: func.vjp(lambda x: x, np.ones(2))[1](np.ones(3)), ValueError,
     ["cotangent 0", "(3,)", "(2,)"]),
    (lambda: func.vjp(lambda x: (x, x), np.ones(2))[1](np.ones(2)), ValueError,
     ["2 outputs", "1 cotangents"]),
])
def test_errors_name_the_transform_and_the_problem(call, error: type, words: list) -> None:
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_jvp_refuses_a_backward_it_cannot_differentiate() -> None:
    class CubeOnArrays(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * np.asarray(x) ** 2 * np.asarray(g)  # arrays: cut from the graph

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(func.grad(lambda x: CubeOnArrays.apply(x).sum())(x), 3 * x ** 2)
    with pytest.raises(RuntimeError, match="tg.func.jvp: the gradient of f w.r.t. primal 0"):
        func.jvp(CubeOnArrays.apply, (x,), (np.ones(2),))
