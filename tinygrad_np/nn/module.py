"""Module and Parameter: the containers models are built from.

A `Module` registers every `Parameter` and sub-`Module` assigned to one of its
attributes (plain `__setattr__`, no metaclass), so `parameters()`,
`state_dict()` and friends can walk the tree with dotted names like
`"encoder.fc.weight"`. Buffers (`register_buffer`) are state that is not trained,
such as BatchNorm's running statistics: Tensors that never require grad, saved in
`state_dict` and cast by `to(dtype)`, but not in `parameters()`.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from tinygrad_np import grad_mode, versions
from tinygrad_np.grad_mode import TRACING, current_mode
from tinygrad_np.versions import next_seq
from tinygrad_np._tensor import Tensor

# Callables run as observer(module, output) after every Module.__call__ (used by summary()).
_call_observers: list[Callable[["Module", Any], None]] = []
# Every Module alive, so tg.viz can name a parameter it is not given (`live_modules()`).
_live_modules: weakref.WeakSet = weakref.WeakSet()


class Parameter(Tensor):
    """A Tensor that is a model weight: requires grad and is registered by `Module`.

    The data is copied; Python lists become the default float dtype.

    >>> p = Parameter([1.0, 2.0])
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def live_modules() -> list[Module]:
    """Every Module object still alive (weakly tracked from `Module.__init__`)."""
    return list(_live_modules)


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of every layer and model: subclass it, assign layers in `__init__`,
    write `forward`.

    >>> import tinygrad_np as tg
    >>> class Net(tg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = tg.nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.fc(x).sigmoid()
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']

    Calling a module runs `forward` and records `self._forward_span = (start, end)`,
    two `versions.next_seq()` values taken before and after: the graph nodes whose
    `seq` lies strictly between them were created inside this module's forward
    (nested modules included). `tg.viz` uses it to draw one cluster per module.
    Every module is also tracked weakly (`live_modules()`), so a graph drawn without
    its model still names the parameters ("0.weight").
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_forward_span", None)
        _live_modules.add(self)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        if params is None and isinstance(value, (Parameter, Module)):
            raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before "
                                 f"Module.__init__() ran; call super().__init__() first "
                                 f"in {type(self).__name__}.__init__")
        if isinstance(value, Parameter):
            self._forget(name)
            self._register(params, name, value)
        elif isinstance(value, Module):
            self._forget(name)
            self._register(modules, name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"of {type(self).__name__}: wrap it as tg.nn.Parameter(...) "
                                "or assign None")
            self._register(params, name, None)
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"'{name}' of {type(self).__name__}: a Module or None expected")
            self._register(modules, name, None)
        elif name in self.__dict__.get("_buffers", ()):
            self._register(self._buffers, name, _buffer_value(name, value, type(self).__name__))
        else:
            object.__setattr__(self, name, value)

    def _register(self, table: dict, name: str, value: Any) -> None:
        """Enter a parameter or child in its table, and in __dict__ too.

        NOTE: the __dict__ copy makes `self.weight` a plain attribute lookup; without it
        every access would fail over to __getattr__ (~1 us: 10% of benchmark W5's forward).
        """
        table[name] = value
        self.__dict__[name] = value

    def _forget(self, name: str) -> None:
        """Drop any earlier registration of `name` (a re-assignment may change its kind)."""
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._modules or name in self._buffers:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register a Parameter (or None, a declared-but-absent one) under `name`."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}') needs a Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name)
        self._register(self._parameters, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a child module under `name`."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}') needs a Module or None, "
                            f"got {type(module).__name__}")
        self._check_name("add_module", name, self._modules)
        if name not in self._modules:  # a replaced child keeps its place, as in PyTorch
            self._forget(name)
        self._register(self._modules, name, module)

    def register_buffer(self, name: str, array: Any, persistent: bool = True) -> None:
        """Register state that is not a parameter, e.g. BatchNorm's `running_mean`.

        `array`: a Tensor that does not require grad (kept as it is), an ndarray or
        nested list (copied into a new Tensor), or None (declared but absent). A buffer
        is a Tensor so that layers compute with it directly; it is never in
        `parameters()`, never gets a gradient, is cast by `to(dtype)` when it holds
        floats, and is saved by `state_dict()` unless `persistent=False`.
        Re-assigning `module.name = value` later replaces the buffer.

        >>> import numpy as np, tinygrad_np as tg
        >>> m = tg.nn.Module()
        >>> m.register_buffer("steps", np.zeros((), np.int64))
        >>> list(m.state_dict()), list(m.parameters())
        (['steps'], [])
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"cannot register buffer '{name}' before Module.__init__() "
                                 f"ran; call super().__init__() first in "
                                 f"{type(self).__name__}.__init__")
        self._check_name("register_buffer", name, self._buffers)
        value = _buffer_value(name, array, type(self).__name__)
        self._forget(name)
        self._register(self._buffers, name, value)
        if not persistent:
            self._non_persistent_buffers.add(name)

    def _check_name(self, what: str, name: Any, table: dict) -> None:
        """PyTorch's rules for a registered name: a non-empty str without '.', and not an
        attribute of another kind (a method such as `train` would be shadowed)."""
        if not isinstance(name, str):
            raise TypeError(f"{what}: the name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{what}: the name {name!r} must be non-empty and contain no '.' "
                           "(dots separate the levels of names like 'encoder.fc.weight')")
        if name not in table and hasattr(self, name):
            raise KeyError(f"{what}: {type(self).__name__} already has an attribute "
                           f"{name!r}; choose another name")

    # ----------------------------------------------------------------- calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not written")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run `forward` (and note which graph nodes it created, for `tg.viz`)."""
        start = next_seq()
        if current_mode() & TRACING:  # tg.compile replays this only in the same train/eval mode
            grad_mode.tracer().modules[id(self)] = (self, self.training)
        out = self.forward(*args, **kwargs)
        self.__dict__["_forward_span"] = (start, next_seq())  # stored as is: no registration
        for observer in _call_observers:
            observer(self, out)
        return out

    # ---------------------------------------------------------------- walking
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct child."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct child modules."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every descendant, each once."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "",
                         recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter), e.g. ("0.weight", ...); a shared Parameter appears once."""
        seen: set[int] = set()
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for owner_name, module in owners:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{owner_name}.{name}" if owner_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every Parameter of this module and (by default) its descendants."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "",
                      recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer), e.g. ("1.running_mean", ...); a shared buffer appears once."""
        seen: set[int] = set()
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for owner_name, module in owners:
            for name, buffer in module._buffers.items():
                if buffer is None or id(buffer) in seen:
                    continue
                seen.add(id(buffer))
                yield (f"{owner_name}.{name}" if owner_name else name), buffer

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer of this module and (by default) its descendants."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar weights (elements of all Parameters)."""
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # ---------------------------------------------------------------- training
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's `.grad`: to None (PyTorch's default) or to zeros."""
        reset_grads(list(self.parameters()), set_to_none)

    def train(self, mode: bool = True) -> Module:
        """Set `.training` on this module and all descendants; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Same as `train(False)`."""
        return self.train(False)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call fn on every descendant, then on self (PyTorch's order); returns self.

        >>> import tinygrad_np as tg
        >>> model = tg.nn.Sequential(tg.nn.Linear(3, 3), tg.nn.Tanh())
        >>> _ = model.apply(lambda m: tg.nn.init.zeros_(m.bias)
        ...                 if isinstance(m, tg.nn.Linear) else None)
        >>> float(model[0].bias.data.sum())
        0.0
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, dtype: Any) -> Module:
        """Cast every parameter (and its grad) and every floating-point buffer to a float
        dtype in place (integer buffers such as `num_batches_tracked` stay); returns self."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to({dtype}): parameters must stay "
                            "floating-point; pass e.g. np.float64")
        for param in self.parameters():
            param.data = param.data.astype(dtype, copy=False)
            if param.grad is not None:
                param.grad.data = param.grad.data.astype(dtype, copy=False)
        for buffer in self.buffers():
            if buffer.dtype.kind == "f":
                buffer.data = buffer.data.astype(dtype, copy=False)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, np.ndarray]:
        """{dotted name: a copy of the array} of every parameter and persistent buffer:
        module by module, its parameters then its buffers (PyTorch's order)."""
        return {name: t.data.copy() for name, t in self._named_state()}

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) of what `state_dict` holds, each tensor once."""
        seen: set[int] = set()
        for owner_name, module in self.named_modules():
            entries = list(module._parameters.items()) + [
                (name, b) for name, b in module._buffers.items()
                if name not in module._non_persistent_buffers]
            for name, t in entries:
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{owner_name}.{name}" if owner_name else name), t

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and persistent buffers, in place; checks
        everything before changing anything.

        Every value must have its parameter's (or buffer's) shape and a dtype that casts
        to its dtype within its kind (float64 -> float32 is fine, float -> int is
        not). With `strict=True` (default) the names must match exactly. On any error
        a RuntimeError lists all problems and the model is left untouched.
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict needs a mapping name -> array, "
                            f"got {type(state_dict).__name__}")
        own = dict(self._named_state())
        problems: list[str] = []
        missing = [name for name in own if name not in state_dict]
        unexpected = [str(name) for name in state_dict if name not in own]
        if strict and missing:
            problems.append("missing keys: " + ", ".join(repr(k) for k in missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        ready: list[tuple[Tensor, np.ndarray]] = []
        for name, param in own.items():
            if name not in state_dict:
                continue
            problem, array = _check_value(name, state_dict[name], param)
            if problem:
                problems.append(problem)
            else:
                ready.append((param, array))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__} "
                               "(nothing was changed):\n  " + "\n  ".join(problems))
        for t, array in ready:
            np.copyto(t.data, array, casting="same_kind")
            if not isinstance(t, Parameter):
                versions.mark_modified(t.data)  # a graph that saved the old buffer refuses
        return IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr (subclasses override it)."""
        return ""

    def __repr__(self) -> str:
        return "\n".join(self._repr_lines())

    def _repr_lines(self) -> list[str]:
        count = self.num_parameters()
        note = f"  # {count:,} parameter{'s' if count != 1 else ''}" if count else ""
        kids = list(self.named_children())
        if not kids:
            return [f"{type(self).__name__}({self.extra_repr()}){note}"]
        lines = [f"{type(self).__name__}({self.extra_repr()}{note}"]
        for name, child in kids:
            child_lines = child._repr_lines()
            lines.append(f"  ({name}): {child_lines[0]}")
            lines.extend("  " + line for line in child_lines[1:])
        lines.append(")")
        return lines

    def summary(self, input_shape: Any) -> Any:
        """Per-layer output shapes and parameter counts; see `tg.nn.summary`."""
        from tinygrad_np.nn.summary import summary
        return summary(self, input_shape)


