"""The graph and the reverse-mode walk: Function nodes, backward(), grad(), grad modes.

Every recorded op is a `Function` instance (a node). A node keeps
  parents: one entry per forward input -- the parent's node, the leaf Tensor
           itself when the parent is a leaf that requires grad, or None;
  saved:   (output, *inputs) as arrays, freed by the walk unless retain_graph;
           None in place of what the op's backward never reads (keeps_output,
           keeps_inputs), so that memory goes as soon as the user drops it;
  seq:     a creation counter. Parents are always created before their
           children, so visiting nodes by decreasing `seq` is a topological
           order: the walk is a heap pop per node, with no recursion.
The graph points only backwards (output -> node -> parents), so it is freed by
reference counting as soon as nothing references the output.
"""
from __future__ import annotations

import functools
import inspect
import itertools
import sys
import weakref
from heapq import heappop, heappush
from typing import Any, Callable, Sequence

import numpy as np

_grad_enabled = True
_anomaly_enabled = False
_ONE, _MANY = object(), object()  # Function._p1 for a node of one input / of three or more
_seq = itertools.count()
# Functions called as hook(node, grad_of_output, grads_of_inputs) for every node the
# walk visits, before its saved arrays are freed (anomaly mode, retain_grad, pictures).
_walk_hooks: list[Callable[[Any, Any, tuple], None]] = []


class Function:
    """A differentiable op: subclass it, write `forward` and `backward`, call `apply`.

    `forward(ctx, *arrays, **params)` gets NumPy arrays (or the raw non-Tensor
    arguments) and returns an array; `backward(ctx, grad_out)` returns one
    gradient per positional input (None where there is none). Built-in ops read
    `ctx.saved == (output, *inputs)`; user Functions use `ctx.save_for_backward`
    and `ctx.saved_tensors`, like PyTorch.
    """

    # NOTE: parents live in two slots, not a tuple: a tuple per node is one more object
    # the cycle collector rescans while the graph lives (W4 ~20% slower with it). A
    # two-input op's backward reads its parents as `self._p0, self._p1`: the `parents`
    # property costs ~600 instructions a call (2% of W3).
    __slots__ = ("_p0", "_p1", "saved", "seq", "out_shape", "out_dtype", "__dict__",
                 "__weakref__")
    # Built-in ops whose backward never reads their output (matmul) or inputs (tanh: only
    # its output, and every input has the output's shape) leave them out of `saved`.
    keeps_output = True
    keeps_inputs = True
    # Built-in arithmetic (+ - * /) takes a Python number beside a float array as a 0-d
    # array of that array's dtype: the same result under NumPy's rules, and cheaper.
    numbers_as_arrays = False
    # An elementwise op can name its forward's NumPy ufunc instead of writing `forward`
    # (`ufunc = np.add`): apply calls it directly, one Python call fewer per op (2% of W3).
    ufunc: Any = None

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> "Tensor":
        """Run forward on the inputs' arrays and record the node when a gradient is needed."""
        if not params:
            if len(inputs) == 2:
                return apply_binary(cls, inputs[0], inputs[1])
            if len(inputs) == 1 and isinstance(inputs[0], Tensor):
                return apply_unary(cls, inputs[0])
            if len(inputs) == 3 and isinstance(inputs[0], Tensor) and isinstance(inputs[1], Tensor):
                return apply_ternary(cls, *inputs)
        ctx = _new_object(cls)
        arrays, parents = [], []
        needs_grad = False
        for x in inputs:
            if isinstance(x, Tensor):
                arrays.append(x.data)
                if x.requires_grad:
                    parents.append(x.grad_fn or x)
                    needs_grad = True
                    continue
            else:
                arrays.append(x)
            parents.append(None)
        try:
            out = cls.forward(ctx, *arrays, **params)
        except (ValueError, TypeError, IndexError) as error:
            raise _op_error(cls, error, arrays) from error
        return _output(ctx, out, tuple(arrays), tuple(parents), needs_grad)

    def forward(ctx, *args: Any, **params: Any) -> np.ndarray:  # noqa: N805
        if ctx.ufunc is not None:
            return ctx.ufunc(*args, **params)
        raise NotImplementedError(f"{type(ctx).__name__}.forward is not written")

    def backward(ctx, grad: Any) -> Any:  # noqa: N805
        raise NotImplementedError(f"{type(ctx).__name__}.backward is not written")

    # --- the PyTorch vocabulary for user-defined Functions ---
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; read them back with `saved_tensors`."""
        self.to_save = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What `save_for_backward` kept (graph-connected Tensors under create_graph)."""
        if getattr(self, "saved", None) is None and hasattr(self, "seq"):
            raise RuntimeError(_freed_message(self))
        kept = getattr(self, "to_save", ())
        saved = getattr(self, "saved", None)
        if saved is None or not any(type(s) is Tensor for s in saved):
            return kept
        # create_graph: hand back the Tensor that carries each saved array
        by_id = {id(s.data if isinstance(s, Tensor) else s): s for s in saved}
        return tuple(by_id.get(id(a), a) for a in kept)

    @property
    def parents(self) -> tuple:
        """One entry per forward input: its node, the leaf Tensor itself, or None."""
        p1 = self._p1
        return (self._p0,) if p1 is _ONE else self._p0 if p1 is _MANY else (self._p0, p1)

    @parents.setter
    def parents(self, parents: tuple) -> None:
        if len(parents) == 1:
            self._p0, self._p1 = parents[0], _ONE
        elif len(parents) == 2:
            self._p0, self._p1 = parents
        else:
            self._p0, self._p1 = tuple(parents), _MANY

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each forward input: does it need a gradient?"""
        return tuple(p is not None for p in self.parents)

    @property
    def name(self) -> str:
        """The op's name as shown in reprs and graphs, e.g. 'MulBackward'."""
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"


