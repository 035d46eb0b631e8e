"""tg.compile: a replayed step equals eager mode, re-records when it must, refuses what it
cannot replay, and check=True names the first step that differs."""
import threading

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F

OPTIMIZERS = {
    "sgd": lambda p: tg.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda p: tg.optim.Adam(p, lr=0.01),
    "adamw": lambda p: tg.optim.AdamW(p, lr=0.01, amsgrad=True),
    "rmsprop": lambda p: tg.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
}
MIDDLES = {
    "plain": lambda: [],
    "dropout": lambda: [nn.Dropout(0.3)],
    "batchnorm": lambda: [nn.BatchNorm1d(16)],
    "layernorm-gelu": lambda: [nn.LayerNorm(16), nn.GELU(), nn.Tanh()],
}


def train(optimizer: str, middle: str, compiled: bool, steps: int = 12, dtype=np.float64):
    """Losses, state_dict and optimizer state after `steps` steps of a small classifier."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), *MIDDLES[middle](), nn.Linear(16, 3))
    model.to(dtype)
    opt = OPTIMIZERS[optimizer](model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    run = tg.compile(step) if compiled else step
    rng = np.random.default_rng(1)
    tg.manual_seed(5)  # the dropout masks
    losses = [run(tg.tensor(rng.standard_normal((8, 5)).astype(dtype)),
                  tg.tensor(rng.integers(0, 3, 8))) for _ in range(steps)]
    return losses, model.state_dict(), opt.state_dict(), run


@pytest.mark.parametrize("middle", sorted(MIDDLES))
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_compiled_training_equals_eager(optimizer, middle):
    eager_losses, eager_model, eager_opt, _ = train(optimizer, middle, compiled=False)
    losses, model, opt, run = train(optimizer, middle, compiled=True)
    assert run.recordings == 1
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    assert len(set(losses)) > 1  # .item() gives each replay's value, not the recorded one
    assert model.keys() == eager_model.keys()
    for name in model:
        np.testing.assert_allclose(model[name], eager_model[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)
    for got, want in zip(opt["state"].values(), eager_opt["state"].values()):
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12, atol=1e-15)


def test_float32_stays_float32():
    losses, model, _, _ = train("adam", "layernorm-gelu", compiled=True, dtype=np.float32)
    eager_losses, eager_model, _, _ = train("adam", "layernorm-gelu", compiled=False,
                                            dtype=np.float32)
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-6)
    assert all(v.dtype == np.float32 for k, v in model.items() if "num_batches" not in k)


def test_returned_tensors_are_not_overwritten_and_ndarrays_work():
    w = tg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    predict = tg.compile(lambda x: (x @ w).tanh())
    first = predict(np.ones((4, 3)))
    second = predict(np.full((4, 3), 0.5))
    assert isinstance(first, tg.Tensor) and first.grad_fn is None
    np.testing.assert_allclose(first.data, np.tanh(np.ones((4, 3)) @ w.data))
    np.testing.assert_allclose(second.data, np.tanh(np.full((4, 3), 0.5) @ w.data))


def test_new_shapes_record_again_and_the_cache_is_bounded():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    f = tg.compile(lambda x: (x * w).sum().item())
    for n in (1, 2, 3, 1, 2):
        assert f(np.ones((n, 2))) == pytest.approx(3.0 * n)
    assert f.recordings == 3
    for n in range(4, 20):
        f(np.ones((n, 2)))
    assert len(f.plans) <= 8
    assert f(np.ones((2, 2), np.float32)) == pytest.approx(6.0)  # a new dtype: a new plan
    assert f.recordings == 3 + 16 + 1


def test_train_eval_and_grad_mode_choose_the_recording():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    f = tg.compile(lambda x: model(x))
    x = np.ones((3, 4))
    train_out = f(x).data
    model.eval()
    eval_out = f(x).data
    np.testing.assert_allclose(eval_out, model(tg.tensor(x)).data)
    assert f.recordings == 2 and not np.allclose(train_out, eval_out)
    with tg.no_grad():
        f(x)
    assert f.recordings == 3


def test_a_replaced_parameter_records_again():
    lin = nn.Linear(2, 1)
    f = tg.compile(lambda x: lin(x))
    f(np.ones((1, 2)))
    lin.weight.data = np.full((1, 2), 3.0)  # a new array object: the plan's guard fails
    lin.bias.data[...] = 0.0                # in place: the plan reads it live
    np.testing.assert_allclose(f(np.ones((1, 2))).data, [[6.0]])
    assert f.recordings == 2


def test_check_passes_for_a_faithful_step_and_keeps_eager_results():
    _, eager_model, _, _ = train("sgd", "dropout", compiled=False, steps=4)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))
    model.to(np.float64)
    opt = OPTIMIZERS["sgd"](model.parameters())

    @tg.compile(check=True)
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    rng = np.random.default_rng(1)
    tg.manual_seed(5)
    for _ in range(4):
        step(tg.tensor(rng.standard_normal((8, 5))), tg.tensor(rng.integers(0, 3, 8)))
    for name, value in model.state_dict().items():
        np.testing.assert_allclose(value, eager_model[name], rtol=1e-12, err_msg=name)


def test_check_names_frozen_control_flow():
    w = tg.tensor([1.0], requires_grad=True)

    def f(x):
        y = x * w
        if y.sum().item() > 0:  # a Python branch on a value: frozen at recording
            return (y * 2).sum()
        return (y - 5).sum()

    checked = tg.compile(f, check=True)
    checked(np.ones(3))
    with pytest.raises(tg.CompileError, match="step .*frozen at recording"):
        checked(-np.ones(3))
    unchecked = tg.compile(f)
    unchecked(np.ones(3))
    assert unchecked(-np.ones(3)).item() == -6.0  # the recorded branch, as documented


def test_check_names_a_value_the_plan_cannot_see():
    scale = np.ones(1)
    counter = [1.0]

    def f(x):
        counter[0] += 1  # Python state: read at recording, frozen in the plan
        return tg.tensor(x) * scale * counter[0]

    checked = tg.compile(f, check=True)
    checked(np.ones(2))
    with pytest.raises(tg.CompileError, match="differs between the replay and eager"):
        checked(np.ones(2))


@pytest.mark.parametrize("case", ["create_graph", "walk hook", "tg.grad", "closure"])
def test_unsupported_situations_are_refused_at_recording(case):
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.SGD([w], lr=0.1)

    def f(x):
        loss = (x * w * w).sum()
        if case == "create_graph":
            loss.backward(create_graph=True)
        elif case == "walk hook":
            h = x * w
            h.retain_grad()
            h.sum().backward()
        elif case == "tg.grad":
            tg.grad(loss, [w])
        else:
            opt.step(lambda: loss)
        return loss

    message = {"create_graph": r"create_graph=True\) inside tg.compile",
               "walk hook": "retain_grad", "tg.grad": "tg.grad inside a compiled function",
               "closure": "closure"}[case]
    with pytest.raises((tg.CompileError, TypeError), match=message):
        tg.compile(f)(tg.tensor([1.0, 1.0]))


def test_compiled_steps_in_threads_leave_other_threads_eager():
    w = tg.tensor([2.0], requires_grad=True)
    f = tg.compile(lambda x: (x * w).sum().item())
    errors = []

    def eager():
        for _ in range(200):
            t = tg.tensor([3.0], requires_grad=True)
            (t * t).sum().backward()
            if t.grad is None or t.grad.item() != 6.0 or isinstance(t.data, np.ndarray) \
                    and type(t.data) is not np.ndarray:
                errors.append("eager thread saw tracing")

    thread = threading.Thread(target=eager)
    thread.start()
    for i in range(200):
        assert f(np.full(1, float(i))) == 2.0 * i
    thread.join()
    assert not errors


def test_plan_source_is_readable():
    w = tg.tensor([[1.0, 2.0]], requires_grad=True)
    f = tg.compile(lambda x: (x @ w).relu().sum().item())
    f(np.ones((3, 1)))
    source = next(iter(f.plans.values())).source
    assert source.startswith("def replay(") and "MatMul forward: np.matmul" in source


def test_docstring_example_runs():
    import doctest

    from tinygrad_np import compiler
    failures, tried = doctest.testmod(compiler, verbose=False)
    assert tried > 0 and failures == 0
# ---- tg.compile: returned values and replay hazards (benchmarks branch)
def test_grad_of_a_leaf_made_inside_is_each_calls_own():
    def f(x0):
        x = tg.tensor(x0, requires_grad=True)
        (x * x * 3.0).tanh().sum().backward()
        return x.grad.data

    compiled = tg.compile(f)
    inputs = [np.linspace(-1, 1, 4) * k for k in (1.0, 0.5, 2.0)]
    got = [compiled(a) for a in inputs]
    assert compiled.recordings == 1
    for a, g in zip(inputs, got):  # earlier results are not overwritten by later calls
        np.testing.assert_allclose(g, f(a), rtol=1e-12)


def _paired(build, steps: int = 4):
    """Eager and compiled runs of the step build() makes: (results, state) of each."""
    runs = []
    for compiled in (False, True):
        step, state, after = build()
        run = tg.compile(step) if compiled else step
        results = []
        for k in range(1, steps + 1):
            results.append(run(np.full((3, 2), float(k))))
            after(k)
        runs.append((results, state()))
    return runs


@pytest.mark.parametrize("case", ["shared gradient", "zero_grad to zeros", "momentum later",
                                  "lr schedule"])
def test_replaced_gradient_and_sgd_steps_equal_eager(case):
    """The plan's leaner gradient and SGD steps: what stops them is honoured."""
    def build():
        a = tg.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=np.float64, requires_grad=True)
        b = tg.tensor([[1.5, 0.5], [-0.5, 1.0]], dtype=np.float64, requires_grad=True)
        opt = tg.optim.SGD([a, b], lr=0.1)
        sched = tg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        def step(x):
            opt.zero_grad(set_to_none=case != "zero_grad to zeros")
            h = x @ (a + b) if case == "shared gradient" else (x @ a).tanh() @ b
            loss = (h * h).mean()
            loss.backward()
            opt.step()
            return loss.item()

        def after(k):
            if case == "lr schedule":
                sched.step()
            if case == "momentum later" and k == 2:
                opt.param_groups[0]["momentum"] = 0.9

        def state():
            assert not np.shares_memory(a.grad.data, b.grad.data)  # two leaves, two arrays
            return [t.data.copy() for t in (a, b, a.grad, b.grad)]

        return step, state, after

    (eager, eager_state), (got, state) = _paired(build)
    np.testing.assert_allclose(got, eager, rtol=1e-12)
    for s, e in zip(state, eager_state):
        np.testing.assert_allclose(s, e, rtol=1e-12)


