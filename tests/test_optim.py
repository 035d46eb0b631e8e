"""tg.optim: SGD and Adam trajectories against their update formulas, state dicts, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np.optim import SGD, Adam
from tinygrad_np.testing.strategies import arrays, shapes

STEPS = 6


def make_params(seed: int = 0) -> list[tg.Tensor]:
    rng = np.random.default_rng(seed)
    return [tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True),
            tg.Tensor(rng.standard_normal(4), requires_grad=True)]


def grad_sequence(params: list[tg.Tensor], steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    """Fixed gradients per step, so the test checks the optimizer alone."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(p.shape) for p in params] for _ in range(steps)]


def run(opt: tg.optim.Optimizer, params: list[tg.Tensor], grads: list) -> list[list[np.ndarray]]:
    """Apply the optimizer to given gradients; return the parameters after every step."""
    trajectory = []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = tg.Tensor(g)
        opt.step()
        trajectory.append([p.data.copy() for p in params])
    return trajectory


# ---------------------------------------------------------------- formulas
def sgd_formula(p0: np.ndarray, grads: list[np.ndarray], lr: float, momentum: float = 0.0,
                dampening: float = 0.0, weight_decay: float = 0.0,
                nesterov: bool = False) -> list[np.ndarray]:
    """PyTorch's SGD, written out: the first step's buffer is the raw gradient."""
    p, buf, out = p0.copy(), None, []
    for g in grads:
        d = g + weight_decay * p
        if momentum != 0:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def adam_formula(p0: np.ndarray, grads: list[np.ndarray], lr: float, betas: tuple,
                 eps: float, weight_decay: float = 0.0) -> list[np.ndarray]:
    """Adam as in Kingma & Ba with PyTorch's eps placement and L2 decay added to the gradient."""
    beta1, beta2 = betas
    p, m, v, out = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        p = p - lr * m_hat / denom
        out.append(p)
    return out


SGD_CONFIGS = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.05, momentum=0.9),
    "dampening": dict(lr=0.05, momentum=0.9, dampening=0.3),
    "nesterov": dict(lr=0.05, momentum=0.8, nesterov=True),
    "weight_decay": dict(lr=0.1, weight_decay=0.01),
    "everything": dict(lr=0.03, momentum=0.7, dampening=0.2, weight_decay=0.05),
    "nesterov_decay": dict(lr=0.03, momentum=0.5, nesterov=True, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(SGD_CONFIGS))
def test_sgd_trajectory_matches_formula(name: str) -> None:
    config = SGD_CONFIGS[name]
    params = make_params()
    starts = [p.data.copy() for p in params]
    grads = grad_sequence(params, STEPS)
    trajectory = run(SGD(params, **config), params, grads)
    for k, p0 in enumerate(starts):
        expected = sgd_formula(p0, [g[k] for g in grads], **config)
        for step in range(STEPS):
            np.testing.assert_allclose(trajectory[step][k], expected[step], rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam_trajectory_matches_formula(weight_decay: float) -> None:
    params = make_params()
    starts = [p.data.copy() for p in params]
    grads = grad_sequence(params, STEPS)
    config = dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=weight_decay)
    trajectory = run(Adam(params, **config), params, grads)
    for k, p0 in enumerate(starts):
        expected = adam_formula(p0, [g[k] for g in grads], **config)
        for step in range(STEPS):
            np.testing.assert_allclose(trajectory[step][k], expected[step], rtol=1e-13, atol=1e-15)


def test_adam_small_beta1_uses_the_other_lerp_branch() -> None:
    params = make_params()
    starts = [p.data.copy() for p in params]
    grads = grad_sequence(params, STEPS)
    trajectory = run(Adam(params, lr=0.1, betas=(0.3, 0.5)), params, grads)
    expected = adam_formula(starts[0], [g[0] for g in grads], 0.1, (0.3, 0.5), 1e-8)
    np.testing.assert_allclose(trajectory[-1][0], expected[-1], rtol=1e-13, atol=1e-15)


def _draw_problem(data: st.DataObject, steps: int = 4) -> tuple[np.ndarray, list[np.ndarray]]:
    """A starting parameter and a gradient per step, drawn with our own strategies."""
    shape = data.draw(shapes(min_dims=1, max_dims=2, max_side=4), label="shape")
    start = data.draw(arrays(shape), label="start")
    grads = [data.draw(arrays(shape), label=f"grad {t}") for t in range(steps)]
    return start, grads


@given(data=st.data(), lr=st.floats(1e-4, 1.0), momentum=st.floats(0.0, 0.99),
       dampening=st.floats(0.0, 1.0), weight_decay=st.floats(0.0, 0.5),
       nesterov=st.booleans())
