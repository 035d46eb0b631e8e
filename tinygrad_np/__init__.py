"""tinygrad_np: a small reverse-mode autograd on plain NumPy.

>>> import tinygrad_np as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
Tensor([2., 4.])
"""
import sys as _sys

import numpy as _np

from tinygrad_np import data, nn, optim, testing, viz
from tinygrad_np.anomaly import detect_anomaly
from tinygrad_np.compiler import CompiledFunction, CompileError, compile
from tinygrad_np.autograd import grad
from tinygrad_np.function import Function
from tinygrad_np.grad_mode import (enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad,
                                   set_grad_enabled)
from tinygrad_np.serialization import load, save
from tinygrad_np._tensor import (Tensor, arange, concatenate, default_generator, eye, full,
                                get_default_dtype, manual_seed, maximum, minimum, ones,
                                ones_like, rand, randn, set_default_dtype, stack, tensor,
                                where, zeros, zeros_like)
from tinygrad_np.functions import erf  # nn layers (Beyond MLPs)
from tinygrad_np.functions import (cos, cumsum, einsum, expm1, flip, log1p, pad, roll,  # v2 ops
                                   sin, square, take_along_axis, tile, tril, triu)

# PyTorch's functions: a function for each elementwise op, reduction and shape method
from tinygrad_np import functions
from tinygrad_np.functions import (amax, amin, argmax, argmin, broadcast_to, cat, chunk, clamp,
                                   clip, clone, exp, expand_dims, flatten, from_numpy, gather,
                                   log, log_softmax, logsumexp, masked_fill, matmul, mean, numel,
                                   permute, relu, repeat, reshape, sigmoid, softmax, split, sqrt,
                                   squeeze, std, swapaxes, tanh, transpose, unsqueeze, var, view)
from tinygrad_np.functions import abs as abs, max as max, min as min, sum as sum  # not in __all__

float32 = _np.float32
float64 = _np.float64

# functional transforms (tg.func)
from tinygrad_np import func  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "grad", "no_grad", "enable_grad", "is_grad_enabled",
    "set_grad_enabled", "is_anomaly_enabled", "compile", "CompileError", "CompiledFunction",
    "detect_anomaly", "zeros", "ones", "full", "arange", "randn", "rand", "zeros_like",
    "ones_like", "eye", "maximum", "minimum", "where", "concatenate", "stack",
    "manual_seed", "default_generator", "get_default_dtype", "set_default_dtype",
    "float32", "float64", "data", "nn", "optim", "testing", "viz", "save", "load",
    # PyTorch's functions (sum, max, min, abs stay out: `import *` must not hide builtins)
    "cat", "from_numpy", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clip", "clamp",
    "mean", "amax", "amin", "var", "std", "logsumexp", "softmax", "log_softmax", "argmax",
    "argmin", "reshape", "view", "transpose", "permute", "swapaxes", "unsqueeze", "expand_dims",
    "squeeze", "flatten", "broadcast_to", "split", "chunk", "matmul", "clone", "masked_fill",
    "numel", "gather", "repeat", "functions",
    "erf",
]
__all__ += [  # v2 ops
    "sin", "cos", "log1p", "expm1", "square", "einsum", "cumsum", "pad", "flip", "roll", "tril",
    "triu", "take_along_axis", "tile",
]
__all__ += ["func"]

# ONNX export (tg.onnx.export; the onnx package is imported only when exporting)
from tinygrad_np import onnx  # noqa: E402

__all__ += ["onnx"]


def __getattr__(name: str) -> object:
    """Called only for a missing `tg.<name>`: a PyTorch name we lack says what to use."""
    from tinygrad_np._spellings import module_hint
    module = _sys.modules[__name__]
    advice = None if name.startswith("__") else module_hint(name)
    message = f"module 'tinygrad_np' has no attribute '{name}'"
    if advice:  # name left unset: no "Did you mean" guess after the advice
        raise AttributeError(f"{message}; {advice}", obj=module)
    raise AttributeError(message, name=name, obj=module)
