"""The reverse-mode walk: backward(), grad(), walk hooks and retain_grad.

Nodes carry a creation stamp (`seq`); parents are always older than their
children, so visiting nodes by decreasing `seq` is a topological order: the walk
is a heap pop per node, with no recursion. Broadcasting is undone here, once,
never in an op. Unless `retain_graph`, each node's saved arrays are dropped as
soon as its backward has run.
"""
from __future__ import annotations

import contextlib
import sys
import weakref
from heapq import heappop, heappush
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_np import grad_mode, versions
from tinygrad_np._tensor import Tensor
from tinygrad_np.function import (MANY_INPUTS, ONE_INPUT, Function, freed_message,
                                  make_tensor)

WalkHook = Callable[[Function, Any, tuple], None]
# hook -> how many registrations hold it; every walk calls each registered hook once per node
_walk_hooks: dict[WalkHook, int] = {}


class HookHandle:
    """What `register_walk_hook` returns: `.remove()` unregisters the hook."""

    def __init__(self, hook: WalkHook) -> None:
        self.hook: WalkHook | None = hook

    def remove(self) -> None:
        """Unregister (once; later calls do nothing)."""
        hook, self.hook = self.hook, None
        if hook is not None:
            _walk_hooks[hook] -= 1
            if not _walk_hooks[hook]:
                del _walk_hooks[hook]


def register_walk_hook(hook: WalkHook) -> HookHandle:
    """Call hook(node, grad_of_output, grads_of_inputs) for every node any backward walk
    visits, after its backward and before its saved arrays are freed.

    Anomaly mode, retain_grad and `tg.viz.record_gradients` are built on this. A hook
    registered several times runs once per node until every handle is removed.
    """
    _walk_hooks[hook] = _walk_hooks.get(hook, 0) + 1
    return HookHandle(hook)


# ---------------------------------------------------------------- broadcasting
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
    if not isinstance(grad, np.ndarray) or grad.ndim != lead + 1 or grad.dtype.kind != "f" \
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


# ------------------------------------------------------------------- the walk
def _graph_connected(node: Function) -> tuple:
    """node.saved rebuilt as Tensors wired into the graph, for create_graph.

    The output becomes a Tensor of this node, each input its parent's Tensor, and
    whatever else a user Function saved the matching one of those (by identity).
    """
    out, *rest = node.saved
    parents = node.parents
    rebuilt: list[Any] = [None if out is None else make_tensor(out, node)]
    for parent, array in zip(parents, rest):
        if parent is None or array is None:
            rebuilt.append(array)
        elif isinstance(parent, Tensor):  # a leaf (Tensor or subclass such as Parameter)
            rebuilt.append(parent)
        else:
            rebuilt.append(make_tensor(array, parent))
    by_id = {id(s.data if isinstance(s, Tensor) else s): s for s in rebuilt if s is not None}
    rebuilt.extend(by_id.get(id(a), a) for a in rest[len(parents):])
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
    shapes = ", ".join(str(np.shape(a)) for a in saved[1:1 + len(node.parents)])
    return ValueError(f"{type(node).__name__}.backward returned {len(in_grads)} gradients "
                      f"for {len(node.parents)} inputs (shapes {shapes}); return one per "
                      "input (None for an input with no gradient)")


def _walk(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
          create_graph: bool, wanted: Sequence[Any] = ()) -> dict:
    """Backpropagate from roots; return {leaf or node: gradient} for leaves and `wanted`.

    Runs with recording off (on under create_graph) in this thread, and under
    detect_anomaly() with NumPy's warnings silenced (the anomaly error is the message).
    """
    grads: dict[Any, Any] = {}
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
    mode = grad_mode.current_mode()
    token = grad_mode.enter_mode(mode & ~grad_mode.GRAD_OFF if create_graph else
                                 mode | grad_mode.GRAD_OFF)
    quiet = np.errstate(all="ignore") if mode & grad_mode.ANOMALY else contextlib.nullcontext()
    try:
        with quiet:
            return _visit(heap, grads, retain_graph, create_graph, wanted)
    finally:
        grad_mode.exit_mode(token)


