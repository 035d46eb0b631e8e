"""A recorded call as a flat plan: steps over numbered slots, replayed with plain arrays."""
from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

from tinygrad_np.function import make_tensor, number_array
from tinygrad_np.versions import mark_modified

from tinygrad_np.compiler.tracer import Pack, Slot, Tracer, read_grad, read_live


def _resolve(spec: Any, values: list) -> Any:
    if type(spec) is Slot:
        return values[spec.index]
    if type(spec) is Pack:
        return spec.kind(_resolve(i, values) for i in spec.items)
    return spec


def _slots_in(spec: Any) -> list[int]:
    if type(spec) is Slot:
        return [spec.index]
    if type(spec) is Pack:
        return [i for item in spec.items for i in _slots_in(item)]
    return []


class Plan:
    """The steps of one recording, turned into one Python function (see `source`).

    NOTE: a generated function -- straight-line code, slots as local variables, each
    freed after its last use -- replays with no interpretation at all: looking the
    arguments of every step up in a list cost more than eager mode saved (W5: 1.02M
    instructions a step against eager's 0.93M).
    """

    def __init__(self, tracer: Tracer, outputs: Any) -> None:
        self.steps = list(tracer.steps)
        self.inputs = list(tracer.inputs)
        self.outputs = outputs  # the structure fn returned, Slots in place of traced values
        self.guards = list(tracer.guards)
        self.modules = list(tracer.modules.values())
        kept = set(_slots_in_outputs(outputs))
        self.folded = _fold(self.steps, tracer.values, kept)
        self.replaced = _grad_steps(self.steps, tracer.values, kept, self.folded,
                                    set(self.inputs))
        self.scalars = _scalar_args(self.steps, tracer.values)
        self.source, namespace = self._generate(kept)
        exec(compile(self.source, "<tg.compile plan>", "exec"), namespace)  # noqa: S102
        self.replay = namespace["replay"]

    def _generate(self, kept: set) -> tuple[str, dict]:
        """The replay function's source, and the objects its names refer to."""
        namespace: dict[str, Any] = {}
        folded = self.folded
        last_use: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            if type(step.out) is int and step.out in folded:
                continue
            for spec in (*step.args, *step.kwargs.values()):
                for slot in _slots_in(spec):
                    slot = folded.get(slot, slot)
                    if type(slot) is int:
                        last_use[slot] = i
        free_after: dict[int, list[int]] = {}
        for slot, i in last_use.items():
            if slot not in kept:
                free_after.setdefault(i, []).append(slot)

        def expr(spec: Any) -> str:
            if type(spec) is Slot:
                index = folded.get(spec.index, spec.index)
                if type(index) is not int:  # a view of a live array, made once
                    return expr(index.value)
                return f"v{index}"
            if type(spec) is Pack:
                inner = ", ".join(expr(i) for i in spec.items)
                if spec.kind is list:
                    return f"[{inner}]"
                return f"({inner}{',' if len(spec.items) == 1 else ''})"
            if _literal(spec):
                return repr(spec)
            name = f"c{len(namespace)}"
            namespace[name] = spec
            return name

        lines = [f"def replay({', '.join(f'v{i}' for i in self.inputs)}):"]
        for i, step in enumerate(self.steps):
            if type(step.out) is int and step.out in folded:
                continue
            if step.fn is read_grad and step.out not in last_use and step.out not in kept:
                continue  # a .grad nothing read after backward
            fn = f"f{i}"
            namespace[fn] = self.replaced.get(i, step.fn)
            args = [expr(a) for a in self.scalars.get(i, step.args)]
            args += [f"{k}={expr(v)}" for k, v in step.kwargs.items()]
            call = f"{fn}({', '.join(args)})"
            if step.fn is read_live:  # a live array (a parameter): the object itself
                call = args[0]
            if step.out is None:
                target = ""
            elif type(step.out) is int:
                target = f"v{step.out} = "
            else:
                comma = "," if len(step.out) == 1 else ""
                target = ", ".join(f"v{o}" for o in step.out) + f"{comma} = "
            lines.append(f"    {target}{call}  # {step.where}")
            if i in free_after:
                lines.append(f"    del {', '.join(f'v{s}' for s in sorted(free_after[i]))}")
        outs = sorted(kept)
        lines.append(f"    return {{{', '.join(f'{s}: v{s}' for s in outs)}}}")
        return "\n".join(lines) + "\n", namespace

    def valid(self) -> bool:
        """Whether the live objects the plan reads are still the ones it recorded."""
        for tensor, array in self.guards:
            if tensor.data is not array:
                return False
        for module, training in self.modules:
            if module.training != training:
                return False
        return True

    def run(self, arrays: list[np.ndarray]) -> dict:
        """Replay on new input arrays; returns {slot: value} of the outputs."""
        return self.replay(*arrays)

    def run_steps(self, arrays: list[np.ndarray]) -> list[tuple]:
        """Replay step by step (slowly, for check=True): a copy of what each step made."""
        values: dict[int, Any] = dict(zip(self.inputs, arrays))
        made = []
        for step in self.steps:
            out = step.fn(*[_resolve(a, values) for a in step.args],
                          **{k: _resolve(v, values) for k, v in step.kwargs.items()})
            if step.out is None:
                made.append(())
                continue
            slots, outs = ((step.out,), (out,)) if type(step.out) is int else (step.out, out)
            values.update(zip(slots, outs))
            made.append(tuple(np.copy(v) if isinstance(v, np.ndarray) else v for v in outs))
        return made


