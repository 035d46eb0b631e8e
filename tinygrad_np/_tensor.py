"""Tensor: a NumPy array with a place in the autograd graph.

Each op method is one line that hands the work to a primitive in `ops/`, or a
short composite of other Tensor methods (those need no derivative of their own).

The module is `_tensor` (as PyTorch's `torch/_tensor.py`) so that `tg.tensor` is the
constructor function. Tensor and the op machinery (`function`, `ops`) need each
other: they are imported at the bottom, the one import circle of the package.
"""
from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Iterator, Sequence

import numpy as np

from tinygrad_np import grad_mode, versions
from tinygrad_np import _spellings
from tinygrad_np._spellings import CPU_ONLY, axis_args, ddof_arg, max_result, min_result

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_default_dtype() -> np.dtype:
    """The dtype Python floats and float lists become (float32 unless set)."""
    return _default_dtype


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype Python floats and float lists become; must be a float dtype."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"the default dtype must be a floating-point dtype, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random constructor and initialiser; returns the new generator."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def default_generator() -> np.random.Generator:
    """The generator random constructors and `tg.nn.init` draw from."""
    return _rng


def draw(method: str, shape: tuple, generator: np.random.Generator | None = None) -> Any:
    """generator.<method>(shape) (default: the seeded generator); inside tg.compile's
    recording a step of the plan, so every replay draws new numbers (dropout masks)."""
    if grad_mode.current_mode() & grad_mode.TRACING:
        tracer = grad_mode.step_tracer()
        if tracer is not None:
            return tracer.call_value(_draw_now, method, shape, generator)
    return _draw_now(method, shape, generator)