def _visit(heap: list, grads: dict, retain_graph: bool, create_graph: bool,
           wanted: Sequence[Any]) -> dict:
    """The walk's loop: pop the newest node, run its backward, pass gradients to parents."""
    captured: dict[Any, Any] = {}
    wanted_nodes = {w for w in wanted if isinstance(w, Function)}
    hooks = tuple(_walk_hooks)
    plain = not (create_graph or hooks or wanted_nodes)  # the common case, no extra work per node
    last_write = versions.last_write()
    node = heappop(heap)[1] if heap else None
    g = grads.pop(node) if node is not None else None
    while node is not None:
        saved = node.saved
        if saved is None:
            raise RuntimeError(freed_message(node))
        if node.seq < last_write:
            versions.check_unmodified(node, saved)
        if plain:
            in_grads = type(node).backward(node, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
        else:
            in_grads = _backward_hooked(node, g, create_graph, hooks, wanted_nodes, captured)
        if not retain_graph:
            node.saved = None
        p1 = node.parent1  # node.parents, without the property call
        parents = ((node.parent0,) if p1 is ONE_INPUT else
                   node.parent0 if p1 is MANY_INPUTS else (node.parent0, p1))
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
            kept = saved[i] if saved[i] is not None else saved[0]  # see keeps_inputs
            shape = kept.shape if kept is not None else node.out_shape
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
    grads.update(captured)
    return grads


# ---------------------------------------------------------------- retain_grad
_retained: "weakref.WeakKeyDictionary[Function, weakref.ref]" = weakref.WeakKeyDictionary()
_retain_hook: HookHandle | None = None


def retain_grad(tensor: Tensor) -> None:
    """Make the walk store this non-leaf tensor's gradient in its `.grad`."""
    global _retain_hook
    if _retain_hook is None:
        _retain_hook = register_walk_hook(_store_retained)
    _retained[tensor.grad_fn] = weakref.ref(tensor)


def retains_grad(tensor: Tensor) -> bool:
    """Whether retain_grad() was called on this tensor for its current node."""
    ref = _retained.get(tensor.grad_fn)
    return ref is not None and ref() is tensor


def _store_retained(node: Function, g: Any, in_grads: tuple) -> None:
    ref = _retained.get(node)
    tensor = ref() if ref is not None else None
    if tensor is not None and tensor.grad_fn is node:
        g = g if isinstance(g, Tensor) else make_tensor(np.array(g), None)
        tensor.grad = g if tensor.grad is None else tensor.grad + g


# ------------------------------------------------------------ backward, grad
def _initial_grad(root: Tensor, grad: Any, create_graph: bool) -> Any:
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
        g = make_tensor(g, None)
    return g


def _check_differentiable(t: Tensor, what: str) -> None:
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
    """What getrefcount says, in a call shaped like backward()'s, of an unshared gradient:
    popped from the walk's dict into a local, passed through accumulate_grad. (grad()'s
    shape holds as many references: the dict's, a local, _private_copy's argument.)

    Measured once, not assumed: CPython versions count references held by frames
    differently (3.14 borrows some), and a count too high would let two leaves share.
    """
    def probe(g: Any, dtype: Any) -> int:
        return sys.getrefcount(g)

    def accumulate(leaf: Any, g: Any) -> int:
        return probe(g, g.dtype)

    leaf, g = {None: np.empty(1)}.popitem()
    return accumulate(leaf, g)


_UNSHARED = _count_unshared()


def _own_graph_grad(g: Tensor) -> Tensor:
    """A create_graph gradient as a Tensor of the leaf's own: never one object for two
    leaves, and never an array someone else holds (a later plain backward adds into it)."""
    if g.grad_fn is None:
        return make_tensor(np.array(g.data), None)
    return make_tensor(g.data, g.grad_fn)  # a graph gradient is only ever replaced, not added to


def backward(tensor: Tensor, grad: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into `.grad` of every leaf that requires grad."""
    _check_differentiable(tensor, "the tensor you call backward() on")
    g = _initial_grad(tensor, grad, create_graph)
    if grad_mode.current_mode() & grad_mode.TRACING:  # tg.compile records this backward
        hooks = tuple(h for h in _walk_hooks if h is not _store_retained)  # retained: per node
        grad_mode.tracer().backward(tensor, g, retain_graph, create_graph, hooks)
        return
    grads = _walk([tensor], [g], retain_graph or create_graph, create_graph)
    while grads:  # popped, so the dict holds no reference of its own (see _private_copy)
        leaf, g = grads.popitem()
        if isinstance(leaf, Tensor):
            accumulate_grad(leaf, g, create_graph)


def accumulate_grad(leaf: Tensor, g: Any, create_graph: bool = False) -> None:
    """Add a gradient the walk computed into `leaf.grad`, as PyTorch's AccumulateGrad."""
    if create_graph:
        leaf.grad = _own_graph_grad(g) if leaf.grad is None else leaf.grad + g
    elif leaf.grad is None:
        leaf.grad = make_tensor(_private_copy(g, leaf.data.dtype), None)
    elif leaf.grad.grad_fn is None and leaf.grad.data.flags.writeable:
        leaf.grad.data += g
    else:
        leaf.grad = make_tensor(leaf.grad.data + g, None)


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
    if grad_mode.current_mode() & grad_mode.TRACING:
        from tinygrad_np.compiler.tracer import CompileError
        raise CompileError("tg.grad inside a compiled function is not supported yet; call "
                           "loss.backward() there, or run the function without tg.compile")
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
            g = make_tensor(_private_copy(g, x.data.dtype), None)
        elif g.dtype != x.dtype:
            g = g.astype(x.dtype)
        result.append(g)
    return tuple(result)
