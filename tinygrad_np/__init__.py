"""tinygrad_np: a small reverse-mode autograd on plain NumPy.

>>> import tinygrad_np as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> (x ** 2).sum().backward()
>>> x.grad
Tensor([2., 4.])
"""
import numpy as _np

from tinygrad_np import data, nn, optim, testing, viz
from tinygrad_np.anomaly import detect_anomaly
from tinygrad_np.autograd import grad
from tinygrad_np.function import Function
from tinygrad_np.grad_mode import (enable_grad, is_anomaly_enabled, is_grad_enabled, no_grad,
                                   set_grad_enabled)
from tinygrad_np.serialization import load, save
from tinygrad_np._tensor import (Tensor, arange, concatenate, default_generator, eye, full,
                                get_default_dtype, manual_seed, maximum, minimum, ones,
                                ones_like, rand, randn, set_default_dtype, stack, tensor,
                                where, zeros, zeros_like)
from tinygrad_np._tensor import erf  # nn layers (Beyond MLPs)
from tinygrad_np._tensor import (cos, cumsum, einsum, expm1, flip, log1p, pad, roll,  # v2 ops
                                sin, square, take_along_axis, tile, tril, triu)

float32 = _np.float32
float64 = _np.float64

# functional transforms (tg.func)
from tinygrad_np import func  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Tensor", "tensor", "Function", "grad", "no_grad", "enable_grad", "is_grad_enabled",
    "set_grad_enabled", "is_anomaly_enabled",
    "detect_anomaly", "zeros", "ones", "full", "arange", "randn", "rand", "zeros_like",
    "ones_like", "eye", "maximum", "minimum", "where", "concatenate", "stack",
    "manual_seed", "default_generator", "get_default_dtype", "set_default_dtype",
    "float32", "float64", "data", "nn", "optim", "testing", "viz", "save", "load",
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
