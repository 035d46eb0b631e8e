"""Recording a call for tg.compile: every value becomes a slot, every computation a step.

While `tg.compile` records, the thread's mode has the TRACING bit, and:
- every op takes the general `apply`, which hands it to `Tracer.forward`: the op's forward
  runs once on plain arrays and becomes one step `forward(node, *inputs)` of the plan;
- `backward()` hands the walk to `Tracer.backward`, which visits the nodes in the walk's
  order and records each backward rule, gradient fit and sum as steps;
- values computed from the inputs are `TracedArray`s: NumPy ufuncs and functions called on
  them outside ops (a mask from `x.data > 0`, a loss's target handling) become steps too;
- optimizer.step(), zero_grad() and the like are recorded as one call each (`call`), so they
  run their own Python at every replay (learning-rate schedules, momentum, step counts).
A replay then runs the steps on plain arrays: no Tensor, node or graph work.
"""
from __future__ import annotations

import functools
import operator
from typing import Any, Callable

import numpy as np

from tinygrad_np import grad_mode
from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function


class CompileError(RuntimeError):
    """tg.compile cannot record this function faithfully; the message says why and what to do."""


class Slot:
    """A reference to the value in slot `index` of a plan."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"v{self.index}"


class Pack:
    """A tuple or list of arguments, some of them slots."""

    __slots__ = ("items", "kind")

    def __init__(self, items: tuple, kind: type) -> None:
        self.items, self.kind = items, kind


class Step:
    """out = fn(*args, **kwargs), with Slot/Pack arguments looked up at replay."""

    __slots__ = ("fn", "args", "kwargs", "out", "where")

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, out: Any, where: str) -> None:
        self.fn, self.args, self.kwargs, self.out, self.where = fn, args, kwargs, out, where

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", None) or repr(self.fn)
        return f"{self.out} = {name}{self.args}  # {self.where}"


class TracedArray(np.ndarray):
    """An array that is slot `slot` of the plan being recorded (None: a view NumPy made
    that the tracer did not see; using one is an error rather than a frozen constant)."""

    slot: int | None = None

    def __array_finalize__(self, obj: Any) -> None:
        self.slot = None

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        fn = ufunc if method == "__call__" else getattr(ufunc, method)
        return _call(fn, inputs, kwargs, f"np.{ufunc.__name__}")

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        return _call(func, args, kwargs, f"np.{func.__name__}")

    # methods that make new arrays without a ufunc: recorded as steps too
    def __getitem__(self, index: Any) -> Any:
        return _call(operator.getitem, (self, index), {}, "indexing")

    def __setitem__(self, index: Any, value: Any) -> None:
        _call(operator.setitem, (self, index, value), {}, "assignment")

    def reshape(self, *shape: Any, **kwargs: Any) -> Any:
        return _call(np.reshape, (self, shape if len(shape) != 1
                                                          else shape[0]), kwargs, "reshape")

    def transpose(self, *axes: Any) -> Any:
        axes_arg = axes[0] if len(axes) == 1 else (axes or None)
        return _call(np.transpose, (self, axes_arg), {}, "transpose")

    @property
    def T(self) -> Any:  # noqa: N802
        return self.transpose()

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        return _call(np.ndarray.astype, (self, dtype) + args, kwargs,
                                           "astype")

    def copy(self, *args: Any, **kwargs: Any) -> Any:
        return _call(np.copy, (self,) + args, kwargs, "copy")

    def ravel(self, *args: Any, **kwargs: Any) -> Any:
        return _call(np.ravel, (self,) + args, kwargs, "ravel")

    def flatten(self, *args: Any, **kwargs: Any) -> Any:
        return _call(np.ndarray.flatten, (self,) + args, kwargs,
                                           "flatten")

    def squeeze(self, *args: Any, **kwargs: Any) -> Any:
        return _call(np.squeeze, (self,) + args, kwargs, "squeeze")

    def swapaxes(self, *args: Any) -> Any:
        return _call(np.swapaxes, (self,) + args, {}, "swapaxes")

    def item(self, *args: Any) -> Any:
        tracer = grad_mode.tracer()
        return np.ndarray.item(_base(self), *args) if tracer is None else \
            tracer.item(self, args)

    def __float__(self) -> float:
        return float(self.item())


def _call(fn: Callable, args: tuple, kwargs: dict, where: str) -> Any:
    """fn(*args, **kwargs) as a step of the recording; plain NumPy when none is running (a
    traced array kept after its recording behaves as an ordinary one)."""
    tracer = grad_mode.tracer()
    if tracer is None:
        return fn(*_base(args), **_base(kwargs))
    return tracer.numpy_call(fn, args, kwargs, where)


def _base(x: Any) -> Any:
    """x with traced arrays turned into plain views of the same memory (recursively)."""
    if isinstance(x, TracedArray):
        return x.view(np.ndarray)
    if type(x) in (tuple, list):
        return type(x)(_base(i) for i in x)
    if type(x) is dict:
        return {k: _base(v) for k, v in x.items()}
    return x


def _key(array: np.ndarray) -> tuple:
    """Which memory an array shows: equal for two views of the same values."""
    return (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)


def _run_forward(forward: Callable, node: Function, *arrays: Any, **params: Any) -> Any:
    out = forward(node, *arrays, **params)
    return out if isinstance(out, np.ndarray) else np.asarray(out)


def _pop_saved(node: Function) -> tuple:
    """What a user Function's forward passed to save_for_backward (the replay's arrays)."""
    extra = node.to_save
    if extra:
        del node.to_save
    return tuple(extra)


def _run_rule(node: Function, saved: tuple, g: Any) -> tuple:
    """A backward rule on the replay's arrays, its saved arrays dropped afterwards."""
    node.saved = saved
    try:
        in_grads = type(node).backward(node, g)
    finally:
        node.saved = None
    return in_grads if type(in_grads) is tuple else (in_grads,)