# NOTE: Function.apply for one Tensor or two inputs, the traffic of every model, written
# out without packing, loops or extra calls: together ~0.5 us of an op's ~2.5 us.
def apply_binary(cls: type, a: Any, b: Any) -> "Tensor":
    """cls.apply(a, b): forward on the arrays, a node recorded when a gradient is needed."""
    ctx = _new_object(cls)
    if isinstance(a, Tensor):
        pa = (a.grad_fn or a) if a.requires_grad else None
        a = a.data
    else:
        pa = None
    if isinstance(b, Tensor):
        pb = (b.grad_fn or b) if b.requires_grad else None
        b = b.data
        if (type(a) is float or type(a) is int) and cls.numbers_as_arrays:
            a = number_array(a, b)
    else:
        pb = None
        if (type(b) is float or type(b) is int) and cls.numbers_as_arrays:
            # NOTE: number_array's cache hit, inline for `tensor op number` (W3: -1.8% instrs);
            # the same test it makes, so a miss or any other operand takes the call
            hit = _number_arrays.get(id(b))
            b = hit[2] if hit is not None and hit[0] is b and type(a) is np.ndarray \
                and hit[1] is a.dtype else number_array(b, a)
    try:
        out = cls.forward(ctx, a, b) if cls.ufunc is None else cls.ufunc(a, b)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, [a, b]) from error
    if type(out) is not np.ndarray or _anomaly_enabled or (dtype := out.dtype).kind != "f":
        return _output(ctx, out, (a, b), (pa, pb), pa is not None or pb is not None)
    ctx.out_dtype = dtype
    t = _new_object(Tensor)
    t.data = out
    t.grad = None
    t.name = None
    if (pa is not None or pb is not None) and _grad_enabled:
        ctx._p0, ctx._p1 = pa, pb
        ctx.saved = (out, a, b) if cls.keeps_output else (_spec_only(ctx, out), a, b)
        ctx.seq = next(_seq)
        t.requires_grad = True
        t.grad_fn = ctx
    else:
        t.requires_grad = False
        t.grad_fn = None
    return t


