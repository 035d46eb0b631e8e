"""tg.optim.lr_scheduler: PyTorch's values step by step, closed forms, state dicts, errors.

The constants below were printed by PyTorch 2.13 (optimizer lr 0.1, or as noted) and are
compared with `==`: the schedules follow PyTorch's recursive arithmetic to the last bit.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np.optim import SGD, Adam, RMSprop
from tinygrad_np.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR,
                                            LRScheduler, MultiStepLR, OneCycleLR, StepLR)

TORCH_STEP = [0.1, 0.1, 0.1, 0.03, 0.03, 0.03, 0.009, 0.009, 0.009, 0.0026999999999999997]
TORCH_MULTISTEP = [0.1, 0.1, 0.05, 0.05, 0.05, 0.0125, 0.0125, 0.0125, 0.00625, 0.00625]
TORCH_EXPONENTIAL = [
    0.1, 0.09000000000000001, 0.08100000000000002, 0.07290000000000002, 0.06561000000000002,
    0.05904900000000002, 0.05314410000000002, 0.04782969000000002, 0.043046721000000024,
    0.03874204890000002, 0.03486784401000002, 0.03138105960900001]
TORCH_COSINE = [  # T_max=6, eta_min=0.001: down, up again (period 12), down
    0.1, 0.09336825748732973, 0.07525000000000001, 0.0505, 0.025750000000000012,
    0.007631742512670284, 0.001, 0.007631742512670284, 0.025750000000000002,
    0.05050000000000004, 0.07525000000000008, 0.0933682574873298, 0.1000000000000001,
    0.09336825748732981, 0.07525000000000011, 0.050500000000000114, 0.025750000000000068,
    0.007631742512670285, 0.001, 0.007631742512670284]
TORCH_ONECYCLE_LR = [  # SGD(momentum=0.9), max_lr=1.0, total_steps=10; the last is step 10
    0.040000000000000036, 0.52, 1.0, 0.9504846320134737, 0.8117456539497631,
    0.6112620219362893, 0.38874197806371075, 0.18825834605023697, 0.049519367986526286,
    4e-06, 0.04951936798652623]
TORCH_ONECYCLE_MOMENTUM = [
    0.95, 0.8999999999999999, 0.85, 0.854951556604879, 0.8688255099070633, 0.8888739533021842,
    0.9111260466978157, 0.9311744900929366, 0.945048443395121, 0.95, 0.945048443395121]
TORCH_ONECYCLE3_LR = [  # Adam(lr=1e-3), max_lr=0.01, total_steps=12, three_phase, linear,
    0.0004, 0.005200000000000001, 0.01, 0.0052, 0.0003999999999999993,  # pct_start=0.25
    0.00034286285714285716, 0.0002857257142857143, 0.00022858857142857143,
    0.00017145142857142857, 0.00011431428571428569, 5.7177142857142834e-05,
    3.999999999997929e-08, -5.7097142857142876e-05]
TORCH_ONECYCLE3_BETA1 = [0.95, 0.8999999999999999, 0.85, 0.8999999999999999] + [0.95] * 9


def sgd(lr: float = 0.1, groups: int = 1, **options) -> SGD:
    params = [tg.Tensor(np.zeros(2), requires_grad=True) for _ in range(groups)]
    if groups == 1:
        return SGD(params, lr=lr, **options)
    return SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], lr=lr,
               **options)


def schedule(opt: tg.optim.Optimizer, scheduler: LRScheduler, n: int) -> list[list[float]]:
    """The lrs of n epochs: each read before its optimizer.step(), then scheduler.step()."""
    lrs = []
    for epoch in range(n):
        lrs.append(scheduler.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]
        if epoch < n - 1:
            opt.step()
            scheduler.step()
    return lrs


def first_group(lrs: list[list[float]]) -> list[float]:
    return [lr[0] for lr in lrs]


# ---------------------------------------------------------------- PyTorch's values
@pytest.mark.parametrize("make, expected", [
    (lambda o: StepLR(o, step_size=3, gamma=0.3), TORCH_STEP),
    (lambda o: MultiStepLR(o, milestones=[2, 5, 5, 8], gamma=0.5), TORCH_MULTISTEP),
    (lambda o: ExponentialLR(o, gamma=0.9), TORCH_EXPONENTIAL),
    (lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.001), TORCH_COSINE),
], ids=["step", "multistep", "exponential", "cosine"])
def test_values_equal_pytorch_bit_for_bit(make, expected: list[float]) -> None:
    opt = sgd()
    assert first_group(schedule(opt, make(opt), len(expected))) == expected


def test_one_cycle_equals_pytorch_with_sgd_momentum() -> None:
    opt = sgd(momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lrs, momenta = [], []
    for step in range(11):
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
        if step < 10:
            opt.step()
            scheduler.step()
    assert lrs == TORCH_ONECYCLE_LR and momenta == TORCH_ONECYCLE_MOMENTUM
    with pytest.raises(ValueError, match="tried to step 11 times, but total_steps is 10"):
        scheduler.step()


def test_three_phase_linear_one_cycle_equals_pytorch_with_adam_betas() -> None:
    opt = Adam([tg.Tensor(np.zeros(2), requires_grad=True)], lr=1e-3, betas=(0.9, 0.98))
    scheduler = OneCycleLR(opt, max_lr=0.01, total_steps=12, three_phase=True,
                           anneal_strategy="linear", pct_start=0.25)
    lrs, beta1s = [], []
    for step in range(13):
        lrs.append(scheduler.get_last_lr()[0])
        beta1s.append(opt.param_groups[0]["betas"][0])
        assert opt.param_groups[0]["betas"][1] == 0.98  # beta2 is never touched
        if step < 12:
            opt.step()
            scheduler.step()
    assert lrs == TORCH_ONECYCLE3_LR and beta1s == TORCH_ONECYCLE3_BETA1


# ---------------------------------------------------------------- closed forms
def test_recursive_values_agree_with_the_closed_forms() -> None:
    epochs = np.arange(40)
    closed = {
        "step": 0.1 * 0.3 ** (epochs // 3),
        "multistep": 0.1 * 0.5 ** np.searchsorted([2, 5, 5, 8], epochs, side="right"),
        "exponential": 0.1 * 0.9 ** epochs,
        "cosine": 0.001 + (0.1 - 0.001) * (1 + np.cos(np.pi * epochs / 6)) / 2,
    }
    makers = {"step": lambda o: StepLR(o, 3, gamma=0.3),
              "multistep": lambda o: MultiStepLR(o, [2, 5, 5, 8], gamma=0.5),
              "exponential": lambda o: ExponentialLR(o, 0.9),
              "cosine": lambda o: CosineAnnealingLR(o, 6, eta_min=0.001)}
    for name, make in makers.items():
        opt = sgd()
        got = first_group(schedule(opt, make(opt), len(epochs)))
        np.testing.assert_allclose(got, closed[name], rtol=1e-13, atol=1e-17, err_msg=name)


@pytest.mark.parametrize("make, formula", [
    (lambda o: StepLR(o, 3, gamma=0.3), lambda e: 0.1 * 0.3 ** (e // 3)),
    (lambda o: MultiStepLR(o, [2, 5, 5, 8], gamma=0.5),
     lambda e: 0.1 * 0.5 ** sum(m <= e for m in [2, 5, 5, 8])),
    (lambda o: ExponentialLR(o, 0.9), lambda e: 0.1 * 0.9 ** e),
    (lambda o: CosineAnnealingLR(o, 6, eta_min=0.001),
     lambda e: 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 6)) / 2),
    (lambda o: LambdaLR(o, lambda e: 1 / (e + 1)), lambda e: 0.1 * (1 / (e + 1))),
], ids=["step", "multistep", "exponential", "cosine", "lambda"])
def test_step_to_an_epoch_uses_the_closed_form(make, formula) -> None:
    opt = sgd()
    scheduler = make(opt)
    for epoch in (7, 3, 12, 0, 9):
        scheduler.step(epoch)
        assert scheduler.last_epoch == epoch
        assert scheduler.get_last_lr() == [formula(epoch)] == [opt.param_groups[0]["lr"]]
    scheduler.step()  # and on from there recursively
    assert scheduler.last_epoch == 10


def test_lambda_lr_one_function_per_group() -> None:
    opt = sgd(groups=2)
    scheduler = LambdaLR(opt, [lambda e: e // 2, lambda e: 0.5 ** e])
    lrs = schedule(opt, scheduler, 6)
    assert lrs == [[0.1 * (e // 2), 0.2 * 0.5 ** e] for e in range(6)]


def test_schedules_act_on_every_group_from_its_own_lr() -> None:
    opt = sgd(groups=2)
    lrs = schedule(opt, CosineAnnealingLR(opt, T_max=4), 5)
    np.testing.assert_allclose([lr[1] for lr in lrs], [2 * lr[0] for lr in lrs], rtol=1e-15)
    assert lrs[0] == [0.1, 0.2] and lrs[-1] == [0.0, 0.0]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.2]


def test_schedules_compose_with_outside_changes_to_lr() -> None:
    """Recursive schedules start from the group's current lr, as in PyTorch."""
    opt = sgd()
    scheduler = ExponentialLR(opt, gamma=0.5)
    opt.param_groups[0]["lr"] = 1.0
    scheduler.step()
    assert scheduler.get_last_lr() == [0.5]


