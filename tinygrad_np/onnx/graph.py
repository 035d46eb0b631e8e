"""The ONNX graph being built from two traces: values, initializers, and checked constants.

`Graph` turns each recorded node into ONNX nodes through the emitter table
(`emitters.EMITTERS`, op class -> function). An emitter receives an `Op`: the ONNX names
of the node's inputs, its shapes in both traces, its parameters, and `emit`/`const`/`ints`
to add nodes and initializers. Parameters and buffers become initializers named by their
state_dict names; other arrays become initializers after checking that the second trace
(another batch size, other values) holds the same array -- one that changed was computed
from the data outside the graph and would be frozen into the file, so export refuses it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function, output_spec
from tinygrad_np.onnx.trace import Traced, describe_owner
from tinygrad_np.ops.helpers import stable_shift

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


class ExportError(ValueError):
    """A model part that cannot be written as ONNX (the message names it and why)."""


def shape_of(node: Function, i: int) -> tuple:
    """The shape of a node's input i."""
    array = node.saved[1 + i]
    if array is not None:
        return np.shape(array)
    parent = node.parents[i]
    if isinstance(parent, Function):
        return tuple(output_spec(parent)[0])
    return parent.shape if isinstance(parent, Tensor) else ()


class Op:
    """One recorded node as an emitter sees it (trace A; `other` is the node in trace B)."""

    def __init__(self, graph: Graph, node: Function, other: Function, index: int) -> None:
        self.graph, self.node, self.other = graph, node, other
        self.owner = graph.a.owners.get(id(node))
        self.kind = type(node).__name__
        path = self.owner[0] if self.owner and self.owner[0] else ""
        self.hint = f"{path}/{self.kind}_{index}" if path else f"{self.kind}_{index}"
        n = len(node.parents)
        self.in_shapes = [shape_of(node, i) for i in range(n)]
        self.in_shapes_b = [shape_of(other, i) for i in range(n)]
        self.out_shape = tuple(output_spec(node)[0])
        self.out_shape_b = tuple(output_spec(other)[0])
        self.out_dtype = np.dtype(output_spec(node)[1])
        self.inputs: list[str | None] = []

    # --- adding to the graph
    def emit(self, op_type: str, inputs: list, **attrs: Any) -> str:
        """Add one ONNX node; returns its output's name."""
        return self.graph.add_node(op_type, inputs, self.hint, **attrs)

    def const(self, value: Any, dtype: Any = None) -> str:
        """An initializer holding value (in the node's output dtype unless told)."""
        return self.graph.add_const(np.asarray(value, dtype or self.out_dtype),
                                    f"{self.hint}/const")

    def ints(self, values: Any) -> str:
        """A 1-D int64 initializer (axes, shapes, pads...)."""
        return self.graph.add_const(np.asarray(values, np.int64).reshape(-1),
                                    f"{self.hint}/const")

    # --- reading the node
    def where(self) -> str:
        return f"{self.kind} (recorded by {describe_owner(self.owner)})"

    def fail(self, why: str) -> ExportError:
        return ExportError(f"tg.onnx.export: cannot export {self.where()}: {why}")

    def varying(self, a: tuple, b: tuple) -> list[int]:
        """The axes whose sizes differ between the traces (they follow the batch size)."""
        if len(a) != len(b):
            raise self.fail(f"its shape has {len(a)} axes for one input and {len(b)} for "
                            "another; the graph depends on the input's shape")
        return [k for k, (m, n) in enumerate(zip(a, b)) if m != n]

    def target_shape(self) -> list[int]:
        """The output shape for Reshape/Expand: -1 on the one axis that follows the batch."""
        shape = list(self.out_shape)
        vary = self.varying(self.out_shape, self.out_shape_b)
        if len(vary) > 1:
            raise self.fail(f"the output shape {self.out_shape} changes on several axes "
                            f"({vary}) with the batch size; export with dynamic_batch=False")
        for k in vary:
            shape[k] = -1
        return shape

    def array_param(self, name: str, a: Any, b: Any, dtype: Any = None) -> str:
        """A graph value for an array parameter (index, mask): an input's data by identity,
        else a constant the second trace must reproduce."""
        return self.graph.array_value(self, name, a, b, dtype)


