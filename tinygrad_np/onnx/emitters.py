"""One row per op class: how a recorded node is written as ONNX nodes (opset 18).

An emitter takes an `Op` (see graph.py: `op.inputs` are the ONNX names of the node's
inputs, None where absent; `op.node` holds the op's parameters, e.g. `op.node.axis`) and
returns the name of the value it computes. Opset 18 throughout: every reduction takes its
axes as an input. A new op is one function (or a `_same` row) and one entry in EMITTERS.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from tinygrad_np import ops
from tinygrad_np.onnx.graph import INT64_MAX, INT64_MIN, Op

OPSET = 18


def _same(onnx_op: str) -> Callable[[Op], str]:
    """An op with the same inputs as the ONNX op of that name."""
    def emit(op: Op) -> str:
        return op.emit(onnx_op, op.inputs)
    emit.__name__ = f"emit_{onnx_op}"
    return emit


# --------------------------------------------------------------- arithmetic
def linear(op: Op) -> str:
    x, weight, bias = op.inputs
    if len(op.in_shapes[0]) == 2:
        return op.emit("Gemm", [x, weight, bias], transB=1)
    y = op.emit("MatMul", [x, op.emit("Transpose", [weight], perm=[1, 0])])
    return y if bias is None else op.emit("Add", [y, bias])


def clip(op: Op) -> str:
    lo, hi = op.node.lo, op.node.hi
    return op.emit("Clip", [op.inputs[0], None if lo is None else op.const(lo),
                            None if hi is None else op.const(hi)])


def where(op: Op) -> str:
    if _value_no_op(op):
        return op.emit("Identity", [op.inputs[1]])
    condition = op.array_param("condition", op.node.condition, op.other.condition, bool)
    return op.emit("Where", [condition, *op.inputs])


def _value_no_op(op: Op) -> bool:
    """Embedding's padding_idx where: it only stops the padding row's gradient; its values
    are those of the lookup it wraps (checked in both traces)."""
    module = op.owner[1] if op.owner else None
    if getattr(module, "padding_idx", None) is None or op.node.parents[1] is None:
        return False
    return all(n.saved[0] is not None and n.saved[2] is not None
               and np.array_equal(n.saved[0], n.saved[2]) for n in (op.node, op.other))


def cast(op: Op) -> str:
    from onnx.helper import np_dtype_to_tensor_dtype
    return op.emit("Cast", op.inputs, to=np_dtype_to_tensor_dtype(op.out_dtype))


def log1p(op: Op) -> str:
    return op.emit("Log", [op.emit("Add", [op.inputs[0], op.const(1)])])


def expm1(op: Op) -> str:
    return op.emit("Sub", [op.emit("Exp", op.inputs), op.const(1)])


def square(op: Op) -> str:
    return op.emit("Mul", [op.inputs[0], op.inputs[0]])


def elu(op: Op) -> str:
    return op.emit("Elu", op.inputs, alpha=float(op.node.alpha))


def softplus(op: Op) -> str:
    """x where beta x > threshold, else log(1 + exp(beta x)) / beta (PyTorch's rule)."""
    x = op.inputs[0]
    z = op.emit("Mul", [x, op.const(op.node.beta)])
    soft = op.emit("Div", [op.emit("Softplus", [z]), op.const(op.node.beta)])
    above = op.emit("Greater", [z, op.const(op.node.threshold)])
    return op.emit("Where", [above, x, soft])


# --------------------------------------------------------------- reductions
def _reduction(onnx_op: str) -> Callable[[Op], str]:
    def emit(op: Op) -> str:
        if not op.node.axis:
            return op.emit("Identity", op.inputs)
        return op.emit(onnx_op, [op.inputs[0], op.ints(op.node.axis)],
                       keepdims=int(op.node.keepdims))
    emit.__name__ = f"emit_{onnx_op}"
    return emit


def std(op: Op) -> str:
    x, axes = op.inputs[0], op.ints(op.node.axis)
    centred = op.emit("Sub", [x, op.emit("ReduceMean", [x, axes], keepdims=1)])
    keep = int(op.node.keepdims)
    count = int(np.prod([op.in_shapes[0][a] for a in op.node.axis]))
    if count == op.node.divisor:  # ddof = 0
        var = op.emit("ReduceMean", [op.emit("Mul", [centred, centred]), axes], keepdims=keep)
    elif set(op.varying(op.in_shapes[0], op.in_shapes_b[0])) & set(op.node.axis):
        raise op.fail("std with ddof != 0 over the batch axis; export with dynamic_batch=False")
    else:
        squares = op.emit("ReduceSumSquare", [centred, axes], keepdims=keep)
        var = op.emit("Div", [squares, op.const(op.node.divisor)])
    return op.emit("Sqrt", [var])


def log_softmax(op: Op) -> str:
    return op.emit("LogSoftmax", op.inputs, axis=int(op.node.axis))


def normalize(op: Op) -> str:
    """LayerNormalization over trailing axes (scale 1, bias 0), else written out."""
    x, axes, shape = op.inputs[0], tuple(op.node.axes), op.in_shapes[0]
    eps = float(op.node.eps)
    if axes == tuple(range(axes[0], len(shape))) and 0 not in axes:
        inner = shape[axes[0]:]
        return op.emit("LayerNormalization", [x, op.const(np.ones(inner)),
                                              op.const(np.zeros(inner))],
                       axis=axes[0], epsilon=eps)
    axes_name = op.ints(axes)
    centred = op.emit("Sub", [x, op.emit("ReduceMean", [x, axes_name], keepdims=1)])
    var = op.emit("ReduceMean", [op.emit("Mul", [centred, centred]), axes_name], keepdims=1)
    return op.emit("Div", [centred, op.emit("Sqrt", [op.emit("Add", [var, op.const(eps)])])])


# -------------------------------------------------------------------- shape
def reshape(op: Op) -> str:
    return op.emit("Reshape", [op.inputs[0], op.ints(op.target_shape())])


def transpose(op: Op) -> str:
    ndim = len(op.in_shapes[0])
    axes = op.node.axes
    perm = list(range(ndim))[::-1] if axes is None else [a % ndim for a in axes]
    return op.emit("Transpose", op.inputs, perm=perm)


def broadcast_to(op: Op) -> str:
    shape = list(op.out_shape)
    source, source_b = op.in_shapes[0], op.in_shapes_b[0]
    lead = len(shape) - len(source)
    for k in op.varying(op.out_shape, op.out_shape_b):
        if k < lead or source[k - lead] == source_b[k - lead]:
            raise op.fail(f"it broadcasts to {op.out_shape}, a shape that follows the batch "
                          "size on an axis the input does not have; export with "
                          "dynamic_batch=False")
        shape[k] = 1  # Expand keeps the input's (batch) size there
    return op.emit("Expand", [op.inputs[0], op.ints(shape)])


def concatenate(op: Op) -> str:
    return op.emit("Concat", op.inputs, axis=int(op.node.axis))


def get_item(op: Op) -> str:
    """Basic indexing as Slice/Gather/Unsqueeze; integer arrays as Gather or GatherND."""
    index, other = op.node.index, op.other.index
    index = index if isinstance(index, tuple) else (index,)
    other = other if isinstance(other, tuple) else (other,)
    x, ndim = op.inputs[0], len(op.in_shapes[0])
    arrays = [k for k, i in enumerate(index) if not _basic(i)]
    if not arrays:
        return _basic_index(op, x, index, ndim)
    for k in arrays:
        if np.asarray(index[k]).dtype.kind not in "iu":
            raise op.fail("indexing with a boolean mask gives a shape that depends on the data")
    full = all(isinstance(i, slice) and i == slice(None) for i in index[:arrays[0]])
    if len(arrays) == 1 and full and all(_is_full(i) for i in index[arrays[0] + 1:]):
        k = arrays[0]
        name = op.array_param(f"index on axis {k}", index[k], other[k], np.int64)
        return op.emit("Gather", [x, name], axis=k)
    if arrays == list(range(len(index))):  # integer arrays on the leading axes: GatherND
        stacked = np.stack(np.broadcast_arrays(*(np.asarray(i) for i in index)), -1)
        stacked_b = np.stack(np.broadcast_arrays(*(np.asarray(i) for i in other)), -1)
        name = op.array_param("index", stacked, stacked_b, np.int64)
        return op.emit("GatherND", [x, name])
    raise op.fail(f"the index {index!r} mixes integer arrays and slices in a way not mapped "
                  "yet (one integer array on one axis, or integer arrays on the leading axes, "
                  "are)")


def _basic(i: Any) -> bool:
    return i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))


