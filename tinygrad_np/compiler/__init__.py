"""tg.compile: record a step once, replay the recorded NumPy work on later calls.

>>> import numpy as np, tinygrad_np as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> @tg.compile
... def step(x):
...     opt.zero_grad()
...     loss = ((x @ w) ** 2).mean()
...     loss.backward()
...     opt.step()
...     return loss.item()
>>> [round(step(np.ones((4, 2))), 4) for _ in range(3)]
[1.0, 0.64, 0.4096]

The first call with given input shapes and dtypes runs `fn` eagerly and records every
op it performs -- forward, backward, optimizer steps -- as a flat plan of steps over
numbered slots; later calls replay the plan on the new inputs with no Tensor, node or
graph work. What a call returns is never overwritten by a later one. Python control
flow that depends on tensor values (an `if` on a loss, a loop until convergence) is
frozen at recording: the replay takes the recorded branch. `check=True` runs `fn`
eagerly beside every replay and raises `CompileError` naming the first step whose
result differs.
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Callable

import numpy as np

from tinygrad_np import grad_mode
from tinygrad_np._tensor import Tensor
from tinygrad_np.compiler.plan import Plan
from tinygrad_np.compiler.tracer import (CompileError, Slot, TracedArray, TracedFloat, Tracer,
                                        recording)
from tinygrad_np.function import make_tensor

__all__ = ["compile", "CompiledFunction", "CompileError"]

MAX_PLANS = 8  # recordings kept per compiled function (one per input signature)


def compile(fn: Callable | None = None, *, check: bool = False) -> Any:  # noqa: A001
    """Compile `fn` (a training or inference step); usable as `@tg.compile` too."""
    if fn is None:
        return functools.partial(compile, check=check)
    return CompiledFunction(fn, check=check)


class CompiledFunction:
    """`fn`, recorded once per input signature and replayed after (see `tg.compile`)."""

    def __init__(self, fn: Callable, check: bool = False) -> None:
        self.fn, self.check = fn, check
        self.plans: dict[tuple, Plan] = {}
        self.recordings = 0  # how many times fn was recorded (for tests and reports)
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any) -> Any:
        arrays, key = _signature(args)
        plan = self.plans.get(key)
        if plan is not None and not plan.valid():
            plan = None  # a parameter replaced, a module switched train/eval: record again
        if plan is None:
            return self._record(args, key)
        if self.check:
            return self._checked_replay(plan, args, arrays)
        return _outputs(plan.outputs, plan.run(arrays))

    def _record(self, args: tuple, key: tuple) -> Any:
        tracer = Tracer()
        swapped: list[tuple[Tensor, np.ndarray]] = []
        call_args = []
        with recording(tracer):
            for a in args:
                if isinstance(a, Tensor):
                    swapped.append((a, a.data))
                    a.data = tracer.input(a.data)
                    call_args.append(a)
                elif isinstance(a, np.ndarray):
                    call_args.append(tracer.input(a))
                else:
                    call_args.append(a)
            try:
                result = self.fn(*call_args)
            finally:
                for tensor, array in swapped:
                    tensor.data = array
        plan = Plan(tracer, _output_specs(result))
        if len(self.plans) >= MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        self.plans[key] = plan
        self.recordings += 1
        return _plain(result)

    def _checked_replay(self, plan: Plan, args: tuple, arrays: list) -> Any:
        """Eager fn and the replay from the same state; raise at the first difference."""
        state = _snapshot(plan)
        tracer = Tracer()
        with recording(tracer):
            eager = self.fn(*[tracer.input(a.data if isinstance(a, Tensor) else a)
                              if isinstance(a, (Tensor, np.ndarray)) else a for a in args])
        after_eager = _snapshot(plan)
        _restore(state)
        values = plan.run(arrays)
        for i, step in enumerate(plan.steps):
            if i >= len(tracer.steps):
                break
            mismatch = _differs(step, tracer.steps[i], values, tracer.values)
            if mismatch:
                raise CompileError(f"tg.compile(check=True): step {i} ({step.where}) differs "
                                   f"from eager mode: {mismatch}")
        for (kind, obj, before), (_, _, eager_after) in zip(_snapshot(plan), after_eager):
            if kind == "array" and not np.allclose(obj, eager_after, rtol=1e-6, atol=1e-12,
                                                   equal_nan=True):
                raise CompileError("tg.compile(check=True): an array the step updates in place "
                                   f"(shape {obj.shape}) differs from eager mode")
        result = _outputs(plan.outputs, values)
        if not _same(result, _plain(eager)):
            raise CompileError("tg.compile(check=True): the returned values differ from eager "
                               "mode")
        return result


def _signature(args: tuple) -> tuple[list, tuple]:
    """The input arrays, and the cache key: shapes, dtypes, other arguments, grad mode."""
    arrays, key = [], []
    for a in args:
        if isinstance(a, (Tensor, np.ndarray)):
            array = a.data if isinstance(a, Tensor) else a
            arrays.append(array)
            key.append((array.shape, array.dtype.str, isinstance(a, Tensor)
                        and a.requires_grad))
        else:
            key.append(("value", a if isinstance(a, (int, float, str, bool, type(None)))
                        else id(a)))
    return arrays, (tuple(key), grad_mode.current_mode())


def _output_specs(result: Any) -> Any:
    if isinstance(result, Tensor):
        return ("tensor", Slot(result.data.slot) if isinstance(result.data, TracedArray)
                and result.data.slot is not None else result.data)
    if isinstance(result, TracedFloat):
        return ("float", Slot(result.slot))
    if isinstance(result, TracedArray):
        return ("array", Slot(result.slot))
    if isinstance(result, (tuple, list)):
        return (type(result), [_output_specs(r) for r in result])
    if isinstance(result, dict):
        return (dict, {k: _output_specs(v) for k, v in result.items()})
    return ("value", result)


def _outputs(spec: Any, values: list) -> Any:
    kind, content = spec
    if kind in ("tensor", "array", "float"):
        value = values[content.index] if isinstance(content, Slot) else content
        if kind == "tensor":
            return make_tensor(value, None)
        return float(value) if kind == "float" else value
    if kind is dict:
        return {k: _outputs(v, values) for k, v in content.items()}
    if kind in (tuple, list):
        return kind(_outputs(c, values) for c in content)
    return content


def _plain(result: Any) -> Any:
    """What the recording call returns: traced values as plain ones."""
    if isinstance(result, Tensor):
        data = result.data.view(np.ndarray) if isinstance(result.data, TracedArray) \
            else result.data
        out = make_tensor(data, None)
        return out
    if isinstance(result, TracedFloat):
        return float(result)
    if isinstance(result, TracedArray):
        return result.view(np.ndarray)
    if isinstance(result, (tuple, list)):
        return type(result)(_plain(r) for r in result)
    if isinstance(result, dict):
        return {k: _plain(v) for k, v in result.items()}
    return result


def _snapshot(plan: Plan) -> list:
    """Copies of everything a replay may change: arrays read in place, optimizers, grads."""
    state = []
    for step in plan.steps:
        for spec in (*step.args, *step.kwargs.values()):
            if isinstance(spec, np.ndarray):
                state.append(("array", spec, spec.copy()))
        owner = getattr(step.fn, "__self__", None)
        if owner is not None and hasattr(owner, "state"):
            state.append(("optimizer", owner, copy.deepcopy(owner.state)))
    for tensor, _ in plan.guards:
        state.append(("grad", tensor, tensor.grad))
    return state


def _restore(state: list) -> None:
    for kind, obj, saved in state:
        if kind == "array":
            np.copyto(obj, saved)
        elif kind == "optimizer":
            obj.state = copy.deepcopy(saved)
        else:
            obj.grad = saved


def _differs(step: Any, eager_step: Any, values: list, eager_values: list) -> str:
    outs = step.out if isinstance(step.out, tuple) else (step.out,)
    eager_outs = eager_step.out if isinstance(eager_step.out, tuple) else (eager_step.out,)
    for slot, eager_slot in zip(outs, eager_outs):
        if slot is None or eager_slot is None:
            continue
        got, want = values[slot], eager_values[eager_slot]
        if got is None or want is None:
            continue
        if np.shape(got) != np.shape(want) or not np.allclose(got, want, rtol=1e-6,
                                                              atol=1e-12, equal_nan=True):
            return f"slot {slot}: replay {np.asarray(got).ravel()[:4]} vs eager " \
                   f"{np.asarray(want).ravel()[:4]}"
    return ""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor):
        return isinstance(b, Tensor) and np.allclose(a.data, b.data, rtol=1e-6, atol=1e-12,
                                                     equal_nan=True)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (float, np.ndarray)):
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-12, equal_nan=True))
    return a == b
