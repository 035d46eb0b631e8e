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
(reshape, transpose, indexing, concatenation), losses (the fused loss nodes);
contraction (einsum), movement (flip, roll, pad, tile, tril/triu, cumsum), indexing
(take_along_axis, gather); conv (convolution and pooling).
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
from tinygrad_np.ops.elementwise import Clone
# nn layers (Beyond MLPs): erf and the activations that need a primitive
from tinygrad_np.ops.activation import ELU, Softplus
from tinygrad_np.ops.normalization import Normalize
from tinygrad_np.ops.special import Erf, erf_array
# --- v2 ops
from tinygrad_np.ops.contraction import Einsum, parse_subscripts
from tinygrad_np.ops.elementwise import Cos, Expm1, Log1p, Sin, Square
from tinygrad_np.ops.indexing import TakeAlongAxis, along_axis_index, gather_index
from tinygrad_np.ops.movement import (Cumsum, Flip, Pad, Roll, Tile, Tril, Triu,
                                      cumsum_axis, pad_value, pad_widths, roll_args, tile_reps,
                                      torch_pad_widths, triangle_check)
from tinygrad_np.ops.recurrent import GRUGates, LSTMCellState, LSTMHidden  # wt-rnnattn

# convolution and pooling
from tinygrad_np.ops.conv import (AvgPool, AvgPoolTranspose, Conv, ConvInputGrad,
                                  ConvWeightGrad, MaxPool, PoolGather, PoolScatter)

__all__ = [
    "Add", "Sub", "Neg", "Mul", "Div", "Pow", "MatMul", "Linear",
    "Exp", "Log", "Sqrt", "Abs", "Tanh", "Sigmoid", "ReLU", "Clip", "Maximum", "Where", "Cast",
    "Sum", "Mean", "Max", "Std", "LogSoftmax",
    "Reshape", "Transpose", "BroadcastTo", "GetItem", "ScatterAdd", "SetItem", "Concatenate",
    "BinaryCrossEntropy", "CrossEntropy",
    "Clone",
    "Conv", "ConvInputGrad", "ConvWeightGrad", "MaxPool", "PoolScatter", "PoolGather",
    "AvgPool", "AvgPoolTranspose",
    "Erf", "erf_array", "ELU", "Softplus", "Normalize",
    "expand", "index_arrays", "normalize_axis", "scatter_add", "select", "stable_shift",
]
__all__ += [  # --- v2 ops
    "Sin", "Cos", "Log1p", "Expm1", "Square", "Einsum", "Cumsum", "Flip", "Roll", "Pad", "Tile",
    "Tril", "Triu", "TakeAlongAxis",
    "parse_subscripts", "along_axis_index", "gather_index", "cumsum_axis", "pad_value",
    "pad_widths", "roll_args", "tile_reps", "torch_pad_widths", "triangle_check",
]
__all__ += ["GRUGates", "LSTMCellState", "LSTMHidden"]  # wt-rnnattn