class Graph:
    """ONNX nodes and initializers for trace A, checked against trace B."""

    def __init__(self, onnx: Any, a: Traced, b: Traced, state_names: dict[int, str],
                 input_names: list[str]) -> None:
        self.onnx, self.a, self.b = onnx, a, b
        self.nodes: list = []
        self.initializers: dict[str, Any] = {}
        self.values: dict[int, str] = {}  # id(node or leaf Tensor of trace A) -> name
        self.state_names = state_names    # id(array of a parameter/buffer) -> state_dict name
        self.input_arrays = [{id(t.data): n for t, n in zip(tr.inputs, input_names)}
                             for tr in (a, b)]
        for leaf, name in zip(a.inputs, input_names):
            self.values[id(leaf)] = name
        self.shifts: dict[int, tuple[np.ndarray, str]] = {}  # id(stable shift) -> (it, name)
        self.batch_axes: list[int | None] = [None] * len(input_names)  # per input
        self.batch_sizes: dict[tuple[int, int], str] = {}  # (size in A, in B) -> 1-elem value
        self._used: set[str] = set(input_names)
        self._keep: list = []  # arrays whose id() is a key above: kept alive

    # --- names and nodes
    def fresh(self, hint: str) -> str:
        name, k = hint, 1
        while name in self._used:
            name, k = f"{hint}:{k}", k + 1
        self._used.add(name)
        return name

    def add_node(self, op_type: str, inputs: list, hint: str, **attrs: Any) -> str:
        out = self.fresh(f"{hint}/{op_type}" if not hint.endswith(op_type) else hint)
        inputs = ["" if i is None else i for i in inputs]
        while inputs and inputs[-1] == "":
            inputs.pop()
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def add_const(self, array: np.ndarray, name: str, reuse: bool = False) -> str:
        """An initializer; `reuse`: the one already named `name` (a parameter used twice)."""
        if reuse and name in self.initializers:
            return name
        name = self.fresh(name)
        self.initializers[name] = self.onnx.numpy_helper.from_array(np.array(array, order="C"),
                                                                    name)
        return name

    # --- the inputs of a node
    def set_inputs(self, op: Op) -> None:
        """op.inputs: graph values first, then constants (which may refer to them)."""
        n = len(op.node.parents)
        op.inputs = [None] * n
        for i, parent in enumerate(op.node.parents):
            if isinstance(parent, Function):
                op.inputs[i] = self.values[id(parent)]
            elif isinstance(parent, Tensor):
                op.inputs[i] = self.leaf_value(parent, op)
        for i, parent in enumerate(op.node.parents):
            array = op.node.saved[1 + i]
            if parent is not None or array is None:
                continue
            recognised = None if self.named(array, 0) else self.recognise(op, i, array)
            if recognised is not None:
                op.inputs[i] = recognised
                continue
            other = op.other.saved[1 + i] if op.other.parents[i] is None else None
            dtype = None
            if op.kind != "Cast" and np.asarray(array).dtype != op.out_dtype:
                dtype = op.out_dtype  # NumPy promotes it; ONNX wants one type: cast it here
            op.inputs[i] = self.batch_fill(op, array, other, dtype) or \
                self.array_value(op, f"input {i}", array, other, dtype)

    def leaf_value(self, leaf: Tensor, op: Op) -> str:
        """A parameter (by its state_dict name) or another leaf Tensor, as an initializer."""
        if id(leaf) not in self.values:
            name = self.state_names.get(id(leaf.data))
            self.values[id(leaf)] = self.add_const(leaf.data, name or f"{op.hint}/tensor",
                                                   reuse=name is not None)
            self._keep.append(leaf)
        return self.values[id(leaf)]

    def named(self, array: Any, trace: int) -> tuple[str, bool, bool] | None:
        """(name, is an input's data, is a view) for an input's data or a parameter/buffer
        array, or a view of one; None for other arrays."""
        if not isinstance(array, np.ndarray):
            return None
        for candidate in (array, array.base):
            if candidate is None:
                continue
            name = self.input_arrays[trace].get(id(candidate))
            if name is not None:
                return name, True, candidate is not array
            name = self.state_names.get(id(candidate))
            if name is not None:
                return name, False, candidate is not array
        return None

    def array_value(self, op: Op, what: str, a: Any, b: Any, dtype: Any = None) -> str:
        """An array the node reads (an input's data, a parameter, or a checked constant)."""
        named_a, named_b = self.named(a, 0), self.named(b, 1)
        if named_a is not None and named_a == named_b and named_a[1:] == (True, False):
            return named_a[0]  # the input itself (integer indices, say)
        same = named_a == named_b and (named_a is not None and not named_a[1]
                                       or named_a is None and _same_array(a, b))
        if not same:
            resized = np.shape(a) != np.shape(b)
            raise op.fail(
                f"its {what} (shape {np.shape(a)}) is an array that changes with the input's "
                f"{'batch size' if resized else 'values'}: it was computed from the data "
                "outside the graph (with `.data`, NumPy or Python control flow) and would be "
                "frozen into the file. Compute it with Tensor ops" +
                (" (or export with dynamic_batch=False, if only the batch size matters)"
                 if resized else ""))
        array = np.asarray(a, dtype) if dtype is not None else np.asarray(a)
        if named_a is None:
            return self.add_const(array, f"{op.hint}/const")
        name, _, view = named_a
        return self.add_const(array, f"{name}.view" if view else name, reuse=not view)

    # --- constants computed from the data that have a graph form
    def batch_size(self, op: Op, a: int, b: int) -> str | None:
        """A 1-element int64 value: the size of an input's batch axis that is `a` in trace A
        and `b` in trace B (None if no input has such an axis)."""
        if (a, b) not in self.batch_sizes:
            for k, axis in enumerate(self.batch_axes):
                if axis is not None and self.a.inputs[k].shape[axis] == a \
                        and self.b.inputs[k].shape[axis] == b:
                    name = self.values[id(self.a.inputs[k])]
                    self.batch_sizes[(a, b)] = op.emit("Shape", [name], start=axis,
                                                       end=axis + 1)
                    break
            else:
                return None
        return self.batch_sizes[(a, b)]

    def batch_fill(self, op: Op, a: Any, b: Any, dtype: Any) -> str | None:
        """A constant filled with one value whose shape follows the batch size (an RNN's zero
        initial state, say), made at run time with ConstantOfShape."""
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.ndim != b.ndim \
                or a.shape == b.shape or not a.size or not b.size:
            return None
        value = a.flat[0]
        if not (np.all(a == value) and np.all(b == value)):
            return None
        dims = []
        for m, n in zip(a.shape, b.shape):
            dims.append(op.ints([m]) if m == n else self.batch_size(op, m, n))
            if dims[-1] is None:
                return None
        fill = self.onnx.numpy_helper.from_array(np.asarray([value], dtype or a.dtype), "value")
        return op.emit("ConstantOfShape", [op.emit("Concat", dims, axis=0)], value=fill)


    def recognise(self, op: Op, i: int, c: Any) -> str | None:
        """A stable-softmax shift (x.max over axes, kept) or a leaky-ReLU factor, in-graph."""
        if not isinstance(c, np.ndarray) or len(op.node.parents) != 2:
            return None
        if id(c) in self.shifts:
            return self.shifts[id(c)][1]
        j = 1 - i
        x = op.node.saved[1 + j]
        if op.node.parents[j] is None or not isinstance(x, np.ndarray) or x.ndim != c.ndim:
            return None
        if op.kind in ("Sub", "Add") and c.shape != x.shape:
            if not all(m in (1, n) for m, n in zip(c.shape, x.shape)):
                return None
            axes = tuple(k for k, (m, n) in enumerate(zip(c.shape, x.shape)) if m == 1 != n)
            if axes and x.size and np.array_equal(c, stable_shift(x, axes)):
                name = op.emit("ReduceMax", [op.inputs[j], op.ints(axes)], keepdims=1)
                self.shifts[id(c)] = (c, name)
                return name
        if op.kind == "Mul" and c.shape == x.shape and c.dtype.kind == "f" and c.size:
            positive = x > 0
            if not np.all(c[positive] == 1):
                return None
            rest = c[~positive]
            slope = rest[0] if rest.size else getattr(op.owner and op.owner[1],
                                                      "negative_slope", None)
            if slope is None or not np.all(rest == slope):
                return None
            above = op.emit("Greater", [op.inputs[j], op.const(0, x.dtype)])
            return op.emit("Where", [above, op.const(1, c.dtype), op.const(slope, c.dtype)])
        return None


def _same_array(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