def _is_full(i: Any) -> bool:
    return i is Ellipsis or isinstance(i, slice) and i == slice(None)


def _basic_index(op: Op, x: str, index: tuple, ndim: int) -> str:
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    entries: list[Any] = []
    for i in index:
        entries.extend([slice(None)] * (ndim - used) if i is Ellipsis else [i])
    entries.extend([slice(None)] * (ndim + entries.count(None) - len(entries)))
    starts, ends, axes, steps, picks, new_axes = [], [], [], [], [], []
    axis = out_axis = 0
    for i in entries:
        if i is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(i, slice) and i != slice(None):
            step = 1 if i.step is None else int(i.step)
            starts.append((0 if step > 0 else INT64_MAX) if i.start is None else int(i.start))
            ends.append((INT64_MAX if step > 0 else INT64_MIN) if i.stop is None else
                        int(i.stop))
            axes.append(axis)
            steps.append(step)
        if isinstance(i, slice):
            out_axis += 1
        else:
            picks.append((axis, int(i)))
        axis += 1
    y = x
    if axes:
        y = op.emit("Slice", [y, op.ints(starts), op.ints(ends), op.ints(axes), op.ints(steps)])
    for axis, k in reversed(picks):  # from the last axis, so earlier axis numbers hold
        y = op.emit("Gather", [y, op.const(k, np.int64)], axis=axis)
    if new_axes:
        y = op.emit("Unsqueeze", [y, op.ints(new_axes)])
    return y if y is not x else op.emit("Identity", [x])