def _draw_now(method: str, shape: tuple, generator: np.random.Generator | None) -> Any:
    return getattr(generator or _rng, method)(shape)


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """User data -> a fresh ndarray following the contract's dtype rules."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, dtype=dtype)
    else:
        array = np.array(data)
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        elif array.dtype.kind == "f":
            array = array.astype(_default_dtype, copy=False)
    if array.dtype.kind not in "biufc":
        raise TypeError(f"cannot make a Tensor from {type(data).__name__} data of dtype "
                        f"{array.dtype}; use numbers, nested lists of numbers, or an ndarray")
    return array


def _check_can_require_grad(array: np.ndarray) -> None:
    if array.dtype.kind != "f":
        raise TypeError(f"only floating-point Tensors can require grad, but this one holds "
                        f"{array.dtype} data of shape {array.shape}; pass float data or "
                        f"dtype=np.float32")


class Tensor:
    """An n-dimensional array that records the ops applied to it for reverse-mode autograd.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "grad_fn", "name", "__weakref__")
    __hash__ = object.__hash__  # identity hash; == is elementwise, as in NumPy

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        self.data = _as_array(data, dtype)
        if grad_mode.current_mode() & grad_mode.TRACING:  # tg.compile follows the copy
            self.data = grad_mode.active_tracer.get().copied(data, self.data)
        if requires_grad:
            _check_can_require_grad(self.data)
        self.requires_grad = bool(requires_grad)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self.name = name

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple:
        """The array's shape, a tuple."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the data."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of elements: NumPy's int (PyTorch's `t.size()` is `t.shape`, `t.size(d)`
        is `t.shape[d]`)."""
        return self.data.size

    @property
    def T(self) -> Tensor:  # noqa: N802
        """All axes reversed, as NumPy's `.T`."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (no grad_fn): backward fills their `.grad`."""
        return self.grad_fn is None

    # ----------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a one-element tensor, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as nested Python lists."""
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy:  # np.array(t) must not alias the tensor's memory
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all() on .data")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extras = []
        if self.data.dtype not in (_default_dtype, np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + ", ".join([body] + extras) + ")"

    # -------------------------------------------------------------- autograd
    def backward(self, grad: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into `.grad` of every leaf it depends on."""
        autograd.backward(self, grad, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory, never requires grad)."""
        return make_tensor(self.data, None)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set requires_grad in place on a leaf; returns self."""
        if not self.is_leaf and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() instead")
        if requires_grad:
            _check_can_require_grad(self.data)
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in `.grad` after backward."""
        if self.grad_fn is not None:
            autograd.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf whose `.grad` backward will fill (see `retain_grad`)."""
        return self.grad_fn is not None and autograd.retains_grad(self)

    # NOTE: nothing here recurses into the graph, however long it is.
    def __reduce_ex__(self, protocol: Any) -> tuple:
        """Pickling keeps data, requires_grad and name and drops the graph, as PyTorch's does."""
        return _rebuild_tensor, (type(self), self.data, self.requires_grad, self.name)

    def __deepcopy__(self, memo: dict) -> Tensor:
        """A copy of a leaf (data, requires_grad, name, grad); a non-leaf refuses, as PyTorch."""
        if self.grad_fn is not None:
            raise RuntimeError(
                f"only tensors created by the user (graph leaves) can be deep-copied; this one "
                f"(shape {self.shape}) was computed by {self.grad_fn.name}. Copy "
                "t.detach() (or t.detach().requires_grad_()) to get a leaf with the same data")
        new = _rebuild_tensor(type(self), copy.deepcopy(self.data, memo), self.requires_grad,
                              self.name)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        return new

    # ------------------------------------------------------- NumPy's protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """np.exp(t), np.add(a, t), `ndarray + t`: Tensors in the graph (see numpy_protocol)."""
        return numpy_protocol.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
        """np.sum(t), np.concatenate([t, u]), ...: Tensors in the graph (see numpy_protocol)."""
        return numpy_protocol.array_function(func, types, args, kwargs)

    # ------------------------------------------------------------- operators
    def __add__(self, other: Any) -> Tensor: return _binary(ops.Add, self, other)
    def __radd__(self, other: Any) -> Tensor: return _binary(ops.Add, other, self)
    def __sub__(self, other: Any) -> Tensor: return _binary(ops.Sub, self, other)
    def __rsub__(self, other: Any) -> Tensor: return _binary(ops.Sub, other, self)
    def __mul__(self, other: Any) -> Tensor: return _binary(ops.Mul, self, other)
    def __rmul__(self, other: Any) -> Tensor: return _binary(ops.Mul, other, self)
    def __truediv__(self, other: Any) -> Tensor: return _binary(ops.Div, self, other)
    def __rtruediv__(self, other: Any) -> Tensor: return _binary(ops.Div, other, self)
    def __pow__(self, other: Any) -> Tensor: return _binary(ops.Pow, self, other)
    def __rpow__(self, other: Any) -> Tensor: return _binary(ops.Pow, other, self)
    def __matmul__(self, other: Any) -> Tensor: return _binary(ops.MatMul, self, other)
    def __rmatmul__(self, other: Any) -> Tensor: return _binary(ops.MatMul, other, self)
    def __neg__(self) -> Tensor: return _unary(ops.Neg, self)
    def __pos__(self) -> Tensor: return self
    def matmul(self, other: Any) -> Tensor:
        """Matrix product with numpy.matmul semantics (1-D, 2-D, batched); same as `@`."""
        return _binary(ops.MatMul, self, other)

    def __iadd__(self, other: Any) -> Tensor: return self._inplace(ops.Add, other, "+=")
    def __isub__(self, other: Any) -> Tensor: return self._inplace(ops.Sub, other, "-=")
    def __imul__(self, other: Any) -> Tensor: return self._inplace(ops.Mul, other, "*=")
    def __itruediv__(self, other: Any) -> Tensor: return self._inplace(ops.Div, other, "/=")

    def _inplace(self, op: type, other: Any, symbol: str) -> Tensor:
        """PyTorch's rules: mutate plain tensors; refuse leaves that require grad."""
        if self._records_inplace(other, f"an in-place operation ({symbol})",
                                 f"the out-of-place form `t = t {symbol[0]} other`"):
            result = _binary(op, self, other)
            if result.shape != self.shape:
                raise ValueError(f"in-place {symbol} cannot change the shape {self.shape} "
                                 f"to {result.shape}")
            return self._rebind(result)
        ufunc = {"+=": np.add, "-=": np.subtract, "*=": np.multiply, "/=": np.true_divide}[symbol]
        ufunc(self.data, array_of(other), out=self.data)
        versions.mark_modified(self.data)
        return self

    def _records_inplace(self, other: Any, what: str, instead: str) -> bool:
        """Whether an in-place change must be recorded (a gradient flows through it);
        raises for a leaf that requires grad, as PyTorch does."""
        if not grad_mode.is_grad_enabled():
            return False
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                f"a leaf Tensor that requires grad (shape {self.shape}) is being used in "
                f"{what}; wrap the update in `with tg.no_grad():` or use {instead}")
        return self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)

    def _rebind(self, result: Tensor) -> Tensor:
        """Make self the output of a recorded in-place change, keeping its dtype.

        The old array is left intact for the nodes that saved it (other views of it do
        not see the change); a retained gradient stays retained, as in PyTorch.
        """
        if result.dtype != self.dtype:
            result = result.astype(self.dtype)
        retained = self.retains_grad
        self.data, self.grad_fn, self.requires_grad = result.data, result.grad_fn, True
        if retained:
            self.retain_grad()
        return self

    def _compare(self, ufunc: np.ufunc, other: Any) -> Tensor:
        return make_tensor(np.asarray(ufunc(self.data, array_of(other))), None)

    def __lt__(self, other: Any) -> Tensor: return self._compare(np.less, other)
    def __le__(self, other: Any) -> Tensor: return self._compare(np.less_equal, other)
    def __gt__(self, other: Any) -> Tensor: return self._compare(np.greater, other)
    def __ge__(self, other: Any) -> Tensor: return self._compare(np.greater_equal, other)
    def __eq__(self, other: Any) -> Tensor: return self._compare(np.equal, other)  # type: ignore[override]
    def __ne__(self, other: Any) -> Tensor: return self._compare(np.not_equal, other)  # type: ignore[override]

    def __getitem__(self, index: Any) -> Tensor:
        return ops.GetItem.apply(self, index=ops.index_arrays(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        """t[index] = value; a value that requires grad is recorded (t is rebound to the
        result), as in PyTorch; so is any assignment into a tensor that requires grad."""
        index = ops.index_arrays(index)
        if self._records_inplace(value, "item assignment",
                                 "tg.where or tg.concatenate to build the result"):
            self._rebind(ops.SetItem.apply(self, value, index=index))
            return
        self.data[index] = array_of(value)
        versions.mark_modified(self.data)

    # ----------------------------------------------------------- elementwise
    def exp(self) -> Tensor:
        """e ** x, elementwise."""
        return _unary(ops.Exp, self)

    def log(self) -> Tensor:
        """Natural logarithm, elementwise."""
        return _unary(ops.Log, self)

    def sqrt(self) -> Tensor:
        """Square root, elementwise."""
        return _unary(ops.Sqrt, self)

    def abs(self) -> Tensor:
        """Absolute value, elementwise (gradient sign(x), 0 at 0)."""
        return _unary(ops.Abs, self)

    def tanh(self) -> Tensor:
        """Hyperbolic tangent, elementwise."""
        return _unary(ops.Tanh, self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), elementwise, stable for any x."""
        return _unary(ops.Sigmoid, self)

    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        return _unary(ops.ReLU, self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """Values limited to [lo, hi] (either may be None); no gradient outside."""
        return ops.Clip.apply(self, lo=lo, hi=hi)

    def astype(self, dtype: Any) -> Tensor:
        """A copy with another dtype; the gradient is cast back."""
        return ops.Cast.apply(self, dtype=np.dtype(dtype))

    # ------------------------------------------------------------ reductions
    # Each takes NumPy's axis=/keepdims= or PyTorch's dim=/keepdim= (see _spellings.axis_args).
    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Sum over axis (None, int, negative or tuple), NumPy's keepdims."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "sum")
        axis = ops.normalize_axis(axis, self.shape, "sum")
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Mean over axis (None, int, negative or tuple)."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "mean")
        axis = ops.normalize_axis(axis, self.shape, "mean")
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: int | None = None,
            keepdim: bool | None = None) -> Any:
        """Maximum over axis; tied maxima share the gradient evenly (as `amax`).

        With PyTorch's `dim=d` (one int): a named tuple `(values, indices)` as `torch.max`,
        the gradient going to the index chosen (the first maximum). `max(d)` and
        `max(axis=d)` give the values only, as NumPy.
        """
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "max")
        if dim is not None:
            return self._with_indices(np.argmax, axis, keepdims, "max", max_result)
        return self._amax(axis, keepdims, "max")

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: int | None = None,
            keepdim: bool | None = None) -> Any:
        """Minimum over axis; tied minima share the gradient evenly. `dim=d`: (values,
        indices), as `max`."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "min")
        if dim is not None:
            return self._with_indices(np.argmin, axis, keepdims, "min", min_result)
        return -((-self)._amax(axis, keepdims, "min"))

    def amax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Maximum over axis (None, int or tuple); tied maxima share the gradient evenly."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "amax")
        return self._amax(axis, keepdims, "amax")

    def amin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Minimum over axis (None, int or tuple); tied minima share the gradient evenly."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "amin")
        return -((-self)._amax(axis, keepdims, "amin"))

    def _amax(self, axis: Any, keepdims: bool, op: str) -> Tensor:
        if isinstance(axis, (Tensor, np.ndarray)):
            raise TypeError(f"{op}(other): the argument is an axis here; for the elementwise "
                            f"{op[-3:]}imum of two tensors use tg.{op[-3:]}imum(a, b)")
        axis = ops.normalize_axis(axis, self.shape, op)
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def _with_indices(self, arg: Any, dim: Any, keepdim: bool, op: str, result: type) -> tuple:
        """PyTorch's max/min along one dim: (values, int64 indices), values taken at the
        indices (so the gradient goes to the first extremum)."""
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
            raise TypeError(f"{op}(dim=...) takes one int, got {dim!r} (with dim it returns "
                            f"values and indices, as PyTorch); for several axes use "
                            f"a{op}(dim=...)")
        ops.normalize_axis(dim, self.shape, op)
        if self.ndim == 0:
            return result(self.reshape(()), make_tensor(np.array(0), None))
        dim %= self.ndim
        if self.shape[dim] == 0:
            raise IndexError(f"{op}(dim={dim}) of a tensor of shape {self.shape}: the dimension "
                             "is empty, so there is no element to pick")
        indices = arg(self.data, axis=dim, keepdims=keepdim)
        grid = list(np.indices(indices.shape, sparse=True))
        if keepdim:
            grid[dim] = indices
        else:
            grid.insert(dim, indices)
        return result(self[tuple(grid)], make_tensor(indices, None))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: float = 0, *, dim: Any = None,
            keepdim: bool | None = None, correction: float | None = None,
            unbiased: bool | None = None) -> Tensor:
        """Variance over axis with NumPy's ddof (default 0; PyTorch's `correction=k` is
        ddof=k, `unbiased=True` ddof=1)."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "var")
        ddof = ddof_arg(ddof, correction, unbiased, "var")
        axis = ops.normalize_axis(axis, self.shape, "var")
        count = math.prod(self.shape[a] for a in axis)  # not np.prod: 5 us per call
        centred = self - self.mean(axis, keepdims=True)
        scale = 1.0 / (count - ddof) if count > ddof else np.inf
        return (centred * centred).sum(axis, keepdims) * scale

    def std(self, axis: Any = None, keepdims: bool = False, ddof: float = 0, *, dim: Any = None,
            keepdim: bool | None = None, correction: float | None = None,
            unbiased: bool | None = None) -> Tensor:
        """Standard deviation over axis with NumPy's ddof (default 0; `correction`/`unbiased`
        as in `var`); gradient 0 where it is 0."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "std")
        ddof = ddof_arg(ddof, correction, unbiased, "std")
        axis = ops.normalize_axis(axis, self.shape, "std")
        return ops.Std.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                  keepdim: bool | None = None) -> Tensor:
        """log(sum(exp(x))) over axis, computed stably."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "logsumexp")
        axis = ops.normalize_axis(axis, self.shape, "logsumexp")
        shift = ops.stable_shift(self.data, axis)
        out = (self - shift).exp().sum(axis, keepdims=True).log() + shift
        return out if keepdims else out.reshape(np.squeeze(out.data, axis).shape)

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """exp(x) / sum(exp(x)) along axis (default: the last), computed stably."""
        axis = axis_args(axis, dim, False, None, "softmax", -1)[0]
        e = (self - ops.stable_shift(self.data, axis)).exp()
        return e / e.sum(axis, keepdims=True)

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """log(softmax(x)) along axis (default: the last), computed stably."""
        axis = axis_args(axis, dim, False, None, "log_softmax", -1)[0]
        return ops.LogSoftmax.apply(self, axis=axis)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices of the maxima along axis (None: of the flattened data); no gradient."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "argmax")
        return make_tensor(np.asarray(self.data.argmax(axis=axis, keepdims=keepdims)), None)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices of the minima along axis (None: of the flattened data); no gradient."""
        axis, keepdims = axis_args(axis, dim, keepdims, keepdim, "argmin")
        return make_tensor(np.asarray(self.data.argmin(axis=axis, keepdims=keepdims)), None)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same data in a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, shape=tuple(shape))

    def transpose(self, *axes: Any) -> Tensor:
        """Axes permuted: `t.transpose(d0, d1)` (two ints) swaps two axes, as PyTorch;
        a full permutation (`t.transpose(2, 0, 1)`, or one tuple) or none (all axes
        reversed) works as NumPy's transpose. A permutation of two axes is a tuple:
        `t.transpose((0, 1))`."""
        if len(axes) == 2 and all(isinstance(a, (int, np.integer)) for a in axes):
            return self.swapaxes(*axes)
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        if not axes:
            return ops.Transpose.apply(self, axes=None)
        return ops.Transpose.apply(self, axes=_permutation(axes, self.shape, "transpose"))

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Two axes exchanged."""
        axes = list(range(self.ndim))
        a, b = ops.normalize_axis(axis1, self.shape, "swapaxes"), \
            ops.normalize_axis(axis2, self.shape, "swapaxes")
        if self.ndim:
            axes[a[0]], axes[b[0]] = axes[b[0]], axes[a[0]]
        return ops.Transpose.apply(self, axes=tuple(axes))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Axes start_dim..end_dim (all by default) merged into one, as PyTorch's flatten;
        a 0-d tensor becomes shape (1,)."""
        op = f"flatten(start_dim={start_dim}, end_dim={end_dim})"
        return self.reshape(flattened_shape(self.shape, start_dim, end_dim, op))

    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        """Axes of length one removed (all of them, or those in axis); squeezing an axis
        longer than one is an error (NumPy's rule, where PyTorch skips it)."""
        axis = axis_args(axis, dim, False, None, "squeeze")[0]
        return self.reshape(_shape_op(np.squeeze, "squeeze", self, axis))

    def expand_dims(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        """A new axis of length one inserted at axis."""
        axis = axis_args(axis, dim, False, None, "expand_dims")[0]
        if axis is None:
            raise TypeError("expand_dims() needs the axis (or dim) where the new axis goes")
        return self.reshape(_shape_op(np.expand_dims, "expand_dims", self, axis))

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """The data broadcast to shape, as numpy.broadcast_to."""
        return ops.BroadcastTo.apply(self, shape=tuple(shape))

    # ----------------------------------------------- nn layers (Beyond MLPs)
    def erf(self) -> Tensor:
        """The error function, elementwise (derivative 2/sqrt(pi) exp(-x**2))."""
        return _unary(ops.Erf, self)

    # --- v2 ops: elementwise, cumsum, flip, roll, pad, tril/triu, tile, take_along_axis,
    # and PyTorch's gather and repeat (the same ops under PyTorch's rules)
    def sin(self) -> Tensor:
        """Sine, elementwise."""
        return _unary(ops.Sin, self)

    def cos(self) -> Tensor:
        """Cosine, elementwise."""
        return _unary(ops.Cos, self)

    def log1p(self) -> Tensor:
        """log(1 + x), elementwise, accurate for small x."""
        return _unary(ops.Log1p, self)

    def expm1(self) -> Tensor:
        """exp(x) - 1, elementwise, accurate for small x."""
        return _unary(ops.Expm1, self)

    def square(self) -> Tensor:
        """x * x, elementwise."""
        return _unary(ops.Square, self)

    def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Running sums along axis; None (the default) sums the flattened data, as NumPy."""
        axis = ops.cumsum_axis(_either(axis, dim, "cumsum", "axis", "dim"), self.shape)
        return ops.Cumsum.apply(self, axis=axis)

    def flip(self, axis: Any = None, *more: int, dims: Any = None) -> Tensor:
        """Order reversed along axis (int or tuple; None: every axis), as np.flip; PyTorch's
        `t.flip(0, 1)` and `dims=` too."""
        axis = _either((axis, *more) if more else axis, dims, "flip", "axis", "dims")
        return ops.Flip.apply(self, axes=ops.normalize_axis(axis, self.shape, "flip"))

    def roll(self, shift: Any = None, axis: Any = None, *, shifts: Any = None,
             dims: Any = None) -> Tensor:
        """Elements shifted along axis with wrap-around (axis None: along the flattened
        data), as np.roll; PyTorch's `shifts=`/`dims=` too."""
        shift = _either(shift, shifts, "roll", "shift", "shifts")
        if shift is None:
            raise TypeError("roll: missing the shift (shift= or PyTorch's shifts=)")
        axis = _either(axis, dims, "roll", "axis", "dims")
        shift, axis = ops.roll_args(shift, axis, self.shape)
        return ops.Roll.apply(self, shift=shift, axis=axis)

    def pad(self, pad_width: Any, value: float = 0, *, mode: str = "constant",
            constant_values: float | None = None) -> Tensor:
        """A constant border, NumPy's pad_width: an int, (before, after), or a pair per axis.

        Only mode="constant" (NumPy's `np.pad(a, w, "constant")` spelling works too);
        PyTorch's last-axis-first pads, and cropping, are `tg.nn.functional.pad`.
        """
        if isinstance(value, str):  # NumPy's positional mode
            value, mode = 0, value
        value = _either(value, constant_values, "pad", "value", "constant_values", default=0)
        widths = ops.pad_widths(pad_width, self.shape)
        return ops.Pad.apply(self, widths=widths, value=ops.pad_value(value, mode, "pad"))

    def tril(self, k: int = 0, *, diagonal: int | None = None) -> Tensor:
        """The lower triangle of the last two axes (column <= row + k), zeros above it."""
        k = _either(k, diagonal, "tril", "k", "diagonal", default=0)
        return ops.Tril.apply(self, k=ops.triangle_check(self.shape, k, "tril"))

    def triu(self, k: int = 0, *, diagonal: int | None = None) -> Tensor:
        """The upper triangle of the last two axes (column >= row + k), zeros below it."""
        k = _either(k, diagonal, "triu", "k", "diagonal", default=0)
        return ops.Triu.apply(self, k=ops.triangle_check(self.shape, k, "triu"))

    def tile(self, *reps: Any) -> Tensor:
        """The data repeated reps[i] times along axis i, as np.tile (`t.tile((2, 3))` or
        `t.tile(2, 3)`); fewer reps than axes repeat the last axes."""
        reps = ops.tile_reps(_one_or_many(reps), "tile", self.shape)
        return ops.Tile.apply(self, reps=reps)

    def repeat(self, *repeats: Any) -> Tensor:
        """PyTorch's repeat: np.tile with at least one count per axis (`t.repeat(2, 1)`)."""
        reps = ops.tile_reps(_one_or_many(repeats), "repeat", self.shape)
        if len(reps) < self.ndim:
            raise ValueError(f"repeat: the counts {reps} are fewer than the {self.ndim} axes "
                             f"of a tensor of shape {self.shape}; PyTorch's repeat needs one "
                             "per axis (tile prepends 1s for the missing ones)")
        return ops.Tile.apply(self, reps=reps)

    def take_along_axis(self, indices: Any, axis: int | None = -1, *,
                        dim: int | None = None) -> Tensor:
        """Elements picked by integer indices along axis, as np.take_along_axis (axis None:
        from the flattened data); repeated indices add up their gradients."""
        axis = _either(axis, dim, "take_along_axis", "axis", "dim", default=-1)
        index, shape = ops.along_axis_index(self.shape, array_of(indices), axis)
        source = self if shape == self.shape else self.reshape(-1)
        return ops.TakeAlongAxis.apply(source, index=index)

    def gather(self, dim: int, index: Any) -> Tensor:
        """PyTorch's gather: out[i][j] = self[index[i][j]][j] for dim 0 (index has self's
        ndim, is no larger off `dim`, and 0 <= index < size); repeated indices add up."""
        index = ops.gather_index(self.shape, dim, array_of(index))
        return ops.TakeAlongAxis.apply(self, index=index)

    # ------------------------------------------------------ PyTorch spellings
    # The names PyTorch users reach for, beside NumPy's above. A PyTorch name we lack
    # gets a hint (see _spellings.add_hints, below the class).
    def view(self, *shape: Any) -> Tensor:
        """Same as `reshape`: it always works, whatever the memory layout (no contiguity
        requirement, so no `.contiguous()` first)."""
        return self.reshape(*shape)

    def view_as(self, other: Any) -> Tensor:
        """The data in other's shape."""
        return self.reshape(np.shape(other))

    def reshape_as(self, other: Any) -> Tensor:
        """The data in other's shape."""
        return self.reshape(np.shape(other))

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length one at dim (same as `expand_dims`)."""
        return self.expand_dims(dim)

    def permute(self, *dims: Any) -> Tensor:
        """Axes reordered: `t.permute(2, 0, 1)` or `t.permute((2, 0, 1))`."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return ops.Transpose.apply(self, axes=_permutation(dims, self.shape, "permute"))

    def expand(self, *sizes: Any) -> Tensor:
        """Broadcast to sizes, where -1 keeps an axis's length (PyTorch's `broadcast_to`)."""
        sizes = _shape(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand{tuple(sizes)} of a tensor of shape {self.shape}: give at "
                             f"least {self.ndim} sizes")
        return self.broadcast_to(tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                                       for i, n in enumerate(sizes)))

    def expand_as(self, other: Any) -> Tensor:
        """Broadcast to other's shape."""
        return self.broadcast_to(np.shape(other))

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (the gradient passes through)."""
        return ops.Clone.apply(self)

    def numel(self) -> int:
        """The number of elements (the int `.size`)."""
        return self.data.size

    def dim(self) -> int:
        """The number of axes (`.ndim`)."""
        return self.data.ndim

    def contiguous(self) -> Tensor:
        """self: NumPy handles any memory layout, so there is nothing to do (`view` never
        needs it)."""
        return self

    def cpu(self) -> Tensor:
        """self: every tensor lives on the CPU."""
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """`t.to(dtype)`, `t.to(other)` (other's dtype) or `t.to("cpu")`: a cast as `float()`
        and `long()` make it, or self; `copy=True` always copies."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in _DEVICES:
                device = arg
            else:
                dtype = arg
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"to({device!r}): {CPU_ONLY}; drop the device or use 'cpu'")
        out = self if dtype is None else self._cast(dtype)
        return out.clone() if copy and out is self else out

    def type_as(self, other: Any) -> Tensor:
        """Cast to other's dtype (as `to`)."""
        return self._cast(other.dtype)

    def _cast(self, dtype: Any) -> Tensor:
        """self if it has dtype already (as PyTorch); a recorded cast to a float dtype, a cast
        without gradient to any other."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind == "f":
            return ops.Cast.apply(self, dtype=dtype)
        return make_tensor(self.data.astype(dtype), None)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place: it becomes a leaf that needs no grad."""
        self.grad_fn, self.requires_grad = None, False
        return self

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        """PyTorch's name for `clip(lo, hi)`."""
        return self.clip(min, max)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        """A copy with value where mask is True (mask broadcasts, as PyTorch); the gradient
        of those positions goes to value (when it is a Tensor), of the rest to self."""
        condition = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if condition.dtype != np.bool_:
            raise TypeError(f"masked_fill: the mask must hold bools, got dtype "
                            f"{condition.dtype}; build it with a comparison such as t > 0")
        if isinstance(value, Tensor):
            if value.ndim:
                raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got "
                                 f"shape {value.shape}; for an array of values use tg.where")
            value = value._cast(self.dtype)
        else:
            value = np.asarray(value).astype(self.dtype)  # as PyTorch: value takes self's dtype
        return ops.Where.apply(value, self, condition=condition)

    def fill_(self, value: Any) -> Tensor:
        """Every element set to value (a number or a 0-d tensor), in place, under the rules
        of `+=`: refused on a leaf that requires grad unless in `tg.no_grad()`."""
        if np.ndim(array_of(value)):
            raise ValueError(f"fill_ takes a number or a 0-d tensor, got shape "
                             f"{np.shape(array_of(value))}; use t[...] = values for an array")
        if self._records_inplace(value, "an in-place operation (fill_)",
                                 "a new tensor such as tg.full(t.shape, value)"):
            return self._rebind(ops.SetItem.apply(self, value, index=Ellipsis))
        self.data[...] = array_of(value)
        versions.mark_modified(self.data)
        return self

    def zero_(self) -> Tensor:
        """Every element set to 0, in place (as `fill_(0)`)."""
        return self.fill_(0)

    def add_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """self += alpha * other, in place (the rules of `+=`)."""
        return self._inplace(ops.Add, other if alpha == 1 else _lift(other) * alpha, "+=")

    def sub_(self, other: Any, *, alpha: float = 1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._inplace(ops.Sub, other if alpha == 1 else _lift(other) * alpha, "-=")

    def mul_(self, other: Any) -> Tensor:
        """self *= other, in place."""
        return self._inplace(ops.Mul, other, "*=")

    def div_(self, other: Any) -> Tensor:
        """self /= other, in place."""
        return self._inplace(ops.Div, other, "/=")

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along dim, as PyTorch: an int gives pieces of that length (the last may be
        shorter), a list gives pieces of those lengths. (NumPy's np.split(a, n) makes n
        pieces: that is `chunk`.)"""
        if self.ndim == 0:
            raise ValueError("split: a 0-d tensor has no dimension to split")
        (axis,) = ops.normalize_axis(dim, self.shape, "split")
        n = self.shape[axis]
        sections = split_size_or_sections
        if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
            if sections < 0 or (sections == 0 and n):
                raise ValueError(f"split: split_size must be a positive int, got {sections} "
                                 f"(for dimension {dim} of length {n} of shape {self.shape})")
            sections = [sections] * (n // sections) + [n % sections] if sections else [0]
            sections = [s for s in sections if s] or [0]
        elif sum(sections) != n or min(sections, default=0) < 0:
            raise ValueError(f"split: the sizes {list(sections)} must be >= 0 and add up to "
                             f"{n}, the length of dimension {dim} of shape {self.shape}")
        lead, start, pieces = (slice(None),) * axis, 0, []
        for size in sections:
            pieces.append(self[lead + (slice(start, start + size),)])
            start += size
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """About `chunks` equal pieces along dim, as PyTorch: pieces of ceil(n / chunks)
        (so there may be fewer pieces than asked)."""
        if not isinstance(chunks, (int, np.integer)) or chunks < 1:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        if self.ndim == 0:
            raise ValueError("chunk: a 0-d tensor has no dimension to split")
        n = self.shape[ops.normalize_axis(dim, self.shape, "chunk")[0]]
        return self.split([0] * chunks if n == 0 else -(-n // chunks), dim)

    def float(self) -> Tensor:
        """Cast to float32 (differentiable; self if float32 already, as PyTorch)."""
        return self._cast(np.float32)

    def double(self) -> Tensor:
        """Cast to float64 (differentiable; self if float64 already)."""
        return self._cast(np.float64)

    def long(self) -> Tensor:
        """Cast to int64 (no gradient, as PyTorch)."""
        return self._cast(np.int64)

    def int(self) -> Tensor:
        """Cast to int32 (no gradient)."""
        return self._cast(np.int32)

    def bool(self) -> Tensor:
        """Cast to bool (no gradient)."""
        return self._cast(np.bool_)

    def __format__(self, spec: str) -> str:
        """f"{loss:.3f}" formats a one-element tensor's value; an empty spec gives str(t)."""
        if not spec:
            return str(self)
        if self.data.size == 1:
            return format(self.data.item(), spec)
        raise TypeError(f"format spec {spec!r} needs a one-element tensor, this one has shape "
                        f"{self.shape}; format t.item() of one element, or the array t.data")

    def __dir__(self) -> list[str]:
        """The attributes, without the PyTorch names that only say what to use instead."""
        return [name for name in super().__dir__()
                if not isinstance(inspect.getattr_static(self, name, None),
                                  _spellings.MissingName)]


_spellings.add_hints(Tensor)  # a PyTorch name we lack says what to use (_spellings.HINTS)


_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla")  # device strings of to()


def flattened_shape(shape: tuple, start_dim: int, end_dim: int, op: str) -> tuple:
    """shape with axes start_dim..end_dim merged into one (a 0-d shape counts as (1,)), as
    PyTorch's flatten; the errors begin with op (t.flatten and nn.Flatten share this)."""
    size = max(len(shape), 1)
    for dim in (start_dim, end_dim):
        if not -size <= dim < size:
            raise IndexError(f"{op}: dimension {dim} is out of range for an input of shape "
                             f"{shape} ({len(shape)}-D)")
    start, end = start_dim % size, end_dim % size
    if start > end:
        raise ValueError(f"{op}: start_dim {start_dim} comes after end_dim {end_dim} for an "
                         f"input of shape {shape}")
    shape = shape or (1,)
    return shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:]


