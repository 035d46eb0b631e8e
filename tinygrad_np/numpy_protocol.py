"""NumPy's protocols: `np.exp(t)`, `np.sum(t, axis=0)`, `np.concatenate([t, u])` on Tensors.

NumPy hands every call that involves a Tensor to `Tensor.__array_ufunc__` (ufuncs:
np.exp, np.add, ... and their methods np.add.reduce, ...) or to
`Tensor.__array_function__` (np.sum, np.concatenate, ...). Both come here:

- a ufunc in UNARY / BINARY (or scipy.special's erf, expit), a function in FUNCTIONS
  (numpy_functions.py): the Tensor op it stands for, recorded in the graph (a Tensor
  comes back, also when no gradient is needed);
- a ufunc that returns booleans (np.less, np.isnan, ...): a bool Tensor, no grad;
- a function in PLAIN (indices, counts, truth values, shapes: np.argmax, np.allclose,
  np.shape, ...): what NumPy returns for the arrays, whatever requires grad;
- anything else, and `out=`: NumPy runs on the arrays when no argument requires grad
  (NumPy's own result, or `out` written in place), and a TypeError naming the function
  is raised when one does, so a gradient is never dropped silently.

An entry that meets an argument it does not support (`np.sum(t, where=m)`,
`np.pad(t, 1, mode="edge")`) raises `NotDifferentiable`, and is then treated as
"anything else"; so does an entry whose Tensor method this version lacks (looked up
by name at call time).

Operators never come here: `x * 2.0` calls NumPy on arrays, not on Tensors.
"""
from __future__ import annotations

import sys
from functools import partial
from typing import Any, Callable

import numpy as np

from tinygrad_np import grad_mode, ops, versions
from tinygrad_np._tensor import Tensor, maximum, minimum
from tinygrad_np.function import apply_binary, make_tensor

_NoValue = np._NoValue  # NumPy's "argument not given" default


class NotDifferentiable(Exception):
    """An entry of the tables cannot record this call; the message says why (internal)."""


# ------------------------------------------------------------------- the hooks
def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """Tensor.__array_ufunc__: a ufunc (or one of its methods) called with a Tensor."""
    if method == "__call__":
        entry = UFUNCS.get(ufunc) or _scipy_special(ufunc)
        if entry is not None and kwargs.get("out") is None:
            try:
                # NOTE: `ndarray * tensor` comes here; without keywords it goes straight to
                # the op (a partial of apply_binary: no Python frame of ours in between)
                return entry(*inputs) if not kwargs else _call_ufunc(entry, inputs, kwargs)
            except NotDifferentiable as why:
                return _fallback(ufunc, inputs, kwargs, _name(ufunc), reason=str(why))
        if _returns_bool(ufunc):
            if kwargs.get("out") is None:
                return make_tensor(np.asarray(ufunc(*_arrays(inputs), **kwargs)), None)
            return _fallback(ufunc, inputs, kwargs, _name(ufunc), plain=True)
        return _fallback(ufunc, inputs, kwargs, _name(ufunc))
    call = getattr(ufunc, method)
    name = f"{_name(ufunc)}.{method}"
    if kwargs.get("out") is None:
        entry = METHODS.get((ufunc, method))
        if method == "outer" and ufunc in BINARY:
            entry = _outer
        if entry is not None:
            try:
                return entry(ufunc, *inputs, **kwargs)
            except NotDifferentiable as why:
                return _fallback(call, inputs, kwargs, name, reason=str(why))
    return _fallback(call, inputs, kwargs, name, written=inputs[0] if method == "at" else None)


def array_function(func: Callable, types: tuple, args: tuple, kwargs: dict) -> Any:
    """Tensor.__array_function__: a NumPy function called with a Tensor."""
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented  # another array library takes part: let it answer
    if func in PLAIN:
        return _fallback(func, args, kwargs, _name(func), plain=True)
    entry = FUNCTIONS.get(func)
    if entry is not None and kwargs.get("out") is None:
        try:
            return entry(*args, **kwargs)
        except NotDifferentiable as why:
            return _fallback(func, args, kwargs, _name(func), reason=str(why))
    return _fallback(func, args, kwargs, _name(func))


# ------------------------------------------------- NumPy's own call, on arrays
def _fallback(call: Callable, args: tuple, kwargs: dict, name: str, plain: bool = False,
              reason: str = "", written: Any = None) -> Any:
    """`call` on the arrays behind the Tensors; a TypeError when that would drop a gradient.

    plain: the result carries no gradient (indices, booleans), so only Tensors it
    writes into (out=) must not require grad. written: an input the call writes into.
    """
    out = kwargs.get("out")
    if grad_mode.is_grad_enabled():
        watched = (out, written) if plain else (args, kwargs)
        culprit = _requiring_grad(watched)
        if culprit is not None:
            raise TypeError(_refusal(name, culprit, reason, out is not None, written is not None))
    result = call(*_arrays(args), **_arrays(kwargs))
    targets = [t for t in _tensors((out, written))]
    if targets:
        versions.mark_modified(*(t.data for t in targets))
        by_array = {id(t.data): t for t in targets}
        if isinstance(result, tuple):
            return tuple(by_array.get(id(r), r) for r in result)
        return by_array.get(id(result), result)
    return result