def take_along_axis(op: Op) -> str:
    """GatherElements along the one axis whose index is not an arange (take_along_axis and
    gather build such an index); the index is broadcast to the output's shape first."""
    index, shape = op.node.index, op.in_shapes[0]
    ndim = len(shape)
    if not (isinstance(index, tuple) and len(index) == ndim > 0
            and all(isinstance(i, np.ndarray) and i.ndim == ndim for i in index)):
        return get_item(op)
    axis = next((d for d, i in enumerate(index) if not _is_range(i, d)), 0)
    if any(m > n for d, (m, n) in enumerate(zip(op.out_shape, shape)) if d != axis):
        return get_item(op)
    name = op.array_param("index", index[axis], op.other.index[axis], np.int64)
    vary = op.varying(op.out_shape, op.out_shape_b)
    if vary:  # the output's batch size from the input's shape, at run time
        mask = op.const([d in vary for d in range(ndim)], bool)
        size = op.emit("Where", [mask, op.emit("Shape", [op.inputs[0]]), op.ints(op.out_shape)])
    else:
        size = op.ints(op.out_shape)
    return op.emit("GatherElements", [op.inputs[0], op.emit("Expand", [name, size])], axis=axis)


def _is_range(index: np.ndarray, axis: int) -> bool:
    """True for np.arange(n) laid along `axis` (size 1 on every other axis)."""
    n = index.shape[axis]
    return index.size == n and np.array_equal(index.reshape(-1), np.arange(n))


# ----------------------------------------------------------------- movement
def flip(op: Op) -> str:
    axes = list(op.node.axes)
    if not axes:
        return op.emit("Identity", op.inputs)
    k = len(axes)
    return op.emit("Slice", [op.inputs[0], op.ints([-1] * k), op.ints([INT64_MIN] * k),
                             op.ints(axes), op.ints([-1] * k)])


def pad(op: Op) -> str:
    widths = op.node.widths
    pads = [b for b, _ in widths] + [e for _, e in widths]
    return op.emit("Pad", [op.inputs[0], op.ints(pads), op.const(getattr(op.node, "value", 0))],
                   mode="constant")


def tile(op: Op) -> str:
    x, shape, reps = op.inputs[0], op.in_shapes[0], list(op.node.reps)
    if len(reps) > len(shape):
        x = op.emit("Unsqueeze", [x, op.ints(range(len(reps) - len(shape)))])
    reps = [1] * (max(len(shape), len(reps)) - len(reps)) + reps
    return op.emit("Tile", [x, op.ints(reps)])


def triangle(upper: int) -> Callable[[Op], str]:
    def emit(op: Op) -> str:
        return op.emit("Trilu", [op.inputs[0], op.const(op.node.k, np.int64)], upper=upper)
    emit.__name__ = "emit_triu" if upper else "emit_tril"
    return emit


