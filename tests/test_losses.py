"""Losses: values and gradients against PyTorch's formulas written out in NumPy, float64.

Each reference below is the formula PyTorch's CPU kernels compute (forward and,
where PyTorch fuses it, backward). Gradients are also checked against finite
differences with `tinygrad_np.testing.gradcheck` on hypothesis inputs.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import arrays, shapes

REDUCTIONS = ["mean", "sum", "none"]
TOL = dict(rtol=1e-12, atol=1e-12)


# -------------------------------------------------- references (PyTorch's formulas)
def reduce_ref(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


def reduce_grad(grad_elementwise, reduction):
    """d(reduced loss)/d(elementwise input) for a loss with one term per element."""
    return grad_elementwise / grad_elementwise.size if reduction == "mean" else grad_elementwise


def log_sigmoid(x):
    return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))


def sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def log_softmax_ref(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def bce_ref(x, y):
    with np.errstate(divide="ignore"):
        return (y - 1) * np.maximum(np.log1p(-x), -100) - y * np.maximum(np.log(x), -100)


def bce_grad_ref(x, y):
    return (x - y) / np.maximum((1 - x) * x, 1e-12)


def bce_logits_ref(x, y, pos_weight=None):
    log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
    return (1 - y) * x - log_weight * log_sigmoid(x)


def bce_logits_grad_ref(x, y, pos_weight=None):
    if pos_weight is None:
        return sigmoid(x) - y
    log_weight = 1 + (pos_weight - 1) * y
    return log_weight * sigmoid(x) - pos_weight * y


def nll_ref(logp, target, weight=None, reduction="mean"):
    """-w[t_n] logp[n, t_n]; mean divides by sum of w[t_n] (class axis 1)."""
    n_classes = logp.shape[1]
    w = np.ones(n_classes) if weight is None else weight
    picked = np.take_along_axis(logp, np.expand_dims(target, 1), axis=1).squeeze(1)
    loss = -w[target] * picked
    if reduction == "mean":
        return loss.sum() / w[target].sum()
    return reduce_ref(loss, reduction)


def ce_grad_ref(x, target, reduction):
    p = np.exp(log_softmax_ref(x, 1))
    onehot = np.moveaxis(np.eye(x.shape[1])[target], -1, 1)
    g = p - onehot
    return g / target.size if reduction == "mean" else g


def leaf(array):
    return tg.tensor(np.array(array, dtype=np.float64), requires_grad=True)


def grad_of(loss):
    """Backpropagate sum(loss) (so "none" works too) and return nothing."""
    loss.sum().backward()


# ------------------------------------------------------------ hypothesis inputs
@st.composite
def pairs(draw, x_min=-3.0, x_max=3.0, y_min=-3.0, y_max=3.0):
    shape = draw(shapes(min_dims=0, max_dims=3))
    return (draw(arrays(shape, min_value=x_min, max_value=x_max)),
            draw(arrays(shape, min_value=y_min, max_value=y_max)))


@st.composite
def class_problems(draw, extra_dims=0):
    """(logits (N, C, *d), int targets (N, *d))."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rest = tuple(draw(st.lists(st.integers(1, 3), min_size=extra_dims, max_size=extra_dims)))
    logits = draw(arrays((n, c) + rest))
    target = draw(hnp.arrays(np.int64, (n,) + rest, elements=st.integers(0, c - 1)))
    return logits, target


# ------------------------------------------------------------------- MSE
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pairs())
def test_mse_loss_values_and_gradients(reduction, xy):
    x, y = xy
    xt, yt = leaf(x), leaf(y)
    loss = F.mse_loss(xt, yt, reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce_ref((x - y) ** 2, reduction), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, reduce_grad(2 * (x - y), reduction), **TOL)
    np.testing.assert_allclose(yt.grad.data, -xt.grad.data, **TOL)
    gradcheck(lambda a, b: F.mse_loss(a, b, reduction=reduction), [xt, yt])


# ------------------------------------------------------------------- BCE
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pairs(x_min=0.02, x_max=0.98, y_min=0.0, y_max=1.0))
def test_bce_loss_values_and_gradients(reduction, xy):
    x, y = xy
    xt = leaf(x)
    loss = F.binary_cross_entropy(xt, y, reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce_ref(bce_ref(x, y), reduction), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, reduce_grad(bce_grad_ref(x, y), reduction),
                               rtol=1e-10, atol=1e-12)
    gradcheck(lambda a: F.binary_cross_entropy(a, y, reduction=reduction), [xt])