def test_sgd_trajectory_property(data: st.DataObject, lr: float, momentum: float,
                                 dampening: float, weight_decay: float, nesterov: bool) -> None:
    start, grads = _draw_problem(data)
    if nesterov and momentum > 0:
        dampening = 0.0
    else:
        nesterov = False
    config = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                  nesterov=nesterov)
    w = tg.Tensor(start.copy(), requires_grad=True)
    trajectory = run(SGD([w], **config), [w], [[g] for g in grads])
    expected = sgd_formula(start, grads, **config)
    for got, want in zip(trajectory, expected, strict=True):
        np.testing.assert_allclose(got[0], want, rtol=1e-12, atol=1e-12)


# PyTorch's lerp computes beta1 back as 1 - (1 - beta1), which for beta1 ~ 1e-7 is off by
# ~1e-9 relative; divided by eps that shows. Real betas are 0 or far from 0.
@given(data=st.data(), lr=st.floats(1e-4, 0.5),
       beta1=st.one_of(st.just(0.0), st.floats(0.01, 0.99)), beta2=st.floats(0.0, 0.999),
       eps=st.floats(1e-10, 1e-2), weight_decay=st.floats(0.0, 0.5))
def test_adam_trajectory_property(data: st.DataObject, lr: float, beta1: float, beta2: float,
                                  eps: float, weight_decay: float) -> None:
    start, grads = _draw_problem(data)
    config = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    w = tg.Tensor(start.copy(), requires_grad=True)
    trajectory = run(Adam([w], **config), [w], [[g] for g in grads])
    expected = adam_formula(start, grads, **config)
    for got, want in zip(trajectory, expected, strict=True):
        np.testing.assert_allclose(got[0], want, rtol=1e-10, atol=1e-12)


def test_adam_first_step_is_lr_times_normalised_gradient() -> None:
    # m_hat = g and sqrt(v_hat) = |g| on step 1, so the move is lr * g / (|g| + eps).
    w = tg.Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    w.grad = tg.Tensor(np.array([3.0, -0.5, 1e-8]))
    Adam([w], lr=0.1, eps=1e-8).step()
    g = np.array([3.0, -0.5, 1e-8])
    np.testing.assert_allclose(w.data, [1.0, -2.0, 0.5] - 0.1 * g / (np.abs(g) + 1e-8),
                               rtol=1e-12)
    np.testing.assert_allclose(w.data, [0.9, -1.9, 0.45], rtol=1e-8)  # eps only matters for tiny g


def test_sgd_by_hand_values() -> None:
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = SGD([w], lr=0.5, momentum=0.5, dampening=0.5)
    w.grad = tg.Tensor(np.array([1.0, -1.0]))
    opt.step()  # buf = g = [1, -1] (no dampening on step 1); w = [0.5, 2.5]
    np.testing.assert_array_equal(w.data, [0.5, 2.5])
    opt.step()  # buf = 0.5 * buf + 0.5 * g = [1, -1]; w = [0, 3]
    np.testing.assert_array_equal(w.data, [0.0, 3.0])
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], [1.0, -1.0])


def test_training_with_backward_matches_formula() -> None:
    """Gradients from the autograd walk: least squares, SGD with Nesterov momentum."""
    rng = np.random.default_rng(7)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9, nesterov=True)
    ref, buf = np.zeros(3), None
    for _ in range(STEPS):
        opt.zero_grad()
        (((tg.Tensor(X) @ w) - y) ** 2).mean().backward()
        opt.step()
        g = 2 / len(y) * X.T @ (X @ ref - y)
        buf = g.copy() if buf is None else 0.9 * buf + g
        ref = ref - 0.1 * (g + 0.9 * buf)
    np.testing.assert_allclose(w.data, ref, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- behaviour
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: Adam(ps, lr=0.1)])
def test_parameter_without_grad_is_skipped(make) -> None:
    params = make_params()
    frozen = params[1].data.copy()
    opt = make(params)
    params[0].grad = tg.Tensor(np.ones(params[0].shape))
    opt.step()
    opt.step()
    np.testing.assert_array_equal(params[1].data, frozen)
    assert params[1] not in opt.state or not opt.state[params[1]]
    assert 1 not in opt.state_dict()["state"]
    if isinstance(opt, Adam):
        # a parameter counts its own steps: the one that joins late starts at 1
        params[1].grad = tg.Tensor(np.ones(params[1].shape))
        opt.step()
        assert opt.state[params[0]]["step"] == 3 and opt.state[params[1]]["step"] == 1


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: Adam(ps, lr=0.1, weight_decay=0.1)])
def test_step_updates_data_in_place_and_leaves_grad_alone(make) -> None:
    params = make_params()
    opt = make(params)
    arrays = [p.data for p in params]
    grads = [tg.Tensor(np.full(p.shape, 0.5)) for p in params]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    opt.step()
    for p, array, g in zip(params, arrays, grads, strict=True):
        assert p.data is array                     # updated in place
        assert p.grad is g and np.all(g.data == 0.5)  # the gradient is read, never written
        assert p.is_leaf and p.requires_grad and p.grad_fn is None
    for p in params:
        p.grad.data[...] = 7.0                     # the state holds no alias of the grad
    buffers = [v for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray)]
    assert buffers and all(not np.any(b == 7.0) for b in buffers)