def test_float32_replay_is_bit_for_bit_eager():
    """Folded views, Python numbers as 0-d arrays, taken gradients, the lean SGD step: the
    replay computes exactly what eager mode does."""
    def run(compiled):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1), nn.Sigmoid())
        opt = tg.optim.SGD(model.parameters(), lr=0.5)
        y = tg.tensor(np.array([[0.0], [1.0], [1.0], [0.0]], np.float32))

        def step(x):
            opt.zero_grad()
            loss = nn.BCELoss()(model(x), y) + (1 - model(x)).relu().mean() * 0.5
            loss.backward()
            opt.step()
            return loss.item()

        f = tg.compile(step) if compiled else step
        rng = np.random.default_rng(3)
        losses = [f(rng.standard_normal((4, 3)).astype(np.float32)) for _ in range(5)]
        return losses, [p.data.copy() for p in model.parameters()]

    (eager, eager_params), (got, params) = run(False), run(True)
    assert got == eager
    for p, e in zip(params, eager_params):
        np.testing.assert_array_equal(p, e)


def test_unread_result_written_in_place_still_runs():
    buf = np.zeros(3)
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def f(x):
        t = x * w
        np.add(t.data, 1.0, buf)  # its result is not read; the write into buf is
        return t.sum().item()

    compiled = tg.compile(f)
    for k in range(1, 4):
        compiled(np.full(3, float(k)))
        np.testing.assert_allclose(buf, np.full(3, float(k)) * [1, 2, 3] + 1)


