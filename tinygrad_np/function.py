"""Function (the node of the graph), its ctx API, and recording an op.

Every recorded op is a `Function` instance, a node. A node keeps
  parents: one entry per forward input -- the parent's node, the leaf Tensor
           itself when the parent is a leaf that requires grad, or None;
  saved:   (output, *inputs) as arrays, then whatever a user Function passed to
           `save_for_backward`; the walk frees it unless retain_graph. None in place
           of what a built-in op's backward never reads (keeps_output, keeps_inputs);
  seq:     a stamp from `versions.next_seq()`. Parents are created before their
           children, so visiting nodes by decreasing `seq` is a topological order.
The graph points only backwards (output -> node -> parents), so it is freed by
reference counting as soon as nothing references the output.

Every op, whichever way it is applied, ends in `record`: it makes the output
Tensor and, when a gradient is needed, fills the node.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np.grad_mode import (ANOMALY, GENERAL_PATH, GRAD_OFF, TRACING, active_tracer,
                                   current_mode)
from tinygrad_np.versions import next_seq

ONE_INPUT = object()    # parent1 of a node with one input
MANY_INPUTS = object()  # parent1 of a node with three or more (parent0 holds their tuple)


class Function:
    """A differentiable op: subclass it, write `forward` and `backward`, call `apply`.

    `forward(ctx, *arrays, **params)` gets NumPy arrays (or the raw non-Tensor
    arguments) and returns an array; `backward(ctx, grad_out)` returns one
    gradient per positional input (None where there is none). User Functions keep
    arrays with `ctx.save_for_backward` and read them with `ctx.saved_tensors`, as in
    PyTorch; built-in ops read `ctx.saved == (output, *inputs)`.
    """

    # NOTE: parents live in two slots, not a tuple: a tuple per node is one more object
    # the cycle collector rescans while the graph lives (W4 ~20% slower with it). A rule
    # of a two-input op reads `self.parent0, self.parent1` (None: no gradient wanted).
    __slots__ = ("parent0", "parent1", "saved", "seq", "out_shape", "out_dtype", "__dict__",
                 "__weakref__")
    # A built-in op whose backward never reads its output (matmul) or its inputs (tanh:
    # only its output, and every input has the output's shape) leaves them out of `saved`.
    keeps_output = True
    keeps_inputs = True
    # Built-in arithmetic (+ - * /) takes a Python number beside a float array as a 0-d
    # array of that array's dtype: the same result under NumPy's rules, and cheaper.
    numbers_as_arrays = False
    # An elementwise op can name its forward's NumPy ufunc instead of writing `forward`
    # (`ufunc = np.add`): apply calls it directly, one Python call fewer per op (2% of W3).
    ufunc: Any = None
    # tg.compile may record forward and backward NumPy call by call (faster replays) when
    # they use only NumPy functions, ufuncs and array methods -- no array made with
    # np.empty/zeros and then written into -- and no Python branch on array values.
    traceable = False
    keeps_all = True  # keeps_output and keeps_inputs, set for each subclass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # NOTE: one flag for record() to read, not two (an attribute read: ~1% of W3)
        cls.keeps_all = cls.keeps_output and cls.keeps_inputs

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> "Tensor":
        """Run forward on the inputs' arrays and record the node when a gradient is needed."""
        return apply(cls, *inputs, **params)

    def forward(ctx, *args: Any, **params: Any) -> np.ndarray:  # noqa: N805
        if ctx.ufunc is not None:
            return ctx.ufunc(*args, **params)
        raise NotImplementedError(f"{type(ctx).__name__}.forward is not written")

    def backward(ctx, grad: Any) -> Any:  # noqa: N805
        raise NotImplementedError(f"{type(ctx).__name__}.backward is not written")

    # --- the PyTorch vocabulary for user-defined Functions ---
    to_save: tuple = ()  # what save_for_backward was given, until the node is recorded

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward (freed with the graph); read them with `saved_tensors`."""
        self.to_save = arrays

    @property
    def saved_tensors(self) -> tuple:
        """What `save_for_backward` kept (graph-connected Tensors under create_graph)."""
        saved = getattr(self, "saved", None)
        if saved is None:
            if hasattr(self, "seq"):
                raise RuntimeError(freed_message(self))
            return self.to_save  # inside forward, before recording
        return saved[1 + len(self.parents):]

    @property
    def parents(self) -> tuple:
        """One entry per forward input: its node, the leaf Tensor itself, or None."""
        p1 = self.parent1
        if p1 is ONE_INPUT:
            return (self.parent0,)
        return self.parent0 if p1 is MANY_INPUTS else (self.parent0, p1)

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


def parent_slots(parents: tuple) -> tuple:
    """(parent0, parent1) holding a node's parents."""
    if len(parents) == 1:
        return parents[0], ONE_INPUT
    if len(parents) == 2:
        return parents
    return tuple(parents), MANY_INPUTS


def output_spec(node: Function) -> tuple:
    """(shape, dtype) of a node's output, also after backward freed its arrays."""
    saved = node.saved
    if saved is not None and saved[0] is not None:
        return np.shape(saved[0]), getattr(saved[0], "dtype", None)
    return getattr(node, "out_shape", None), getattr(node, "out_dtype", None)


