"""Random composite programs (tinygrad_np.testing.strategies.programs): DAGs of several ops
with reused values, broadcasting and constants, checked as a whole -- gradients and
second derivatives against finite differences, values against NumPy, float32 against
float64, and backward twice through a retained graph."""
from __future__ import annotations

import numpy as np
from hypothesis import given

from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import Program, programs


def _weights(shape: tuple) -> np.ndarray:
    """A fixed weighting of a program's output, so that one backward checks every entry."""
    return np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)


@given(programs())
def test_gradients_match_finite_differences(program: Program) -> None:
    assert gradcheck(program, program.tensors())


@given(programs(max_ops=6))
def test_second_derivatives_match_finite_differences(program: Program) -> None:
    assert gradgradcheck(program, program.tensors())


@given(programs())
def test_values_match_numpy(program: Program) -> None:
    out = program(*program.tensors())
    want = program.numpy()
    assert out.shape == want.shape and out.dtype == want.dtype == np.float64
    np.testing.assert_allclose(out.data, want, rtol=1e-7, atol=1e-9)


@given(programs())
def test_float32_inputs_give_float32_values_close_to_float64(program: Program) -> None:
    out32 = program(*program.tensors(np.float32, requires_grad=True))
    out64 = program(*program.tensors())
    assert out32.dtype == np.float32, f"float32 in, {out32.dtype} out"
    np.testing.assert_allclose(out32.data, out64.data, rtol=1e-4,
                               atol=1e-4 * max(1.0, float(np.abs(out64.data).max())))


@given(programs())
def test_backward_twice_through_a_retained_graph_doubles_the_gradients(program: Program) -> None:
    xs = program.tensors()
    out = program(*xs)
    loss = (out * _weights(out.shape)).sum()
    loss.backward(retain_graph=True)
    first = [None if x.grad is None else x.grad.data.copy() for x in xs]
    loss.backward()
    for x, g in zip(xs, first):
        if g is None:
            assert x.grad is None
        else:
            np.testing.assert_allclose(x.grad.data, 2 * g, rtol=1e-12, atol=1e-12)
    assert any(g is not None for g in first) or not out.requires_grad