def test_bce_loss_clamps_its_logs_at_minus_100_like_pytorch():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e-300, 0.5])
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 0.5])
    xt = leaf(x)
    loss = F.binary_cross_entropy(xt, y, reduction="none")
    np.testing.assert_array_equal(loss.data, bce_ref(x, y))
    np.testing.assert_allclose(loss.data, [0, 100, 100, 0, 1e-300, np.log(2)], rtol=1e-15)
    grad_of(loss)
    assert np.all(np.isfinite(xt.grad.data))
    np.testing.assert_array_equal(xt.grad.data, bce_grad_ref(x, y))  # e.g. 1e12 at x=0, y=1
    assert xt.grad.data[1] == -1e12 and xt.grad.data[0] == 0.0


@given(pairs(x_min=0.05, x_max=0.95, y_min=0.01, y_max=0.99), st.floats(0.1, 3.0))
def test_bce_loss_weight_and_target_gradient(xy, w):
    x, y = xy
    xt, yt = leaf(x), leaf(y)
    loss = nn.BCELoss(weight=np.full(x.shape, w), reduction="sum")(xt, yt)
    np.testing.assert_allclose(loss.data, (w * bce_ref(x, y)).sum(), **TOL)
    gradcheck(lambda a, b: F.binary_cross_entropy(a, b, weight=np.full(x.shape, w)), [xt, yt])


# ------------------------------------------------------- BCE with logits
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(pairs(x_min=-30.0, x_max=30.0, y_min=0.0, y_max=1.0))
def test_bce_with_logits_values_and_gradients(reduction, xy):
    x, y = xy
    xt = leaf(x)
    loss = F.binary_cross_entropy_with_logits(xt, y, reduction=reduction)
    np.testing.assert_allclose(loss.data, reduce_ref(bce_logits_ref(x, y), reduction), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, reduce_grad(bce_logits_grad_ref(x, y), reduction),
                               **TOL)
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
              [leaf(np.clip(x, -3, 3)), leaf(y)])


@given(pairs(y_min=0.0, y_max=1.0), st.floats(0.2, 5.0))
def test_bce_with_logits_pos_weight(xy, pos_weight):
    x, y = xy
    xt = leaf(x)
    loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="sum")(xt, y)
    np.testing.assert_allclose(loss.data, bce_logits_ref(x, y, pos_weight).sum(), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, bce_logits_grad_ref(x, y, pos_weight), **TOL)
    gradcheck(lambda a: F.binary_cross_entropy_with_logits(a, y, pos_weight=pos_weight), [xt])


def test_bce_with_logits_extreme_logits_are_finite_and_exact():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0, 745.0, -745.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.5, 0.5])
    xt = leaf(x)
    loss = F.binary_cross_entropy_with_logits(xt, y, reduction="none")
    np.testing.assert_allclose(loss.data, [0, 0, 1000, 1000, np.log(2), 372.5, 372.5], rtol=1e-15)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, [0, 0, 1, -1, 0.2, 0.5, -0.5], rtol=1e-15)
    assert np.all(np.isfinite(loss.data)) and np.all(np.isfinite(xt.grad.data))


# ------------------------------------------------- cross-entropy and NLL
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(class_problems())
def test_cross_entropy_values_and_gradients(reduction, problem):
    x, target = problem
    xt = leaf(x)
    loss = F.cross_entropy(xt, tg.tensor(target), reduction=reduction)
    np.testing.assert_allclose(loss.data, nll_ref(log_softmax_ref(x, 1), target,
                                                  reduction=reduction), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, ce_grad_ref(x, target, reduction), **TOL)
    gradcheck(lambda a: F.cross_entropy(a, target, reduction=reduction), [xt])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(class_problems())
def test_cross_entropy_is_one_node_that_matches_the_composite(dtype, reduction, problem):
    x, target = problem
    fused, composite = (tg.tensor(x.astype(dtype), requires_grad=True) for _ in range(2))
    loss = F.cross_entropy(fused, target, reduction=reduction)
    assert loss.grad_fn.name == "CrossEntropyBackward" and loss.grad_fn.parents == (fused, None)
    want = F.nll_loss(composite.log_softmax(1), target, reduction=reduction)
    assert loss.dtype == want.dtype == dtype
    tol = TOL if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss.data, want.data, **tol)
    loss.backward(retain_graph=True)
    loss.backward()  # twice: the saved arrays are left as they were
    want.backward()
    np.testing.assert_allclose(fused.grad.data, 2 * composite.grad.data, **tol)