def _literal(value: Any) -> bool:
    """Whether value reads back from its repr exactly (None, bools, ints, strings, tuples
    of them): written into the source instead of named."""
    if value is None or type(value) in (bool, int, str):
        return True
    return type(value) is tuple and all(_literal(v) for v in value)


def _slots_in_outputs(spec: Any) -> list[int]:
    kind, content = spec
    if kind in ("tensor", "array", "float"):
        return _slots_in(content)
    if kind is dict:
        return [s for v in content.values() for s in _slots_in_outputs(v)]
    if kind in (tuple, list):
        return [s for c in content for s in _slots_in_outputs(c)]
    return []


class _Const:
    """A folded slot's value: an array object the replay reads as it is."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


VIEWS = (np.reshape, np.transpose, np.squeeze, np.ravel, np.swapaxes)


def _same_view(a: Any, b: Any) -> bool:
    return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape \
        and a.strides == b.strides and a.dtype == b.dtype and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def _fold(steps: list, values: list, kept: set) -> dict[int, Any]:
    """Slots the replay need not compute: {slot: the slot it equals, or a _Const}.

    A live array (a parameter) is read as the object itself; a view of one (a weight's
    transpose, a reshape) is made once, here, and tracks the array's in-place updates;
    a reshape/squeeze to the shape an array already has is that array.
    NOTE: W5: 20 of 61 steps folded, 0.673M -> 0.597M instructions a replay (-11%, callgrind).
    """
    folded: dict[int, Any] = {}
    for step in steps:
        out = step.out
        if type(out) is not int or out in kept:
            continue
        if step.fn is read_live:
            folded[out] = _Const(step.args[0])
            continue
        if step.fn not in VIEWS or step.kwargs or not step.args or type(step.args[0]) is not Slot \
                or any(type(a) in (Slot, Pack) for a in step.args[1:]):
            continue
        source = step.args[0].index
        if _same_view(values[source], values[out]):
            folded[out] = folded.get(source, source)
            continue
        base = folded.get(source)
        if type(base) is _Const and isinstance(base.value, np.ndarray):
            view = step.fn(base.value, *step.args[1:])
            if isinstance(view, np.ndarray) and view.base is not None and \
                    np.shares_memory(view, base.value) and view.shape == values[out].shape:
                folded[out] = _Const(view)
    return folded


def _take_grad(leaf: Any, g: np.ndarray) -> None:
    """accumulate_grad into a .grad the plan has just reset to None, of a gradient array
    nothing else holds: taken as it is (what eager mode's unshared-gradient rule does)."""
    leaf.grad = make_tensor(g, None)


def _accumulate_copy(leaf: Any, g: Any) -> None:
    """accumulate_grad that never takes g itself: eager mode's test of whether g is
    unshared counts references, which the replay's local variables change (a gradient
    two leaves received was given to both as one array)."""
    from tinygrad_np.autograd import accumulate_grad
    accumulate_grad(leaf, g[...] if type(g) is np.ndarray else g)


def _sgd_step(optimizer: Any) -> None:
    """optimizer.step() of a plain SGD (no momentum, no weight decay: checked at every
    replay, else the optimizer's own step): p -= lr * p.grad, the same arithmetic."""
    groups = optimizer.param_groups
    for group in groups:
        if group["momentum"] != 0 or group["weight_decay"] != 0:
            return optimizer.step()
    written = []
    for group in groups:
        lr = group["lr"]
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            data, grad = p.data, grad.data
            if grad.shape != data.shape:
                return optimizer.step()  # its error message
            data -= number_array(lr, grad) * grad
            written.append(data)
    mark_modified(*written)
    return None


def _grad_steps(steps: list, values: list, kept: set, folded: dict, inputs: set) -> dict:
    """Steps replaced by a leaner function with the same effect: {step index: function}.

    - accumulate_grad(leaf, g) after the plan's own zero_grad (set_to_none) when g is a
      fresh array that no other slot or step holds: `leaf.grad = g`; every other
      accumulate_grad copies g when it keeps it (`_accumulate_copy`);
    - the step() of a torch-style plain SGD: its update without the generic per-parameter
      bookkeeping (checked at every replay: momentum or weight decay take the full step).
    NOTE: W5: 0.597M -> 0.569M instructions a replay (-4.7%, callgrind).
    """
    from tinygrad_np.autograd import accumulate_grad
    from tinygrad_np.nn.module import reset_grads
    from tinygrad_np.optim.sgd import SGD
    uses: dict[int, list[int]] = {}  # slot -> the steps reading it (once per reading)
    for i, step in enumerate(steps):
        for spec in (*step.args, *step.kwargs.values()):
            for slot in _slots_in(spec):
                uses.setdefault(slot, []).append(i)
    owners: dict[int, int] = {}  # id of an array -> how many slots hold or view it
    for v in values:
        if isinstance(v, np.ndarray):
            owner = v if v.base is None else v.base
            owners[id(owner)] = owners.get(id(owner), 0) + 1
    replaced: dict[int, Any] = {}
    reset: set[int] = set()  # leaves whose .grad the plan set to None and nothing filled
    for i, step in enumerate(steps):
        fn = step.fn
        if fn is reset_grads:
            set_to_none = step.args[1] if len(step.args) > 1 else \
                step.kwargs.get("set_to_none", True)
            if set_to_none is True and type(step.args[0]) is list:
                reset.update(id(p) for p in step.args[0])
            continue
        if fn is accumulate_grad and len(step.args) == 2 and not step.kwargs:
            leaf, g = step.args
            if id(leaf) in reset and type(g) is Slot:
                index = g.index
                value = values[index]
                if index not in kept and index not in folded and index not in inputs \
                        and uses.get(index) == [i] and type(value) is np.ndarray \
                        and value.base is None and value.flags.writeable \
                        and owners.get(id(value)) == 1 and value.dtype == leaf.data.dtype \
                        and value.shape == leaf.data.shape:
                    replaced[i] = _take_grad
            if i not in replaced:
                replaced[i] = _accumulate_copy
            reset.discard(id(leaf))
            continue
        owner = getattr(fn, "__self__", None)
        if type(owner) is SGD and getattr(fn, "__name__", "") == "step" and not step.args \
                and not step.kwargs:
            replaced[i] = functools.partial(_sgd_step, owner)
        if step.out is None and not isinstance(fn, np.ufunc) and fn is not operator.setitem:
            reset.clear()  # an opaque call may set any .grad
    return replaced


SCALAR_UFUNCS = (np.add, np.subtract, np.multiply, np.divide, np.maximum, np.minimum, np.where,
                 np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal)


def _scalar_args(steps: list, values: list) -> dict[int, tuple]:
    """Python numbers beside a float array in a ufunc step, as the cached 0-d array of the
    array's dtype eager mode's arithmetic uses (`number_array`: the same result, NEP 50).
    NOTE: NumPy converts a Python number on every call (~0.4 us); W5 has 7 a replay:
    0.569M -> 0.548M instructions (-3.7%, callgrind)."""
    found: dict[int, tuple] = {}
    for i, step in enumerate(steps):
        if step.kwargs or not any(step.fn is u for u in SCALAR_UFUNCS):
            continue
        like = next((values[a.index] for a in step.args if type(a) is Slot
                     and isinstance(values[a.index], np.ndarray)
                     and values[a.index].dtype in (np.float32, np.float64)), None)
        if like is None or not any(type(a) in (int, float) for a in step.args):
            continue
        found[i] = tuple(number_array(a, like.view(np.ndarray)) if type(a) in (int, float)
                         and abs(a) < 1e30 else a for a in step.args)
    return found