def test_one_cycle_shape_and_group_options() -> None:
    opt = sgd(groups=2, momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=[1.0, 2.0], epochs=4, steps_per_epoch=5, pct_start=0.25,
                           div_factor=10.0, final_div_factor=100.0, base_momentum=0.8,
                           max_momentum=0.9)
    assert scheduler.total_steps == 20
    group = opt.param_groups[1]
    assert (group["initial_lr"], group["max_lr"], group["min_lr"]) == (0.2, 2.0, 0.2 / 100.0)
    assert (group["max_momentum"], group["base_momentum"]) == (0.9, 0.8)
    lrs = [lr[1] for lr in schedule(opt, scheduler, 20)]
    peak = 0.25 * 20 - 1
    assert int(np.argmax(lrs)) == peak and lrs[4] == 2.0
    assert opt.param_groups[1]["momentum"] == 0.9  # back at max_momentum at the end
    np.testing.assert_allclose(lrs[0], 0.2, rtol=1e-15)
    np.testing.assert_allclose(lrs[-1], 0.002, rtol=1e-12)
    # cosine annealing between the phase ends
    for step in (1, 2, 3):
        np.testing.assert_allclose(lrs[step], 2.0 + (0.2 - 2.0) / 2 * (1 + math.cos(
            math.pi * step / peak)), rtol=1e-14)
    for step in (7, 12, 18):
        pct = (step - peak) / (19 - peak)
        np.testing.assert_allclose(lrs[step], 0.002 + (2.0 - 0.002) / 2 * (1 + math.cos(
            math.pi * pct)), rtol=1e-14)