class Tracer:
    """Records one call: slots hold values, steps compute them (see the module docstring)."""

    def __init__(self) -> None:
        self.values: list[Any] = []          # recording-time value of every slot
        self.steps: list[Step] = []
        self.by_key: dict[tuple, int] = {}   # memory -> slot, for plain views of traced values
        self.inputs: list[int] = []          # the slots the call's inputs are bound to
        self.guards: list[tuple[Any, Any]] = []  # (tensor, its array) the plan reads in place
        self.modules: dict[int, tuple[Any, bool]] = {}  # id -> (module, training) seen
        self.suspended = 0                   # > 0 inside an op or a recorded call
        self.guarded: set[int] = set()
        self.grad_reads: list[Any] = []      # leaves whose .grad holds a traced view
        self.keep_copies = False             # check=True: values as they were when computed
        self.context = ""                    # the op whose NumPy calls are being recorded

    # ------------------------------------------------------------ slots
    def new_slot(self, value: Any) -> int:
        self.values.append(np.copy(value) if self.keep_copies and isinstance(value, np.ndarray)
                           else value)
        index = len(self.values) - 1
        if isinstance(value, np.ndarray):
            self.by_key.setdefault(_key(value), index)
        return index

    def traced(self, value: Any, index: int) -> Any:
        """The value to hand back to user code for slot `index`."""
        if isinstance(value, np.ndarray):
            view = value.view(TracedArray)
            view.slot = index
            return view
        if isinstance(value, float):
            return TracedFloat(value, index)
        return value

    def input(self, array: np.ndarray) -> "TracedArray":
        """A traced view of one of the call's input arrays."""
        index = self.new_slot(array)
        self.inputs.append(index)
        return self.traced(array, index)

    def spec(self, x: Any, where: str) -> Any:
        """How a step refers to x: a Slot for traced values, a Pack for containers,
        else the object itself (read at replay: parameters are updated in place)."""
        if isinstance(x, TracedArray):
            if x.slot is not None:
                return Slot(x.slot)
            found = self.by_key.get(_key(x))
            if found is None:
                raise CompileError(
                    f"{where}: a value computed from the inputs by an operation tg.compile "
                    "cannot follow (a NumPy method without a ufunc?); compute it with "
                    "tinygrad_np ops or NumPy functions, or run without tg.compile")
            return Slot(found)
        if isinstance(x, TracedFloat):
            return Slot(x.slot)
        if isinstance(x, np.ndarray):
            found = self.by_key.get(_key(x)) if x.size else None
            return Slot(found) if found is not None else x
        if type(x) in (tuple, list):
            items = tuple(self.spec(i, where) for i in x)
            if any(isinstance(i, (Slot, Pack)) for i in items):
                return Pack(items, type(x))
            return x
        return x

    def record(self, fn: Callable, args: tuple, kwargs: dict, value: Any, where: str,
               unpack: int = 0) -> Any:
        """Append a step; return its value as user code should see it."""
        arg_specs = tuple(self.spec(a, where) for a in args)
        kw_specs = {k: self.spec(v, where) for k, v in kwargs.items()}
        if unpack:
            outs = tuple(self.new_slot(v) for v in value)
            self.steps.append(Step(fn, arg_specs, kw_specs, outs, where))
            return tuple(self.traced(v, i) for v, i in zip(value, outs))
        if value is None:
            self.steps.append(Step(fn, arg_specs, kw_specs, None, where))
            return None
        out = self.new_slot(value)
        self.steps.append(Step(fn, arg_specs, kw_specs, out, where))
        return self.traced(value, out)

    # ------------------------------------------------------------ hooks
    def numpy_call(self, fn: Callable, args: tuple, kwargs: dict, where: str) -> Any:
        """A NumPy function or ufunc called on traced values outside ops."""
        value = fn(*_base(args), **_base(kwargs))
        if self.suspended:
            return value
        if self.context:
            where = f"{self.context}: {where}"
        if fn is operator.setitem:
            self.record(fn, args, kwargs, None, where)
            return None
        if "out" in kwargs and kwargs["out"] is not None:
            outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
            self.record(fn, args, kwargs, None, where)  # writes in place: the target is read
            return outs[0] if len(outs) == 1 else outs  # at replay (a slot or a live array)
        if isinstance(value, tuple):
            return self.record(fn, args, kwargs, value, where, unpack=len(value))
        if isinstance(value, np.generic):  # a full reduction: keep it an array at replay too
            return self.record(functools.partial(_array_result, fn), args, kwargs,
                               np.asarray(value), where)
        if isinstance(value, np.ndarray) or isinstance(value, float):
            return self.record(fn, args, kwargs, value, where)
        return value  # shapes, bools...: Python values, frozen like any control flow

    def forward(self, cls: type, node: Function, arrays: list, params: dict,
                inputs: tuple = ()) -> Any:
        """An op applied while recording: its NumPy calls as steps (a traceable op), or its
        forward as one step."""
        where = f"{cls.__name__} forward"
        for t in inputs:  # a leaf's array is read in place: replays check it is the same one
            data = getattr(t, "data", None)
            if isinstance(data, np.ndarray) and not isinstance(data, TracedArray) \
                    and id(t) not in self.guarded:
                self.guarded.add(id(t))
                self.guard(t)
        if cls.traceable:
            self.context = where
            try:
                out = cls.forward(node, *[self.live(a) for a in arrays], **params)
            finally:
                self.context = ""
            return self.live(out if isinstance(out, np.ndarray) else np.asarray(out))
        self.suspended += 1
        try:
            out = _run_forward(cls.forward, node, *_base(arrays), **_base(params))
        finally:
            self.suspended -= 1
        result = self.record(functools.partial(_run_forward, cls.forward, node),
                             tuple(arrays), params, out, where)
        if node.to_save:  # a user Function's saved arrays come from the replay's forward
            extra = node.to_save
            node.to_save = self.record(_pop_saved, (node,), {}, tuple(extra), where,
                                       unpack=len(extra))
            if not extra:
                del node.to_save
        return result

    def copied(self, source: Any, copy: np.ndarray) -> Any:
        """A Tensor made from `source` inside the recorded call: when source is a traced
        value (or a plain view of one), the copy is a step, not a frozen constant."""
        if self.suspended or not isinstance(source, np.ndarray):
            return copy
        spec = self.spec(source, "Tensor(...)")
        if type(spec) is not Slot:
            return copy
        return self.record(_copy_as, (source, copy.dtype), {}, copy, "Tensor(...)")

    def live(self, x: Any) -> Any:
        """x as a traced value: an array computed by no step (a parameter, a constant made
        before the call) becomes a slot that the replay reads from the same array object,
        so a parameter updated in place is read with its new values."""
        if not isinstance(x, np.ndarray) or isinstance(x, TracedArray):
            return x
        found = self.by_key.get(_key(x)) if x.size else None
        if found is not None:
            return self.traced(self.values[found], found)
        index = self.new_slot(x)
        self.steps.append(Step(read_live, (x,), {}, index, "a live array"))
        return self.traced(x, index)

    def call_value(self, fn: Callable, *args: Any) -> Any:
        """fn(*args) run now and recorded as one step whose result is a traced value."""
        self.suspended += 1
        try:
            value = fn(*_base(args))
        finally:
            self.suspended -= 1
        return self.record(fn, args, {}, value, getattr(fn, "__qualname__", "call"))

    def guard(self, tensor: Any) -> None:
        """The plan reads this tensor's array in place: a replay checks it is still the one."""
        self.guards.append((tensor, tensor.data))

    def call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run fn now and record it as one step (optimizer.step, zero_grad...)."""
        self.suspended += 1
        try:
            result = fn(*_base(args), **_base(kwargs))
        finally:
            self.suspended -= 1
        self.record(fn, args, kwargs, None, getattr(fn, "__qualname__", "call"))
        return result

    def item(self, array: Any, args: tuple) -> Any:
        value = np.ndarray.item(_base(array), *args)
        if self.suspended or not isinstance(value, float):
            return value
        return self.record(_item, (array,) + args, {}, value, ".item()")

    def backward(self, root: Any, g: Any, retain_graph: bool, create_graph: bool,
                 hooks: tuple) -> None:
        """The walk, recorded: the nodes in the walk's order (newest first), each rule, each
        fit of a gradient to its input's shape and each sum of two gradients a step."""
        from tinygrad_np import autograd
        if root.grad_fn is None:
            raise CompileError("backward() of a leaf inside a compiled function")
        if create_graph:
            raise CompileError("backward(create_graph=True) inside tg.compile is not supported: "
                               "compute higher derivatives without tg.compile (or with tg.func)")
        if hooks:
            names = ", ".join(getattr(h, "__qualname__", repr(h)) for h in hooks)
            raise CompileError(f"backward() inside tg.compile with walk hooks registered "
                               f"({names}: detect_anomaly, tg.viz.record_gradients or "
                               "register_walk_hook): the replay "
                               "would not call them; remove them or run without tg.compile")
        grads: dict[Any, Any] = {root.grad_fn: g}
        nodes, stack, seen = [], [root.grad_fn], {id(root.grad_fn)}
        while stack:
            node = stack.pop()
            nodes.append(node)
            for parent in node.parents:
                if isinstance(parent, Function) and id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append(parent)
        nodes.sort(key=lambda n: -n.seq)
        if any(node in autograd._retained for node in nodes):
            raise CompileError("retain_grad() inside tg.compile: the replay would not fill "
                               "that .grad; return the tensor instead, or run without "
                               "tg.compile")
        for node in nodes:
            if node not in grads:
                continue
            g = grads.pop(node)
            saved = node.saved
            if saved is None:
                raise RuntimeError(autograd.freed_message(node))
            where = f"{type(node).__name__} backward"
            if type(node).traceable:  # the rule's NumPy calls become steps
                self.context = where
                try:
                    in_grads = _run_rule(node, tuple(self.live(s) for s in saved), self.live(g))
                finally:
                    self.context = ""
            else:  # the rule is one step
                self.suspended += 1
                try:
                    in_grads = _run_rule(node, _base(saved), _base(g))
                finally:
                    self.suspended -= 1
                in_grads = self.record(_run_rule, (node, saved, g), {}, in_grads, where,
                                       unpack=len(in_grads))
            node.saved = saved if retain_graph else None
            for i, (parent, gi) in enumerate(zip(node.parents, in_grads, strict=True)):
                if parent is None or gi is None:
                    continue
                kept = saved[i + 1] if saved[i + 1] is not None else saved[0]
                shape = kept.shape if kept is not None else node.out_shape
                if not isinstance(gi, np.ndarray) or gi.shape != shape:
                    gi = autograd._fit_grad(gi, shape, node, i)  # its NumPy calls: steps
                if parent in grads:
                    grads[parent] = grads[parent] + gi  # a step (traced values)
                else:
                    grads[parent] = gi
                if isinstance(parent, Function):
                    parent.out_shape = shape
        for leaf, g in grads.items():
            if isinstance(getattr(leaf, "data", None), TracedArray):
                # a leaf made inside the call: its .grad starts empty at every call, so it
                # is a traced value (returning x.grad gives each replay's gradient)
                from tinygrad_np.function import make_tensor
                g = g if isinstance(g, TracedArray) else self.live(np.asarray(g))
                g = g if g.dtype == leaf.data.dtype else g.astype(leaf.data.dtype)
                leaf.grad = make_tensor(g if leaf.grad is None else leaf.grad.data + g, None)
                continue
            self.call(autograd.accumulate_grad, leaf, g)
            if isinstance(leaf.grad, Tensor) and type(leaf.grad.data) is np.ndarray:
                # code after backward() that reads leaf.grad (clip_grad_norm_, `return
                # w.grad`) reads each replay's gradient: a step that reads it live
                leaf.grad.data = self.call_value(read_grad, leaf)
                self.grad_reads.append(leaf)


