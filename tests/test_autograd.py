"""The engine: accumulation, broadcasting, deep graphs, retain/create_graph, grad modes,
custom Functions and freeing memory."""
import gc
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import autograd, function
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import arrays, broadcastable_shapes, shapes, tensors


def f64(values, requires_grad=True) -> tg.Tensor:
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# -------------------------------------------------------------- accumulation
def test_gradients_accumulate_across_backwards() -> None:
    x = f64([1.0, 2.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    x.grad = None
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_a_leaf_used_twice_gets_the_sum() -> None:
    x = f64(3.0)
    y = x * x + x * 2 + x
    y.backward()
    assert x.grad.item() == 9.0  # 2x + 3
    assert x.grad.dtype == np.float64


@given(broadcastable_shapes(2, max_side=3))
def test_broadcasting_is_undone(pair: tuple) -> None:
    a = tg.ones(pair[0], dtype=np.float64, requires_grad=True)
    b = tg.ones(pair[1], dtype=np.float64, requires_grad=True)
    out = a * b
    out.sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # each element of a meets (broadcast size / a.size) elements of b
    np.testing.assert_array_equal(a.grad.data, np.full(a.shape, out.size / max(a.size, 1)))
    np.testing.assert_array_equal(b.grad.data, np.full(b.shape, out.size / max(b.size, 1)))


@given(st.data(), shapes(min_dims=2, max_dims=4, min_side=0, max_side=5),
       st.sampled_from([np.float32, np.float64]))
def test_summing_leading_axes_matches_numpy(data, shape: tuple, dtype) -> None:
    # biases' gradients take a BLAS ones-vector product instead of ndarray.sum
    g = data.draw(arrays(shape, dtype=dtype))
    if data.draw(st.booleans()):
        g = np.asfortranarray(g)  # not C-contiguous: the reshape must copy
    for lead in range(1, g.ndim):
        got = autograd.sum_leading(g, lead)
        assert got.shape == g.shape[lead:] and got.dtype == dtype
        np.testing.assert_allclose(got, g.sum(axis=tuple(range(lead))),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


def test_a_million_op_chain_backpropagates_without_recursion_error() -> None:
    x = f64(0.5)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


# -------------------------------------------------------------- retain_graph
def test_second_backward_without_retain_graph_is_a_clear_error() -> None:
    x = f64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_which_accumulates() -> None:
    x = f64([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 8.0])


def test_backward_with_an_explicit_grad() -> None:
    x = f64([1.0, 2.0])
    (x * 3).backward(np.array([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, -3.0])
    x.grad = None
    (x * 3).backward(tg.tensor([2.0, 0.0]))
    np.testing.assert_array_equal(x.grad.data, [6.0, 0.0])


class PassThrough(tg.Function):
    """Hands back the incoming gradient and a saved array themselves (no copies)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(b)
        return a * 1.0

    @staticmethod
    def backward(ctx, g):
        return g, ctx.saved_tensors[0]


def test_a_leaf_gradient_never_aliases_another_leaf_the_grad_argument_or_a_saved_array() -> None:
    # the walk takes an unshared gradient instead of copying it; shared ones must be copied
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    user_grad = np.array([1.0, 1.0])
    (a + b).backward(user_grad)
    assert a.grad.data is not b.grad.data and a.grad.data is not user_grad
    a.grad.data += 10
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(user_grad, [1.0, 1.0])
    c, d = f64([1.0, 2.0]), f64([5.0, 6.0])
    PassThrough.apply(c, d).backward(user_grad, retain_graph=True)
    assert d.grad.data is not d.data and c.grad.data is not user_grad
    d.grad.data += 1
    np.testing.assert_array_equal(d.data, [5.0, 6.0])
    x = f64([[1.0, 2.0]])
    (x @ f64([[1.0], [1.0]])).sum().backward()  # an unshared gradient, taken as it is
    np.testing.assert_array_equal(x.grad.data, [[1.0, 1.0]])
    assert x.grad.data.flags.writeable and x.grad.dtype == np.float64


def test_only_an_unshared_gradient_is_taken_without_a_copy() -> None:
    def accumulate(g: np.ndarray, dtype: np.dtype) -> np.ndarray:  # accumulate_grad's frame
        return autograd._private_copy(g, dtype)

    # the call shape backward() uses: popped from the dict of gradients, then accumulate_grad
    _, g = {"leaf": np.ones(3)}.popitem()
    assert accumulate(g, g.dtype) is g
    assert accumulate(g, np.dtype(np.float32)) is not g  # a cast copies
    shared = np.ones(3)
    grads = {"a": shared, "b": shared}
    del shared
    _, g = grads.popitem()
    assert accumulate(g, g.dtype) is not g
    _, g = {"view": np.ones(4)[:3]}.popitem()
    assert accumulate(g, g.dtype) is not g
    # grad()'s shape: read from the dict, which keeps it
    grads = {"leaf": np.ones(3)}
    g = grads.get("leaf")
    assert autograd._private_copy(g, g.dtype) is g
    grads["other"] = g
    assert autograd._private_copy(g, g.dtype) is not g


def test_backward_takes_an_unshared_gradient_without_copying(monkeypatch) -> None:
    copied = []

    class CountingNumpy:  # autograd's numpy, noting each np.array of an array
        def __getattr__(self, name: str) -> object:
            return getattr(np, name)

        @staticmethod
        def array(obj: object, *args: object, **kwargs: object) -> np.ndarray:
            copied.append(isinstance(obj, np.ndarray))
            return np.array(obj, *args, **kwargs)

    monkeypatch.setattr(autograd, "np", CountingNumpy())
    x, w = f64([[1.0, 2.0]]), f64([[1.0], [1.0]])
    (x @ w).sum().backward()
    assert not any(copied) and x.grad is not None and w.grad is not None
    (x + x).sum().backward()  # one array for two uses of x: added, not shared
    np.testing.assert_array_equal(x.grad.data, [[3.0, 3.0]])


# -------------------------------------------------------- create_graph, grad()
def test_grad_returns_without_touching_leaves_and_supports_create_graph() -> None:
    x = f64([1.0, -2.0])
    (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data ** 2)
    assert x.grad is None and g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_backward_with_create_graph_gives_a_differentiable_grad() -> None:
    x = f64([0.5, 1.5])
    x.tanh().sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    (second,) = tg.grad(first.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(second.data, -2 * t * (1 - t * t))


def test_grad_with_allow_unused_grad_outputs_and_several_inputs() -> None:
    x, unused = f64([1.0, 2.0]), f64([5.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"inputs\[1\].*allow_unused=True"):
        tg.grad(y.sum(), [x, unused])
    y = x * 2  # (the failed call above walked, and so freed, the first graph)
    gx, gu = tg.grad(y, [x, unused], grad_outputs=tg.tensor([1.0, 10.0]), allow_unused=True)
    np.testing.assert_array_equal(gx.data, [2.0, 20.0])
    assert gu is None
    a, b = f64(2.0), f64(3.0)
    ga, gb = tg.grad([a * b, a + b], [a, b])
    assert (ga.item(), gb.item()) == (4.0, 3.0)


def test_grad_with_respect_to_a_non_leaf() -> None:
    x = f64([1.0, 2.0])
    h = x * 3
    y = (h * h).sum() + x.sum()
    (gh, gx) = tg.grad(y, [h, x])
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    np.testing.assert_array_equal(gx.data, 18 * x.data + 1)


def _mlp_loss(params: list, inputs: np.ndarray, targets: np.ndarray) -> tg.Tensor:
    w1, b1, w2, b2 = params
    hidden = (inputs @ w1.T + b1).tanh()
    out = (hidden @ w2.T + b2).sigmoid()
    return ((out - targets) ** 2).mean()


def test_hessian_vector_product_of_a_small_mlp_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    inputs, targets = rng.normal(size=(6, 3)), rng.uniform(size=(6, 2))
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    values = [rng.normal(size=s) for s in shapes]
    vector = [rng.normal(size=s) for s in shapes]

    def gradient(arrays: list, create_graph: bool = False) -> tuple:
        params = [f64(a) for a in arrays]
        return params, tg.grad(_mlp_loss(params, inputs, targets), params,
                               create_graph=create_graph)

    params, grads = gradient(values, create_graph=True)
    directional = sum((g * v).sum() for g, v in zip(grads, vector, strict=True))
    hvp = tg.grad(directional, params)
    eps = 1e-5
    plus = gradient([a + eps * v for a, v in zip(values, vector, strict=True)])[1]
    minus = gradient([a - eps * v for a, v in zip(values, vector, strict=True)])[1]
    for h, p, m in zip(hvp, plus, minus, strict=True):
        np.testing.assert_allclose(h.data, (p.data - m.data) / (2 * eps), rtol=1e-6, atol=1e-9)
    assert gradgradcheck(lambda *ps: _mlp_loss(list(ps), inputs, targets),
                         [f64(a) for a in values])


def test_third_derivative_by_nesting_grad() -> None:
    x = f64([0.5, -2.0])
    (g1,) = tg.grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = tg.grad(g1.sum(), x, create_graph=True)
    (g3,) = tg.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.data, 24 * x.data)


# Random programs: each step applies one op to earlier values (reusing them freely), so the
# walk meets fan-out, shared subexpressions, broadcasting and accumulation in every mix.
UNARY_STEPS = [lambda a: a.tanh(), lambda a: a.sigmoid(), lambda a: (a * 0.5).exp(),
               lambda a: a.sum(axis=-1, keepdims=True) if a.ndim else a, lambda a: -a]
BINARY_STEPS = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b * 0.5,
                lambda a, b: a / (1 + b * b)]


@st.composite
def programs(draw: st.DrawFn) -> tuple:
    steps = []
    for k in range(draw(st.integers(1, 8))):
        available = 2 + k  # the two inputs and every earlier step
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(range(len(UNARY_STEPS)))),
                          draw(st.integers(0, available - 1))))
        else:
            steps.append((draw(st.sampled_from(range(len(BINARY_STEPS)))),
                          draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    return tuple(steps)


def run_program(steps: tuple, a: tg.Tensor, b: tg.Tensor) -> tg.Tensor:
    values = [a, b]
    for step in steps:
        if len(step) == 2:
            values.append(UNARY_STEPS[step[0]](values[step[1]]))
        else:
            values.append(BINARY_STEPS[step[0]](values[step[1]], values[step[2]]))
    return values[-1]


@given(programs(), broadcastable_shapes(2, max_side=3), st.data())
def test_random_programs_have_correct_first_and_second_derivatives(
        steps: tuple, pair: tuple, data: st.DataObject) -> None:
    a, b = (data.draw(tensors(s, requires_grad=True, min_value=-2.0, max_value=2.0))
            for s in pair)
    assert gradcheck(lambda a, b: run_program(steps, a, b), [a, b])
    assert gradgradcheck(lambda a, b: run_program(steps, a, b), [a, b])


# ---------------------------------------------------------------- grad modes
def test_no_grad_and_enable_grad_as_context_managers_and_nested() -> None:
    x = f64([1.0])
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            z = x * 2
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_grad_modes_as_decorators_and_restored_after_errors() -> None:
    @tg.no_grad()
    def frozen(t: tg.Tensor) -> tg.Tensor:
        return t * 2

    @tg.enable_grad()
    def recorded(t: tg.Tensor) -> tg.Tensor:
        return t * 2

    x = f64([1.0])
    assert not frozen(x).requires_grad and frozen.__name__ == "frozen"
    with tg.no_grad():
        assert recorded(x).requires_grad
    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            raise ZeroDivisionError
    assert tg.is_grad_enabled()


def test_detach_and_requires_grad_() -> None:
    x = f64([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.data is x.data
    (x * d).sum().backward()  # d is a constant
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])
    t = tg.tensor([1.0, 2.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    with pytest.raises(RuntimeError, match="detach"):
        (x * 2).requires_grad_(False)


def test_retain_grad_keeps_a_non_leaf_gradient() -> None:
    x = f64([1.0, 2.0])
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, 2 * y.data)
    np.testing.assert_array_equal(x.grad.data, 6 * y.data)
    x.retain_grad()  # a no-op on leaves


# ---------------------------------------------------------- custom Functions
class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad_out


class ScaledProduct(tg.Function):
    """a * b * scale, with a constant positional argument and needs_input_grad."""

    seen_needs: list = []

    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, grad_out):
        a, b = ctx.saved_tensors
        ScaledProduct.seen_needs.append(ctx.needs_input_grad)
        ga = grad_out * b * ctx.scale if ctx.needs_input_grad[0] else None
        gb = grad_out * a * ctx.scale if ctx.needs_input_grad[1] else None
        return ga, gb, None


def test_custom_function_forward_backward_and_repr() -> None:
    x = f64([1.0, -2.0])
    y = Cube.apply(x)
    np.testing.assert_array_equal(y.data, [1.0, -8.0])
    assert y.grad_fn.name == "CubeBackward" and "CubeBackward" in repr(y)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 12.0])


def test_custom_function_with_constant_arguments_and_needs_input_grad() -> None:
    ScaledProduct.seen_needs.clear()
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0], requires_grad=False)
    out = ScaledProduct.apply(a, b, 0.5)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.5, 2.0])
    assert b.grad is None
    assert ScaledProduct.seen_needs == [(True, False, False)]


@given(tensors(requires_grad=True))
def test_gradcheck_of_user_functions(x: tg.Tensor) -> None:
    assert gradcheck(Cube.apply, [x])
    assert gradgradcheck(Cube.apply, [x])  # saved_tensors are graph-connected then
    y = tg.tensor(np.full(x.shape, 0.7), requires_grad=True)
    assert gradcheck(lambda a, b: ScaledProduct.apply(a, b, 3.0), [x, y])


def test_custom_function_without_grad_records_nothing() -> None:
    out = Cube.apply(tg.tensor([2.0]))
    assert not out.requires_grad and out.grad_fn is None
    with tg.no_grad():
        assert Cube.apply(f64([2.0])).grad_fn is None


# -------------------------------------------------------------------- memory
def test_an_intermediate_is_freed_by_refcounting_once_the_output_is_dropped() -> None:
    gc.collect()
    gc.disable()  # prove that reference counting alone frees the graph (no cycles)
    try:
        x = f64(np.ones(3))
        y = x * 2
        z = (y.exp() * y).sum()
        node, tensor, array = weakref.ref(y.grad_fn), weakref.ref(y), weakref.ref(y.data)
        del y
        assert node() is not None and array() is not None  # z's graph still needs them
        del z
        assert node() is None and tensor() is None and array() is None
    finally:
        gc.enable()


def test_an_array_no_backward_reads_is_freed_before_backward() -> None:
    # matmul's backward never reads its output and tanh's reads only its own: the product
    # in between is garbage as soon as the user drops it, and backward still works
    gc.collect()
    gc.disable()
    try:
        x, w = f64(np.ones((2, 3))), f64(np.full((3, 4), 0.1))
        h = x @ w
        product = weakref.ref(h.data)
        y = h.tanh()
        del h
        assert product() is None
        matmul = y.grad_fn.parents[0]
        assert function.output_spec(matmul) == ((2, 4), np.float64)  # pictures keep shapes
        y.sum().backward()
        slope = 1 - np.tanh(0.3) ** 2
        np.testing.assert_allclose(x.grad.data, np.full((2, 3), 0.4 * slope))
        np.testing.assert_allclose(w.grad.data, np.full((3, 4), 2 * slope))
        assert function.output_spec(matmul) == ((2, 4), np.float64)
    finally:
        gc.enable()


def test_parents_list_one_entry_per_input_whatever_the_arity() -> None:
    a, b, c = (f64(np.ones(2)) for _ in range(3))
    constant = np.ones(2)
    y = a.exp()
    assert y.grad_fn.parents == (a,)
    assert (y * constant).grad_fn.parents == (y.grad_fn, None)
    assert (2.0 - b).grad_fn.parents == (None, b)
    assert tg.concatenate([a, constant, b, c]).grad_fn.parents == (a, None, b, c)
    assert a.sum(axis=0).grad_fn.parents == (a,)  # the general path (keyword params)
    assert a.sum().grad_fn.needs_input_grad == (True,)


def test_three_input_ops_record_every_input() -> None:
    # Linear (x, weight, bias) and a user Function of three inputs: every mix of Tensors,
    # arrays, numbers and None gives the right parents, saved arrays and gradients
    x, w, b = f64(np.ones((2, 3))), f64(np.full((4, 3), 0.5)), f64(np.arange(4.0))
    y = tg.nn.functional.linear(x, w, b)
    assert y.grad_fn.parents == (x, w, b)
    assert y.grad_fn.saved[0] is None and y.grad_fn.saved[1] is x.data  # keeps_output False
    assert tg.nn.functional.linear(x, w).grad_fn.parents == (x, w, None)
    h = x * 2
    frozen = tg.Tensor(np.ones((4, 3)))
    partly = tg.nn.functional.linear(h, frozen, np.zeros(4))
    assert partly.grad_fn.parents == (h.grad_fn, None, None)
    with tg.no_grad():
        assert tg.nn.functional.linear(x, w, b).grad_fn is None

    class ScaledAdd(tg.Function):  # a user's Function with a plain number third
        @staticmethod
        def forward(ctx, a, c, k):
            ctx.k = k
            return a + k * c

        @staticmethod
        def backward(ctx, g):
            return g, ctx.k * g, None

    a, c = f64(np.ones(2)), f64(np.full(2, 3.0))
    z = ScaledAdd.apply(a, c, 2.0)
    assert z.grad_fn.parents == (a, c, None) and z.grad_fn.saved[3] == 2.0
    np.testing.assert_array_equal(z.data, [7.0, 7.0])
    z.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(c.grad.data, [2.0, 2.0])
    with pytest.raises(TypeError, match="ScaledAdd"):  # the same error as the general path
        ScaledAdd.apply(a, c, "two")


def test_backward_frees_the_saved_arrays_unless_retained() -> None:
    x = f64(np.ones(3))
    y = x * 2
    z = (y.exp() * y).sum()
    nodes = [z.grad_fn, z.grad_fn.parents[0], y.grad_fn]
    assert all(n.saved is not None for n in nodes)
    z.backward(retain_graph=True)
    assert all(n.saved is not None for n in nodes)
    z.backward()
    assert all(n.saved is None for n in nodes)
    assert function.output_spec(y.grad_fn) == ((3,), np.float64)
    np.testing.assert_allclose(x.grad.data, 2 * 2 * (np.exp(2.0) * 3))


def test_graph_is_freed_after_backward_when_only_leaves_remain() -> None:
    gc.collect()
    gc.disable()
    try:
        x = f64(np.ones(3))
        loss = (x * 2).tanh().sum()
        node = weakref.ref(loss.grad_fn)
        loss.backward()
        del loss
        assert node() is None and x.grad is not None and x.grad.grad_fn is None
    finally:
        gc.enable()


# ------------------------------------------------ in-place writes to saved arrays
def test_inplace_write_to_a_saved_array_refuses_backward():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tg.tensor([2.0, 2.0, 2.0])
    y = (x * w).sum()          # Mul saved w's array
    w += 1                     # plain tensor: mutated in place
    with pytest.raises(RuntimeError, match=r"MulBackward.*modified by an in-place operation"):
        y.backward()


def test_inplace_write_through_a_view_is_seen():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    base = tg.tensor([[3.0, 4.0]])
    y = (x * base.reshape(1, 2)).sum()   # saved a view of base's array
    base[0, 0] = 10.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_writes_before_recording_or_after_backward_are_fine():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([2.0, 2.0])
    w += 1                                # before the op: harmless
    y = (x * w).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    w += 1                                # after backward: harmless
    (x * w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [7.0, 7.0])


def test_optimizer_step_between_forward_and_backward_is_refused():
    model = tg.nn.Linear(2, 1)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    model(tg.ones(1, 2)).sum().backward()
    loss = model(tg.ones(1, 2)).sum()
    opt.step()                            # changes the weights the new graph saved
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


# ------------------------------------------------------------- grad-mode forms
def test_no_grad_as_a_bare_decorator():
    @tg.no_grad
    def double(t):
        return t * 2

    x = tg.ones(2, requires_grad=True)
    assert not double(x).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_decorated_generator_runs_each_step_without_grad():
    @tg.no_grad()
    def steps(t):
        yield t * 2
        yield t * 3

    x = tg.ones(2, requires_grad=True)
    assert [s.requires_grad for s in steps(x)] == [False, False]
    assert tg.is_grad_enabled()


def test_a_grad_mode_instance_can_be_reentered():
    mode = tg.no_grad()
    with mode:
        with mode:
            assert not tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