@given(class_problems(extra_dims=2))
def test_cross_entropy_with_extra_dimensions(problem):
    x, target = problem
    xt = leaf(x)
    loss = nn.CrossEntropyLoss()(xt, target)
    np.testing.assert_allclose(loss.data, nll_ref(log_softmax_ref(x, 1), target), **TOL)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, ce_grad_ref(x, target, "mean"), **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(class_problems(), st.data())
def test_nll_loss_with_class_weights_values_and_gradients(reduction, problem, data):
    x, target = problem
    weight = data.draw(arrays((x.shape[1],), min_value=0.1, max_value=2.0))
    logp = log_softmax_ref(x, 1)
    xt = leaf(logp)
    loss = F.nll_loss(xt, target, weight=weight, reduction=reduction)
    np.testing.assert_allclose(loss.data, nll_ref(logp, target, weight, reduction), **TOL)
    gradcheck(lambda a: F.nll_loss(a, target, weight=weight, reduction=reduction), [xt])
    module = nn.NLLLoss(weight=weight, reduction=reduction)(logp, target)
    np.testing.assert_allclose(module.data, loss.data, **TOL)
    ce = F.cross_entropy(x, target, weight=weight, reduction=reduction)
    np.testing.assert_allclose(ce.data, loss.data, rtol=1e-12, atol=1e-12)


def test_nll_loss_ignore_index_and_one_dimensional_input():
    logp = log_softmax_ref(np.array([[1.0, 2.0, 3.0], [0.5, 0.1, -1.0], [2.0, 0.0, 1.0]]), 1)
    target = np.array([2, -100, 0])
    loss = F.nll_loss(logp, target)
    np.testing.assert_allclose(loss.item(), -(logp[0, 2] + logp[2, 0]) / 2, rtol=1e-15)
    assert F.nll_loss(logp, target, reduction="none").data[1] == 0.0
    single = F.cross_entropy(tg.tensor([1.0, 2.0, 3.0], dtype=np.float64), np.array(1))
    np.testing.assert_allclose(single.item(), -log_softmax_ref(np.array([1.0, 2, 3]), 0)[1])


def test_cross_entropy_ignore_index_inside_the_class_range():
    logits = leaf([[1.0, 2.0, 3.0], [0.5, 0.1, -1.0], [2.0, 0.0, 1.0]])
    logp = log_softmax_ref(logits.data, 1)
    ignored = F.cross_entropy(logits, np.array([2, 1, 0]), ignore_index=1)  # one target is 1
    np.testing.assert_allclose(ignored.item(), -(logp[0, 2] + logp[2, 0]) / 2, rtol=1e-15)
    assert ignored.grad_fn.name != "CrossEntropyBackward"  # the general path drops it
    absent = F.cross_entropy(logits, np.array([2, 0, 0]), ignore_index=1)  # 0 <= 1 <= 2, unused
    assert absent.grad_fn.name == "CrossEntropyBackward"
    np.testing.assert_allclose(absent.item(), -(logp[0, 2] + logp[1, 0] + logp[2, 0]) / 3,
                               rtol=1e-15)


def test_cross_entropy_extreme_logits_are_finite_and_exact():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [1000.0, 1000.0, -1000.0]])
    target = np.array([1, 2, 0])
    xt = leaf(x)
    loss = F.cross_entropy(xt, target, reduction="none")
    expected = [2000.0, 1 + np.log1p(np.exp(-1.0)), np.log(2.0)]
    np.testing.assert_allclose(loss.data, expected, rtol=1e-15)
    grad_of(loss)
    np.testing.assert_allclose(xt.grad.data, ce_grad_ref(x, target, "none"), rtol=1e-15,
                               atol=1e-300)
    assert np.all(np.isfinite(xt.grad.data))
    np.testing.assert_allclose(xt.grad.data[0], [1, -1, 0], atol=0)