def read_grad(leaf: Any) -> np.ndarray:
    """leaf.grad's array at replay (what accumulate_grad just left there)."""
    return leaf.grad.data


def _array_result(fn: Callable, *args: Any, **kwargs: Any) -> np.ndarray:
    return np.asarray(fn(*args, **kwargs))


def read_live(array: Any) -> Any:
    return array


def _copy_as(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    return np.array(array, dtype=dtype)


def _item(array: np.ndarray, *args: Any) -> Any:
    return array.item(*args)


class TracedFloat(float):
    """A Python float read from a traced value (`loss.item()`): returned by a compiled
    function, it is the replayed value. Arithmetic on it is not followed."""

    slot: int

    def __new__(cls, value: float, slot: int) -> "TracedFloat":
        self = super().__new__(cls, value)
        self.slot = slot
        return self


def recording(tracer: Tracer) -> Any:
    """A context manager: this thread records into `tracer` (ops take the general path)."""
    return _Recording(tracer)


class _Recording:
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def __enter__(self) -> Tracer:
        self._tracer_token = grad_mode.active_tracer.set(self.tracer)
        self._mode_token = grad_mode.enter_mode(grad_mode.current_mode() | grad_mode.TRACING)
        return self.tracer

    def __exit__(self, *exc: Any) -> None:
        grad_mode.exit_mode(self._mode_token)
        grad_mode.active_tracer.reset(self._tracer_token)