def test_one_cycle_without_momentum_cycling() -> None:
    opt = RMSprop([tg.Tensor(np.zeros(2), requires_grad=True)], momentum=0.3)
    scheduler = OneCycleLR(opt, max_lr=0.1, total_steps=8, cycle_momentum=False)
    schedule(opt, scheduler, 8)
    assert opt.param_groups[0]["momentum"] == 0.3
    assert "max_momentum" not in opt.param_groups[0]
    with_cycle = RMSprop([tg.Tensor(np.zeros(2), requires_grad=True)])
    OneCycleLR(with_cycle, max_lr=0.1, total_steps=8)  # RMSprop's momentum cycles, as torch
    assert with_cycle.param_groups[0]["momentum"] == 0.95


def test_scheduler_changes_the_training_step() -> None:
    """The optimizer uses the lr the scheduler set: SGD steps shrink with StepLR."""
    w = tg.Tensor(np.array([0.0]), requires_grad=True)
    opt = SGD([w], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(4):
        w.grad = tg.Tensor(np.array([-1.0]))
        opt.step()
        scheduler.step()
    assert w.data[0] == 1.0 + 0.5 + 0.25 + 0.125


def test_stepping_the_scheduler_first_skips_the_first_value() -> None:
    """PyTorch's documented pitfall (it warns; tinygrad_np stays silent): step() before the
    first optimizer.step() moves on, so the optimizer never uses the first lr."""
    opt = sgd()
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()
    assert opt.param_groups[0]["lr"] == 0.05


def test_get_last_lr_is_a_copy() -> None:
    opt = sgd()
    scheduler = StepLR(opt, 2)
    scheduler.get_last_lr()[0] = 5.0
    assert scheduler.get_last_lr() == [0.1] and opt.param_groups[0]["lr"] == 0.1


# ---------------------------------------------------------------- state dicts
TORCH_KEYS = {  # what PyTorch's state_dict() holds, key for key
    "step": ["step_size", "gamma"], "multistep": ["milestones", "gamma"], "exponential": ["gamma"],
    "cosine": ["T_max", "eta_min"], "lambda": ["lr_lambdas"],
    "onecycle": ["total_steps", "_schedule_phases", "_anneal_func_type", "cycle_momentum",
                 "use_beta1"],
}
BASE_KEYS = ["base_lrs", "last_epoch", "_step_count", "_is_initial", "_get_lr_called_within_step",
             "_last_lr"]


class Warmup:
    """A callable object: its attributes travel in LambdaLR's state dict."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def __call__(self, epoch: int) -> float:
        return min(1.0, (epoch + 1) / self.steps)


SCHEDULERS = {
    "step": lambda o: StepLR(o, step_size=3, gamma=0.3),
    "multistep": lambda o: MultiStepLR(o, milestones=[2, 5, 5, 8], gamma=0.5),
    "exponential": lambda o: ExponentialLR(o, gamma=0.9),
    "cosine": lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.001),
    "lambda": lambda o: LambdaLR(o, [Warmup(5), lambda e: 0.9 ** e]),
    "onecycle": lambda o: OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=30),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_has_pytorchs_keys_and_is_a_snapshot(name: str) -> None:
    opt = sgd(groups=2, momentum=0.9)
    scheduler = SCHEDULERS[name](opt)
    schedule(opt, scheduler, 3)
    sd = scheduler.state_dict()
    assert sorted(sd) == sorted(TORCH_KEYS[name] + BASE_KEYS)
    assert sd["last_epoch"] == 2 and sd["_step_count"] == 3 and len(sd["base_lrs"]) == 2
    sd["base_lrs"][0] = 123.0
    assert scheduler.base_lrs[0] != 123.0
    if name == "lambda":
        assert sd["lr_lambdas"] == [{"steps": 5}, None]  # a plain lambda's state is not saved


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_checkpoint_mid_run_resumes_bit_for_bit(name: str, tmp_path) -> None:
    """Model, optimizer and scheduler saved with tg.save; the resumed run equals the
    uninterrupted one, parameters and learning rates alike."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))

    def make(seed: int):
        tg.manual_seed(seed)
        model = tg.nn.Sequential(tg.nn.Linear(3, 4, dtype=np.float64), tg.nn.Tanh(),
                                 tg.nn.Linear(4, 1, dtype=np.float64))
        params = list(model.parameters())
        opt = SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.05}], lr=0.1,
                  momentum=0.9)
        return model, opt, SCHEDULERS[name](opt)

    def train(model, opt, scheduler, steps: int) -> list[list[float]]:
        lrs = []
        for _ in range(steps):
            opt.zero_grad()
            loss = tg.nn.MSELoss()(model(tg.Tensor(X)), tg.Tensor(y))
            loss.backward()
            tg.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
            opt.step()
            scheduler.step()
            lrs.append(scheduler.get_last_lr())
        return lrs

    model, opt, scheduler = make(0)
    train(model, opt, scheduler, 4)
    tg.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": scheduler.state_dict()}, tmp_path / "ck.npz")
    expected_lrs = train(model, opt, scheduler, 5)

    resumed, resumed_opt, resumed_scheduler = make(1)  # overwritten by the load
    checkpoint = tg.load(tmp_path / "ck.npz")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed_scheduler.load_state_dict(checkpoint["scheduler"])
    assert train(resumed, resumed_opt, resumed_scheduler, 5) == expected_lrs
    for (key, a), (_, b) in zip(model.named_parameters(), resumed.named_parameters(),
                                strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=key)
    assert resumed_opt.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"]