def test_returned_and_later_read_values_are_not_overwritten():
    """What a call returned, and what a later step still reads, stay as they were."""
    w = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)

    def f(x):
        h = x * w
        r = (h.exp() + 1.0).relu()
        later = (h * 2.0).sum()  # h is read after r was made
        return r, (r * later).tanh(), h

    compiled = tg.compile(f)
    calls = [np.full(3, 0.1 * k) for k in range(1, 5)]
    got = [compiled(x) for x in calls]
    for x, (r, t, h) in zip(calls, got):  # earlier results unchanged by later calls
        want = f(x)
        for a, b in zip((r, t, h), want):
            np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


def test_code_after_backward_reads_each_replays_gradient():
    """clip_grad_norm_ inside the step and `return w.grad`: the replay's gradient, not the
    recording's (the gradient is read by a step of the plan)."""
    def run(compiled):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
        model.to(np.float64)
        opt = tg.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            norm = tg.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.1)
            opt.step()
            return loss.item(), norm.item(), model[0].bias.grad

        f = tg.compile(step) if compiled else step
        rng = np.random.default_rng(3)
        return [f(tg.tensor(rng.normal(size=(16, 3))), tg.tensor(rng.normal(size=(16, 1))))
                for _ in range(6)], model.state_dict()

    eager, eager_state = run(False)
    compiled, state = run(True)
    for (loss, norm, grad), (loss_e, norm_e, grad_e) in zip(compiled, eager):
        assert loss == pytest.approx(loss_e, rel=1e-12) and norm == pytest.approx(norm_e,
                                                                                 rel=1e-12)
        np.testing.assert_allclose(grad.data, grad_e.data, rtol=1e-12)
    assert len({norm for _, norm, _ in compiled}) > 1
    assert not np.allclose(compiled[0][2].data, compiled[-1][2].data)  # not overwritten
    for name in state:
        np.testing.assert_allclose(state[name], eager_state[name], rtol=1e-12, err_msg=name)