def _refusal(name: str, culprit: Tensor, reason: str, out: bool, writes: bool) -> str:
    what = f"an argument requires grad (a Tensor of shape {culprit.shape})"
    if writes:
        return (f"{name} writes into its first argument and cannot record a gradient in "
                f"tinygrad_np: {what}. Build the result out of place (`t[idx]`, tg.where, "
                "tg.concatenate), or use t.detach().numpy() to work on the values")
    if out:
        return (f"{name} with out= (or an in-place NumPy operation such as `array += tensor`) "
                f"cannot record a gradient in tinygrad_np: {what}. Drop out= to get a new "
                "Tensor in the graph (`y = np.add(a, t)`, `a = a + t`), or use "
                "t.detach().numpy() to work on the values")
    why = f" {reason}" if reason else ""
    return (f"{name}{why} is not differentiable in tinygrad_np: {what}, and NumPy's result "
            "would drop its gradient. Use t.detach().numpy() to work on the values, or "
            "write the computation with Tensor ops")


def _arrays(obj: Any) -> Any:
    """obj with every Tensor (also inside lists, tuples and dicts) replaced by its array."""
    if isinstance(obj, Tensor):
        return obj.data
    if isinstance(obj, list):
        return [_arrays(x) for x in obj]
    if isinstance(obj, tuple):
        return tuple(_arrays(x) for x in obj)
    if isinstance(obj, dict):
        return {k: _arrays(v) for k, v in obj.items()}
    return obj


def _tensors(obj: Any) -> Any:
    """Every Tensor in obj (also inside lists, tuples and dicts)."""
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _tensors(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            yield from _tensors(x)


def _requiring_grad(obj: Any) -> Tensor | None:
    return next((t for t in _tensors(obj) if t.requires_grad), None)


def _name(func: Any) -> str:
    """np.exp, np.sum, np.linalg.norm, scipy.special.gammaln: how the user wrote the call."""
    name = func.__name__
    if isinstance(func, np.ufunc):
        if getattr(np, name, None) is func:
            return "np." + name
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, name, None) is func:
            return "scipy.special." + name
        return f"the ufunc {name}"
    module = getattr(func, "__module__", None) or "numpy"
    if not module.startswith("numpy"):
        return f"{module}.{name}"
    if "._" in module:
        module = "numpy"
    return "np" + module[len("numpy"):] + "." + name


_BOOL_UFUNCS: dict[np.ufunc, bool] = {}


def _returns_bool(ufunc: np.ufunc) -> bool:
    """Whether the ufunc gives only booleans for float inputs (comparisons, isnan...)."""
    known = _BOOL_UFUNCS.get(ufunc)
    if known is None:
        outs = [t.split("->")[1] for t in ufunc.types if t[0] in "efdg"]
        known = _BOOL_UFUNCS[ufunc] = bool(outs) and all(set(o) == {"?"} for o in outs)
    return known


# --------------------------------------------------------------- conversions
def _tensor(x: Any) -> Tensor:
    """x as a Tensor; other data converted as NumPy converts it (Python floats: float64)."""
    return x if isinstance(x, Tensor) else make_tensor(np.asarray(x), None)