def apply_unary(cls: type, a: "Tensor") -> "Tensor":
    """cls.apply(a) for a Tensor a: forward on its array, a node recorded when needed."""
    ctx = _new_object(cls)
    x = a.data
    try:
        out = cls.forward(ctx, x) if cls.ufunc is None else cls.ufunc(x)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, [x]) from error
    if type(out) is not np.ndarray or _anomaly_enabled or (dtype := out.dtype).kind != "f":
        return _output(ctx, out, (x,), ((a.grad_fn or a) if a.requires_grad else None,),
                       a.requires_grad)
    ctx.out_dtype = dtype
    t = _new_object(Tensor)
    t.data = out
    t.grad = None
    t.name = None
    if a.requires_grad and _grad_enabled:
        ctx._p0, ctx._p1 = a.grad_fn or a, _ONE
        ctx.saved = (out, x if cls.keeps_inputs else None)
        ctx.seq = next(_seq)
        t.requires_grad = True
        t.grad_fn = ctx
    else:
        t.requires_grad = False
        t.grad_fn = None
    return t


def apply_ternary(cls: type, a: "Tensor", b: "Tensor", c: Any) -> "Tensor":
    """cls.apply(a, b, c) for Tensors a and b (Linear's x, weight and bias, c maybe None).

    Without the general path's lists and loop: W5 -1.1% instructions; the end is `_output`.
    """
    ctx = _new_object(cls)
    pa = (a.grad_fn or a) if a.requires_grad else None
    pb = (b.grad_fn or b) if b.requires_grad else None
    if isinstance(c, Tensor):
        pc = (c.grad_fn or c) if c.requires_grad else None
        c = c.data
    else:
        pc = None
    a, b = a.data, b.data
    try:
        out = cls.forward(ctx, a, b, c)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, [a, b, c]) from error
    return _output(ctx, out, (a, b, c), (pa, pb, pc),
                   pa is not None or pb is not None or pc is not None)


# Python numbers already met, by identity: id -> (number, dtype, 0-d array of it in dtype).
_number_arrays: dict[int, tuple] = {}


def number_array(number: float, like: Any) -> Any:
    """`number` as NumPy meets it beside the array `like`: a cached read-only 0-d array of
    like's float dtype (`number` itself when like is not a float ndarray).

    NOTE: NumPy converts a Python scalar operand on every call, ~400 ns: on small arrays
    more than the arithmetic. Under NumPy's promotion rules (NEP 50) a Python number
    beside a float array is cast to that array's dtype, so a 0-d array of the dtype gives
    the identical result. Cached by identity: a constant in a loop is one object.
    """
    if type(like) is not np.ndarray:
        return number
    entry = _number_arrays.get(id(number))
    if entry is not None and entry[0] is number and entry[1] is like.dtype:
        return entry[2]
    if like.dtype.kind != "f":
        return number
    try:
        with np.errstate(over="raise"):
            array = np.array(number, like.dtype)
    except (OverflowError, FloatingPointError):  # out of the dtype's range: NumPy decides
        return number
    array.flags.writeable = False
    if len(_number_arrays) >= 256:  # computed numbers (a decaying rate...) come and go
        _number_arrays.clear()
    _number_arrays[id(number)] = (number, like.dtype, array)
    return array


def _output(ctx: Function, out: Any, arrays: tuple, parents: tuple, needs_grad: bool) -> "Tensor":
    """The general end of apply: checks, anomaly mode, the node when a gradient is needed."""
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    if _anomaly_enabled:
        from tinygrad_np.anomaly import check_forward
        check_forward(ctx, out, list(arrays), list(parents))
    if not (needs_grad and _grad_enabled):
        return _make(out, None)
    ctx.out_dtype = out.dtype
    if out.dtype.kind != "f":
        raise TypeError(f"{type(ctx).__name__} produced {out.dtype} output, which cannot "
                        "carry a gradient; only floating-point results can require grad")
    ctx.parents = parents
    kept = out if ctx.keeps_output else _spec_only(ctx, out)
    ctx.saved = (kept,) + (arrays if ctx.keeps_inputs else (None,) * len(arrays))
    ctx.seq = next(_seq)
    return _make(out, ctx)


def _spec_only(node: Function, out: np.ndarray) -> None:
    """Note the output's shape for pictures, in place of the array itself."""
    node.out_shape = out.shape