def _permutation(dims: Any, shape: tuple, op: str) -> tuple:
    """dims checked to be a permutation of shape's axes (negative ones allowed)."""
    if len(dims) != len(shape):
        raise ValueError(f"{op}{tuple(dims)} of a tensor of shape {shape}: the dims must be a "
                         f"permutation of its {len(shape)} axes (to swap two axes of any "
                         "tensor, pass exactly two ints)")
    ops.normalize_axis(dims, shape, op)  # each in range, none repeated
    return tuple(dims)


def _shape_op(fn: Any, name: str, t: Tensor, axis: Any) -> tuple:
    """The output shape of NumPy's squeeze/expand_dims, with an error naming op and shape."""
    try:
        return fn(t.data, axis).shape
    except ValueError as error:  # AxisError is a ValueError too
        raise type(error)(f"{name}(axis={axis}) of a tensor of shape {t.shape}: {error}") \
            from error


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as `Tensor(...)`, PyTorch's spelling."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# ------------------------------------------------------------ free functions
def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum with broadcasting; ties split the gradient evenly, like PyTorch."""
    return _binary(ops.Maximum, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum with broadcasting."""
    # NOTE: negate constants as they are (a Python float stays weakly typed, as in NumPy);
    # lifting them into default-dtype Tensors would round a float64 operand to float32.
    return -_binary(ops.Maximum, _negated(a), _negated(b))