def test_checkpoint_at_the_end_of_a_linear_one_cycle_loads(tmp_path) -> None:
    """Stepped to total_steps, PyTorch's linear OneCycleLR leaves lr below 0 (extrapolated);
    the optimizer's state dict still loads, as in PyTorch."""
    opt = sgd(momentum=0.9)
    scheduler = OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="linear")
    schedule(opt, scheduler, 11)
    assert scheduler.get_last_lr()[0] < 0
    tg.save(opt.state_dict(), tmp_path / "opt.npz")
    fresh = sgd(momentum=0.9)
    fresh.load_state_dict(tg.load(tmp_path / "opt.npz"))
    assert fresh.param_groups[0]["lr"] == scheduler.get_last_lr()[0]
    with pytest.raises(ValueError, match="invalid learning rate"):
        SGD(fresh.param_groups[0]["params"], lr=-0.1)  # without a scheduler it stays an error


def test_lambda_state_restores_callable_objects() -> None:
    opt = sgd()
    warmup = Warmup(4)
    scheduler = LambdaLR(opt, warmup)
    sd = scheduler.state_dict()
    sd["lr_lambdas"] = [{"steps": 10}]
    other = Warmup(2)
    LambdaLR(sgd(), other).load_state_dict(sd)
    assert other.steps == 10 and sd["lr_lambdas"] == [{"steps": 10}]