# Arrays changed in place (by owner id) -> (seq at the change, weakref): PyTorch's version
# counters, paid for only by in-place writes. The walk refuses a node recorded before a
# change to an array it saved; nodes newer than the last change skip the check.
_modified: dict[int, tuple[int, weakref.ref]] = {}
_last_modified_seq = -1


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory a view looks at."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def mark_modified(*arrays: np.ndarray) -> None:
    """Record in-place writes to `arrays`, so graphs that saved them refuse to backward."""
    global _last_modified_seq
    seq = _last_modified_seq = next(_seq)
    for array in arrays:
        owner = _owner(array)
        key = id(owner)
        known = _modified.get(key)
        if known is not None and known[1]() is owner:
            # an optimizer writes every parameter every step: reuse its weakref (~1.5% of W5)
            _modified[key] = (seq, known[1])
        else:
            _modified[key] = (seq, weakref.ref(owner, lambda _, key=key: _modified.pop(key, None)))


def _check_unmodified(node: "Function", saved: tuple) -> None:
    for i, array in enumerate(saved):
        if isinstance(array, np.ndarray):
            change = _modified.get(id(_owner(array)))
            if change is not None and change[0] > node.seq:
                what = "its output" if i == 0 else f"its input {i - 1}"
                raise RuntimeError(
                    f"an array needed to backward through {node.name} ({what}, shape "
                    f"{array.shape}) was modified by an in-place operation after the op was "
                    "recorded, so its gradient would be wrong. Do the update out of place "
                    "(t = t + 1), or after backward(); optimizer.step() belongs after backward.")


def next_seq() -> int:
    """A fresh sequence number: nodes recorded after this call have larger `seq`.

    Module.__call__ takes one before and after forward, so the nodes a module
    created are exactly those whose seq lies between (no per-op bookkeeping).
    """
    return next(_seq)


def output_spec(node: Function) -> tuple:
    """(shape, dtype) of a node's output, also after backward freed its arrays.

    The dtype is noted when the op runs; the shape, when the array is not kept, then
    too, else by the walk that frees it (see `_walk`).
    """
    saved = node.saved
    if saved is not None and saved[0] is not None:
        return np.shape(saved[0]), getattr(saved[0], "dtype", None)
    return getattr(node, "out_shape", None), getattr(node, "out_dtype", None)


