"""Regression tests for the defects an adversarial pass found in the engine (engine v2 issue).

Each test names its defect; the expected values are PyTorch's (checked with torch 2.13).
"""
from __future__ import annotations

import copy
import gc
import os
import pickle
import stat
import sys
import threading
import warnings
import weakref

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import function
from tinygrad_np.testing import gradcheck, gradgradcheck


def f64(values, requires_grad=True) -> tg.Tensor:
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------- 1. thread-local modes
@pytest.fixture(autouse=True)
def _switch_threads_often():
    """Let the interpreter switch threads every microsecond, so races show up."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _in_thread(fn):
    result, errors = {}, []

    def run():
        try:
            result["value"] = fn()
        except BaseException as error:  # noqa: BLE001 (reported to the test)
            errors.append(error)
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result["value"]


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    entered, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with tg.no_grad():
            entered.set()
            release.wait(10)
    other = threading.Thread(target=hold_no_grad)
    other.start()
    entered.wait(10)
    try:
        x = f64([1.0, 2.0])
        assert tg.is_grad_enabled() and (x * 2).requires_grad
    finally:
        release.set()
        other.join()


def test_a_new_thread_starts_with_grad_on_and_anomaly_off():
    with tg.no_grad(), tg.detect_anomaly():
        assert _in_thread(lambda: (tg.is_grad_enabled(), tg.is_anomaly_enabled())) == (True, False)
        assert not tg.is_grad_enabled() and tg.is_anomaly_enabled()


def test_detect_anomaly_in_one_thread_does_not_raise_in_another():
    x = f64([-1.0])
    with tg.detect_anomaly():
        value = _in_thread(lambda: x.log().data)  # NaN, silently, like NumPy
    assert np.isnan(value).all()


def test_interleaved_no_grad_in_threads_leaves_every_thread_recording():
    barrier = threading.Barrier(4)

    def churn():
        for _ in range(200):
            barrier.wait(10) if _ % 50 == 0 else None
            with tg.no_grad():
                pass
        return tg.is_grad_enabled()
    results = []
    threads = [threading.Thread(target=lambda: results.append(churn())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4 and tg.is_grad_enabled()


def test_threads_training_their_own_models_get_the_single_thread_result():
    def train(seed: int) -> np.ndarray:
        tg.manual_seed(seed)  # the global generator is shared: build the data here, seeded
        rng = np.random.default_rng(seed)
        w = tg.tensor(rng.standard_normal((4, 1)), requires_grad=True)
        x, y = rng.standard_normal((32, 4)), rng.standard_normal((32, 1))
        for _ in range(50):
            loss = ((tg.tensor(x) @ w - y) ** 2).mean()
            w.grad = None
            loss.backward()
            with tg.no_grad():
                w -= 0.05 * w.grad
        return w.data
    expected = [train(seed) for seed in range(4)]
    got: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda s=s: got.__setitem__(s, train(s))) for s in range(4)]
    assert len(expected) == 4
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        np.testing.assert_array_equal(got[seed], expected[seed])


def test_set_grad_enabled_is_a_function_a_context_manager_and_a_decorator():
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()

    @tg.set_grad_enabled(False)
    def frozen(x):
        return x * 2
    assert tg.is_grad_enabled()  # decorating does not switch anything
    assert not frozen(f64([1.0])).requires_grad and tg.is_grad_enabled()


# ----------------------------------------------------- 2. std of constant data
def test_std_of_constant_data_has_zero_gradient():
    x = tg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    ((x - x.mean()) / (x.std() + 1e-5)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
    y = f64([[1.0, 1.0], [1.0, 3.0]])
    y.std(axis=1, ddof=1).sum().backward()
    np.testing.assert_allclose(y.grad.data, [[0.0, 0.0], [-1 / np.sqrt(2), 1 / np.sqrt(2)]])


def test_std_behind_an_unselected_where_branch_gives_no_nan():
    x = f64([3.0, 3.0])
    tg.where(np.array([False, True]), x.std(), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_std_is_right_to_second_order_away_from_zero():
    x = f64([0.5, -1.0, 2.0, 0.25])
    assert gradcheck(lambda x: x.std(), [x]) and gradgradcheck(lambda x: x.std(ddof=1), [x])


# ------------------------------------------- 3. create_graph, then a plain backward
def test_create_graph_then_plain_backward_accumulates_once_per_leaf():
    a, b = f64([1.0, 2.0]), f64([3.0, 4.0])
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(b.grad.data, [2.0, 2.0])


def test_a_read_only_create_graph_gradient_takes_a_later_backward():
    x = f64([1.0, 2.0])
    x.sum().backward(create_graph=True)  # sum's gradient is a broadcast (read-only) view
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


# ------------------------------------------------------- 4. tuple indices repeat
@pytest.mark.parametrize("index, expected", [
    ((slice(None), (0, 0)), [[2.0, 0.0], [2.0, 0.0]]),
    (((1, 1), slice(None)), [[0.0, 0.0], [2.0, 2.0]]),
    (((0, 1, 1), (1, 0, 0)), [[0.0, 1.0], [2.0, 0.0]]),
])
def test_repeated_indices_written_as_tuples_add_up(index, expected):
    x = f64([[1.0, 2.0], [3.0, 4.0]])
    x[index].sum().backward()
    np.testing.assert_array_equal(x.grad.data, expected)


# --------------------------------------------------- 5. assigning a recorded value
def test_assigning_a_recorded_value_into_a_plain_tensor_records_it():
    w = f64([1.0, 2.0])
    buf = tg.zeros(3, dtype=np.float64)
    buf[0:2] = w * 3
    assert buf.requires_grad and not buf.is_leaf
    (buf * f64([1.0, 10.0, 100.0], requires_grad=False)).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 30.0])
    np.testing.assert_array_equal(buf.data, [3.0, 6.0, 0.0])


def test_assignment_into_a_recorded_tensor_stops_the_overwritten_gradient():
    x = f64([1.0, 2.0, 3.0])
    y = x * 2
    y[1] = 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 2.0])
    assert gradcheck(lambda x: _overwrite(x), [f64([0.5, 1.5, -2.0])])
    assert gradgradcheck(lambda x: _overwrite(x), [f64([0.5, 1.5, -2.0])])


def _overwrite(x: tg.Tensor) -> tg.Tensor:
    y = x * x
    y[0:2] = x[1:] * 3  # a broadcasting-free recorded value
    return y


def test_assignment_into_a_leaf_that_requires_grad_is_refused():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        x[0] = 5.0
    with tg.no_grad():
        x[0] = 5.0  # allowed, as in PyTorch
    assert x.data[0] == 5.0


# --------------------------------------------------- 6. masks never make inf * 0
def test_masked_rules_turn_an_incoming_inf_into_zero_not_nan():
    x = f64([-1.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # sqrt'(0) = inf, as NumPy warns
        x.relu().sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.25])
    for make in (lambda x: x.clip(0.0, 10.0), lambda x: tg.where(x.data > 0, x, 0.0),
                 lambda x: tg.maximum(x, 0.0), lambda x: -tg.minimum(-x, 0.0)):
        x = f64([-1.0, 4.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            make(x).sqrt().sum().backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.25])


def test_masked_rules_are_exact_on_large_arrays_too():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((300, 200)), requires_grad=True)
    g = rng.standard_normal((300, 200))
    g[0, :] = np.inf
    x.relu().backward(g)
    want = np.where(x.data > 0, g, 0.0)
    np.testing.assert_array_equal(x.grad.data, want)


# ------------------------------------------------------------- 7. powers at 0
def test_powers_at_base_zero_follow_pytorch():
    x = f64([0.0, 1.0])
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x = f64([0.0])
    (g,) = tg.grad((x ** 1).sum(), x, create_graph=True)
    assert tg.grad(g.sum(), x)[0].item() == 0.0
    (g,) = tg.grad((x ** 2).sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x, create_graph=True)
    assert tg.grad(h.sum(), x)[0].item() == 0.0
    a, b = f64([0.0]), f64([0.0])
    (a ** b).sum().backward()
    assert a.grad.item() == 0.0 and b.grad.item() == 0.0


def test_pow_with_a_tensor_exponent_keeps_its_mixed_second_derivative():
    a, b = f64([1.5, 0.5]), f64([0.0, 2.0])
    assert gradgradcheck(lambda a, b: a ** b, [a, b])


# ------------------------------------------- 8. user Functions free what they saved
class _Saves(tg.Function):
    @staticmethod
    def forward(ctx, x):
        big = np.full(1000, 2.0)
        ctx.save_for_backward(big)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        (big,) = ctx.saved_tensors
        return g * big[0]


def test_a_user_function_frees_what_it_saved_after_backward():
    x = f64([1.0, 2.0])
    y = _Saves.apply(x)
    kept = weakref.ref(y.grad_fn.saved_tensors[0])
    y.sum().backward()
    gc.collect()
    assert kept() is None and y is not None  # the output lives, the saved array is gone
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.grad_fn.saved_tensors  # noqa: B018


def test_a_user_function_keeps_what_it_saved_with_retain_graph():
    x = f64([1.0, 2.0])
    y = _Saves.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])


# --------------------------------------------------- 11. retain_grad after +=
def test_retain_grad_survives_an_in_place_update():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    y += 1
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [6.0, 10.0])


# ----------------------------------------------------------- 12. float32 leaks
def test_a_number_raised_to_a_float32_tensor_keeps_float32_gradients():
    u = tg.tensor([0.5, 1.0], dtype=np.float32, requires_grad=True)
    h = u * 3
    h.retain_grad()
    (2.0 ** h).sum().backward()
    assert h.grad.dtype == np.float32 and u.grad.dtype == np.float32


def test_in_place_add_of_a_float64_tensor_keeps_float32():
    a = tg.zeros(2, dtype=np.float32)
    w = f64([1.0, 2.0])
    a += w
    assert a.dtype == np.float32 and a.requires_grad
    a.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])
    assert w.grad.dtype == np.float64


# ------------------------------------------------- 13. deepcopy / pickle of graphs
def _long_chain() -> tg.Tensor:
    y = f64([1.0])
    for _ in range(500):
        y = y * 1.001
    return y


def test_pickling_a_non_leaf_drops_its_graph_without_recursion():
    y = _long_chain()
    back = pickle.loads(pickle.dumps(y))
    assert back.is_leaf and back.requires_grad and back.grad_fn is None
    np.testing.assert_array_equal(back.data, y.data)


def test_deep_copying_a_non_leaf_is_refused_clearly():
    with pytest.raises(RuntimeError, match="only tensors created by the user"):
        copy.deepcopy(_long_chain())


def test_deep_copy_and_pickle_of_leaves_and_parameters():
    p = tg.nn.Parameter(np.arange(3.0))
    p.grad = tg.tensor([1.0, 1.0, 1.0])
    p.name = "w"
    twin = copy.deepcopy(p)
    assert type(twin) is tg.nn.Parameter and twin.name == "w" and twin.requires_grad
    assert twin.data is not p.data and twin.grad is not p.grad
    np.testing.assert_array_equal(twin.grad.data, p.grad.data)
    back = pickle.loads(pickle.dumps(p))
    assert type(back) is tg.nn.Parameter and back.grad is None  # as PyTorch: no grad
    model = copy.deepcopy(tg.nn.Linear(2, 3))
    assert len(list(model.parameters())) == 2


# ------------------------------------------------------------ 14. axis -1 of 0-d
def test_reductions_of_a_0d_tensor_accept_axis_minus_one():
    t = tg.tensor(1.5, requires_grad=True)
    assert t.sum(-1).item() == 1.5 and t.sum(0).item() == 1.5 and t.mean(axis=-1).item() == 1.5
    with pytest.raises(np.exceptions.AxisError, match="shape"):
        t.sum(1)


# ------------------------------------------------------- 16. NaN/inf corners
def test_every_target_ignored_gives_nan_loss_and_zero_gradients():
    for loss_fn in (tg.nn.functional.cross_entropy, tg.nn.functional.nll_loss):
        x = f64([[1.0, 2.0], [3.0, 4.0]])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no 0/0 warning either
            loss = loss_fn(x, np.array([-100, -100]))
            loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad.data, np.zeros((2, 2)))


def test_nan_in_maximum_and_minimum_sends_the_gradient_to_both():
    for fn in (tg.maximum, tg.minimum):
        a, b = f64([np.nan, 1.0]), f64([1.0, np.nan])
        fn(a, b).sum().backward()
        np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
        np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_relu_passes_the_gradient_of_a_nan_like_pytorch():
    x = f64([np.nan, -1.0, 2.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 1.0])


# ------------------------------------------- 17. keeps_output/keeps_inputs, every path
@pytest.mark.parametrize("keeps_output", [True, False])
@pytest.mark.parametrize("keeps_inputs", [True, False])
@pytest.mark.parametrize("anomaly", [False, True])
def test_every_combination_of_saved_flags_works_on_every_path(keeps_output, keeps_inputs,
                                                              anomaly):
    class Twice(function.Function):
        ufunc = None

        def forward(self, a, b=None):
            return a * 2 if b is None else a * 2 + b

        def backward(self, g):
            return (g * 2,) if self.parent1 is function.ONE_INPUT else (g * 2, g)
    Twice.keeps_output, Twice.keeps_inputs = keeps_output, keeps_inputs
    Twice.keeps_all = keeps_output and keeps_inputs
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    with tg.detect_anomaly() if anomaly else tg.enable_grad():
        outs = [function.apply_unary(Twice, x), function.apply_binary(Twice, x, y),
                Twice.apply(x, b=y)]
        for out in outs:
            node = out.grad_fn
            assert (node.saved[0] is out.data) == keeps_output
            assert (node.saved[1] is x.data) == keeps_inputs
            assert function.output_spec(node) == ((2,), np.float64)
            out.sum().backward()
            assert function.output_spec(node) == ((2,), np.float64)
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_weights_file_save_keeps_mode(tmp_path):
    """10. (more in test_serialization.py)"""
    path = tmp_path / "w.npz"
    path.write_bytes(b"")
    os.chmod(path, 0o600)
    tg.save({"w": np.zeros(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
