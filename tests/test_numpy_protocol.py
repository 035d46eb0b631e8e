"""NumPy's protocols: np.exp(t), np.sum(t, axis=0), ndarray + t... on Tensors.

One table (ROWS) drives the property test: each row is a NumPy call as users write
it and the same computation with tinygrad_np methods. The call on Tensors must
give a Tensor in the graph whose value is NumPy's (the same call on the arrays) and
whose value and gradients equal those of the method expression. Behaviours beyond
the table follow: refusals, plain results, out=, dtype=, in-place, ufunc methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import numpy_protocol
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import arrays, axes, broadcastable_shapes, shapes

SIDE = 3  # small shapes: every example is cheap


# ----------------------------------------------------------- drawing cases
def one_input(min_dims: int = 0, min_side: int = 1, positive: bool = False,
              params: Callable[[tuple], st.SearchStrategy] | None = None) -> Callable:
    """A case of one array (positive values if asked) and params drawn from its shape."""
    def case(data: st.DataObject) -> tuple[list, dict]:
        shape = data.draw(shapes(min_dims, 3, min_side, SIDE), label="shape")
        value = data.draw(arrays(shape, min_value=0.5 if positive else -3.0), label="x")
        return [value], data.draw(params(shape), label="params") if params else {}
    return case


def reduction(shape: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"axis": axes(len(shape)), "keepdims": st.booleans()})


def one_axis(shape: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"axis": st.integers(-len(shape), len(shape) - 1)})


def two_inputs(positive_first: bool = False) -> Callable:
    def case(data: st.DataObject) -> tuple[list, dict]:
        sa, sb = data.draw(broadcastable_shapes(2, max_side=SIDE), label="shapes")
        a = data.draw(arrays(sa, min_value=0.5 if positive_first else -3.0), label="a")
        return [a, data.draw(arrays(sb, min_magnitude=0.5), label="b")], {}
    return case


def matmul_operands(max_dims: int = 3) -> Callable:
    def case(data: st.DataObject) -> tuple[list, dict]:
        n, k, m = (data.draw(st.integers(1, SIDE)) for _ in range(3))
        da, db = (data.draw(st.integers(1, max_dims)) for _ in range(2))
        batch = (2,) * (max(da, db) - 2) if max(da, db) > 2 else ()
        a = (k,) if da == 1 else batch[:max(da - 2, 0)] + (n, k)
        b = (k,) if db == 1 else batch[:max(db - 2, 0)] + (k, m)
        return [data.draw(arrays(a)), data.draw(arrays(b))], {}
    return case


def same_shapes(n: int, params: Callable[[tuple], st.SearchStrategy]) -> Callable:
    def case(data: st.DataObject) -> tuple[list, dict]:
        shape = data.draw(shapes(1, 3, 1, SIDE), label="shape")
        return [data.draw(arrays(shape)) for _ in range(n)], data.draw(params(shape))
    return case


def no_params(shape: tuple) -> st.SearchStrategy:
    return st.just({})


def permutation(shape: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"axes": st.none() | st.permutations(range(len(shape)))})


def squeezable(shape: tuple) -> st.SearchStrategy:
    ones = [i for i, n in enumerate(shape) if n == 1]
    return st.fixed_dictionaries({"axis": st.none() | st.sampled_from(ones or [None])})


def where_mask(shape: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"mask": st.just(np.arange(np.prod(shape)).reshape(shape) % 2
                                                  == 0)})


def take_indices(shape: tuple) -> st.SearchStrategy:
    def build(axis: int, seed: int) -> dict:
        index = np.random.default_rng(seed).integers(0, shape[axis], shape)
        return {"indices": index, "axis": axis}
    return st.builds(build, st.integers(-len(shape), len(shape) - 1), st.integers(0, 99))


# ----------------------------------------------------------------- the table
@dataclass(frozen=True)
class Row:
    name: str
    numpy: Callable[..., Any]  # the NumPy call as users write it (on Tensors or arrays)
    ours: Callable[..., Any]   # the same with tinygrad_np's methods
    case: Callable[[st.DataObject], tuple]
    needs: str = ""            # a Tensor method (or "tg.name") the ops branch adds


def _available(needs: str) -> bool:
    if needs.startswith("tg."):
        return hasattr(tg, needs[3:])
    return not needs or hasattr(tg.Tensor, needs)


def unary(ufunc: np.ufunc, method: str, positive: bool = False, needs: str = "") -> Row:
    return Row(ufunc.__name__, ufunc, lambda x: getattr(x, method)(), one_input(
        positive=positive), needs)


def reduce_row(name: str, fn: Callable, method: str, **case: Any) -> Row:
    return Row(name, fn, lambda x, **kw: getattr(x, method)(**kw), one_input(params=reduction,
                                                                             **case))


def _flat_roll(x: Any, shift: int) -> Any:
    return x.reshape(-1).roll(shift, 0).reshape(x.shape)


ROWS = [
    unary(np.exp, "exp"), unary(np.log, "log", positive=True),
    unary(np.sqrt, "sqrt", positive=True), unary(np.absolute, "abs"), unary(np.tanh, "tanh"),
    unary(np.negative, "__neg__"), unary(np.sin, "sin", needs="sin"),
    unary(np.cos, "cos", needs="cos"), unary(np.log1p, "log1p", positive=True, needs="log1p"),
    unary(np.expm1, "expm1", needs="expm1"), unary(np.square, "square", needs="square"),
    Row("abs", lambda x: np.abs(x), lambda x: x.abs(), one_input()),
    Row("add", np.add, lambda a, b: a + b, two_inputs()),
    Row("subtract", np.subtract, lambda a, b: a - b, two_inputs()),
    Row("multiply", np.multiply, lambda a, b: a * b, two_inputs()),
    Row("divide", np.divide, lambda a, b: a / b, two_inputs()),
    Row("true_divide", np.true_divide, lambda a, b: a / b, two_inputs()),
    Row("power", np.power, lambda a, b: a ** b, two_inputs(positive_first=True)),
    Row("maximum", np.maximum, tg.maximum, two_inputs()),
    Row("minimum", np.minimum, tg.minimum, two_inputs()),
    Row("matmul", np.matmul, lambda a, b: a @ b, matmul_operands()),
    Row("dot", np.dot, lambda a, b: a @ b, matmul_operands(max_dims=2)),
    Row("multiply.outer", np.multiply.outer,
        lambda a, b: a.reshape(a.shape + (1,) * b.ndim) * b, two_inputs()),
    Row("outer", np.outer, lambda a, b: a.reshape(-1, 1) * b.reshape(1, -1), two_inputs()),
    reduce_row("sum", np.sum, "sum"), reduce_row("mean", np.mean, "mean"),
    reduce_row("max", np.max, "max"), reduce_row("amax", np.amax, "max"),
    reduce_row("min", np.min, "min"), reduce_row("amin", np.amin, "min"),
    reduce_row("var", np.var, "var"), reduce_row("std", np.std, "std", min_side=2),
    Row("var_ddof1", lambda x, **kw: np.var(x, ddof=1, **kw),
        lambda x, **kw: x.var(ddof=1, **kw), one_input(1, 2, params=one_axis)),
    Row("std_ddof1", lambda x, **kw: np.std(x, ddof=1, **kw),
        lambda x, **kw: x.std(ddof=1, **kw), one_input(1, 2, params=one_axis)),
    Row("add.reduce", np.add.reduce, lambda x, **kw: x.sum(**kw), one_input(params=reduction)),
    Row("add.reduce_default_axis", lambda x: np.add.reduce(x), lambda x: x.sum(axis=0),
        one_input(1)),
    Row("maximum.reduce", np.maximum.reduce, lambda x, **kw: x.max(**kw),
        one_input(params=reduction)),
    Row("minimum.reduce", np.minimum.reduce, lambda x, **kw: x.min(**kw),
        one_input(params=reduction)),
    Row("concatenate", lambda a, b, axis: np.concatenate([a, b], axis=axis),
        lambda a, b, axis: tg.concatenate([a, b], axis=axis), same_shapes(2, one_axis)),
    Row("concatenate_flat", lambda a, b: np.concatenate((a, b), axis=None),
        lambda a, b: tg.concatenate([a.reshape(-1), b.reshape(-1)]), same_shapes(2, no_params)),
    Row("stack", lambda a, b, axis: np.stack([a, b], axis), lambda a, b, axis:
        tg.stack([a, b], axis), same_shapes(2, lambda s: st.fixed_dictionaries(
            {"axis": st.integers(-len(s) - 1, len(s))}))),
    Row("reshape", lambda x: np.reshape(x, (-1,)), lambda x: x.reshape(-1), one_input()),
    Row("reshape_reversed", lambda x: np.reshape(x, x.shape[::-1]),
        lambda x: x.reshape(x.shape[::-1]), one_input()),
    Row("ravel", np.ravel, lambda x: x.reshape(-1), one_input()),
    Row("transpose", np.transpose, lambda x, axes: x.transpose(axes) if axes else x.transpose(),
        one_input(params=permutation)),
    Row("swapaxes", lambda x: np.swapaxes(x, 0, -1), lambda x: x.swapaxes(0, -1),
        one_input(1)),
    Row("squeeze", np.squeeze, lambda x, axis: x.squeeze(axis), one_input(params=squeezable)),
    Row("expand_dims", np.expand_dims, lambda x, axis: x.expand_dims(axis), one_input(
        params=lambda s: st.fixed_dictionaries({"axis": st.integers(-len(s) - 1, len(s))}))),
    Row("broadcast_to", lambda x: np.broadcast_to(x, (2,) + x.shape),
        lambda x: x.broadcast_to((2,) + x.shape), one_input()),
    Row("where", lambda a, b, mask: np.where(mask, a, b),
        lambda a, b, mask: tg.where(mask, a, b), same_shapes(2, where_mask)),
    Row("clip", lambda x: np.clip(x, -1.0, 1.5), lambda x: x.clip(-1.0, 1.5), one_input()),
    Row("clip_keywords", lambda x: np.clip(x, min=-0.5, max=None),
        lambda x: x.clip(-0.5, None), one_input()),
    Row("clip_tensor_bounds", lambda x, lo: np.clip(x, lo, 2.0),
        lambda x, lo: tg.minimum(tg.maximum(x, lo), 2.0), two_inputs()),
    Row("copy", np.copy, lambda x: x.astype(x.dtype), one_input()),
    Row("linalg.norm", np.linalg.norm, lambda x: (x * x).sum().sqrt(),
        one_input(min_side=1, positive=True)),
    # the ops branch adds these Tensor methods; until then the calls are not differentiable
    Row("einsum", lambda a, b: np.einsum("ij,jk->ik", a, b),
        lambda a, b: tg.einsum("ij,jk->ik", a, b),
        lambda data: ([data.draw(arrays((2, 3))), data.draw(arrays((3, 2)))], {}), "tg.einsum"),
    Row("cumsum", lambda x, **kw: np.cumsum(x, **kw), lambda x, axis: x.cumsum(axis),
        one_input(params=lambda s: st.fixed_dictionaries({"axis": st.none() | st.integers(
            -max(len(s), 1), max(len(s), 1) - 1) if s else st.none()})), "cumsum"),
    Row("add.accumulate", lambda x: np.add.accumulate(x, axis=-1), lambda x: x.cumsum(-1),
        one_input(1), "cumsum"),
    Row("pad", lambda x: np.pad(x, 1, constant_values=0.5), lambda x: x.pad(1, value=0.5),
        one_input(1), "pad"),
    Row("flip", np.flip, lambda x, axis: x.flip(axis), one_input(1, params=one_axis), "flip"),
    Row("roll", lambda x, axis: np.roll(x, 1, axis), lambda x, axis: x.roll(1, axis),
        one_input(1, params=one_axis), "roll"),
    Row("roll_flat", lambda x: np.roll(x, 2), lambda x: _flat_roll(x, 2), one_input(1),
        "roll"),
    Row("tril", lambda x: np.tril(x, -1), lambda x: x.tril(-1), one_input(2), "tril"),
    Row("triu", np.triu, lambda x: x.triu(), one_input(2), "triu"),
    Row("take_along_axis", np.take_along_axis,
        lambda x, indices, axis: x.take_along_axis(indices, axis),
        one_input(1, params=take_indices), "take_along_axis"),
    Row("tile", lambda x: np.tile(x, (2, 1)), lambda x: x.tile((2, 1)), one_input(), "tile"),
]


def _params(rows: list[Row]) -> list:
    return [pytest.param(r, id=r.name, marks=pytest.mark.skipif(
        not _available(r.needs), reason=f"this tinygrad_np has no {r.needs} yet"))
        for r in rows]


def leaves(values: list[np.ndarray]) -> list[tg.Tensor]:
    return [tg.Tensor(v, requires_grad=True) for v in values]


def assert_same_tensor(got: Any, want: tg.Tensor) -> None:
    assert isinstance(got, tg.Tensor), f"got {type(got).__name__}, not a Tensor"
    assert got.requires_grad and got.grad_fn is not None
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.data, want.data)


@pytest.mark.parametrize("row", _params(ROWS))
@given(data=st.data())
def test_numpy_call_is_the_tensor_op(row: Row, data: st.DataObject) -> None:
    values, params = row.case(data)
    numpy_says = np.asarray(row.numpy(*values, **params))
    xs, ys = leaves(values), leaves(values)
    got, want = row.numpy(*xs, **params), row.ours(*ys, **params)
    assert_same_tensor(got, want)
    assert got.shape == numpy_says.shape and got.dtype == numpy_says.dtype
    np.testing.assert_allclose(got.data, numpy_says, rtol=1e-12, atol=1e-12)
    seed = np.linspace(-1.0, 2.0, got.size).reshape(got.shape)
    got.backward(seed)
    want.backward(seed)
    for x, y in zip(xs, ys):
        np.testing.assert_array_equal(x.grad.data, y.grad.data)


BINARY = [r for r in ROWS if r.name in ("add", "subtract", "multiply", "divide", "power",
                                        "maximum", "minimum")]


@pytest.mark.parametrize("row", _params(BINARY))
@pytest.mark.parametrize("constant", ["array", "scalar"])
@pytest.mark.parametrize("side", [0, 1])
@settings(max_examples=20)  # 28 cases of one code path: fewer examples each
@given(data=st.data())
def test_binary_ufuncs_take_constants_on_either_side(row: Row, constant: str, side: int,
                                                      data: st.DataObject) -> None:
    values, _ = row.case(data)
    if constant == "scalar":
        values[side] = float(values[side].flat[0])
    x, y = tg.Tensor(values[1 - side], requires_grad=True), \
        tg.Tensor(values[1 - side], requires_grad=True)
    args_np, args_ours = list(values), list(values)
    args_np[1 - side], args_ours[1 - side] = x, y
    got = row.numpy(*args_np)
    # the reference: the Tensor's own (reflected) operator, which never calls NumPy on Tensors
    want = row.ours(*args_ours) if side == 1 else _reflected(row.name, y, values[0])
    assert_same_tensor(got, want)
    np.testing.assert_allclose(got.data, row.numpy(*values), rtol=1e-12)
    got.sum().backward()
    want.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.grad.data)


def _reflected(name: str, t: tg.Tensor, constant: Any) -> tg.Tensor:
    if name in ("maximum", "minimum"):
        return getattr(tg, name)(constant, t)
    dunder = {"add": "__radd__", "subtract": "__rsub__", "multiply": "__rmul__",
              "divide": "__rtruediv__", "power": "__rpow__"}[name]
    return getattr(t, dunder)(constant)


# ------------------------------------------------- ndarray (op) Tensor, in place
def test_ndarray_operators_on_either_side_give_tensors() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = tg.tensor(a * 0.5 + 1.0, requires_grad=True)
    for result in (a + x, x + a, a - x, a * x, a / x, a ** x, a @ x, np.float64(2.0) * x,
                   np.float32(2.0) - x):
        assert isinstance(result, tg.Tensor) and result.requires_grad
    (a * x + a @ x).sum().backward()
    np.testing.assert_allclose(x.grad.data, a + a.sum(axis=0)[:, None])


def test_in_place_ndarray_update_by_a_tensor() -> None:
    """`array += tensor` keeps the array an ndarray: allowed on values, refused with a grad."""
    a = np.ones(3)
    t = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.add with out= .*array \+= tensor"):
        a += t
    np.testing.assert_array_equal(a, 1.0)  # refused before writing
    a += t.detach()
    assert type(a) is np.ndarray
    np.testing.assert_array_equal(a, [2.0, 3.0, 4.0])
    with tg.no_grad():  # no gradient is recorded anyway: allowed, as in PyTorch
        a *= t
    np.testing.assert_array_equal(a, [2.0, 6.0, 12.0])


def test_comparisons_and_predicates_give_bool_tensors_without_grad() -> None:
    t = tg.tensor([-1.0, 0.5, np.inf], requires_grad=True)
    a = np.array([0.0, 0.5, 1.0])
    cases = [(np.less(t, a), [True, False, False]), (np.greater_equal(a, t), [True, True, False]),
             (a < t, [False, False, True]), (t == a, [False, True, False]),
             (np.not_equal(t, 0.5), [True, False, True]), (np.isfinite(t), [True, True, False]),
             (np.isinf(t), [False, False, True]),
             (np.logical_and(t > 0, np.isfinite(t)), [False, True, False])]
    for got, want in cases:
        assert isinstance(got, tg.Tensor) and got.dtype == np.bool_
        assert not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.data, want)


# ------------------------------------------------------------ out= and dtype=
def test_out_with_a_gradient_is_refused_naming_the_function() -> None:
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    out = np.zeros(2)
    with pytest.raises(TypeError, match=r"np\.sum with out="):
        np.sum(t, axis=0, out=out)
    with pytest.raises(TypeError, match=r"np\.exp with out="):
        np.exp(t, out=np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"np\.add\.reduce with out="):
        np.add.reduce(t, out=out)
    np.testing.assert_array_equal(out, 0.0)


def test_out_without_a_gradient_writes_as_numpy_does() -> None:
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = np.zeros(2)
    assert np.sum(t, axis=0, out=out) is out
    np.testing.assert_array_equal(out, [4.0, 6.0])
    target = tg.zeros(2, 2, dtype=np.float64)
    assert np.exp(t, out=target) is target  # a Tensor as out: written, and returned
    np.testing.assert_allclose(target.data, np.exp(t.data))
    assert np.add.reduce(t, axis=1, out=out) is out
    np.testing.assert_array_equal(out, [3.0, 7.0])


def test_out_into_a_tensor_saved_by_a_graph_stops_its_backward() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    buffer = tg.tensor([3.0, 4.0])
    y = (x * buffer).sum()
    np.multiply(buffer, 2.0, out=buffer)  # an in-place write the graph must notice
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_out_into_a_leaf_that_requires_grad_works_under_no_grad() -> None:
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.subtract with out="):
        np.subtract(p, 0.5, out=p)
    with tg.no_grad():  # how an optimizer updates a parameter
        assert np.subtract(p, 0.5, out=p) is p
    np.testing.assert_array_equal(p.data, [0.5, 1.5])


def test_dtype_keyword_casts_inside_the_graph() -> None:
    t = tg.tensor([1.0, 2.0, 3.0], dtype=np.float32, requires_grad=True)
    s = np.sum(t, dtype=np.float64)
    assert s.dtype == np.float64 and s.requires_grad
    m = np.mean(t, dtype=np.float64)
    p = np.multiply(t, t, dtype=np.float64)
    assert m.dtype == p.dtype == np.float64
    (s + m + p.sum()).backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_allclose(t.grad.data, 1 + 1 / 3 + 2 * t.data)
    with pytest.raises(TypeError, match=r"np\.sum with dtype=int64 is not differentiable"):
        np.sum(t, dtype=np.int64)
    plain = np.sum(t.detach(), dtype=np.int64)
    assert plain.dtype == np.int64 and plain.item() == 6


def test_float32_stays_float32() -> None:
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    outs = [np.exp(t), np.add(t, 2.0), np.add(np.float32(1.0), t), np.sum(t, axis=0),
            np.linalg.norm(t), np.linalg.norm(t, 1), np.clip(t, 0.0, 2.0), np.mean(t),
            np.std(t, axis=1), np.matmul(t, t), np.maximum(t, 0)]
    assert all(o.dtype == np.float32 for o in outs)
    sum(o.sum() for o in outs).backward()
    assert t.grad.dtype == np.float32


# -------------------------------------------------- outside the table: values or TypeError
REFUSED = [
    ("np.sort", lambda t: np.sort(t)),
    ("np.floor", lambda t: np.floor(t)),
    ("np.prod with initial=", lambda t: np.prod(t, axis=0, initial=2.0)),
    ("np.cumprod", lambda t: np.cumprod(t)),
    ("np.median", lambda t: np.median(t)),
    ("np.linalg.det", lambda t: np.linalg.det(t)),
    ("np.trace beyond the main diagonal", lambda t: np.trace(t, offset=1)),
    ("np.linalg.inv", lambda t: np.linalg.inv(t)),
    ("np.linalg.norm with ord=2", lambda t: np.linalg.norm(t, 2)),
    ("np.sum with where=", lambda t: np.sum(t, where=np.eye(2, dtype=bool))),
    ("np.pad with mode='edge'", lambda t: np.pad(t, 1, mode="edge")),
    ("np.multiply.accumulate", lambda t: np.multiply.accumulate(t)),
    ("np.add.reduceat", lambda t: np.add.reduceat(t, [0, 1])),
    ("np.reshape with order='F'", lambda t: np.reshape(t, -1, order="F")),
    ("np.exp with casting='unsafe'", lambda t: np.exp(t, casting="unsafe")),
]


@pytest.mark.parametrize("name, call", REFUSED, ids=[r[0] for r in REFUSED])
def test_non_differentiable_calls_refuse_a_gradient_and_work_on_values(
        name: str, call: Callable) -> None:
    values = np.array([[2.0, 1.0], [0.5, 3.0]])
    t = tg.tensor(values, requires_grad=True)
    with pytest.raises(TypeError) as error:
        call(t)
    message = str(error.value)
    assert message.startswith(name) and "not differentiable in tinygrad_np" in message
    assert "shape (2, 2)" in message and "t.detach().numpy()" in message
    want = call(values)
    for plain in (tg.tensor(values), t.detach()):
        got = call(plain)
        assert type(got) is type(want) and not isinstance(got, tg.Tensor)
        np.testing.assert_array_equal(got, want)
    with tg.no_grad():  # nothing would be recorded: values, as NumPy gives them
        assert not isinstance(call(t), tg.Tensor)


def test_an_op_the_tensor_lacks_behaves_as_not_differentiable(monkeypatch) -> None:
    monkeypatch.delattr(tg.Tensor, "cumsum", raising=False)
    monkeypatch.delattr(tg.Tensor, "sin", raising=False)
    monkeypatch.delattr(tg, "einsum", raising=False)
    t = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for name, call in [("np.cumsum", np.cumsum), ("np.sin", np.sin),
                       ("np.add.accumulate", np.add.accumulate),
                       ("np.einsum", lambda x: np.einsum("i,i->", x, x))]:
        with pytest.raises(TypeError, match=rf"^{name} .*has no .* not differentiable"):
            call(t)
        got = call(t.detach())
        assert not isinstance(got, tg.Tensor)
        np.testing.assert_allclose(got, call(t.data))


def test_functions_without_a_gradient_return_numpy_values() -> None:
    values = np.array([[0.5, 3.0, -1.0], [2.0, 0.0, 4.0]])
    t = tg.tensor(values, requires_grad=True)
    assert np.argmax(t) == 5 and isinstance(np.argmax(t), np.integer)
    np.testing.assert_array_equal(np.argmax(t, axis=1), [1, 2])
    np.testing.assert_array_equal(np.argmin(t, axis=0), [0, 1, 0])
    assert isinstance(np.argmax(t, axis=1), np.ndarray)
    labels = np.array([1, 0])
    assert np.mean(np.argmax(t, axis=1) == labels) == 0.5  # accuracy, the NumPy way
    assert values[0][np.argmax(t[0])] == 3.0  # indexes ndarrays
    np.testing.assert_array_equal(np.argsort(t, axis=1), np.argsort(values, axis=1))
    assert np.allclose(t, values) and np.array_equal(t, values)
    assert np.isclose(t, values).all() and np.count_nonzero(t) == 5
    assert np.any(t > 3.5) and not np.all(t > 0)
    assert np.shape(t) == (2, 3) and np.ndim(t) == 2 and np.size(t) == 6
    assert np.size(t, 1) == 3
    rows, cols = np.where(t > 1.0)
    np.testing.assert_array_equal(rows, [0, 1, 1])
    np.testing.assert_array_equal(cols, [1, 0, 2])
    assert np.result_type(t, np.float32) == np.float64


def test_like_constructors_give_tensors_without_grad() -> None:
    t = tg.tensor([[1.0, 2.0]], requires_grad=True)
    for got, fill in [(np.zeros_like(t), 0.0), (np.ones_like(t), 1.0),
                      (np.full_like(t, 7.0), 7.0)]:
        assert isinstance(got, tg.Tensor) and not got.requires_grad
        assert got.shape == t.shape and got.dtype == t.dtype
        np.testing.assert_array_equal(got.data, fill)
    assert np.empty_like(t, dtype=np.float32).dtype == np.float32


def test_copy_is_a_differentiable_copy() -> None:
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    c = np.copy(t)
    assert not np.shares_memory(c.data, t.data)
    (c * 3.0).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [3.0, 3.0])


def test_asarray_gives_the_data_without_a_copy() -> None:
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    assert np.asarray(t) is t.data
    assert not np.shares_memory(np.array(t), t.data)


# ---------------------------------------------------------------- ufunc methods
def test_ufunc_at_writes_plain_tensors_and_refuses_a_gradient() -> None:
    t = tg.tensor([1.0, 2.0, 3.0])
    assert np.add.at(t, [0, 0, 2], 1.0) is None
    np.testing.assert_array_equal(t.data, [3.0, 2.0, 4.0])
    a = np.zeros(3)
    with pytest.raises(TypeError, match=r"np\.add\.at writes into .*shape \(2,\)"):
        np.add.at(a, [0, 1], tg.tensor([1.0, 2.0], requires_grad=True))
    with pytest.raises(TypeError, match=r"np\.add\.at"):
        np.add.at(tg.tensor([1.0, 2.0], requires_grad=True), [0], 1.0)


def test_reductions_keep_numpys_keywords() -> None:
    t = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert np.sum(t, axis=0, keepdims=True).shape == (1, 3)
    assert np.max(t, axis=(0, 1)).shape == ()
    assert np.add.reduce(t, axis=None).item() == 15.0
    assert np.maximum.reduce(t, axis=1, keepdims=True).shape == (2, 1)
    np.testing.assert_allclose(np.var(t, correction=1).data, np.var(t.data, ddof=1))
    with pytest.raises(ValueError, match="ddof and correction"):
        np.var(t, ddof=1, correction=1)


# ------------------------------------------------------------------- linalg.norm
NORMS = [({}, (2, 3)), ({}, (4,)), ({}, (2, 2, 2)), ({"axis": 1}, (2, 3)),
         ({"axis": -1, "keepdims": True}, (2, 3)), ({"ord": 1}, (4,)),
         ({"ord": np.inf}, (4,)), ({"ord": -np.inf, "axis": 0}, (3, 2)),
         ({"ord": "fro"}, (2, 3)), ({"ord": 1}, (3, 2)), ({"ord": -1}, (3, 2)),
         ({"ord": np.inf, "keepdims": True}, (3, 2)), ({"ord": -np.inf}, (3, 2)),
         ({"ord": 2, "axis": 0}, (3, 2)), ({"axis": (2, 0)}, (2, 3, 2))]


@pytest.mark.parametrize("kwargs, shape", NORMS, ids=[f"{k}-{s}" for k, s in NORMS])
def test_norm_matches_numpy_with_gradients(kwargs: dict, shape: tuple) -> None:
    values = np.linspace(-2.0, 3.0, int(np.prod(shape))).reshape(shape) + 0.125
    t = tg.tensor(values, requires_grad=True)
    got = np.linalg.norm(t, **kwargs)
    assert isinstance(got, tg.Tensor) and got.requires_grad
    np.testing.assert_allclose(got.data, np.linalg.norm(values, **kwargs), rtol=1e-12)
    assert gradcheck(lambda x: np.linalg.norm(x, **kwargs), [t])
    assert gradgradcheck(lambda x: np.linalg.norm(x, **kwargs), [t])


def test_norm_of_zeros_has_gradient_zero_not_nan() -> None:
    t = tg.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    n = np.linalg.norm(t, axis=1)
    np.testing.assert_array_equal(n.data, [0.0, 5.0])
    n.sum().backward()
    np.testing.assert_allclose(t.grad.data, [[0.0, 0.0], [0.6, 0.8]])
    z = tg.zeros(3, dtype=np.float64, requires_grad=True)
    np.linalg.norm(z).backward()
    np.testing.assert_array_equal(z.grad.data, 0.0)


def test_norm_of_integers_is_float64() -> None:
    got = np.linalg.norm(tg.tensor([3, 4]))
    assert isinstance(got, tg.Tensor) and got.dtype == np.float64 and got.item() == 5.0


# ------------------------------------------------------------------ the edges
def test_operators_never_consult_the_protocols(monkeypatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("a Tensor operator went through NumPy's protocols")
    monkeypatch.setattr(numpy_protocol, "array_ufunc", refuse)
    monkeypatch.setattr(numpy_protocol, "array_function", refuse)
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = tg.tensor([[0.5, 1.0], [1.5, 2.0]], requires_grad=True)
    a = np.ones((2, 2))
    out = x * 2.0 + x + y - x * a + x / y - (-x) ** 2 + x @ y + 2.0 ** x
    out = out.exp().log().sum(axis=0).mean() + (x < y).sum() + x[0].max()
    out.backward()


def test_another_array_library_gets_its_turn() -> None:
    class Other:
        def __array_function__(self, func, types, args, kwargs):
            return NotImplemented

    with pytest.raises(TypeError, match="no implementation found"):
        np.concatenate([tg.tensor([1.0]), Other()])


# ------------------------------------------------------------------------ np.prod
PRODS = [((3, 4), None, False), ((3, 4), 0, True), ((2, 3, 5), (0, 2), False), ((), None, False),
         ((5,), -1, True), ((2, 3), (-1, 0), True), ((7,), 0, False)]


@pytest.mark.parametrize("shape, axis, keepdims", PRODS, ids=[str(p) for p in PRODS])
def test_prod_matches_numpy_with_exact_gradients_at_zeros(shape: tuple, axis: Any,
                                                          keepdims: bool) -> None:
    values = np.linspace(-1.5, 2.0, int(np.prod(shape))).reshape(shape) + 0.25
    if values.size > 2:
        values.flat[1] = 0.0  # the gradient of a product with one zero factor is not 0 / 0
    t = tg.tensor(values, requires_grad=True)
    got = np.prod(t, axis=axis, keepdims=keepdims)
    want = np.prod(values, axis=axis, keepdims=keepdims)
    assert isinstance(got, tg.Tensor) and got.requires_grad and got.shape == want.shape
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-15)
    got.sum().backward()
    # the sum of products is linear in each x_i: its derivative is f(x_i = 1) - f(x_i = 0)
    def with_entry(i: int, v: float) -> float:
        changed = np.where(np.arange(values.size).reshape(shape) == i, v, values)
        return np.prod(changed, axis=axis, keepdims=keepdims).sum()
    others = [with_entry(i, 1.0) - with_entry(i, 0.0) for i in range(values.size)]
    np.testing.assert_allclose(t.grad.data.reshape(-1), others, rtol=1e-12, atol=1e-15)
    assert gradgradcheck(lambda x: np.prod(x, axis=axis, keepdims=keepdims), [t])


def test_prod_edges_empty_integers_float32() -> None:
    empty = tg.tensor(np.zeros((0, 3)), requires_grad=True)
    ones = np.prod(empty, axis=0)
    np.testing.assert_array_equal(ones.data, [1.0, 1.0, 1.0])
    ones.sum().backward()
    assert empty.grad.shape == (0, 3)
    ints = np.prod(tg.tensor([[1, 2], [3, 4]]), axis=1)
    assert isinstance(ints, tg.Tensor) and ints.dtype == np.prod(np.ones(2, int)).dtype
    np.testing.assert_array_equal(ints.data, [2, 12])
    t = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert np.prod(t).dtype == np.float32 and np.prod(t, dtype=np.float64).dtype == np.float64
    with pytest.raises(np.exceptions.AxisError, match="np.prod"):
        np.prod(t, axis=2)


# --------------------------------------------- whole functions written with np.*
X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
LABELS = np.array([1.0, -1.0, -1.0, 1.0])


def logistic_loss_numpy(w: Any) -> Any:
    """L2-regularised logistic loss, as a NumPy user writes it (HIPS autograd style)."""
    margins = LABELS * np.dot(X, w)
    return np.mean(np.log1p(np.exp(-margins))) + 0.1 * np.sum(np.square(w))


def logistic_loss_tg(w: tg.Tensor) -> tg.Tensor:
    margins = (X @ w) * LABELS
    return (-margins).exp().log1p().mean() + (w * w).sum() * 0.1


def mixed_numpy(a: Any, b: Any) -> Any:
    """A bit of everything: broadcasting with ndarrays, joins, einsum, masks, reductions."""
    h = np.tanh(np.matmul(a, b) + X[:2, :2])
    h = np.where(h > 0, h, 0.5 * np.expm1(h))  # an ELU by hand
    joined = np.concatenate([h, np.transpose(a)[:2]], axis=0)
    spread = np.std(joined, axis=0, ddof=1) + np.max(np.abs(joined), axis=1).sum()
    trace = np.einsum("ii->", np.dot(a, np.transpose(a)))
    clipped = np.clip(np.cumsum(np.flip(np.ravel(a))), -1.0, 2.0)
    return (np.sum(spread) + np.sqrt(trace) + np.mean(clipped) + np.prod(np.cos(b) + 2.0)
            + np.linalg.norm(np.maximum(a, b[:, :1].T)))


def test_a_function_written_with_numpy_is_differentiated_by_the_engine() -> None:
    w = tg.tensor([0.5, -0.25, 1.0], dtype=np.float64, requires_grad=True)
    v = tg.tensor([0.5, -0.25, 1.0], dtype=np.float64, requires_grad=True)
    got, want = logistic_loss_numpy(w), logistic_loss_tg(v)
    assert isinstance(got, tg.Tensor)
    np.testing.assert_allclose(got.data, logistic_loss_numpy(w.data), rtol=1e-14)
    np.testing.assert_allclose(got.data, want.data, rtol=1e-14)
    got.backward()
    want.backward()
    np.testing.assert_allclose(w.grad.data, v.grad.data, rtol=1e-14)
    assert gradcheck(logistic_loss_numpy, [w])
    assert gradgradcheck(logistic_loss_numpy, [w])


def test_a_longer_numpy_function_passes_gradcheck_and_gives_numpys_value() -> None:
    a = tg.tensor(np.linspace(-1.0, 1.5, 6).reshape(2, 3), requires_grad=True)
    b = tg.tensor(np.linspace(0.5, -0.75, 6).reshape(3, 2), requires_grad=True)
    got = mixed_numpy(a, b)
    assert isinstance(got, tg.Tensor) and got.requires_grad
    np.testing.assert_allclose(got.data, mixed_numpy(a.data, b.data), rtol=1e-12)
    assert gradcheck(mixed_numpy, [a, b])


def test_tg_func_transforms_take_numpy_written_functions() -> None:
    w = np.array([0.5, -0.25, 1.0])
    g = tg.func.grad(logistic_loss_numpy)(w)
    assert type(g) is np.ndarray
    v = tg.tensor(w, requires_grad=True)
    logistic_loss_tg(v).backward()
    np.testing.assert_allclose(g, v.grad.data, rtol=1e-14)


def test_zero_d_tensors_and_numpy_scalars() -> None:
    x = tg.tensor(2.0, dtype=np.float64, requires_grad=True)
    y = np.exp(x) * np.float64(3.0) + np.add(np.float64(1.0), x) - np.sum(x) + np.max(x)
    assert isinstance(y, tg.Tensor) and y.shape == () and y.dtype == np.float64
    np.testing.assert_allclose(y.data, 3 * np.exp(2.0) + 3.0 + 0.0)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 3 * np.exp(2.0) + 1.0)


def test_scipy_special_ufuncs_with_a_counterpart() -> None:
    special = pytest.importorskip("scipy.special")
    t = tg.tensor([-1.0, 0.25, 2.0], dtype=np.float64, requires_grad=True)
    got = special.erf(t) + special.expit(t)
    assert isinstance(got, tg.Tensor) and got.requires_grad
    np.testing.assert_allclose(got.data, special.erf(t.data) + special.expit(t.data), rtol=1e-12)
    assert gradcheck(lambda x: special.erf(x) * special.expit(x), [t])
    with pytest.raises(TypeError, match=r"^scipy\.special\.gammaln is not differentiable"):
        special.gammaln(t)
    np.testing.assert_array_equal(special.gammaln(t.detach()), special.gammaln(t.data))


# ------------------------------------------ NumPy functions written as composites
RNG = np.random.default_rng(14)
A, B, V = RNG.normal(size=(3, 4)), RNG.normal(size=(2, 4)), RNG.normal(size=4)
COMPOSITES = [
    ("trace", np.trace, [RNG.normal(size=(3, 3))]), ("vdot", np.vdot, [A, A[::-1]]),
    ("inner", np.inner, [A, B]), ("inner_1d", np.inner, [V, V[::-1]]),
    ("vstack", lambda x, y: np.vstack([x, y]), [A, B]),
    ("vstack_1d", lambda x, y: np.vstack([x, y]), [V, V]),
    ("hstack", lambda x, y: np.hstack((x, y)), [A, A]),
    ("hstack_1d", lambda x, y: np.hstack((x, y)), [V, V]),
    ("split", lambda x: np.split(x, 2, axis=1)[1], [A]),
    ("split_indices", lambda x: np.split(x, [1, 3], axis=-1)[1], [A]),
    ("array_split", lambda x: np.array_split(x, 3, axis=1)[0], [A]),
    ("diff", np.diff, [A]), ("diff_n2", lambda x: np.diff(x, n=2, axis=0), [A]),
    ("diff_prepend", lambda x: np.diff(x, prepend=0.0, append=A[:, :1]), [A]),
    ("logaddexp", np.logaddexp, [A, A[::-1] * 40.0]), ("logaddexp_ties", np.logaddexp, [A, A]),
    ("multiply.reduce", np.multiply.reduce, [A]),
    ("multiply.reduce_all", lambda x: np.multiply.reduce(x, axis=None, keepdims=True), [A]),
]


@pytest.mark.parametrize("name, call, values", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composite_numpy_functions_match_numpy_and_gradcheck(name: str, call: Callable,
                                                             values: list) -> None:
    xs = [tg.tensor(v, requires_grad=True) for v in values]
    got, want = call(*xs), call(*values)
    assert isinstance(got, tg.Tensor) and got.requires_grad and got.shape == np.shape(want)
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)
    assert gradcheck(call, xs)


def test_split_returns_tensors_that_share_one_gradient() -> None:
    t = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    left, middle, right = np.split(t, 3, axis=1)
    (left * 1.0 + middle * 2.0 + right * 3.0).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="equal division"):
        np.split(t, 2, axis=1)