def _make(data: np.ndarray, grad_fn: Function | None) -> "Tensor":
    """A Tensor around an array produced by an op (no copying, no checks)."""
    t = _new_object(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = grad_fn is not None
    t.grad_fn = grad_fn
    t.name = None
    return t


def _op_error(cls: type, error: Exception, arrays: list) -> Exception:
    """The forward's own error, prefixed with the op and its input shapes."""
    shapes = ", ".join(str(np.shape(a)) for a in arrays)
    kind = next(k for k in (IndexError, TypeError, ValueError) if isinstance(error, k))
    return kind(f"{cls.__name__} with input shapes {shapes}: {error}")


def _freed_message(node: Function) -> str:
    return (f"Trying to backward through the graph a second time: the arrays saved by "
            f"{node.name} were freed after the first backward. Pass retain_graph=True "
            "to the first backward() if you need to backward twice.")


# ---------------------------------------------------------------- grad modes
class _GradMode:
    """Base of no_grad/enable_grad: a context manager and a function decorator.

    Usable as `with tg.no_grad():`, `@tg.no_grad()` and `@tg.no_grad`; a decorated
    generator runs each of its steps in the mode. An instance can be re-entered.
    """

    enabled: bool

    def __new__(cls, fn: Callable | None = None) -> Any:
        if fn is not None:  # the bare-decorator form, @tg.no_grad
            return object.__new__(cls)(fn)
        return object.__new__(cls)

    def __init__(self, fn: Callable | None = None) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous.append(_grad_enabled)
        _grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        global _grad_enabled
        _grad_enabled = self._previous.pop()

    def __call__(self, fn: Callable) -> Callable:
        mode = type(self)
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def run_generator_in_mode(*args: Any, **kwargs: Any) -> Any:
                generator = fn(*args, **kwargs)
                sent = None
                while True:
                    with mode():
                        try:
                            value = generator.send(sent)
                        except StopIteration as stop:
                            return stop.value
                    sent = yield value
            return run_generator_in_mode

        @functools.wraps(fn)
        def run_in_mode(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)
        return run_in_mode


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Record nothing inside: `with tg.no_grad(): ...` or `@tg.no_grad()`."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record ops again inside a no_grad region."""

    enabled = True


def is_grad_enabled() -> bool:
    """True when new ops are recorded into the graph."""
    return _grad_enabled


# ---------------------------------------------------------------- the walk
def unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum `grad` over the axes broadcasting added or stretched, so it has `shape`."""
    lead = grad.ndim - len(shape)
    if lead > 0:
        grad = sum_leading(grad, lead)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def sum_leading(grad: Any, lead: int) -> Any:
    """`grad` summed over its first `lead` axes (a bias's gradient: the sum over rows)."""
    if type(grad) is not np.ndarray or grad.ndim != lead + 1 or grad.dtype.kind != "f" \
            or not grad.shape[-1]:
        return grad.sum(axis=tuple(range(lead)))
    # NOTE: rows summed as ones @ grad, one BLAS call: 2-5x faster than grad.sum(axis=0),
    # whose axis-0 reduction has a large fixed cost (W1's biases: 21 us -> 6 us each).
    rows = grad.size // grad.shape[-1]
    ones = _ones.get((rows, grad.dtype))
    if ones is None:
        ones = np.ones(rows, grad.dtype)
        if rows <= 65536:  # np.ones costs as much as the product on W5's 100 rows: kept
            if len(_ones) >= 64:
                _ones.clear()
            ones.flags.writeable = False
            _ones[rows, grad.dtype] = ones
    return ones @ grad.reshape((rows, grad.shape[-1]))


_ones: dict[tuple, np.ndarray] = {}


def _fit_grad(grad: Any, shape: tuple, node: Function, index: int) -> Any:
    """Bring a gradient to its input's shape, or say which op returned a wrong one."""
    if not isinstance(grad, (np.ndarray, Tensor)):
        grad = np.asarray(grad)  # e.g. the NumPy scalar a 0-d product gives
        if grad.shape == shape:
            return grad
    lead = grad.ndim - len(shape)
    if lead > 0 and grad.shape[lead:] == shape:
        return sum_leading(grad, lead)  # the common case, a bias added to every row
    if grad.ndim >= len(shape) and all(
            n == 1 or n == m for n, m in zip(shape, grad.shape[grad.ndim - len(shape):])):
        fitted = unbroadcast(grad, shape)
        if fitted.shape == shape:
            return fitted
    raise ValueError(f"{type(node).__name__}.backward returned a gradient of shape "
                     f"{tuple(grad.shape)} for input {index}, whose shape is {shape}; "
                     "a gradient must have its input's shape (or broadcast to it)")


def _graph_connected(node: Function) -> tuple:
    """node.saved rebuilt as Tensors wired into the graph, for create_graph."""
    out, *inputs = node.saved
    rebuilt: list[Any] = [None if out is None else _make(out, node)]
    for parent, array in zip(node.parents, inputs):
        if parent is None or array is None:
            rebuilt.append(array)
        elif isinstance(parent, Tensor):  # a leaf (Tensor or subclass such as Parameter)
            rebuilt.append(parent)
        else:
            rebuilt.append(_make(array, parent))
    return tuple(rebuilt)


def _backward_hooked(node: Function, g: Any, create_graph: bool, hooks: tuple,
                     wanted_nodes: set, captured: dict) -> tuple:
    """node's backward with the extras: captured gradients, create_graph, walk hooks."""
    if node in wanted_nodes:
        captured[node] = g
    saved = node.saved
    if create_graph:
        node.saved = _graph_connected(node)
        try:
            in_grads = type(node).backward(node, g)
        finally:
            node.saved = saved
    else:
        in_grads = type(node).backward(node, g)
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    for hook in hooks:
        hook(node, g, in_grads)
    return in_grads


def _count_error(node: Function, in_grads: tuple, saved: tuple) -> ValueError:
    shapes = ", ".join(str(np.shape(a)) for a in saved[1:])
    return ValueError(f"{type(node).__name__}.backward returned {len(in_grads)} gradients "
                      f"for {len(node.parents)} inputs (shapes {shapes}); return one per "
                      "input (None for an input with no gradient)")


def _walk(roots: Sequence["Tensor"], root_grads: Sequence[Any], retain_graph: bool,
          create_graph: bool, wanted: Sequence[Any] = ()) -> dict:
    """Backpropagate from roots; return {leaf or node: gradient} for leaves and `wanted`."""
    global _grad_enabled
    grads: dict[Any, Any] = {}
    captured: dict[Any, Any] = {}
    wanted_nodes = {w for w in wanted if isinstance(w, Function)}
    heap: list[tuple[int, Function]] = []
    for root, g in zip(roots, root_grads):
        key = root.grad_fn or root
        if key in grads:
            grads[key] = grads[key] + g
        else:
            grads[key] = g
            if key is root.grad_fn:
                key.out_shape = root.shape
                heappush(heap, (-key.seq, key))
    hooks = tuple(_walk_hooks)
    plain = not (create_graph or hooks or wanted_nodes)  # the common case, no extra work per node
    previous_mode = _grad_enabled
    _grad_enabled = create_graph
    try:
        node = heappop(heap)[1] if heap else None
        g = grads.pop(node) if node is not None else None
        while node is not None:
            saved = node.saved
            if saved is None:
                raise RuntimeError(_freed_message(node))
            if node.seq < _last_modified_seq:
                _check_unmodified(node, saved)
            if plain:
                in_grads = type(node).backward(node, g)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
            else:
                in_grads = _backward_hooked(node, g, create_graph, hooks, wanted_nodes, captured)
            if not retain_graph:
                node.saved = None
            p1 = node._p1  # node.parents, without the property call
            parents = (node._p0,) if p1 is _ONE else node._p0 if p1 is _MANY else (node._p0, p1)
            if len(in_grads) != len(parents):
                raise _count_error(node, in_grads, saved)
            # NOTE: a parent newer than everything queued comes next anyway: walk to it
            # directly, past the heap and the dict (chains and layers: most nodes, ~8%).
            follow = follow_g = None
            i = 0
            for parent in parents:
                gi = in_grads[i]
                i += 1
                if parent is None or gi is None:
                    continue
                shape = (saved[i] if saved[i] is not None else saved[0]).shape  # keeps_inputs
                if type(gi) is not np.ndarray or gi.shape != shape:
                    gi = _fit_grad(gi, shape, node, i - 1)
                if not isinstance(parent, Function):  # a leaf Tensor
                    grads[parent] = grads[parent] + gi if parent in grads else gi
                # NOTE: a node met for the first time keeps its output's shape for pictures:
                # the tuple the check above made (a spec tuple per node cost 8% of W3).
                # A node in `grads` is in the heap: one newer than all queued is new.
                elif follow is None and (not heap or parent.seq > -heap[0][0]):
                    follow, follow_g = parent, gi
                    parent.out_shape = shape
                elif parent is follow:
                    follow_g = follow_g + gi
                elif parent in grads:
                    grads[parent] = grads[parent] + gi
                else:
                    parent.out_shape = shape
                    grads[parent] = gi
                    heappush(heap, (-parent.seq, parent))
            if follow is not None:
                if not heap or follow.seq > -heap[0][0]:
                    node, g = follow, follow_g
                    continue
                grads[follow] = follow_g
                heappush(heap, (-follow.seq, follow))
            node = heappop(heap)[1] if heap else None
            g = grads.pop(node) if node is not None else None
    finally:
        _grad_enabled = previous_mode
    grads.update(captured)
    return grads


_retained: "weakref.WeakKeyDictionary[Function, weakref.ref]" = weakref.WeakKeyDictionary()


def retain_grad(tensor: "Tensor") -> None:
    """Make the walk store this non-leaf tensor's gradient in its `.grad`."""
    if _store_retained not in _walk_hooks:
        _walk_hooks.append(_store_retained)
    _retained[tensor.grad_fn] = weakref.ref(tensor)


def _store_retained(node: Function, g: Any, in_grads: tuple) -> None:
    ref = _retained.get(node)
    tensor = ref() if ref is not None else None
    if tensor is not None and tensor.grad_fn is node:
        g = g if isinstance(g, Tensor) else _make(np.array(g), None)
        tensor.grad = g if tensor.grad is None else tensor.grad + g


def _initial_grad(root: "Tensor", grad: Any, create_graph: bool) -> Any:
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for a one-element output, "
                               f"but this output has shape {root.shape}; pass grad= (an array "
                               "of that shape), or reduce the output first, e.g. y.sum()")
        g = np.array(1, dtype=root.data.dtype).reshape(root.shape)  # not ones_like: 3 us
    elif isinstance(grad, Tensor):
        g = grad if create_graph else grad.data
    else:
        g = np.asarray(grad, dtype=root.dtype)
    if g.shape != root.shape:
        raise ValueError(f"grad has shape {tuple(g.shape)} but the output has shape "
                         f"{root.shape}; they must match")
    if create_graph and not isinstance(g, Tensor):
        g = _make(g, None)
    return g


def _check_differentiable(t: "Tensor", what: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} must be a Tensor, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError(f"{what} (shape {t.shape}) does not require grad and has no "
                           "grad_fn: create it with requires_grad=True or compute it from "
                           "a tensor that requires grad")


def _private_copy(g: Any, dtype: np.dtype) -> np.ndarray:
    """g as an array of dtype that nothing else references: g itself when it is unshared.

    The walk may hand one array to several leaves, or pass on the user's `grad=`.
    NOTE: like PyTorch's AccumulateGrad, an unshared gradient is taken rather than copied
    (W2: 7% of a step). Unshared: it owns its memory and is referenced only by the walk's
    dict and the caller's variable -- as many references as `_UNSHARED` counted.
    """
    if (type(g) is np.ndarray and sys.getrefcount(g) <= _UNSHARED and g.base is None
            and g.dtype == dtype and g.flags.writeable):
        return g
    return np.array(g, dtype=dtype)


def _count_unshared() -> int:
    """What getrefcount says, in a call shaped like backward()'s, of an unshared gradient.

    Measured once, not assumed: CPython versions count references held by frames
    differently (3.14 borrows some), and a count too high would let two leaves share.
    """
    def probe(g: Any, dtype: Any) -> int:
        return sys.getrefcount(g)

    for _, g in {None: np.empty(1)}.items():
        return probe(g, g.dtype)
    raise AssertionError("unreachable")


def backward(tensor: "Tensor", grad: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into `.grad` of every leaf that requires grad."""
    _check_differentiable(tensor, "the tensor you call backward() on")
    g = _initial_grad(tensor, grad, create_graph)
    grads = _walk([tensor], [g], retain_graph or create_graph, create_graph)
    for leaf, g in grads.items():
        if not isinstance(leaf, Tensor):
            continue
        if create_graph:
            leaf.grad = g if leaf.grad is None else leaf.grad + g
        elif leaf.grad is None:
            leaf.grad = _make(_private_copy(g, leaf.data.dtype), None)
        elif leaf.grad.grad_fn is None:
            leaf.grad.data += g
        else:
            leaf.grad = _make(leaf.grad.data + g, None)


def grad(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of outputs w.r.t. inputs, returned (not accumulated), like torch.autograd.grad."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, out in enumerate(outputs):
        _check_differentiable(out, f"outputs[{i}]")
    for i, x in enumerate(inputs):
        _check_differentiable(x, f"inputs[{i}]")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_initial_grad(o, g, create_graph) for o, g in zip(outputs, grad_outputs)]
    keys = [x.grad_fn or x for x in inputs]
    grads = _walk(outputs, root_grads, retain_graph, create_graph, wanted=keys)
    result = []
    for i, (x, key) in enumerate(zip(inputs, keys)):
        g = grads.get(key)
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"inputs[{i}] (shape {x.shape}) was not used to compute "
                                   "the outputs; pass allow_unused=True to get None for it")
            result.append(None)
            continue
        if not isinstance(g, Tensor):
            g = _make(_private_copy(g, x.data.dtype), None)
        elif g.dtype != x.dtype:
            g = g.astype(x.dtype)
        result.append(g)
    return tuple(result)


from tinygrad_np.tensor import Tensor  # noqa: E402  (Tensor's methods need this module first)

_UNSHARED = _count_unshared()

_new_object = object.__new__