def test_float32_parameters_stay_float32() -> None:
    w = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    for opt in (SGD([w], lr=0.1, momentum=0.9), Adam([w], lr=0.1)):
        w.grad = tg.Tensor(np.ones(3, dtype=np.float32))
        opt.step()
        assert w.data.dtype == np.float32
        assert all(v.dtype == np.float32 for v in opt.state[w].values()
                   if isinstance(v, np.ndarray))


def test_zero_grad() -> None:
    params = make_params()
    opt = SGD(params, lr=0.1)
    for p in params:
        p.grad = tg.Tensor(np.ones(p.shape))
    kept = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is kept and np.all(kept.data == 0)
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.zero_grad()  # no grads at all: nothing to do, no error


def test_param_groups_have_their_own_options() -> None:
    a, b = make_params()
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1, momentum=0.5)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    assert opt.param_groups[1]["momentum"] == 0.5
    a0, b0 = a.data.copy(), b.data.copy()
    a.grad, b.grad = tg.Tensor(np.ones(a.shape)), tg.Tensor(np.ones(b.shape))
    opt.step()
    np.testing.assert_allclose(a.data, a0 - 0.1)
    np.testing.assert_allclose(b.data, b0 - 1.0)
    opt.param_groups[0]["lr"] = 0.0  # a schedule edits the group, as in PyTorch
    opt.step()
    np.testing.assert_allclose(a.data, a0 - 0.1)
    c = tg.Tensor(np.zeros(2), requires_grad=True)
    opt.add_param_group({"params": c, "lr": 0.2})
    assert opt.param_groups[2]["params"] == [c] and opt.param_groups[2]["momentum"] == 0.5


