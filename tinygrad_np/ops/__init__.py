"""The primitive ops: each forward sits beside its derivative, one class per op.

A backward rule reads `self.saved == (out, *inputs)` and returns one gradient
per input; a two-input rule reads `self.parent0, self.parent1` to skip an input
that needs no gradient (None). An elementwise op whose forward is one NumPy
ufunc names it instead (`ufunc = np.add`): the engine calls it with no Python
frame in between. An op whose rule never reads its output says `keeps_output =
False`, one that reads only its output `keeps_inputs = False`: `saved` then holds
None there, and that memory is freed as soon as the user drops it.

The walk calls a rule with NumPy arrays -- or, under create_graph, with Tensors
wired into the graph -- so every rule is written with operators and the few
two-way helpers in `helpers.py` (`select`, `expand`, `log`, `exp`...), and the
same line serves first and higher order. Broadcasting is undone by the walk,
never here. Factors that have no derivative of their own (masks, signs) are
taken from `array_of(x)`, a plain array either way. A rule that zeroes some
positions uses `select`, never a multiplication by a 0/1 mask: an incoming inf
times 0 would be NaN where PyTorch gives 0.

Modules: arithmetic (+ - * / ** @, Linear), elementwise, reductions, shape
(reshape, transpose, indexing, concatenation), losses (the fused loss nodes),
conv (convolution and pooling).
"""
from tinygrad_np.ops.arithmetic import Add, Div, Linear, MatMul, Mul, Neg, Pow, Sub
from tinygrad_np.ops.elementwise import (Abs, Cast, Clip, Exp, Log, Maximum, ReLU, Sigmoid,
                                         Sqrt, Tanh, Where)
from tinygrad_np.ops.helpers import (expand, index_arrays, normalize_axis, scatter_add, select,
                                     stable_shift)
from tinygrad_np.ops.losses import BinaryCrossEntropy, CrossEntropy
from tinygrad_np.ops.reductions import LogSoftmax, Max, Mean, Std, Sum
from tinygrad_np.ops.shape import (BroadcastTo, Concatenate, GetItem, Reshape, ScatterAdd,
                                   SetItem, Transpose)

# convolution and pooling
from tinygrad_np.ops.conv import (AvgPool, AvgPoolTranspose, Conv, ConvInputGrad,
                                  ConvWeightGrad, MaxPool, PoolGather, PoolScatter)

__all__ = [
    "Add", "Sub", "Neg", "Mul", "Div", "Pow", "MatMul", "Linear",
    "Exp", "Log", "Sqrt", "Abs", "Tanh", "Sigmoid", "ReLU", "Clip", "Maximum", "Where", "Cast",
    "Sum", "Mean", "Max", "Std", "LogSoftmax",
    "Reshape", "Transpose", "BroadcastTo", "GetItem", "ScatterAdd", "SetItem", "Concatenate",
    "BinaryCrossEntropy", "CrossEntropy",
    "Conv", "ConvInputGrad", "ConvWeightGrad", "MaxPool", "PoolScatter", "PoolGather",
    "AvgPool", "AvgPoolTranspose",
    "expand", "index_arrays", "normalize_axis", "scatter_add", "select", "stable_shift",
]
