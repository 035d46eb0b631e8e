"""Tensor: a NumPy array with a place in the autograd graph.

Each op method is one line that hands the work to a primitive in `ops/`, or a
short composite of other Tensor methods (those need no derivative of their own).

The module is `_tensor` (as PyTorch's `torch/_tensor.py`) so that `tg.tensor` is the
constructor function. Tensor and the op machinery (`function`, `ops`) need each
other: they are imported at the bottom, the one import circle of the package.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Iterator, Sequence

import numpy as np

from tinygrad_np import grad_mode, versions

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
    __array_ufunc__ = None  # ndarray (op) Tensor defers to the Tensor's reflected operator
    __hash__ = object.__hash__  # identity hash; == is elementwise, as in NumPy

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        self.data = _as_array(data, dtype)
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
        """The number of elements."""
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
    def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Sum over axis (None, int, negative or tuple), NumPy's keepdims."""
        axis = ops.normalize_axis(axis, self.shape, "sum")
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Mean over axis (None, int, negative or tuple)."""
        axis = ops.normalize_axis(axis, self.shape, "mean")
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Maximum over axis; tied maxima share the gradient evenly."""
        axis = ops.normalize_axis(axis, self.shape, "max")
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """Minimum over axis; tied minima share the gradient evenly."""
        return -((-self).max(axis, keepdims))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Variance over axis with NumPy's ddof (default 0)."""
        axis = ops.normalize_axis(axis, self.shape, "var")
        count = math.prod(self.shape[a] for a in axis)  # not np.prod: 5 us per call
        centred = self - self.mean(axis, keepdims=True)
        scale = 1.0 / (count - ddof) if count > ddof else np.inf
        return (centred * centred).sum(axis, keepdims) * scale

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
        """Standard deviation over axis with NumPy's ddof (default 0); gradient 0 where it is 0."""
        axis = ops.normalize_axis(axis, self.shape, "std")
        return ops.Std.apply(self, axis=axis, keepdims=keepdims, ddof=ddof)

    def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor:
        """log(sum(exp(x))) over axis, computed stably."""
        axis = ops.normalize_axis(axis, self.shape, "logsumexp")
        shift = ops.stable_shift(self.data, axis)
        out = (self - shift).exp().sum(axis, keepdims=True).log() + shift
        return out if keepdims else out.reshape(np.squeeze(out.data, axis).shape)

    def softmax(self, axis: int = -1) -> Tensor:
        """exp(x) / sum(exp(x)) along axis, computed stably."""
        e = (self - ops.stable_shift(self.data, axis)).exp()
        return e / e.sum(axis, keepdims=True)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) along axis, computed stably."""
        return ops.LogSoftmax.apply(self, axis=axis)

    def argmax(self, axis: int | None = None) -> Tensor:
        """Indices of the maxima along axis (no gradient)."""
        return make_tensor(np.asarray(self.data.argmax(axis=axis)), None)

    def argmin(self, axis: int | None = None) -> Tensor:
        """Indices of the minima along axis (no gradient)."""
        return make_tensor(np.asarray(self.data.argmin(axis=axis)), None)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same data in a new shape: `t.reshape(2, 3)` or `t.reshape((2, 3))`."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, shape=tuple(shape))

    def transpose(self, *axes: Any) -> Tensor:
        """Axes permuted (reversed when none are given), as NumPy's transpose."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return ops.Transpose.apply(self, axes=tuple(axes) if axes else None)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        """Two axes exchanged."""
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    def flatten(self) -> Tensor:
        """The data as one axis."""
        return self.reshape(-1)

    def squeeze(self, axis: Any = None) -> Tensor:
        """Axes of length one removed (all of them, or those in axis)."""
        return self.reshape(_shape_op(np.squeeze, "squeeze", self, axis))

    def expand_dims(self, axis: Any) -> Tensor:
        """A new axis of length one inserted at axis."""
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


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return ops.Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    tensors = [_lift(t) for t in tensors]
    return concatenate([t.expand_dims(axis) for t in tensors], axis=axis)


def _lift(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ------------------------------------------------- nn layers (Beyond MLPs)
def erf(t: Any) -> Tensor:
    """The error function of a Tensor (or array-like), elementwise; same as `t.erf()`."""
    return _lift(t).erf()

# --- v2 ops: free functions
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


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation with numpy.einsum's subscripts: implicit output ('ij,jk'),
    '...' (broadcasting), repeated labels ('ii->i' diagonal, 'ii' trace).

    >>> a = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> einsum("ii", a)
    Tensor(5., grad_fn=<EinsumBackward>)

    Operands may also come as one list, as in torch.einsum("ij,jk", [a, b]).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)) and operands[0] and all(
            isinstance(x, Tensor) for x in operands[0]):
        operands = tuple(operands[0])
    operands = tuple(x if isinstance(x, Tensor) else np.asarray(x) for x in operands)
    spec = ops.parse_subscripts(subscripts, [x.shape for x in operands])
    return ops.Einsum.apply(*operands, subscripts=spec)


def cumsum(t: Any, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Running sums along axis (None: of the flattened data), as np.cumsum."""
    return _lift(t).cumsum(axis, dim=dim)


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
    rng = generator or _rng
    return _new(rng.standard_normal(_shape(shape)).astype(dtype or _default_dtype), requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1) from the seeded generator."""
    rng = generator or _rng
    return _new(rng.random(_shape(shape)).astype(dtype or _default_dtype), requires_grad)


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
