"""The testing toolkit itself: gradcheck/gradgradcheck catch wrong derivatives, the
strategies (random programs included) draw what they promise, and the README's
examples run."""
import math
import re
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.testing import GradcheckError, gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import (
    OPS,
    Program,
    arrays,
    axes,
    broadcastable_shapes,
    programs,
    reduction_axes,
    shapes,
    tensors,
)


def f64(values, requires_grad=True) -> tg.Tensor:
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


class WrongSquare(tg.Function):
    """x**2 with a wrong derivative: 3x instead of 2x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return 3 * x * grad_out


class FrozenCube(tg.Function):
    """x**3 whose first derivative is right but built from a plain array, so under
    create_graph it is a constant: the second derivative comes out as zero."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return 3 * np.asarray(x) ** 2 * grad_out


def test_gradcheck_passes_on_correct_functions() -> None:
    a, b = f64([[0.5, -1.0], [2.0, 0.1]]), f64([0.3, 0.7])
    assert gradcheck(lambda a, b: (a @ b).tanh(), [a, b])
    assert gradcheck(lambda a, b: (a * b, (a - b).exp().sum(axis=0)), [a, b])  # two outputs
    assert gradcheck(lambda a, c: a * c, [a, np.full((2, 2), 3.0)])  # a constant input
    assert gradcheck(lambda a, b: a.sum() * b, [a, f64([1.0, 2.0], requires_grad=False)])
    assert gradcheck(lambda b: b.sigmoid(), b) and gradgradcheck(lambda b: b.sigmoid(), b)
    np.testing.assert_array_equal(a.data, [[0.5, -1.0], [2.0, 0.1]])  # inputs untouched
    assert a.grad is None


def test_gradcheck_names_input_element_and_both_values() -> None:
    a, b = f64([1.0, 2.0]), f64([0.0, 2.0])  # at b[0] = 0 the wrong 3x is right (both 0)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: a * WrongSquare.apply(b), [a, b])
    message = str(caught.value)
    assert "input 1" in message and "element (1,)" in message
    found = re.search(r"analytic gradient (\S+) vs numeric (\S+) ", message)
    analytic, numeric = float(found.group(1)), float(found.group(2))
    assert analytic == pytest.approx(1.5 * numeric, rel=1e-6)  # 3x vs 2x
    # 2 * b[1] * a[1] = 8, times a random weight in [0.5, 1.5]
    assert abs(numeric) == pytest.approx(8.0, rel=0.5)
    assert isinstance(caught.value, AssertionError)
    assert gradcheck(lambda a, b: a * WrongSquare.apply(b), [a, b], raise_exception=False) is False


def test_gradcheck_catches_a_broken_graph() -> None:
    x = f64([1.0, 2.0])
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda x: x * x.detach(), [x])


def test_gradcheck_refuses_float32_and_nothing_to_check() -> None:
    x32 = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0.*float32.*float64"):
        gradcheck(lambda x: x * 2, [x32])
    with pytest.raises(TypeError, match="float64"):
        gradgradcheck(lambda x: x * 2, [x32])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, [f64([1.0], requires_grad=False)])


def test_gradgradcheck_catches_a_wrong_second_derivative() -> None:
    x = f64([0.5, -1.5])
    assert gradcheck(FrozenCube.apply, [x])  # first order is right
    with pytest.raises(GradcheckError, match=r"input 0 .*element \(0,\).*analytic gradient 0\.0"):
        gradgradcheck(FrozenCube.apply, [x])
    assert gradgradcheck(FrozenCube.apply, [x], raise_exception=False) is False


def test_gradcheck_of_a_function_that_differentiates_inside_even_under_no_grad() -> None:
    def gradient_penalty(x: tg.Tensor) -> tg.Tensor:
        (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)
        return (g * g).sum()  # sum of 9 x^4

    x = f64([0.5, -1.0])
    with tg.no_grad():
        assert gradcheck(gradient_penalty, [x])
        assert gradgradcheck(gradient_penalty, [x])