def test_constructing_with_last_epoch_resumes_the_schedule() -> None:
    opt = sgd()
    scheduler = ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        scheduler.step()
    again = ExponentialLR(opt, gamma=0.5, last_epoch=3)  # groups keep initial_lr
    assert again.base_lrs == [0.1] and again.last_epoch == 4
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        StepLR(sgd(), step_size=2, last_epoch=3)


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd.pop("gamma"), "different scheduler"),
    (lambda sd: sd.update(T_max=3), "different scheduler"),
    (lambda sd: sd.update(base_lrs=[0.1, 0.2]), "'base_lrs' has 2 values"),
])
def test_bad_state_dict_is_refused(change, message: str) -> None:
    opt = sgd()
    scheduler = StepLR(opt, 2)
    sd = scheduler.state_dict()
    change(sd)
    with pytest.raises(ValueError, match=message):
        StepLR(sgd(), 2).load_state_dict(sd)


# ---------------------------------------------------------------- errors
class Plain(tg.optim.Optimizer):
    """An optimizer with neither momentum nor betas."""

    def __init__(self, params) -> None:
        super().__init__(params, {"lr": 0.1})


@pytest.mark.parametrize("build, error, message", [
    (lambda o: StepLR(o, step_size=0), ValueError, "step_size must be a positive integer"),
    (lambda o: CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a positive integer"),
    (lambda o: LambdaLR(o, [lambda e: 1.0] * 2), ValueError, "expected 1 lr_lambdas"),
    (lambda o: LambdaLR(o, 0.5), TypeError, "not a function of the epoch"),
    (lambda o: OneCycleLR(o, max_lr=1.0), ValueError, "give total_steps"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "total_steps must be"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ValueError,
     "pct_start must be a number in"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be 'cos' or 'linear'"),
    (lambda o: OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10), ValueError,
     "one value per param group"),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=0.1), ValueError,
     "phase 0 of the schedule has no steps"),
    (lambda o: OneCycleLR(Plain(o.param_groups[0]["params"]), max_lr=1.0, total_steps=10),
     ValueError, "neither; pass cycle_momentum=False"),
    (lambda o: StepLR("sgd", 2), TypeError, "schedules a tg.optim optimizer, got str"),
])
def test_constructor_errors(build, error, message: str) -> None:
    with pytest.raises(error, match=message):
        build(sgd())
