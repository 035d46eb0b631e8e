"""A recorded call as a flat plan: steps over numbered slots, replayed with plain arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.compiler.tracer import Pack, Slot, Tracer, read_live


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
        self.source, namespace = self._generate(set(_slots_in_outputs(outputs)))
        exec(compile(self.source, "<tg.compile plan>", "exec"), namespace)  # noqa: S102
        self.replay = namespace["replay"]

    def _generate(self, kept: set) -> tuple[str, dict]:
        """The replay function's source, and the objects its names refer to."""
        namespace: dict[str, Any] = {}
        last_use: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            for spec in (*step.args, *step.kwargs.values()):
                for slot in _slots_in(spec):
                    last_use[slot] = i
        free_after: dict[int, list[int]] = {}
        for slot, i in last_use.items():
            if slot not in kept:
                free_after.setdefault(i, []).append(slot)

        def expr(spec: Any) -> str:
            if type(spec) is Slot:
                return f"v{spec.index}"
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
            fn = f"f{i}"
            namespace[fn] = step.fn
            args = [expr(a) for a in step.args]
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