def cumsum(op: Op) -> str:
    x, axis = op.inputs[0], op.node.axis
    if axis is None:
        x, axis = op.emit("Reshape", [x, op.ints([-1])]), 0
    return op.emit("CumSum", [x, op.const(axis, np.int64)])


def roll(op: Op) -> str:
    x, shape, axis = op.inputs[0], op.in_shapes[0], op.node.axis
    shifts = [op.node.shift] if axis is None else list(op.node.shift)
    axes = [0] if axis is None else list(axis)
    if axis is None:
        x, shape = op.emit("Reshape", [x, op.ints([-1])]), (int(np.prod(shape)),)
    vary = op.varying(op.in_shapes[0], op.in_shapes_b[0])
    for s, a in zip(shifts, axes):
        n = shape[a]
        if axis is None and vary or a in vary:
            raise op.fail("it rolls along the batch axis; export with dynamic_batch=False")
        s = s % n if n else 0
        if s:
            tail = op.emit("Slice", [x, op.ints([n - s]), op.ints([n]), op.ints([a])])
            head = op.emit("Slice", [x, op.ints([0]), op.ints([n - s]), op.ints([a])])
            x = op.emit("Concat", [tail, head], axis=a)
    if axis is None:
        return op.emit("Reshape", [x, op.ints(op.out_shape)])
    return x if x is not op.inputs[0] else op.emit("Identity", [x])


def einsum(op: Op) -> str:
    return op.emit("Einsum", op.inputs,
                   equation=",".join(op.node.inputs) + "->" + op.node.output)


# ------------------------------------------------- convolution and pooling
def _window_pads(op: Op, geo: Any) -> list[tuple[int, int]]:
    """(before, after) per spatial axis, `after` grown so every window the op computed
    (ceil_mode's last one too) lies inside: the ONNX op then needs no ceil_mode."""
    pads = []
    for n, k, s, d, (before, after), o in zip(geo.x_shape[2:], geo.kernel, geo.stride,
                                             geo.dilation, geo.padding, geo.out):
        reach = (o - 1) * s + d * (k - 1) + 1  # the padded length the windows span
        pads.append((before, max(after, reach - n - before)))
    return pads


def conv(op: Op) -> str:
    geo = op.node.geometry
    pads = [b for b, _ in geo.padding] + [e for _, e in geo.padding]
    return op.emit("Conv", op.inputs[:3], kernel_shape=list(geo.kernel),
                   strides=list(geo.stride), pads=pads, dilations=list(geo.dilation),
                   group=int(geo.groups))


def _padded(op: Op, pads: list[tuple[int, int]], value: float) -> str:
    if not any(b or e for b, e in pads):
        return op.inputs[0]
    widths = [0, 0] + [b for b, _ in pads] + [0, 0] + [e for _, e in pads]
    return op.emit("Pad", [op.inputs[0], op.ints(widths), op.const(value)], mode="constant")


def max_pool(op: Op) -> str:
    """MaxPool on the input padded with -inf (PyTorch's rule: padding never wins)."""
    geo = op.node.geometry
    x = _padded(op, _window_pads(op, geo), -np.inf)
    return op.emit("MaxPool", [x], kernel_shape=list(geo.kernel), strides=list(geo.stride),
                   dilations=list(geo.dilation))


def avg_pool(op: Op) -> str:
    """Window sums (an AveragePool of the zero-padded input times the window size) times
    the op's 1/divisor, which already holds PyTorch's count_include_pad/ceil_mode rule."""
    geo = op.node.geometry
    if any(d != 1 for d in geo.dilation):
        raise op.fail("average pooling with dilation has no ONNX opset-18 form")
    x = _padded(op, _window_pads(op, geo), 0.0)
    mean = op.emit("AveragePool", [x], kernel_shape=list(geo.kernel), strides=list(geo.stride))
    size = int(np.prod(geo.kernel))
    scales = [(np.asarray(n.scale) * size).astype(op.out_dtype) for n in (op.node, op.other)]
    return op.emit("Mul", [mean, op.array_param("scale", *scales)])