def _cast(x: Any, dtype: Any) -> Any:
    """x in dtype (NumPy's dtype= argument); a Tensor through the differentiable Cast."""
    if dtype is None:
        return x
    dtype = np.dtype(dtype)
    if not isinstance(x, Tensor):
        return np.asarray(x, dtype=dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind != "f" and x.requires_grad:
        raise NotDifferentiable(f"with dtype={dtype}")
    return x.astype(dtype)


def _keep(keepdims: Any) -> bool:
    return False if keepdims is _NoValue else bool(keepdims)


def _unsupported(**given: Any) -> None:
    """Refuse NumPy arguments the Tensor ops do not take, when given."""
    for key, value in given.items():
        if value is not _NoValue:
            raise NotDifferentiable(f"with {key}=")


def _method(name: str) -> Callable:
    """t -> t.<name>(...), looked up at call time (ops added by other branches)."""
    def call(x: Any, *args: Any, **kwargs: Any) -> Tensor:
        method = getattr(Tensor, name, None)
        if method is None:
            raise NotDifferentiable(f"(this version of tinygrad_np has no Tensor.{name})")
        return method(_tensor(x), *args, **kwargs)
    call.__name__ = name
    return call


# --------------------------------------------------------------------- ufuncs
_UFUNC_DEFAULTS = {"out": None, "casting": "same_kind", "order": "K", "subok": True,
                   "where": True}


def _is_default(key: str, value: Any) -> bool:
    default = _UFUNC_DEFAULTS.get(key, _NoValue)
    return type(value) is type(default) and value == default  # where= may be an array


def _call_ufunc(entry: Callable, inputs: tuple, kwargs: dict) -> Tensor:
    dtype = None
    for key, value in kwargs.items():
        if key == "dtype":
            dtype = value
        elif not _is_default(key, value):
            raise NotDifferentiable(f"with {key}={value!r}" if isinstance(value, str)
                                    else f"with {key}=")
    if dtype is not None:
        inputs = tuple(_cast(x, dtype) for x in inputs)
    return entry(*inputs)


UNARY: dict[np.ufunc, Callable] = {
    np.exp: _method("exp"), np.log: _method("log"), np.sqrt: _method("sqrt"),
    np.absolute: _method("abs"), np.tanh: _method("tanh"), np.negative: _method("__neg__"),
    np.positive: _method("__pos__"),
    # added by the new-ops branch; until then they behave as functions outside the table
    np.sin: _method("sin"), np.cos: _method("cos"), np.log1p: _method("log1p"),
    np.expm1: _method("expm1"), np.square: _method("square"),
}

BINARY: dict[np.ufunc, Callable] = {
    np.add: partial(apply_binary, ops.Add), np.subtract: partial(apply_binary, ops.Sub),
    np.multiply: partial(apply_binary, ops.Mul), np.true_divide: partial(apply_binary, ops.Div),
    np.power: partial(apply_binary, ops.Pow), np.matmul: partial(apply_binary, ops.MatMul),
    np.maximum: maximum, np.minimum: minimum,
}


def _logaddexp(a: Any, b: Any) -> Tensor:
    """log(exp(a) + exp(b)) as max(a, b) + log1p(exp(-|a - b|)): no overflow, ties split."""
    return maximum(a, b) + (-(apply_binary(ops.Sub, a, b).abs())).exp().log1p()


BINARY[np.logaddexp] = _logaddexp
UFUNCS = {**UNARY, **BINARY}

# scipy.special's ufuncs with a Tensor counterpart, by name (scipy is not imported here)
SCIPY_SPECIAL: dict[str, str] = {"erf": "erf", "expit": "sigmoid"}


def _scipy_special(ufunc: np.ufunc) -> Callable | None:
    """scipy.special.erf(t), scipy.special.expit(t): the Tensor's erf, sigmoid."""
    name = SCIPY_SPECIAL.get(ufunc.__name__)
    special = sys.modules.get("scipy.special")
    if name is None or special is None or getattr(special, ufunc.__name__, None) is not ufunc:
        return None
    return _method(name)


def _reduce(name: str) -> Callable:
    """ufunc.reduce as the reduction `name`: NumPy's default axis is 0 here, not None."""
    def call(ufunc: np.ufunc, array: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
             keepdims: bool = False, initial: Any = _NoValue, where: Any = True) -> Tensor:
        _unsupported(initial=initial, where=_NoValue if where is True else where)
        x = _cast(_tensor(array), dtype)
        return getattr(x, name)(axis=axis, keepdims=bool(keepdims))
    return call


def _accumulate(ufunc: np.ufunc, array: Any, axis: int = 0, dtype: Any = None,
                out: Any = None) -> Tensor:
    """np.add.accumulate: a cumulative sum along axis (0 by default)."""
    return _method("cumsum")(_cast(_tensor(array), dtype), axis)


def _outer(ufunc: np.ufunc, a: Any, b: Any, **kwargs: Any) -> Tensor:
    """ufunc.outer(a, b): ufunc(a[..., None, ...], b), every pair of elements."""
    a, b = _tensor(a), _tensor(b)
    return _call_ufunc(BINARY[ufunc], (a.reshape(a.shape + (1,) * b.ndim), b), kwargs)


METHODS: dict[tuple[np.ufunc, str], Callable] = {
    (np.add, "reduce"): _reduce("sum"),
    (np.maximum, "reduce"): _reduce("max"),
    (np.minimum, "reduce"): _reduce("min"),
    (np.add, "accumulate"): _accumulate,
    (np.multiply, "reduce"): lambda ufunc, array, axis=0, dtype=None, out=None,
    keepdims=False, initial=_NoValue, where=True: _prod(
        array, axis, dtype, keepdims=keepdims, initial=initial,
        where=_NoValue if where is True else where),
}


# np.sum, np.concatenate, ...: the implementations live in numpy_functions
from tinygrad_np.numpy_functions import FUNCTIONS, PLAIN, _prod  # noqa: E402
