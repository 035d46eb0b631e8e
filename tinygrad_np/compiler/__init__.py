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
[1.0, 0.36, 0.1296]

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

import functools
import time
from typing import Any, Callable

import numpy as np

from tinygrad_np import grad_mode
from tinygrad_np._tensor import Tensor
from tinygrad_np.compiler.plan import Plan
from tinygrad_np.compiler.tracer import (CompileError, Pack, Slot, TracedArray, TracedFloat,
                                        Tracer, recording)
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
        self.record_seconds = 0.0  # the time those first calls took
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
        start = time.perf_counter()
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
                outputs = _output_specs(result)  # before the traced arrays become plain
            finally:
                for tensor, array in swapped:
                    tensor.data = array
                for leaf in tracer.grad_reads:  # plain arrays again outside the recording
                    if leaf.grad is not None and isinstance(leaf.grad.data, TracedArray):
                        leaf.grad.data = leaf.grad.data.view(np.ndarray)
        plan = Plan(tracer, outputs)
        if len(self.plans) >= MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        self.plans[key] = plan
        self.recordings += 1
        self.record_seconds += time.perf_counter() - start
        return _plain(result)

    def _checked_replay(self, plan: Plan, args: tuple, arrays: list) -> Any:
        """Eager fn and the replay from the same state; raise at the first difference."""
        state = _State(plan)
        before = state.save()
        eager = _plain(self.fn(*args))
        after_eager = state.save()
        state.restore(before)
        result = _outputs(plan.outputs, plan.run(arrays))
        problem = _difference(result, eager, "what the function returned") or \
            _difference(state.save(), after_eager, "the state it updates")
        if problem:
            state.restore(before)
            where = self._first_difference(plan, args, arrays, state, before)
            state.restore(after_eager)
            raise CompileError(f"tg.compile(check=True): {problem} differs between the replay "
                               f"and eager mode; {where}")
        return result

    def _first_difference(self, plan: Plan, args: tuple, arrays: list, state: "_State",
                          before: list) -> str:
        """Record fn again (keeping every value as computed) and replay the plan step by
        step from the same state: the first step whose results differ."""
        tracer = Tracer()
        tracer.keep_copies = True
        with recording(tracer):
            self.fn(*[tracer.input(a.data if isinstance(a, Tensor) else a)
                      if isinstance(a, (Tensor, np.ndarray)) else a for a in args])
        state.restore(before)
        made = plan.run_steps(arrays)
        for i, (step, now) in enumerate(zip(plan.steps, tracer.steps)):
            if step.where != now.where or getattr(step.fn, "__name__", None) != \
                    getattr(now.fn, "__name__", None):
                return (f"at step {i} the function now runs {now.where!r} where the recording "
                        f"ran {step.where!r}: Python control flow that depends on tensor values "
                        "is frozen at recording; compute both branches with tg.where, or run "
                        "this function without tg.compile")
            slots = () if now.out is None else (now.out,) if type(now.out) is int else now.out
            eager_values = tuple(tracer.values[s] for s in slots)
            problem = _difference(made[i], eager_values, "its result")
            if problem:
                return (f"the first step that differs is step {i}, {step.where!r} ({problem}): "
                        "it reads something the plan cannot see change (an array written in "
                        "place outside tinygrad_np ops, a value frozen at recording)")
        return ("every recorded step matches: the difference comes from work outside the "
                "recorded ops (Python state read or written by the function)")


class _State:
    """What a replay may change: arrays the plan reads in place, gradients, optimizer
    state, random generators -- saved and restored around check=True's two runs."""

    def __init__(self, plan: Plan) -> None:
        from tinygrad_np._tensor import default_generator
        self.arrays: dict[int, np.ndarray] = {}
        self.tensors: dict[int, Tensor] = {}
        self.optimizers: dict[int, Any] = {}
        self.generators = {id(default_generator()): default_generator()}
        for tensor, _ in plan.guards:
            self._visit(tensor)
        for step in plan.steps:
            self._visit((step.args, tuple(step.kwargs.values())))
            owner = getattr(step.fn, "__self__", None)
            if owner is not None and hasattr(owner, "param_groups"):
                self.optimizers[id(owner)] = owner
                for group in owner.param_groups:
                    self._visit(group["params"])

    def _visit(self, x: Any) -> None:
        if isinstance(x, Tensor):
            self.tensors[id(x)] = x
            self._visit(x.data)
        elif isinstance(x, np.ndarray) and x.flags.writeable:  # read-only: cannot change
            self.arrays[id(x)] = x
        elif isinstance(x, np.random.Generator):
            self.generators[id(x)] = x
        elif isinstance(x, (tuple, list)):
            for item in x:
                self._visit(item)
        elif isinstance(x, Pack):
            self._visit(x.items)

    def save(self) -> list:
        return [[a.copy() for a in self.arrays.values()],
                [None if t.grad is None else t.grad.data.copy() for t in self.tensors.values()],
                [{p: {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
                  for p, s in o.state.items()} for o in self.optimizers.values()],
                [g.bit_generator.state for g in self.generators.values()]]

    def restore(self, saved: list) -> None:
        arrays, grads, states, generators = saved
        for array, value in zip(self.arrays.values(), arrays):
            np.copyto(array, value)
        for tensor, grad in zip(self.tensors.values(), grads):
            tensor.grad = None if grad is None else make_tensor(grad.copy(), None)
        for optimizer, state in zip(self.optimizers.values(), states):
            optimizer.state = {p: {k: np.copy(v) if isinstance(v, np.ndarray) else v
                                   for k, v in s.items()} for p, s in state.items()}
        for generator, value in zip(self.generators.values(), generators):
            generator.bit_generator.state = value


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


def _difference(got: Any, want: Any, what: str) -> str:
    """'' when got equals want (to float rounding), else a description of the first
    difference."""
    if isinstance(got, Tensor) or isinstance(want, Tensor):
        if not (isinstance(got, Tensor) and isinstance(want, Tensor)):
            return f"{what} (a Tensor on one side only)"
        return _difference(got.data, want.data, what)
    if isinstance(got, (tuple, list)) and isinstance(want, (tuple, list)):
        if len(got) != len(want):
            return f"{what} (lengths {len(got)} and {len(want)})"
        for a, b in zip(got, want):
            problem = _difference(a, b, what)
            if problem:
                return problem
        return ""
    if isinstance(got, dict) and isinstance(want, dict):
        if got.keys() != want.keys():
            return f"{what} (keys)"
        return next((p for k in got if (p := _difference(got[k], want[k], what))), "")
    if isinstance(got, (np.ndarray, np.generic, float)) or isinstance(want, (np.ndarray,
                                                                               np.generic)):
        a, b = np.asarray(got), np.asarray(want)
        if a.shape != b.shape:
            return f"{what} (shapes {a.shape} and {b.shape})"
        if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
            return "" if np.array_equal(a, b) else f"{what} ({a.ravel()[:3]} vs {b.ravel()[:3]})"
        tol = 1e-4 if np.float32 in (a.dtype, b.dtype) else 1e-9
        if np.allclose(a, b, rtol=tol, atol=tol * 1e-3, equal_nan=True):
            return ""
        bad = np.argmax(~np.isclose(a, b, rtol=tol, atol=tol * 1e-3, equal_nan=True))
        return f"{what} (replay {a.ravel()[bad]!r} vs eager {b.ravel()[bad]!r})"
    try:
        return "" if got == want else f"{what} ({got!r} vs {want!r})"
    except ValueError:  # objects without a plain ==
        return ""