def test_gradcheck_tolerances_are_honoured() -> None:
    x = f64([1.0, 2.0])
    assert gradcheck(lambda x: WrongSquare.apply(x), [x], atol=10.0)
    assert not gradcheck(lambda x: WrongSquare.apply(x), [x], rtol=0.4, raise_exception=False)


# -------------------------------------------------------------- the strategies
@given(st.data())
def test_shapes_respect_their_bounds(data: st.DataObject) -> None:
    min_dims = data.draw(st.integers(0, 3))
    max_dims = data.draw(st.integers(min_dims, 4))
    min_side = data.draw(st.integers(0, 3))
    max_side = data.draw(st.integers(max(min_side, 1), 5))
    shape = data.draw(shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple) and min_dims <= len(shape) <= max_dims
    assert all(min_side <= n <= max_side for n in shape)


@given(st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), broadcastable_shapes(n))))
def test_broadcastable_shapes_broadcast(case: tuple) -> None:
    n, drawn = case
    assert len(drawn) == n
    common = np.broadcast_shapes(*drawn)
    assert np.broadcast_to(np.zeros(drawn[0]), common).shape == common


@given(arrays(min_value=-2.0, max_value=5.0, min_magnitude=0.25))
def test_arrays_respect_bounds_and_magnitude(a: np.ndarray) -> None:
    assert a.dtype == np.float64 and np.isfinite(a).all()
    assert ((a >= -2.0) & (a <= 5.0) & (np.abs(a) >= 0.25)).all()


@given(arrays((3, 2), dtype=np.float32, unique=True))
def test_arrays_with_fixed_shape_dtype_and_unique(a: np.ndarray) -> None:
    assert a.shape == (3, 2) and a.dtype == np.float32 and len(np.unique(a)) == a.size


@given(tensors(dtype=np.float32, min_value=0.1))
def test_float32_bounds_that_float32_cannot_hold_are_rounded_inwards(t: tg.Tensor) -> None:
    # 0.1 is not a float32: hypothesis refused it with width=32 before the bounds were rounded
    assert t.dtype == np.float32 and (t.data.astype(np.float64) >= 0.1).all()


@given(arrays((4,), dtype=np.float32, min_value=-0.7, max_value=0.3, min_magnitude=0.1))
def test_float32_max_and_min_magnitude_are_rounded_inwards(a: np.ndarray) -> None:
    wide = a.astype(np.float64)
    assert a.dtype == np.float32 and ((wide >= -0.7) & (wide <= 0.3)).all()
    assert (np.abs(wide) >= 0.1).all()


@given(arrays((3,), dtype=np.float16, min_value=0.1, max_value=0.2))
def test_float16_bounds_are_rounded_too(a: np.ndarray) -> None:
    wide = a.astype(np.float64)
    assert a.dtype == np.float16 and ((wide >= 0.1) & (wide <= 0.2)).all()


def test_bounds_with_no_value_of_the_dtype_between_them_are_refused() -> None:
    with pytest.raises(ValueError, match="no finite float32 value"):
        arrays((2,), dtype=np.float32, min_value=0.1, max_value=0.1).example()


@given(tensors(shape=shapes(1, 2), requires_grad=True, min_value=0.1))
def test_tensors_are_leaves_with_the_requested_options(t: tg.Tensor) -> None:
    assert isinstance(t, tg.Tensor) and t.is_leaf and t.requires_grad
    assert t.dtype == np.float64 and 1 <= t.ndim <= 2 and (t.data >= 0.1).all()


@given(shapes(0, 4).flatmap(lambda s: st.tuples(st.just(s), axes(len(s)))))
def test_axes_are_valid_numpy_axes(case: tuple) -> None:
    shape, axis = case
    ndim = len(shape)
    if isinstance(axis, int):
        assert -ndim <= axis < ndim
    elif isinstance(axis, tuple):
        assert len({a % ndim for a in axis}) == len(axis)
    reduced = np.ones(shape).sum(axis=axis, keepdims=True)
    assert reduced.ndim == ndim
    assert tg.ones(shape).sum(axis=axis, keepdims=True).shape == reduced.shape