def test_closure_is_evaluated_and_returned() -> None:
    w = tg.Tensor(np.array([2.0]), requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():  # the closure still records its graph
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_array_equal(w.data, [1.0])


# ---------------------------------------------------------------- state dicts
def assert_same_trajectory(got: list, expected: list) -> None:
    """Bit-for-bit equal parameters at every step."""
    assert len(got) == len(expected)
    for got_step, expected_step in zip(got, expected, strict=True):
        for a, b in zip(got_step, expected_step, strict=True):
            np.testing.assert_array_equal(a, b)


def _trained(make, seed: int = 0):
    params = make_params(seed)
    opt = make(params)
    run(opt, params, grad_sequence(params, 3))
    return params, opt


MAKERS = {
    "sgd": lambda ps: SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "nesterov": lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_dict_round_trip_continues_the_trajectory(name: str) -> None:
    make = MAKERS[name]
    params, opt = _trained(make)
    saved = opt.state_dict()
    clones = [tg.Tensor(p.data.copy(), requires_grad=True) for p in params]
    fresh = make(clones)
    fresh.param_groups[0]["lr"] = 123.0  # overwritten by the load
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    more = grad_sequence(params, 4, seed=9)
    assert_same_trajectory(run(fresh, clones, more), run(opt, params, more))


def test_state_dict_layout_and_snapshot() -> None:
    params, opt = _trained(MAKERS["adam"])
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sd["param_groups"] == [{"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-8,
                                   "weight_decay": 0.1, "amsgrad": False, "params": [0, 1]}]
    assert sorted(sd["state"]) == [0, 1]
    assert sd["state"][0]["step"] == 3
    assert sorted(sd["state"][1]) == ["exp_avg", "exp_avg_sq", "step"]
    before = sd["state"][0]["exp_avg"].copy()
    run(opt, params, grad_sequence(params, 1, seed=2))
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)  # a copy, not live state
    sgd_sd = SGD(make_params(), lr=0.1).state_dict()
    assert sgd_sd["param_groups"][0]["params"] == [0, 1] and sgd_sd["state"] == {}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_dict_round_trip_through_a_weights_file(name: str, tmp_path) -> None:
    make = MAKERS[name]
    params, opt = _trained(make)
    path = tmp_path / "opt.npz"
    tg.save(opt.state_dict(), path)
    clones = [tg.Tensor(p.data.copy(), requires_grad=True) for p in params]
    fresh = make(clones)
    fresh.load_state_dict(tg.load(path))
    more = grad_sequence(params, 4, seed=9)
    assert_same_trajectory(run(fresh, clones, more), run(opt, params, more))


def test_checkpoint_of_model_and_optimizer_resumes_training_exactly(tmp_path) -> None:
    """One file holding both state dicts; the resumed run equals the uninterrupted one."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))

    def make(seed: int):
        tg.manual_seed(seed)
        model = tg.nn.Sequential(tg.nn.Linear(3, 4, dtype=np.float64), tg.nn.Tanh(),
                                 tg.nn.Linear(4, 1, dtype=np.float64))
        return model, Adam(model.parameters(), lr=0.05, weight_decay=0.01)

    def train(model, opt, steps: int) -> None:
        for _ in range(steps):
            opt.zero_grad()
            tg.nn.MSELoss()(model(tg.Tensor(X)), tg.Tensor(y)).backward()
            opt.step()

    model, opt = make(0)
    train(model, opt, 3)
    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ck.npz")
    train(model, opt, 4)

    resumed, resumed_opt = make(1)  # different initial weights, overwritten by the load
    checkpoint = tg.load(tmp_path / "ck.npz")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_opt, 4)
    for (name, a), (_, b) in zip(model.named_parameters(), resumed.named_parameters(),
                                 strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def _broken(sd: dict, how: str) -> dict:
    sd = {"state": {k: dict(v) for k, v in sd["state"].items()},
          "param_groups": [dict(g) for g in sd["param_groups"]]}
    if how == "groups":
        sd["param_groups"].append(dict(sd["param_groups"][0]))
    elif how == "count":
        sd["param_groups"][0]["params"] = [0]
    elif how == "shape":
        sd["state"][0]["exp_avg"] = np.zeros((4, 3))
    elif how == "key":
        del sd["state"][1]["exp_avg_sq"]
    elif how == "index":
        sd["state"][5] = sd["state"].pop(1)
    elif how == "option":
        sd["param_groups"][0]["momentum"] = 0.9
    elif how == "value":
        sd["param_groups"][0]["betas"] = (0.9, 1.5)
    elif how == "layout":
        sd = {"state": sd["state"]}
    return sd


@pytest.mark.parametrize("how, message", [
    ("groups", "2 param groups"), ("count", "has 1 parameters"), ("shape", "shape (4, 3)"),
    ("key", "expected ['exp_avg', 'exp_avg_sq', 'step']"), ("index", "state for parameter 5"),
    ("option", "different optimizer"), ("value", "beta parameter at index 1"),
    ("layout", "keys 'state' and 'param_groups'")])
def test_bad_state_dict_is_refused_and_changes_nothing(how: str, message: str) -> None:
    params, opt = _trained(MAKERS["adam"])
    good = opt.state_dict()
    target_params, target = _trained(MAKERS["adam"], seed=1)
    before = target.state_dict()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        target.load_state_dict(_broken(good, how))
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for k in before["state"]:
        for key, value in before["state"][k].items():
            np.testing.assert_array_equal(after["state"][k][key], value)


def test_sgd_state_refused_by_adam() -> None:
    _, sgd = _trained(MAKERS["sgd"])
    _, adam = _trained(MAKERS["adam"])
    with pytest.raises(ValueError, match="different optimizer"):
        adam.load_state_dict(sgd.state_dict())


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("build, error, message", [
    (lambda p: SGD(p, lr=-0.1), ValueError, "invalid learning rate"),
    (lambda p: SGD(p, lr=0.1, momentum=-1), ValueError, "invalid momentum"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-1), ValueError, "invalid weight_decay"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening = 0"),
    (lambda p: Adam(p, lr=-1e-3), ValueError, "invalid learning rate"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), ValueError, "beta parameter at index 0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
    (lambda p: Adam(p, betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda p: Adam(p, eps=-1e-8), ValueError, "invalid eps"),
    (lambda p: Adam(p, weight_decay=-0.1), ValueError, "invalid weight_decay"),
    (lambda p: Adam([{"params": p, "momentum": 0.9}]), ValueError, "unknown option"),
    (lambda p: SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda p: Adam(iter([])), ValueError, "empty parameter list"),
    (lambda p: SGD([np.zeros(3)], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda p: SGD(p + [1.0], lr=0.1), TypeError, "parameter 2 is a float"),
    (lambda p: SGD(p[0], lr=0.1), TypeError, "wrap it in a list"),
    (lambda p: SGD([p[0], p[0]], lr=0.1), ValueError, "more than once"),
    (lambda p: SGD([p[0] * 2], lr=0.1), ValueError, "non-leaf"),
])
def test_constructor_errors(build, error, message) -> None:
    with pytest.raises(error, match=message):
        build(make_params())
