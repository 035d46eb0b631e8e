"""Tensor methods as functions, PyTorch's way: `tg.exp(t)`, `tg.sum(t, dim=1)`, `tg.cat(ts, 1)`.

Each is the method of the same name on `tg.Tensor(t)` (ndarrays and lists are
lifted to Tensors), with the same arguments, so `tg.max(t, 1)` is `t.max(1)`:
NumPy's values-only maximum, and `tg.max(t, dim=1)` PyTorch's (values, indices).
`sum`, `max`, `min` and `abs` are not in `tg.__all__`: `from tinygrad_np import *`
leaves Python's builtins alone.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tinygrad_np import ops
from tinygrad_np._tensor import Tensor, concatenate
from tinygrad_np.function import make_tensor


def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ----------------------------------------------------------------- elementwise
def exp(t: Any) -> Tensor:
    """e ** t, elementwise (`t.exp()`)."""
    return _lift(t).exp()


def log(t: Any) -> Tensor:
    """Natural logarithm, elementwise (`t.log()`)."""
    return _lift(t).log()


def sqrt(t: Any) -> Tensor:
    """Square root, elementwise (`t.sqrt()`)."""
    return _lift(t).sqrt()


def abs(t: Any) -> Tensor:
    """Absolute value, elementwise (`t.abs()`)."""
    return _lift(t).abs()


def tanh(t: Any) -> Tensor:
    """Hyperbolic tangent, elementwise (`t.tanh()`)."""
    return _lift(t).tanh()


def sigmoid(t: Any) -> Tensor:
    """1 / (1 + exp(-t)), elementwise (`t.sigmoid()`)."""
    return _lift(t).sigmoid()


def relu(t: Any) -> Tensor:
    """max(t, 0), elementwise (`t.relu()`)."""
    return _lift(t).relu()


def clip(t: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Values limited to [lo, hi] (`t.clip(lo, hi)`)."""
    return _lift(t).clip(lo, hi)


def clamp(t: Any, min: float | None = None, max: float | None = None) -> Tensor:
    """PyTorch's name for clip (`t.clamp(min, max)`)."""
    return _lift(t).clamp(min, max)


def erf(t: Any) -> Tensor:
    """The error function of a Tensor (or array-like), elementwise; same as `t.erf()`."""
    return _lift(t).erf()


def sin(t: Any) -> Tensor:
    """Sine, elementwise."""
    return _lift(t).sin()


def cos(t: Any) -> Tensor:
    """Cosine, elementwise."""
    return _lift(t).cos()


def log1p(t: Any) -> Tensor:
    """log(1 + x), elementwise, accurate for small x."""
    return _lift(t).log1p()


def expm1(t: Any) -> Tensor:
    """exp(x) - 1, elementwise, accurate for small x."""
    return _lift(t).expm1()


def square(t: Any) -> Tensor:
    """x * x, elementwise."""
    return _lift(t).square()