@given(arrays(st.tuples(st.integers(1, 4), st.integers(2, 4))), st.data())
def test_cross_entropy_with_probability_targets(x, data):
    y = data.draw(arrays(x.shape, min_value=0.0, max_value=1.0))
    xt = leaf(x)
    loss = F.cross_entropy(xt, y)
    np.testing.assert_allclose(loss.data, -(y * log_softmax_ref(x, 1)).sum(1).mean(), **TOL)
    gradcheck(lambda a: F.cross_entropy(a, y), [xt])


# --------------------------------------------------------- modules, dtypes
def test_loss_modules_equal_their_functions_and_keep_float32():
    x = tg.tensor([[0.2, -1.0], [3.0, 0.5]])
    p = x.sigmoid()
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    classes = np.array([1, 0])
    cases = [(nn.MSELoss(), F.mse_loss, x), (nn.BCELoss(), F.binary_cross_entropy, p),
             (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits, x)]
    for module, function, inp in cases:
        assert module(inp, y).dtype == np.float32
        np.testing.assert_array_equal(module(inp, y).data, function(inp, y).data)
    assert nn.CrossEntropyLoss()(x, classes).dtype == np.float32
    np.testing.assert_array_equal(nn.CrossEntropyLoss(reduction="sum")(x, classes).data,
                                  F.cross_entropy(x, classes, reduction="sum").data)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("function", [F.mse_loss, F.binary_cross_entropy,
                                      F.binary_cross_entropy_with_logits])
def test_shape_mismatch_names_the_loss_and_both_shapes(function):
    with pytest.raises(ValueError, match=rf"{function.__name__}: input shape \(3, 1\) and "
                                         r"target shape \(3,\) differ"):
        function(tg.full((3, 1), 0.5), np.zeros(3))


@pytest.mark.parametrize("make", [nn.MSELoss, nn.BCELoss, nn.BCEWithLogitsLoss,
                                  nn.CrossEntropyLoss, nn.NLLLoss])
def test_bad_reduction_is_a_clear_error(make):
    with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none', "
                                         r"got 'average'"):
        make(reduction="average")


def test_class_target_errors():
    logits = tg.zeros(2, 3)
    with pytest.raises(TypeError, match=r"cross_entropy: target must hold integer class "
                                        r"indices, got dtype float64; .*astype\(int\)"):
        F.cross_entropy(logits, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"class index 3, outside \[0, 3\)"):
        F.cross_entropy(logits, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"nll_loss: input shape \(2, 3\) and target shape "
                                         r"\(3,\) do not fit"):
        F.nll_loss(logits, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="one entry per class"):
        F.nll_loss(logits, np.array([0, 1]), weight=np.ones(2))


def test_bce_refuses_values_outside_zero_one():
    with pytest.raises(ValueError, match=r"every input element must lie in \[0, 1\], found 1.5"):
        F.binary_cross_entropy(tg.tensor([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="every target element"):
        F.binary_cross_entropy(tg.tensor([0.5, 0.5]), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="every input element must lie in .*found nan"):
        F.binary_cross_entropy(tg.tensor([0.5, np.nan]), np.array([0.0, 1.0]))
    assert F.binary_cross_entropy(tg.zeros(0), np.zeros(0), reduction="sum").item() == 0


# ----------------------------------------------------------- second order
@pytest.mark.parametrize("loss", [
    lambda x, y: F.mse_loss(x, y),
    lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid(), reduction="sum"),
    lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=2.0),
    lambda x, y: F.cross_entropy(x * y, np.zeros(x.shape[0], dtype=np.int64)),
    lambda x, y: F.cross_entropy(x, y.softmax(1)),
    lambda x, y: F.nll_loss(x.log_softmax(1), np.ones(x.shape[0], dtype=np.int64),
                            weight=np.array([1.0, 2.0, 0.5])),
])
@given(arrays((2, 3)), arrays((2, 3)))
def test_losses_are_twice_differentiable(loss, x, y):
    gradgradcheck(loss, [leaf(x), leaf(y)])


def test_bce_with_logits_is_smooth_at_zero():
    x = leaf([0.0, 0.0])
    (g,) = tg.grad(F.binary_cross_entropy_with_logits(x, [0.0, 1.0], reduction="sum"), [x],
                   create_graph=True)
    np.testing.assert_array_equal(g.data, [0.5, -0.5])  # sigmoid(0) - y
    (h,) = tg.grad(g.sum(), [x])
    np.testing.assert_array_equal(h.data, [0.25, 0.25])  # sigmoid'(0)