def reset_grads(params: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Set each tensor's `.grad` to None, or to zeros (what Module/Optimizer.zero_grad do)."""
    if current_mode() & TRACING:  # tg.compile: a step of the plan
        tracer = grad_mode.step_tracer()
        if tracer is not None:
            tracer.call(reset_grads, list(params), set_to_none)
            return
    for p in params:
        if set_to_none or p.grad is None:
            p.grad = None
        elif p.grad.grad_fn is not None:
            # a create_graph gradient belongs to a graph: replace it, never write into it
            p.grad = Tensor(np.zeros_like(p.grad.data))
        else:
            p.grad.data[...] = 0
            versions.mark_modified(p.grad.data)  # a graph that saved this grad can't backward


def _buffer_value(name: str, value: Any, owner: str) -> Tensor | None:
    """What register_buffer keeps: the Tensor itself, a new Tensor of an array, or None."""
    if value is None or (isinstance(value, Tensor) and not isinstance(value, Parameter)
                         and not value.requires_grad):
        return value
    if isinstance(value, Tensor):
        raise TypeError(f"buffer '{name}' of {owner}: a buffer holds state without gradient, "
                        "but this Tensor requires grad; register a tg.nn.Parameter to train "
                        "it, or pass tensor.detach()")
    try:
        return Tensor(value)
    except TypeError as error:
        raise TypeError(f"buffer '{name}' of {owner}: a Tensor, an ndarray or None expected, "
                        f"got {type(value).__name__} ({error})") from error


def _check_value(name: str, value: Any, param: Tensor) -> tuple[str, Any]:
    """(problem or "", array) for one state-dict entry against its parameter or buffer."""
    try:
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
    except Exception as error:  # noqa: BLE001 (any conversion failure is a data problem)
        return f"'{name}': cannot read the value as an array ({error})", None
    kind = "parameter" if isinstance(param, Parameter) else "buffer"
    if array.shape != param.shape:
        return (f"'{name}': shape {array.shape} in the state dict, but the model's "
                f"{kind} has shape {param.shape}"), None
    if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, param.dtype, "same_kind"):
        return (f"'{name}': dtype {array.dtype} cannot be cast to the {kind}'s dtype "
                f"{param.dtype}"), None
    return "", array
