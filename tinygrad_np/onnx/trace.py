"""Recording a model's forward for export: the nodes the outputs depend on, in order.

`trace` runs the model once on leaf copies of the example inputs (floats require grad,
so every op on them is recorded) and walks the graph back from the outputs. A node
records its inputs as parents (a node, a leaf Tensor, or None for a constant whose array
sits in `saved`); which module made it comes from the modules' `_forward_span`.
`variant_inputs` makes a second set of inputs (another batch size, other values): the
exporter traces twice and compares, so sizes that follow the batch become dynamic and a
constant computed from the data outside the graph (it would be frozen) is caught.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function
from tinygrad_np.grad_mode import enable_grad


@dataclass
class Traced:
    """One recorded forward pass."""

    inputs: list[Tensor]         # leaves standing for the example inputs
    outputs: list[Tensor]
    nodes: list[Function]        # every node the outputs depend on, parents first
    owners: dict[int, tuple[str, Any]] = field(default_factory=dict)  # id(node) -> (path, module)


def as_input_arrays(example_inputs: Any) -> list[np.ndarray]:
    """A Tensor, an array, or a tuple/list of them -> a list of arrays."""
    items = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
    if not items:
        raise ValueError("tg.onnx.export: example_inputs is empty; pass a Tensor or a tuple "
                         "of Tensors, one per argument of the model's forward")
    arrays = []
    for i, x in enumerate(items):
        array = np.asarray(x.data if isinstance(x, Tensor) else x)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"tg.onnx.export: example input {i} has dtype {array.dtype}; inputs "
                            "must be float, integer or bool Tensors")
        arrays.append(array)
    return arrays


def batch_axes(model: Any, arrays: list[np.ndarray]) -> list[int | None]:
    """The batch axis of each input: 0, or 1 for the (L, N, ...) inputs of a model whose
    sequence layers all say batch_first=False (PyTorch's default for RNNs and attention),
    or the other of the two where only that one has the first input's batch size (an RNN's
    initial state); None for a 0-d input."""
    flags = [m.batch_first for m in (model.modules() if hasattr(model, "modules") else ())
             if isinstance(getattr(m, "batch_first", None), bool)]
    seq_first = bool(flags) and not any(flags)
    axes: list[int | None] = []
    for x in arrays:
        axis = None if x.ndim == 0 else 1 if seq_first and x.ndim >= 3 else 0
        if axes and axes[0] is not None and axis is not None and x.ndim >= 2:
            batch = arrays[0].shape[axes[0]]  # an RNN's h0 (layers, N, H) has it on axis 1
            if x.shape[axis] != batch and x.shape[1 - axis] == batch:
                axis = 1 - axis
        axes.append(axis)
    return axes


def variant_inputs(arrays: list[np.ndarray], axes: list[int | None],
                   batch: bool) -> list[np.ndarray]:
    """Other inputs of the same kind: rotated along the batch axis (one more there when
    `batch`), floats rescaled. Integer inputs keep their values (they may be indices)."""
    out = []
    for x, axis in zip(arrays, axes):
        if axis is not None and x.shape[axis]:
            n = x.shape[axis]
            x = np.take(x, (np.arange(n + 1 if batch else n) + 1) % n, axis=axis)
        if x.dtype.kind == "f":
            x = (x * 1.25 + 0.125).astype(x.dtype)
        out.append(np.array(x))
    return out


def trace(model: Any, arrays: list[np.ndarray]) -> Traced:
    """Run `model(*inputs)` recording every op, and collect the graph of its outputs."""
    leaves = [Tensor(np.array(x), requires_grad=x.dtype.kind == "f") for x in arrays]
    with enable_grad():
        result = model(*leaves)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"tg.onnx.export: the model's output {i} is a "
                            f"{type(out).__name__}; export needs Tensors (or a tuple of them)")
        if not out.requires_grad:
            raise ValueError(f"tg.onnx.export: the model's output {i} (shape {out.shape}) was "
                             "not recorded: it depends on no float input or parameter through "
                             "tinygrad_np ops (computed in NumPy, or with argmax/comparisons?)")
    seen: dict[int, Function] = {}
    stack = [out.grad_fn for out in outputs if out.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        if getattr(node, "saved", None) is None:
            raise RuntimeError("tg.onnx.export: a node of the graph was freed by a backward "
                               "pass during the model's forward; export a forward without one")
        stack.extend(p for p in node.parents if isinstance(p, Function))
    nodes = sorted(seen.values(), key=lambda n: n.seq)
    return Traced(leaves, outputs, nodes, _owners(model, nodes))


def _owners(model: Any, nodes: list[Function]) -> dict[int, tuple[str, Any]]:
    """id(node) -> (module path, module) of the innermost module whose forward recorded it."""
    spans = []
    named = model.named_modules() if hasattr(model, "named_modules") else ()
    for path, module in named:
        span = module.__dict__.get("_forward_span")
        if span is not None:
            spans.append((span[1] - span[0], span[0], span[1], path, module))
    spans.sort(key=lambda s: s[0])
    owners = {}
    for node in nodes:
        for _, start, end, path, module in spans:
            if start <= node.seq < end:
                owners[id(node)] = (path, module)
                break
    return owners


def describe_owner(owner: tuple[str, Any] | None) -> str:
    """'module 'encoder.0' (Linear)' or 'the model's own forward'."""
    if owner is None:
        return "code outside any module's forward"
    path, module = owner
    kind = type(module).__name__
    return f"module '{path}' ({kind})" if path else f"the model's own forward ({kind})"