@given(st.integers(1, 3).flatmap(lambda n: axes(n, allow_none=False, allow_tuple=False,
                                               allow_negative=False).map(lambda a: (n, a))))
def test_axes_options(case: tuple) -> None:
    ndim, axis = case
    assert isinstance(axis, int) and 0 <= axis < ndim


@given(reduction_axes(3))
def test_reduction_axes_are_keyword_arguments(kwargs: dict) -> None:
    assert set(kwargs) == {"axis", "keepdims"}
    np.ones((2, 3, 4)).sum(**kwargs)


# ------------------------------------------------------------------ programs()
def _step(name: str, *args: tuple, **params: Any) -> Any:
    """A program step by hand: ("v", i) a value, ("c", j) a constant, ("n", x) a number."""
    from tinygrad_np.testing.programs import _Step
    return _Step(next(r for r in OPS if r.name == name), args, params)


def _run_source(program: Program) -> tuple:
    """Execute a program's repr; return its function and inputs."""
    namespace: dict = {"tg": tg, "array": np.array}
    exec(repr(program), namespace)
    return namespace["program"], namespace["inputs"]


@given(programs())
def test_a_program_prints_as_the_python_it_runs(program: Program) -> None:
    text = repr(program)
    n = len(program.inputs)
    assert f"def program({', '.join(f'v{i}' for i in range(n))}):" in text
    lines = [line.strip() for line in program.source.splitlines() if line.startswith("    v")]
    assert len(lines) == len(program.steps) and lines[0].startswith(f"v{n} = ")
    assert "object at 0x" not in text
    fn, inputs = _run_source(program)  # the text alone rebuilds the program and its inputs
    assert len(inputs) == n
    for got, want in zip(inputs, program.inputs):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(fn(*(tg.tensor(x) for x in inputs)).data,
                                  program(*program.tensors()).data)


def test_a_program_repr_reads_like_the_code() -> None:
    program = Program([np.array([0.5, -1.0]), np.array(2.0)], [np.array([[1.0], [0.25]])],
                      [_step("mul", ("v", 0), ("v", 1)), _step("tanh", ("v", 2)),
                       _step("mul", ("c", 0), ("n", -0.5)), _step("mul", ("v", 3), ("v", 4))])
    assert repr(program) == """c0 = array([[1.0], [0.25]])

def program(v0, v1):
    v2 = v0 * v1
    v3 = v2.tanh()
    v4 = c0 * (-0.5)
    v5 = v3 * v4
    return v5

inputs = [array([0.5, -1.0]), array(2.0)]"""
    assert program.steps == ["mul", "tanh", "mul", "mul"]
    want = np.tanh(np.array([0.5, -1.0]) * 2.0) * (np.array([[1.0], [0.25]]) * -0.5)
    np.testing.assert_allclose(program.numpy(), want, rtol=1e-15)
    np.testing.assert_allclose(program(*program.tensors()).data, want, rtol=1e-15)


@given(programs())
def test_programs_compute_finite_bounded_values_in_float64(program: Program) -> None:
    values = program.values()
    assert len(values) == len(program.inputs) + len(program.steps)
    for v in values:
        assert v.dtype == np.float64 and v.size > 0 and np.isfinite(v).all()
        assert np.abs(v).max() <= 100
    out = program(*program.tensors())
    assert out.requires_grad and np.isfinite(out.data).all()


