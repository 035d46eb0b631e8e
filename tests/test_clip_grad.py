"""tg.nn.utils: clip_grad_norm_ and clip_grad_value_ against the formulas, as PyTorch's."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.nn.utils import (clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                  get_total_norm)
from tinygrad_np.testing.strategies import arrays, shapes


def with_grads(grads: list[np.ndarray]) -> list[tg.Tensor]:
    params = []
    for g in grads:
        p = tg.Tensor(np.zeros(g.shape, g.dtype), requires_grad=True)
        p.grad = tg.Tensor(g.copy())
        params.append(p)
    return params


def total_norm_formula(grads: list[np.ndarray], p: float) -> float:
    """The norm of all gradient elements as one vector (for p = 0, PyTorch's norm of the
    per-tensor norms counts the tensors that have a nonzero element)."""
    flat = np.abs(np.concatenate([g.ravel() for g in grads]))
    if p == math.inf:
        return flat.max()
    if p == -math.inf:
        return flat.min()
    if p == 0:
        return float(sum(np.any(g != 0) for g in grads))
    return (flat ** p).sum() ** (1 / p)


GRADS = [np.arange(12.0).reshape(3, 4) - 5.5, np.array([0.0, 3.0, -4.0]), np.array(2.5)]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, 0.5, math.inf, -math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_formula(norm_type: float, max_norm: float) -> None:
    params = with_grads(GRADS)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = total_norm_formula(GRADS, norm_type)
    assert isinstance(total, tg.Tensor) and total.shape == () and total.dtype == np.float64
    np.testing.assert_allclose(total.item(), expected, rtol=1e-14)
    coef = min(max_norm / (total.item() + 1e-6), 1.0)
    for p, g in zip(params, GRADS, strict=True):
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-15)
        if coef == 1.0:
            np.testing.assert_array_equal(p.grad.data, g)  # below max_norm: unchanged
    if coef < 1 and norm_type > 0:
        clipped = total_norm_formula([p.grad.data for p in params], norm_type)
        assert clipped <= max_norm and clipped == pytest.approx(max_norm, rel=1e-5)


def test_by_hand_values() -> None:
    w = tg.Tensor(np.zeros(2), requires_grad=True)
    b = tg.Tensor(np.zeros(1), requires_grad=True)
    w.grad, b.grad = tg.Tensor(np.array([3.0, 0.0])), tg.Tensor(np.array([-4.0]))
    assert clip_grad_norm_([w, b], max_norm=1.0).item() == 5.0
    np.testing.assert_allclose(w.grad.data, [3 / (5 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_allclose(b.grad.data, [-4 / (5 + 1e-6)], rtol=1e-15)
    w.grad = tg.Tensor(np.array([3.0, -7.0]))
    assert clip_grad_norm_(w, max_norm=1.0, norm_type="inf").item() == 7.0  # one Tensor
    np.testing.assert_allclose(w.grad.data, [3 / (7 + 1e-6), -7 / (7 + 1e-6)], rtol=1e-15)


def test_parameters_without_grad_are_skipped_and_generators_work() -> None:
    params = with_grads(GRADS)
    frozen = tg.Tensor(np.ones(3), requires_grad=True)
    total = clip_grad_norm_((p for p in [frozen, *params]), 1.0)
    np.testing.assert_allclose(total.item(), total_norm_formula(GRADS, 2.0), rtol=1e-14)
    assert frozen.grad is None
    empty = clip_grad_norm_([frozen], 1.0)
    assert empty.item() == 0.0 and empty.shape == ()


def test_the_split_pair_equals_clip_grad_norm() -> None:
    a, b = with_grads(GRADS), with_grads(GRADS)
    total = get_total_norm([p.grad for p in a], norm_type=3.0)
    clip_grads_with_norm_(a, 2.0, total)
    assert clip_grad_norm_(b, 2.0, norm_type=3.0).item() == total.item()
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)


def test_gradients_are_scaled_in_place() -> None:
    params = with_grads(GRADS)
    arrays_before = [p.grad.data for p in params]
    clip_grad_norm_(params, 1.0)
    clip_grad_value_(params, 0.1)
    assert all(p.grad.data is a for p, a in zip(params, arrays_before, strict=True))


def test_float32_gradients_stay_float32() -> None:
    grads = [g.astype(np.float32) for g in GRADS]
    params = with_grads(grads)
    total = clip_grad_norm_(params, 1.0)
    assert total.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in params)
    np.testing.assert_allclose(total.item(), total_norm_formula(GRADS, 2.0), rtol=1e-6)
    clip_grad_value_(params, 0.1)
    assert all(p.grad.dtype == np.float32 for p in params)


def test_nonfinite_norm() -> None:
    grads = [np.array([1.0, np.inf]), np.array([2.0])]
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is inf"):
        clip_grad_norm_(with_grads(grads), 1.0, error_if_nonfinite=True)
    params = with_grads(grads)
    assert clip_grad_norm_(params, 1.0).item() == math.inf  # PyTorch's default: scale anyway
    np.testing.assert_array_equal(params[0].grad.data, [0.0, np.nan])
    params = with_grads([np.array([1.0, np.nan])])
    assert math.isnan(clip_grad_norm_(params, 1.0).item())
    assert np.all(np.isnan(params[0].grad.data))


def test_clip_grad_value() -> None:
    params = with_grads(GRADS + [np.array([np.nan, -0.05])])
    assert clip_grad_value_(params, 0.5) is None
    for p, g in zip(params[:-1], GRADS, strict=True):
        np.testing.assert_array_equal(p.grad.data, np.clip(g, -0.5, 0.5))
    np.testing.assert_array_equal(params[-1].grad.data, [np.nan, -0.05])  # NaN stays NaN


def test_create_graph_gradient_is_replaced_not_written() -> None:
    w = tg.Tensor(np.array([3.0, 4.0]), requires_grad=True)
    (w ** 3).sum().backward(create_graph=True)  # w.grad = 3 w^2, part of a graph
    graph_grad = w.grad
    kept = graph_grad.data.copy()
    clip_grad_norm_([w], 1.0)
    assert w.grad is not graph_grad and w.grad.grad_fn is None
    np.testing.assert_array_equal(graph_grad.data, kept)
    np.testing.assert_allclose(np.linalg.norm(w.grad.data), 1.0, rtol=1e-6)


def test_clipping_in_a_training_step() -> None:
    """Gradients from backward(), clipped, then SGD: the formula, written out."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((10, 3)) * 10, rng.standard_normal(10)
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)
    ref = np.zeros(3)
    for _ in range(4):
        opt.zero_grad()
        (((tg.Tensor(X) @ w) - y) ** 2).mean().backward()
        norm = clip_grad_norm_([w], max_norm=1.0)
        opt.step()
        g = 2 / len(y) * X.T @ (X @ ref - y)
        assert norm.item() == pytest.approx(np.linalg.norm(g), rel=1e-12)
        ref = ref - 0.1 * g * min(1.0, 1.0 / (np.linalg.norm(g) + 1e-6))
    np.testing.assert_allclose(w.data, ref, rtol=1e-12)


@given(data=st.data(), norm_type=st.sampled_from([1.0, 2.0, math.inf]),
       max_norm=st.floats(1e-3, 1e3))
def test_clip_grad_norm_property(data: st.DataObject, norm_type: float, max_norm: float) -> None:
    count = data.draw(st.integers(1, 3), label="parameters")
    grads = [data.draw(arrays(data.draw(shapes(max_dims=2, max_side=4))), label=f"grad {i}")
             for i in range(count)]
    params = with_grads(grads)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type).item()
    np.testing.assert_allclose(total, total_norm_formula(grads, norm_type), rtol=1e-12)
    after = total_norm_formula([p.grad.data for p in params], norm_type)
    assert after <= max_norm * (1 + 1e-12) or after == pytest.approx(total, rel=1e-12)