# ------------------------------------------------------------------ reductions
def sum(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.sum(axis=None, keepdims=False)`, or dim=/keepdim=."""
    return _lift(t).sum(*args, **kwargs)


def mean(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.mean(axis=None, keepdims=False)`, or dim=/keepdim=."""
    return _lift(t).mean(*args, **kwargs)


def max(t: Any, *args: Any, **kwargs: Any) -> Any:
    """`t.max(axis=None, keepdims=False)`; with dim=d, (values, indices) as torch.max."""
    return _lift(t).max(*args, **kwargs)


def min(t: Any, *args: Any, **kwargs: Any) -> Any:
    """`t.min(axis=None, keepdims=False)`; with dim=d, (values, indices) as torch.min."""
    return _lift(t).min(*args, **kwargs)


def amax(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.amax(axis=None, keepdims=False)`, or dim=/keepdim=."""
    return _lift(t).amax(*args, **kwargs)


def amin(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.amin(axis=None, keepdims=False)`, or dim=/keepdim=."""
    return _lift(t).amin(*args, **kwargs)


def var(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.var(axis=None, keepdims=False, ddof=0)`, or dim=/keepdim=/correction=/unbiased=."""
    return _lift(t).var(*args, **kwargs)


def std(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.std(axis=None, keepdims=False, ddof=0)`, or dim=/keepdim=/correction=/unbiased=."""
    return _lift(t).std(*args, **kwargs)


def logsumexp(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.logsumexp(axis=None, keepdims=False)`, or dim=/keepdim=."""
    return _lift(t).logsumexp(*args, **kwargs)


def softmax(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.softmax(axis=-1)`, or dim=."""
    return _lift(t).softmax(*args, **kwargs)


def log_softmax(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.log_softmax(axis=-1)`, or dim=."""
    return _lift(t).log_softmax(*args, **kwargs)


def argmax(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.argmax(axis=None, keepdims=False)`, or dim=/keepdim= (no gradient)."""
    return _lift(t).argmax(*args, **kwargs)


def argmin(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.argmin(axis=None, keepdims=False)`, or dim=/keepdim= (no gradient)."""
    return _lift(t).argmin(*args, **kwargs)


def cumsum(t: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Running sums along axis (None: of the flattened data), as np.cumsum."""
    return _lift(t).cumsum(axis, dim=dim)


# ----------------------------------------------------------------------- shape
def reshape(t: Any, *shape: Any) -> Tensor:
    """`t.reshape(*shape)`."""
    return _lift(t).reshape(*shape)


def view(t: Any, *shape: Any) -> Tensor:
    """`t.view(*shape)`, the same as reshape."""
    return _lift(t).view(*shape)


def transpose(t: Any, *axes: Any) -> Tensor:
    """`t.transpose(d0, d1)` (two ints swap two axes) or `t.transpose(axes)` (NumPy's)."""
    return _lift(t).transpose(*axes)


def permute(t: Any, *dims: Any) -> Tensor:
    """`t.permute(*dims)`."""
    return _lift(t).permute(*dims)


def swapaxes(t: Any, axis1: int, axis2: int) -> Tensor:
    """`t.swapaxes(axis1, axis2)`."""
    return _lift(t).swapaxes(axis1, axis2)


def unsqueeze(t: Any, dim: int) -> Tensor:
    """`t.unsqueeze(dim)`."""
    return _lift(t).unsqueeze(dim)


def expand_dims(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.expand_dims(axis)`, or dim=."""
    return _lift(t).expand_dims(*args, **kwargs)


def squeeze(t: Any, *args: Any, **kwargs: Any) -> Tensor:
    """`t.squeeze(axis=None)`, or dim=."""
    return _lift(t).squeeze(*args, **kwargs)


def flatten(t: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """`t.flatten(start_dim, end_dim)`."""
    return _lift(t).flatten(start_dim, end_dim)


def broadcast_to(t: Any, shape: Sequence[int]) -> Tensor:
    """`t.broadcast_to(shape)`."""
    return _lift(t).broadcast_to(shape)


def split(t: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """`t.split(split_size_or_sections, dim)`."""
    return _lift(t).split(split_size_or_sections, dim)


def chunk(t: Any, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`t.chunk(chunks, dim)`."""
    return _lift(t).chunk(chunks, dim)


def pad(t: Any, pad_width: Any, value: float = 0, *, mode: str = "constant",
        constant_values: float | None = None) -> Tensor:
    """A constant border with NumPy's pad_width (see Tensor.pad)."""
    return _lift(t).pad(pad_width, value, mode=mode, constant_values=constant_values)


def flip(t: Any, axis: Any = None, *, dims: Any = None) -> Tensor:
    """Order reversed along axis (None: every axis), as np.flip."""
    return _lift(t).flip(axis, dims=dims)


def roll(t: Any, shift: Any = None, axis: Any = None, *, shifts: Any = None,
         dims: Any = None) -> Tensor:
    """Elements shifted with wrap-around, as np.roll (axis None: the flattened data)."""
    return _lift(t).roll(shift, axis, shifts=shifts, dims=dims)


def tril(t: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """The lower triangle of the last two axes, zeros above it."""
    return _lift(t).tril(k, diagonal=diagonal)


def triu(t: Any, k: int = 0, *, diagonal: int | None = None) -> Tensor:
    """The upper triangle of the last two axes, zeros below it."""
    return _lift(t).triu(k, diagonal=diagonal)


def take_along_axis(t: Any, indices: Any, axis: int | None = -1, *,
                    dim: int | None = None) -> Tensor:
    """Elements picked by indices along axis, as np.take_along_axis."""
    return _lift(t).take_along_axis(indices, axis, dim=dim)


def tile(t: Any, reps: Any) -> Tensor:
    """The data repeated reps[i] times along axis i, as np.tile."""
    return _lift(t).tile(reps)


def gather(t: Any, dim: int, index: Any) -> Tensor:
    """PyTorch's gather along dim (`t.gather(dim, index)`)."""
    return _lift(t).gather(dim, index)


def repeat(t: Any, *repeats: Any) -> Tensor:
    """PyTorch's repeat (`t.repeat(*repeats)`: np.tile with a count per axis)."""
    return _lift(t).repeat(*repeats)


# ----------------------------------------------------------------------- other
def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation with numpy.einsum's subscripts: implicit output ('ij,jk'),
    '...' (broadcasting), repeated labels ('ii->i' diagonal, 'ii' trace).

    >>> a = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> tg.einsum("ii", a)
    Tensor(5., grad_fn=<EinsumBackward>)

    Operands may also come as one list, as in torch.einsum("ij,jk", [a, b]).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)) and operands[0] and all(
            isinstance(x, Tensor) for x in operands[0]):
        operands = tuple(operands[0])
    operands = tuple(x if isinstance(x, Tensor) else np.asarray(x) for x in operands)
    spec = ops.parse_subscripts(subscripts, [x.shape for x in operands])
    return ops.Einsum.apply(*operands, subscripts=spec)


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b with numpy.matmul semantics."""
    return _lift(a) @ b


def clone(t: Any) -> Tensor:
    """`t.clone()`: a copy that stays in the graph."""
    return _lift(t).clone()


def masked_fill(t: Any, mask: Any, value: Any) -> Tensor:
    """`t.masked_fill(mask, value)`."""
    return _lift(t).masked_fill(mask, value)


def numel(t: Any) -> int:
    """The number of elements."""
    return _lift(t).numel()


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim: PyTorch's name for `tg.concatenate`."""
    return concatenate(tensors, dim, dim=axis)  # dim as concatenate's axis, axis as its dim


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing array's memory (a later change to either shows in both); its dtype
    is kept, so an int array gives an int tensor."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}; "
                        "use tg.tensor(data) for other data")
    if array.dtype.kind not in "biufc":
        raise TypeError(f"from_numpy: cannot make a Tensor from an array of dtype {array.dtype}")
    return make_tensor(array, None)