def test_drawing_programs_is_deterministic() -> None:
    """The same hypothesis choices give the same program: no hidden randomness."""
    def draw_some() -> list:
        drawn: list = []

        @settings(derandomize=True, max_examples=20, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(programs())
        def collect(program: Program) -> None:
            drawn.append((repr(program), program(*program.tensors()).data.tobytes()))
        collect()
        return drawn
    first = draw_some()
    assert len(first) >= 10 and first == draw_some()


@given(programs(ops=["tanh", "log", "sum"], min_ops=3, max_ops=5))
def test_programs_use_only_the_ops_asked_for(program: Program) -> None:
    # guards (exp, v * v + 0.5) and branches (folded in by add and mean) need their ops too
    assert set(program.steps) <= {"tanh", "log", "sum"} and 3 <= len(program.steps) <= 5
    assert len(program.inputs) == 1 and not program.constants


@given(programs(ops=["log", "square_plus_half"], max_ops=4))
def test_programs_keep_each_op_in_its_domain(program: Program) -> None:
    values = program.values()
    for k, name in enumerate(program.steps):  # each step here reads the value just before it
        if name == "log":
            assert values[len(program.inputs) + k - 1].min() >= 0.2


@given(programs(ops=["mul", "add", "sub"], constants=False, max_inputs=2))
def test_programs_without_constants(program: Program) -> None:
    assert not program.constants and len(program.inputs) <= 2
    assert not re.search(r"\d\.\d", program.source)  # no Python numbers either


def test_programs_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown ops \\['tahn'\\]"):
        programs(ops=["tahn"])
    with pytest.raises(ValueError, match="min_ops"):
        programs(min_ops=5, max_ops=2)
    with pytest.raises(ValueError, match="max_inputs"):
        programs(max_inputs=0)


def test_float32_tensors_run_the_program_in_float32() -> None:
    program = Program([np.array([0.5, 1.5])], [np.array([2.0, 3.0])],
                      [_step("mul", ("v", 0), ("c", 0)), _step("add", ("v", 1), ("n", 0.25))])
    out = program(*program.tensors(np.float32))
    assert out.dtype == np.float32  # the float64 constant c0 takes the inputs' dtype
    np.testing.assert_array_equal(out.data, np.float32([1.25, 4.75]))
    assert math.isclose(program.numpy()[1], 4.75)


# ------------------------------------------------------------------- the README
README_EXAMPLE = '''
from hypothesis import HealthCheck, given, settings
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import tensors

@given(tensors(requires_grad=True))
def test_softplus(x):
    assert gradcheck(lambda x: (1 + x.exp()).log(), [x])
'''

README_FUNCTION_EXAMPLE = '''
@given(tensors(shape=(3,), requires_grad=True, min_value=0.5))
def test_cube(x):
    assert gradcheck(Cube.apply, [x]) and gradgradcheck(Cube.apply, [x])
'''

README_PROGRAMS_EXAMPLE = '''
from tinygrad_np.testing.strategies import programs

@given(programs())
def test_any_program(program):
    assert gradcheck(program, program.tensors())
'''

CUBE = '''
import tinygrad_np as tg

class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):           # x: numpy arrays
        ctx.save_for_backward(x)
        return x ** 3
    @staticmethod
    def backward(ctx, grad_out):   # return one gradient per input
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * grad_out
'''


def test_the_readme_property_test_examples_run() -> None:
    namespace: dict = {}
    exec(CUBE + README_EXAMPLE + README_FUNCTION_EXAMPLE + README_PROGRAMS_EXAMPLE, namespace)
    namespace["test_softplus"]()
    namespace["test_cube"]()
    namespace["test_any_program"]()


def test_importing_the_package_does_not_import_hypothesis() -> None:
    code = ("import sys, tinygrad_np, tinygrad_np.testing; "
            "assert 'hypothesis' not in sys.modules, 'hypothesis was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_scalar_function_reports_plain_gradient_values():
    class WrongSquare(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * g          # should be 2 * x * g

    x = tg.tensor(np.array([1.0]), requires_grad=True)
    with pytest.raises(AssertionError, match=r"analytic gradient 3\.0 vs numeric 2\.0"):
        gradcheck(lambda x: WrongSquare.apply(x).sum(), [x])