def _negated(x: Any) -> Any:
    return -x if isinstance(x, (Tensor, np.ndarray, np.generic, int, float)) else -np.asarray(x)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise choice: a where condition holds, else b (no gradient to the condition)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    return ops.Where.apply(a, b, condition=cond.astype(bool, copy=False))


def concatenate(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (`tg.cat(tensors, dim)` is PyTorch's name)."""
    axis = axis_args(axis, dim, False, None, "concatenate", 0)[0]
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis."""
    axis = axis_args(axis, dim, False, None, "stack", 0)[0]
    tensors = [_lift(t) for t in tensors]
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _either(value: Any, alias: Any, op: str, name: str, alias_name: str,
            default: Any = None) -> Any:
    """One argument under NumPy's and PyTorch's names (axis=/dim=): both at once is an error."""
    if alias is None:
        return value
    if value is not default:
        raise TypeError(f"{op}: got both {name}= and {alias_name}= (the same argument under "
                        "NumPy's and PyTorch's names); pass one")
    return alias


def _one_or_many(args: tuple) -> Any:
    """f(2, 3) or f((2, 3)) -> (2, 3); f(2) -> (2,)."""
    if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
        return args[0]
    return args


# -------------------------------------------------------------- constructors
def _shape(shape: tuple) -> tuple:
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _new(array: np.ndarray, requires_grad: bool) -> Tensor:
    """A leaf around a fresh array made by a constructor."""
    return make_tensor(array, None).requires_grad_(requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `tg.zeros(2, 3)` or `tg.zeros((2, 3))`."""
    return _new(np.zeros(_shape(shape), dtype or _default_dtype), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _new(np.ones(_shape(shape), dtype or _default_dtype), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with one value."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _new(np.full(shape, fill_value, dtype or _default_dtype), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with t's shape and dtype."""
    return _new(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with t's shape and dtype."""
    return _new(np.ones_like(np.asarray(t), dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix."""
    return _new(np.eye(n, m, dtype=dtype or _default_dtype), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values; integer arguments give int64, float ones the default dtype."""
    array = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        array = array.astype(dtype)
    elif array.dtype.kind == "f":
        array = array.astype(_default_dtype)
    return _new(array, requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples from the seeded generator (`tg.manual_seed`)."""
    return _new(draw("standard_normal", _shape(shape), generator).astype(dtype or _default_dtype),
                requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator."""
    return _new(draw("random", _shape(shape), generator).astype(dtype or _default_dtype),
                requires_grad)


def _rebuild_tensor(cls: type, data: np.ndarray, requires_grad: bool, name: str | None) -> Tensor:
    """A leaf of class cls (Tensor, Parameter) around a copy of data: what unpickling makes."""
    t = cls(data, requires_grad=requires_grad)
    t.name = name
    return t


# the op machinery and the walk need Tensor, so they come after it (the one import circle)
from tinygrad_np import autograd, ops  # noqa: E402
from tinygrad_np.function import apply_binary as _binary  # noqa: E402
from tinygrad_np.function import apply_unary as _unary  # noqa: E402
from tinygrad_np.function import array_of, make_tensor  # noqa: E402
from tinygrad_np import numpy_protocol  # noqa: E402  (NumPy's protocols, after Tensor)
