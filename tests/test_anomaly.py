"""tg.detect_anomaly(): the first op making NaN/inf raises, says where, and can be drawn."""
import inspect
import warnings

import numpy as np
import pytest
from dot_parser import parse

import tinygrad_np as tg
from tinygrad_np import autograd
from tinygrad_np.anomaly import AnomalyError, check_backward

THIS_FILE = __file__


def line_after() -> int:
    """The line number just after the caller's line."""
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        yield


def test_forward_nan_raises_at_the_first_op_naming_it_shapes_and_the_users_line():
    x = tg.tensor([[1.0, -1.0, 2.0]], requires_grad=True)
    with pytest.raises(AnomalyError) as info:
        with tg.detect_anomaly():
            h = x * 2
            line = line_after()
            y = h.log()  # log of a negative: NaN
            (y * 3).sum()  # never reached
    err = info.value
    message = str(err)
    assert message.startswith("Log produced NaN in its forward output")
    assert "input shapes (1, 3)" in message and "its inputs were finite" in message
    assert f"{THIS_FILE}:{line} in test_forward_nan" in message
    assert "y = h.log()" in message  # the source line of the creation traceback
    assert "clip(1e-7, None)" in message  # the usual fix
    assert err.phase == "forward" and err.kind == "NaN"
    assert type(err.node).__name__ == "Log" and err.tensor.grad_fn is err.node
    assert err.node.parents[0] is h.grad_fn  # wired into the graph, so it can be drawn
    assert "y" not in locals()


def test_forward_inf_and_inputs_that_already_hold_nan():
    with pytest.raises(AnomalyError, match=r"Exp produced inf .*\n.*input shapes \(2,\)") as info:
        with tg.detect_anomaly():
            tg.tensor([1.0, 1000.0]).exp()
    assert "exp overflows" in str(info.value)
    with pytest.raises(AnomalyError, match="its input 0 already held NaN"):
        with tg.detect_anomaly():
            tg.tensor([np.nan, 1.0], requires_grad=True) + 1


def test_backward_inf_from_sqrt_at_zero_names_the_op_and_where_it_was_created():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(AnomalyError) as info:
        with tg.detect_anomaly():
            line = line_after()
            root = (x * 1.0).sqrt()
            loss = root.sum()
            loss.backward()
    err = info.value
    message = str(err)
    assert message.startswith("SqrtBackward returned inf in the gradient of its input 0")
    assert "derivative made it" in message and "input shapes (2,)" in message
    assert f"{THIS_FILE}:{line} in test_backward_inf" in message
    assert "(x + 1e-12).sqrt()" in message
    assert err.phase == "backward" and err.kind == "inf" and err.node is root.grad_fn
    assert err.node.anomaly == "backward gradient for input 0 holds inf"
    assert x.grad is None  # nothing was accumulated


def test_composite_ops_report_the_users_line_not_library_internals():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(AnomalyError) as info:
        with tg.detect_anomaly():
            line = line_after()
            x.var(ddof=1)  # a composite written in _tensor.py: 0 * (1 / 0) inside it
    message = str(info.value)
    assert message.startswith("Mul produced NaN in its forward output")
    assert f"{THIS_FILE}:{line}" in message
    assert "tinygrad_np/_tensor.py" not in message.replace("\\", "/")


def test_the_graph_highlights_the_anomalous_op():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError) as info:
        with tg.detect_anomaly():
            loss = (x * 2).sqrt().sum()
            loss.backward()
    dot = parse(tg.viz.draw_graph(loss, highlight=info.value.node).source)
    (marked,) = dot.of_class("highlight")
    assert dot.label(marked)[0] == "SqrtBackward"
    assert "ANOMALY: backward gradient for input 0 holds inf" in dot.label(marked)
    assert dot.nodes[marked]["color"] == "#cc0000"
    assert "created at" in dot.nodes[marked]["tooltip"]
    # the node remembers it was flagged: no highlight= needed
    assert parse(tg.viz.draw_graph(loss).source).of_class("highlight") == [marked]
    # forward anomaly: the error's tensor draws the graph up to the bad op
    with pytest.raises(AnomalyError) as info:
        with tg.detect_anomaly():
            (x - 5).log()
    dot = parse(tg.viz.draw_graph(info.value.tensor).source)
    (marked,) = dot.of_class("highlight")
    assert dot.label(marked)[:2] == ["LogBackward", "(2,) float32"]
    assert "ANOMALY: forward output holds NaN" in dot.label(marked)
    assert {dot.label(n)[0] for n in dot.nodes} == {"leaf", "5", "SubBackward", "LogBackward"}


def test_off_by_default_no_checks_no_tracebacks_and_state_restored():
    assert not tg.is_anomaly_enabled() and check_backward not in autograd._walk_hooks
    x = tg.tensor([-1.0, 0.0], requires_grad=True)
    y = x.log().sum()  # NaN and -inf, silently, like NumPy
    y.backward()
    assert np.isnan(y.item()) and not hasattr(y.grad_fn, "created_at")
    with pytest.raises(AnomalyError):
        with tg.detect_anomaly():
            x.log()
    assert not tg.is_anomaly_enabled() and check_backward not in autograd._walk_hooks
    with tg.detect_anomaly():
        with tg.detect_anomaly():
            pass
        assert tg.is_anomaly_enabled()  # the outer block is still on
    assert not tg.is_anomaly_enabled()


def test_finite_computations_give_the_same_results_inside_and_outside():
    def run():
        tg.manual_seed(3)
        model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.Tanh(), tg.nn.Linear(4, 1))
        loss = model(tg.randn(5, 3)).sigmoid().mean()
        loss.backward()
        return loss.item(), [p.grad.data.copy() for p in model.parameters()]

    plain = run()
    with tg.detect_anomaly():
        checked = run()
    assert plain[0] == checked[0]
    for a, b in zip(plain[1], checked[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_second_order_gradients_are_checked_too():
    x = tg.tensor([1.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        (g,) = tg.grad((x ** 3).sum(), x, create_graph=True)
        (gg,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, 6 * x.data)
    z = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(AnomalyError, match="PowBackward returned inf"):
        with tg.detect_anomaly():
            (g,) = tg.grad((z ** 1.5).sum(), z, create_graph=True)
            (gg,) = tg.grad(g.sum(), z)  # d/dz of 1.5 * z**0.5 is inf at 0