# --------------------------------------------------------------- the table
EMITTERS: dict[type, Callable[[Op], str]] = {
    ops.Add: _same("Add"), ops.Sub: _same("Sub"), ops.Mul: _same("Mul"),
    ops.Div: _same("Div"), ops.Pow: _same("Pow"), ops.Neg: _same("Neg"),
    ops.MatMul: _same("MatMul"), ops.Linear: linear,
    ops.Exp: _same("Exp"), ops.Log: _same("Log"), ops.Sqrt: _same("Sqrt"),
    ops.Abs: _same("Abs"), ops.Tanh: _same("Tanh"), ops.Sigmoid: _same("Sigmoid"),
    ops.ReLU: _same("Relu"), ops.Erf: _same("Erf"), ops.Sin: _same("Sin"),
    ops.Cos: _same("Cos"), ops.Maximum: _same("Max"),
    ops.Clip: clip, ops.Where: where, ops.Cast: cast,
    ops.Log1p: log1p, ops.Expm1: expm1, ops.Square: square,
    ops.ELU: elu, ops.Softplus: softplus,
    ops.Sum: _reduction("ReduceSum"), ops.Mean: _reduction("ReduceMean"),
    ops.Max: _reduction("ReduceMax"), ops.Std: std, ops.LogSoftmax: log_softmax,
    ops.Normalize: normalize,
    ops.Reshape: reshape, ops.Transpose: transpose, ops.BroadcastTo: broadcast_to,
    ops.GetItem: get_item, ops.TakeAlongAxis: take_along_axis, ops.Concatenate: concatenate,
    ops.Flip: flip, ops.Pad: pad, ops.Tile: tile, ops.Tril: triangle(0), ops.Triu: triangle(1),
    ops.Cumsum: cumsum, ops.Roll: roll, ops.Einsum: einsum,
    ops.Conv: conv, ops.MaxPool: max_pool, ops.AvgPool: avg_pool,
}


# --------------------------------------------------------------- the recurrent gates (wt-rnnattn)
def _cols(op: Op, x: str, start: int, stop: int) -> str:
    """x[..., start:stop]."""
    return op.emit("Slice", [x, op.ints([start]), op.ints([stop]), op.ints([-1])])


def gru_gates(op: Op) -> str:
    """h' = n + z * (h - n), r, z = sigmoid(gi_rz + gh_rz), n = tanh(gi_n + r * gh_n)."""
    gi, gh, h = op.inputs
    n_hidden = op.in_shapes[2][-1]
    rz = op.emit("Sigmoid", [op.emit("Add", [_cols(op, gi, 0, 2 * n_hidden),
                                             _cols(op, gh, 0, 2 * n_hidden)])])
    r_gh = op.emit("Mul", [_cols(op, rz, 0, n_hidden), _cols(op, gh, 2 * n_hidden, 3 * n_hidden)])
    n = op.emit("Tanh", [op.emit("Add", [_cols(op, gi, 2 * n_hidden, 3 * n_hidden), r_gh])])
    z = _cols(op, rz, n_hidden, 2 * n_hidden)
    return op.emit("Add", [n, op.emit("Mul", [z, op.emit("Sub", [h, n])])])


def lstm_cell_state(op: Op) -> str:
    """c' = sigmoid(f) * c + sigmoid(i) * tanh(g) from the gates [i | f | g | o]."""
    gates, c = op.inputs
    n_hidden = op.in_shapes[1][-1]
    i, f = (op.emit("Sigmoid", [_cols(op, gates, k * n_hidden, (k + 1) * n_hidden)])
            for k in (0, 1))
    g = op.emit("Tanh", [_cols(op, gates, 2 * n_hidden, 3 * n_hidden)])
    return op.emit("Add", [op.emit("Mul", [f, c]), op.emit("Mul", [i, g])])


def lstm_hidden(op: Op) -> str:
    """h' = sigmoid(o) * tanh(c')."""
    gates, c = op.inputs
    n_hidden = op.in_shapes[1][-1]
    o = op.emit("Sigmoid", [_cols(op, gates, 3 * n_hidden, 4 * n_hidden)])
    return op.emit("Mul", [o, op.emit("Tanh", [c])])


EMITTERS.update({ops.GRUGates: gru_gates, ops.LSTMCellState: lstm_cell_state,
                 ops.LSTMHidden: lstm_hidden})
# --------------------------------------------------------------- end wt-rnnattn