# ------------------------------------------------------------------ applying
def apply(cls: type, *inputs: Any, **params: Any) -> "Tensor":
    """cls.apply(*inputs, **params): the general path, for any op and any mode."""
    node = _new_object(cls)
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
    mode = current_mode()
    try:
        if mode & TRACING:  # tg.compile records the op as one step of its plan
            out = active_tracer.get().forward(cls, node, arrays, params, inputs)
        elif mode & ANOMALY:
            with np.errstate(all="ignore"):  # NaN/inf become the anomaly error, not warnings
                out = cls.forward(node, *arrays, **params)
        else:
            out = cls.forward(node, *arrays, **params)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, arrays) from error
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    extra = node.to_save  # what a user Function's save_for_backward kept
    if extra:
        del node.to_save  # it lives on in `saved`, which the walk frees
    saved = (out, *arrays, *extra)
    if mode & ANOMALY:
        from tinygrad_np.anomaly import check_forward
        check_forward(node, out, arrays, parents)
    needs_grad = needs_grad and not mode & GRAD_OFF
    if needs_grad and out.dtype.kind != "f":  # (ops on the fast paths keep float dtypes)
        raise TypeError(f"{cls.__name__} produced {out.dtype} output, which cannot "
                        "carry a gradient; only floating-point results can require grad")
    n = len(parents)
    if n == 1:
        return record(node, out, saved, parents[0], ONE_INPUT, needs_grad)
    if n == 2:
        return record(node, out, saved, parents[0], parents[1], needs_grad)
    return record(node, out, saved, tuple(parents), MANY_INPUTS, needs_grad)


# NOTE: apply for one Tensor or two inputs, the traffic of every model, written out
# without packing or loops: ~0.5 us of an op's ~2.5 us. Anomaly mode and tg.compile's
# recording take `apply`.
def apply_unary(cls: type, a: "Tensor") -> "Tensor":
    """cls.apply(a) for a Tensor a."""
    mode = current_mode()
    if mode & GENERAL_PATH:
        return apply(cls, a)
    node = _new_object(cls)
    x = a.data
    ufunc = cls.ufunc
    try:
        out = cls.forward(node, x) if ufunc is None else ufunc(x)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, [x]) from error
    parent = (a.grad_fn or a) if a.requires_grad else None
    return record(node, out, (out, x), parent, ONE_INPUT, parent is not None and not mode)


def apply_binary(cls: type, a: Any, b: Any) -> "Tensor":
    """cls.apply(a, b) for two inputs, at least one of them a Tensor."""
    mode = current_mode()
    if mode & GENERAL_PATH:
        return apply(cls, a, b)
    node = _new_object(cls)
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
            b = number_array(b, a)
    ufunc = cls.ufunc
    try:
        out = cls.forward(node, a, b) if ufunc is None else ufunc(a, b)
    except (ValueError, TypeError, IndexError) as error:
        raise _op_error(cls, error, [a, b]) from error
    return record(node, out, (out, a, b), pa, pb,
                  (pa is not None or pb is not None) and not mode)


def record(node: Function, out: Any, saved: tuple, parent0: Any, parent1: Any,
           needs_grad: bool) -> "Tensor":
    """The end of every apply: the output Tensor, and its node when a gradient is needed.

    saved: (out, *inputs, *what save_for_backward kept); parent0/parent1: see Function.
    """
    if type(out) is not np.ndarray and not isinstance(out, np.ndarray):
        out = np.asarray(out)  # e.g. the NumPy scalar a ufunc gives on 0-d arrays
        saved = (out,) + saved[1:]
    if not needs_grad:
        return make_tensor(out, None)
    node.parent0 = parent0
    node.parent1 = parent1
    node.out_dtype = out.dtype
    if not node.keeps_all:
        if not node.keeps_output:
            node.out_shape = out.shape  # for pictures, in place of the array
            saved = (None,) + saved[1:]
        if not node.keeps_inputs:
            saved = (saved[0],) + (None,) * (len(saved) - 1)
    node.saved = saved
    node.seq = next_seq()
    t = _new_object(Tensor)
    t.data = out
    t.grad = None
    t.requires_grad = True
    t.grad_fn = node
    t.name = None
    return t


def make_tensor(data: np.ndarray, grad_fn: Function | None) -> "Tensor":
    """A Tensor around an array (no copying, no checks): how every Tensor is made."""
    t = _new_object(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = grad_fn is not None
    t.grad_fn = grad_fn
    t.name = None
    return t


def array_of(x: Any) -> Any:
    """The array behind x: a Tensor's data; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


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


def _op_error(cls: type, error: Exception, arrays: list) -> Exception:
    """The forward's own error, prefixed with the op and its input shapes."""
    shapes = ", ".join(str(np.shape(a)) for a in arrays)
    kind = next(k for k in (IndexError, TypeError, ValueError) if isinstance(error, k))
    return kind(f"{cls.__name__} with input shapes {shapes}: {error}")


def freed_message(node: Function) -> str:
    """What a second backward through a freed node says."""
    return (f"Trying to backward through the graph a second time: the arrays saved by "
            f"{node.name} were freed after the first backward. Pass retain_graph=True "
            "to the first backward() if you need to backward twice.")


_new_object = object.__new__

from tinygrad_np._tensor import Tensor  # noqa: E402  (the one import circle: see _tensor.py)
