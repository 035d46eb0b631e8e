"""Export a model's forward pass to ONNX: `tg.onnx.export(model, example_inputs, path)`.

The forward runs twice in eval mode on the example inputs (and on a second set with
another batch size and other values), recording every op; the recorded graph is written
as ONNX nodes (opset 18) through one table, `EMITTERS` (op class -> emitter, see
emitters.py), with the parameters and buffers as initializers named by their state_dict
names. Needs the optional extra: `pip install -e ".[onnx]"` (onnx; onnxruntime to run it).

    model = tg.nn.Sequential(tg.nn.Linear(2, 8), tg.nn.ReLU(), tg.nn.Linear(8, 1))
    tg.onnx.export(model, tg.randn(4, 2), "model.onnx")
    session = onnxruntime.InferenceSession("model.onnx")
    y = session.run(None, {"input": x_batch.astype("float32")})[0]   # any batch size

Limits: Python control flow that depends on tensor values or shapes is frozen at export
(a different graph for the second inputs is refused); arrays computed from the data
outside the graph (with `.data` or NumPy) are refused, naming the op and the module,
except the few with a graph form (softmax's max shift, leaky_relu's factor, a zero state
of batch size); loops (RNNs) are unrolled, so sequence lengths are fixed; an op with no
row in EMITTERS raises an error naming the op class and the module that recorded it.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from tinygrad_np.function import Function
from tinygrad_np.onnx.emitters import EMITTERS, OPSET
from tinygrad_np.onnx.graph import ExportError, Graph, Op
from tinygrad_np.onnx.trace import (as_input_arrays, batch_axes, describe_owner, trace,
                                    variant_inputs)

INSTALL_HINT = 'pip install -e ".[onnx]"'

__all__ = ["export", "ExportError", "EMITTERS", "OPSET"]


def _require_onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as error:
        raise ImportError(f"tg.onnx.export needs the onnx package: install the optional extra "
                          f"with `{INSTALL_HINT}` (or `pip install onnx onnxruntime`)") from error
    return onnx


def export(model: Any, example_inputs: Any, path: str | os.PathLike | None,
           input_names: list[str] | None = None, output_names: list[str] | None = None,
           dynamic_batch: bool = True) -> Any:
    """Write `model`'s forward on `example_inputs` (a Tensor or a tuple of them) as an ONNX
    file at `path` (None: only return it); returns the onnx.ModelProto.

    dynamic_batch: axis 0 of every input (axis 1 of the 3-D and larger inputs of a model
    whose RNN/attention layers are batch_first=False) and the output axes that follow it
    are the dimension "batch", so the file runs at any batch size. The model is run in eval mode
    (dropout off, batch norm on its running statistics) and put back as it was.
    """
    onnx = _require_onnx()
    arrays = as_input_arrays(example_inputs)
    input_names = _names(input_names, len(arrays), "input")
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if hasattr(model, "eval"):
        model.eval()
    try:
        a = trace(model, arrays)
        axes = batch_axes(model, arrays)
        b = trace(model, variant_inputs(arrays, axes, dynamic_batch))
    finally:
        for module, training in modes:  # each module's own mode back, as it was
            module.training = training
    output_names = _names(output_names, len(a.outputs), "output")
    _check_same_graph(a, b)
    graph = Graph(onnx, a, b, _state_names(model), input_names)
    graph._used.update(output_names)
    graph.batch_axes = axes if dynamic_batch else [None] * len(arrays)
    for index, (node, other) in enumerate(zip(a.nodes, b.nodes)):
        op = Op(graph, node, other, index)
        emitter = EMITTERS.get(type(node))
        if emitter is None:
            raise NotImplementedError(
                f"tg.onnx.export: no ONNX mapping for the op {type(node).__name__}, recorded "
                f"by {describe_owner(op.owner)}; add a row for it to "
                "tinygrad_np.onnx.emitters.EMITTERS (op class -> emitter function)")
        graph.set_inputs(op)
        graph.values[id(node)] = emitter(op)
    model_proto = _model(onnx, graph, a, b, input_names, output_names,
                         axes if dynamic_batch else [None] * len(arrays), OPSET)
    if path is not None:
        onnx.save(model_proto, os.fspath(path))
    return model_proto


def _names(names: Any, count: int, stem: str) -> list[str]:
    if names is None:
        return [stem] if count == 1 else [f"{stem}_{i}" for i in range(count)]
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"tg.onnx.export: {stem}_names={names!r} must give {count} distinct "
                         f"names, one per model {stem}")
    return names


def _state_names(model: Any) -> dict[int, str]:
    """id(array) -> state_dict name, for every parameter and buffer."""
    names: dict[int, str] = {}
    for method in ("named_parameters", "named_buffers"):
        if hasattr(model, method):
            for name, tensor in getattr(model, method)():
                if tensor is not None:
                    names.setdefault(id(tensor.data), name)
    return names


def _check_same_graph(a: Any, b: Any) -> None:
    kinds_a = [type(n).__name__ for n in a.nodes]
    kinds_b = [type(n).__name__ for n in b.nodes]
    if kinds_a != kinds_b or len(a.outputs) != len(b.outputs):
        first = next((i for i, (p, q) in enumerate(zip(kinds_a, kinds_b)) if p != q),
                     min(len(kinds_a), len(kinds_b)))
        where = describe_owner(a.owners.get(id(a.nodes[first]))) if first < len(a.nodes) \
            else "the end of the graph"
        raise ExportError(
            "tg.onnx.export: the model records a different graph for other inputs (another "
            f"batch size or other values), first at node {first} ({where}): its forward "
            "branches on the data or the shape in Python, which an ONNX graph cannot follow; "
            "export with dynamic_batch=False, or make the forward not depend on the data")


def _model(onnx: Any, graph: Graph, a: Any, b: Any, input_names: list[str],
           output_names: list[str], axes: list[int | None], opset: int) -> Any:
    helper = onnx.helper

    def value_info(name: str, array: np.ndarray, other: np.ndarray, axis: int | None) -> Any:
        dims: list[Any] = list(array.shape)
        for k, (m, n) in enumerate(zip(array.shape, other.shape)):
            if m != n or k == axis:
                dims[k] = "batch"
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype),
                                             dims)

    inputs = [value_info(name, x.data, y.data, axis)
              for name, x, y, axis in zip(input_names, a.inputs, b.inputs, axes)]
    outputs = []
    for name, out, other in zip(output_names, a.outputs, b.outputs):
        source = graph.values[id(out.grad_fn)] if isinstance(out.grad_fn, Function) \
            else graph.values.get(id(out))
        if source is None:  # a parameter returned as it is
            source = graph.add_const(out.data, f"{name}/const")
        graph.nodes.append(helper.make_node("Identity", [source], [name], name=f"{name}/Identity"))
        outputs.append(value_info(name, out.data, other.data, None))
    onnx_graph = helper.make_graph(graph.nodes, "tinygrad_np", inputs, outputs,
                                   list(graph.initializers.values()))
    model = helper.make_model(onnx_graph, producer_name="tinygrad_np",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # what opset 18 needs (onnx 1.13+, onnxruntime 1.14+ read it)
    onnx.checker.check_model(model)
    return model
