"""Functional transforms (`tg.func`), as torch.func and JAX have them.

>>> import numpy as np
>>> import tinygrad_np as tg
>>> f = lambda x: (x ** 3).sum()
>>> tg.func.grad(f)(np.array([1.0, 2.0]))                  # ndarrays in, ndarrays out
array([ 3., 12.])
>>> tg.func.hessian(f)(np.array([1.0, 2.0]))
array([[ 6.,  0.],
       [ 0., 12.]])
>>> tg.func.grad(tg.func.grad(lambda x: x ** 3))(2.0)      # floats in, floats out
12.0

`grad`, `value_and_grad`, `jacobian` and `hessian` turn `f` into a new function;
`vjp`, `jvp` and `hvp` evaluate at given points. `f` receives each argument it is
differentiated with respect to as a fresh Tensor that requires grad, and builds its
result with tinygrad_np ops. Results come back as the inputs came in: Tensors for
Tensors, ndarrays for ndarrays, Python floats for (0-d results of) Python or NumPy
float scalars; a Python float is computed in float64.

Inputs are treated functionally, as torch.func treats them: a caller's Tensor is never
changed and never gets a `.grad`. When a differentiated argument is a Tensor that
requires grad (and grad mode is on), the results stay in its graph, so they can be
differentiated with respect to it (`tg.grad`, `backward`); any result that depends on
such a Tensor comes back as a Tensor. That is also how transforms compose: grad(grad(f)),
hessian = jacobian(grad(f)). Inside the function of another transform, a transform keeps
its results in the graph too, so a nested function may close over the outer variable.
Elsewhere, a Tensor that `f` only closes over is a constant to the transform: pass it
as an argument to differentiate through it.

Built on `tg.grad(..., create_graph=True)`: a vjp is one backward; a jvp is two (the
double-vjp trick: u -> J^T u is linear, so the gradient of <J^T u, t> in u is J t); a
jacobian is one backward per output element; hvp is the gradient of <grad f, v>.
"""
from __future__ import annotations

import contextvars
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_np import autograd, ops
from tinygrad_np._tensor import Tensor, stack
from tinygrad_np.function import make_tensor
from tinygrad_np.grad_mode import enable_grad, is_grad_enabled

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]

# How many transforms are running `f` in this thread: inside one, results stay in the graph.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("tinygrad_np_func_depth",
                                                              default=0)
TENSOR, ARRAY, SCALAR = "Tensor", "ndarray", "scalar"
_WITH_ARGNUMS = ("grad", "value_and_grad", "jacobian", "hessian")


# ------------------------------------------------------------------ the public transforms
def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar f w.r.t. argument argnums (a tuple of them for a tuple).

    With has_aux=True, f returns (output, aux) and the new function (gradient, aux).
    """
    return _grad(f, argnums, has_aux, "grad")


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    """A function returning (f(*args), gradient); ((value, aux), gradient) with has_aux."""
    positions = _check_argnums(argnums, "value_and_grad")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple:
        value, grads, aux = _value_and_grad(f, args, kwargs, positions, has_aux,
                                            "value_and_grad")
        return ((value, aux), grads) if has_aux else (value, grads)
    return value_and_grad_f


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """(f(*primals), vjp_fn): vjp_fn(cotangent) gives u^T J, a tuple with one entry per primal.

    f may return a tuple of Tensors: then the cotangent is a tuple of the same shapes.
    With has_aux=True, f returns (output, aux) and vjp returns (output, vjp_fn, aux).
    vjp_fn may be called many times.
    """
    point = _Point("vjp", primals, {}, tuple(range(len(primals))))
    out, aux = point.call(f, {}, has_aux)
    outs, several = _outputs(out, "vjp")

    def vjp_fn(cotangents: Any) -> tuple:
        cots = _cotangents(cotangents, outs, several)
        create = point.connected or (is_grad_enabled() and (
            _depth.get() > 0 or any(_requires_grad(c) for c in cots)))
        grads = _backward(outs, point.variables, cots, create)
        return tuple(_export(g, kind, create) for g, kind in zip(grads, point.kinds))

    value = point.export_tree(tuple(outs) if several else outs[0])
    return (value, vjp_fn, point.export_tree(aux)) if has_aux else (value, vjp_fn)


def jvp(f: Callable[..., Any], primals: Any, tangents: Any, has_aux: bool = False) -> tuple:
    """(f(*primals), J t): the forward-mode product of f's Jacobian with the tangents.

    primals and tangents are tuples of the same length (a lone Tensor/array/float is
    taken as a tuple of one); each tangent has its primal's shape. J t has the
    structure of f's output. With has_aux=True, returns (output, J t, aux).
    """
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    point = _Point("jvp", primals, {}, tuple(range(len(primals))), tangents)
    ts = _tangents(tangents, point, "jvp")
    out, aux = point.call(f, {}, has_aux)
    outs, several = _outputs(out, "jvp")
    products = [_zeros_like(o) for o in outs]
    live = [k for k, o in enumerate(outs) if o.requires_grad]
    if live:
        # J^T u is linear in u (any u: ones), and the gradient of <J^T u, t> in u is J t
        dummies = [make_tensor(np.ones(outs[k].shape, outs[k].dtype), None) for k in live]
        for u in dummies:
            u.requires_grad = True
        pulled = autograd.grad([outs[k] for k in live], point.variables, dummies,
                               retain_graph=True, create_graph=True, allow_unused=True)
        for j, g in enumerate(pulled):
            if g is not None and not g.requires_grad and np.any(g.data):
                raise RuntimeError(
                    f"tg.func.jvp: the gradient of f w.r.t. primal {j} is not differentiable "
                    "(a custom tg.Function whose backward computes on arrays?), so J t "
                    "cannot be taken as a derivative of it; write that backward with Tensor "
                    "operators on ctx.saved_tensors")
        total = _inner_product(pulled, ts)
        if total is not None:
            pushed = _backward([total], dummies, [None], point.connected)
            for k, p in zip(live, pushed):
                products[k] = p
    value = point.export_tree(tuple(outs) if several else outs[0])
    product = point.export_tree(tuple(products) if several else products[0])
    return (value, product, point.export_tree(aux)) if has_aux else (value, product)


def jacobian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
             has_aux: bool = False) -> Callable[..., Any]:
    """The Jacobian of f w.r.t. argument argnums, of shape out.shape + arg.shape.

    A tuple argnums gives a tuple of Jacobians; an f returning a tuple gives a tuple
    (one entry per output) of those. Reverse mode: one backward per output element.
    """
    return _jacobian(f, argnums, has_aux, "jacobian")


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of a scalar f, jacobian(grad(f)): shape arg.shape + arg.shape.

    A tuple argnums gives the nested tuple H[i][j] = d2f / (d arg_i d arg_j).
    """
    return _jacobian(_grad(f, argnums, False, "hessian"), argnums, False, "hessian")


def hvp(f: Callable[..., Any], primals: Any, tangents: Any) -> tuple:
    """(f(*primals), H v) for a scalar f, as torch.autograd.functional.hvp.

    The product has the structure of the primals: one Tensor/array/float for a lone
    primal, a tuple for a tuple. Reverse over reverse: the gradient of <grad f, v>.
    """
    several = isinstance(primals, (tuple, list))
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    point = _Point("hvp", primals, {}, tuple(range(len(primals))), tangents)
    ts = _tangents(tangents, point, "hvp")
    out, _ = point.call(f, {}, False)
    out = _scalar_output(out, "hvp", False)
    products = [_zeros_like(v) for v in point.variables]
    if out.requires_grad:
        grads = autograd.grad(out, point.variables, retain_graph=True, create_graph=True,
                              allow_unused=True)
        total = _inner_product(grads, ts)
        if total is not None:
            products = _backward([total], point.variables, [None], point.connected)
    products = [point.export_arg(p, j) for j, p in enumerate(products)]
    return point.export(out), tuple(products) if several else products[0]


# ------------------------------------------------------------------ the transforms' bodies
def _grad(f: Callable[..., Any], argnums: Any, has_aux: bool, name: str) -> Callable[..., Any]:
    positions = _check_argnums(argnums, name)

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        _, grads, aux = _value_and_grad(f, args, kwargs, positions, has_aux, name)
        return (grads, aux) if has_aux else grads
    return grad_f


def _value_and_grad(f: Callable[..., Any], args: tuple, kwargs: dict, positions: tuple,
                    has_aux: bool, name: str) -> tuple:
    """(value, gradients, aux), exported; gradients a tuple when argnums was a sequence."""
    nums, single = _positions(positions, len(args), name)
    point = _Point(name, args, kwargs, nums)
    out, aux = point.call(f, kwargs, has_aux)
    out = _scalar_output(out, name, has_aux)
    grads = _backward([out], point.variables, [None], point.connected)
    grads = tuple(point.export_arg(g, j) for j, g in enumerate(grads))
    return point.export(out), grads[0] if single else grads, point.export_tree(aux)


def _jacobian(f: Callable[..., Any], argnums: Any, has_aux: bool,
              name: str) -> Callable[..., Any]:
    positions = _check_argnums(argnums, name)

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        nums, single = _positions(positions, len(args), name)
        point = _Point(name, args, kwargs, nums)
        out, aux = point.call(f, kwargs, has_aux)
        outs, several = _outputs(out, name)
        per_output = []
        for o in outs:
            jacs = tuple(point.export_arg(J, j) for j, J in enumerate(_jacobian_of(o, point)))
            per_output.append(jacs[0] if single else jacs)
        result = tuple(per_output) if several else per_output[0]
        return (result, point.export_tree(aux)) if has_aux else result
    return jacobian_f


def _jacobian_of(out: Tensor, point: "_Point") -> list[Tensor]:
    """d out / d variable for each variable, shape out.shape + variable.shape: row by row."""
    rows = []
    for k in range(out.size):
        unit = np.zeros(out.shape, out.dtype)
        unit.flat[k] = 1
        rows.append(_backward([out], point.variables, [unit], point.connected))
    jacs = []
    for j, v in enumerate(point.variables):
        shape = out.shape + v.shape
        if not rows:
            jacs.append(make_tensor(np.zeros(shape, v.dtype), None))
        elif any(r[j].requires_grad for r in rows):
            jacs.append(stack([r[j] for r in rows]).reshape(shape))
        else:
            jacs.append(make_tensor(np.stack([r[j].data for r in rows]).reshape(shape), None))
    return jacs


# ------------------------------------------------------------------ one evaluation of f
class _Point:
    """The arguments of one call of f, the differentiated ones replaced by fresh variables.

    connected: the results must stay differentiable -- grad mode is on and an argument
    is a Tensor that requires grad, or this runs inside another transform's f.
    """

    def __init__(self, name: str, args: Sequence[Any], kwargs: dict, positions: tuple,
                 extra: Sequence[Any] = ()) -> None:
        self.name = name
        self.connected = is_grad_enabled() and (_depth.get() > 0 or any(
            _requires_grad(a) for a in (*args, *kwargs.values(), *extra)))
        self.args = list(args)
        self.variables: list[Tensor] = []
        self.kinds: list[str] = []
        for i in positions:
            variable, kind = _variable(args[i], name, i, self.connected)
            self.args[i] = variable
            self.variables.append(variable)
            self.kinds.append(kind)
        self.kind = next((k for k in (TENSOR, ARRAY) if k in self.kinds), SCALAR)

    def call(self, f: Callable[..., Any], kwargs: dict, has_aux: bool) -> tuple:
        """(output, aux) of f on the variables, recorded (grad mode on inside)."""
        token = _depth.set(_depth.get() + 1)
        try:
            with enable_grad():
                result = f(*self.args, **kwargs)
        finally:
            _depth.reset(token)
        if not has_aux:
            return result, None
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = (f"a {type(result).__name__} of {len(result)}"
                   if isinstance(result, (tuple, list)) else f"a {type(result).__name__}")
            raise TypeError(f"tg.func.{self.name} with has_aux=True: f must return a pair "
                            f"(output, aux), but it returned {got}")
        return result[0], result[1]

    def export(self, t: Tensor) -> Any:
        """A result in the form the inputs came in."""
        return _export(t, self.kind, self.connected)

    def export_arg(self, t: Tensor, j: int) -> Any:
        """A result belonging to differentiated argument j, in that argument's form."""
        return _export(t, self.kinds[j], self.connected)

    def export_tree(self, obj: Any) -> Any:
        """Every Tensor inside tuples, lists and dicts exported; anything else as it is."""
        if isinstance(obj, Tensor):
            return self.export(obj)
        if isinstance(obj, (tuple, list)):
            return type(obj)(self.export_tree(o) for o in obj)
        if isinstance(obj, dict):
            return {k: self.export_tree(v) for k, v in obj.items()}
        return obj


def _variable(x: Any, name: str, i: int, connected: bool) -> tuple[Tensor, str]:
    """(a fresh Tensor that requires grad holding argument i, the argument's kind)."""
    if isinstance(x, Tensor):
        _check_float(x.data, name, i)
        if connected and x.requires_grad:
            return ops.Cast.apply(x, dtype=x.dtype), TENSOR  # a copy in the caller's graph
        array, kind = x.data, TENSOR
    elif isinstance(x, np.ndarray):
        array, kind = x, ARRAY
        _check_float(array, name, i)
    elif isinstance(x, (float, np.floating)):
        array, kind = x, SCALAR
    elif isinstance(x, (bool, int, np.bool_, np.integer)):
        raise TypeError(f"tg.func.{name}: argument {i} is the integer {x!r}; only "
                        f"floating-point inputs can be differentiated: pass {float(x)!r}"
                        + _leave_out_hint(name))
    else:
        raise TypeError(f"tg.func.{name}: argument {i} is a {type(x).__name__}; pass a "
                        "Tensor, a NumPy array or a float (for a list, np.asarray(it))"
                        + _leave_out_hint(name))
    variable = make_tensor(np.array(array), None)  # a copy: f can never touch the caller's
    variable.requires_grad = True
    return variable, kind


def _check_float(array: np.ndarray, name: str, i: int) -> None:
    if array.dtype.kind != "f":
        raise TypeError(f"tg.func.{name}: argument {i} has dtype {array.dtype} (shape "
                        f"{array.shape}); only floating-point inputs can be differentiated: "
                        "convert it, e.g. x.astype(np.float64)" + _leave_out_hint(name))


def _leave_out_hint(name: str) -> str:
    return ", or leave it out of argnums" if name in _WITH_ARGNUMS else ""


def _export(t: Tensor, kind: str, connected: bool) -> Any:
    if connected and t.requires_grad:
        return t  # differentiable w.r.t. what the caller's graph holds
    if kind == TENSOR:
        return t if not t.requires_grad else make_tensor(t.data, None)
    if kind == SCALAR and t.data.ndim == 0:
        return t.data.item()
    return t.data


def _shape(x: Any) -> tuple:
    return x.shape if isinstance(x, Tensor) else np.shape(x)


def _requires_grad(x: Any) -> bool:
    return isinstance(x, Tensor) and x.requires_grad


# ------------------------------------------------------------------ outputs and gradients
def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic, float, int)):  # a constant: zero gradients
        return make_tensor(np.asarray(x), None)
    raise TypeError(f"tg.func.{name}: f must return a Tensor (or a tuple of Tensors), but "
                    f"it returned a {type(x).__name__}")


def _outputs(out: Any, name: str) -> tuple[list[Tensor], bool]:
    """f's output as a list of Tensors, and whether it was a tuple."""
    if isinstance(out, (tuple, list)):
        return [_as_tensor(o, name) for o in out], True
    return [_as_tensor(out, name)], False


def _scalar_output(out: Any, name: str, has_aux: bool) -> Tensor:
    """f's output, which must be one element."""
    if isinstance(out, (tuple, list)):
        hint = "" if has_aux or name not in ("grad", "value_and_grad") else \
            " (to return extra values too, pass has_aux=True)"
        raise TypeError(f"tg.func.{name}: f must return one scalar Tensor, but it returned "
                        f"a {type(out).__name__} of {len(out)}{hint}")
    t = _as_tensor(out, name)
    if t.size != 1:
        raise ValueError(f"tg.func.{name}: f must return a scalar (a one-element Tensor), "
                         f"but it returned shape {t.shape}; reduce it first (e.g. .sum() or "
                         ".mean()), or use tg.func.jacobian or tg.func.vjp for a "
                         "non-scalar output")
    return t


def _backward(outs: Sequence[Tensor], variables: Sequence[Tensor], cotangents: Sequence[Any],
              create_graph: bool) -> list[Tensor]:
    """sum_k cotangent_k^T d out_k / d variable, for each variable (zeros where unused)."""
    live = [(o, c) for o, c in zip(outs, cotangents) if o.requires_grad]
    if not live:
        return [_zeros_like(v) for v in variables]
    grads = autograd.grad([o for o, _ in live], list(variables), [c for _, c in live],
                          retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [_zeros_like(v) if g is None else g for g, v in zip(grads, variables)]


def _inner_product(xs: Sequence[Tensor | None], ys: Sequence[Any]) -> Tensor | None:
    """sum_i <x_i, y_i> over the x_i that are in the graph (None when there are none)."""
    total = None
    for x, y in zip(xs, ys):
        if x is None or not x.requires_grad:
            continue
        term = (x * y).sum()
        total = term if total is None else total + term
    return total


def _zeros_like(t: Tensor) -> Tensor:
    return make_tensor(np.zeros(t.shape, t.dtype), None)


# ------------------------------------------------------------------ checking arguments
def _check_argnums(argnums: Any, name: str) -> Any:
    """argnums as given, once its type is checked (the range is checked at each call)."""
    def is_int(a: Any) -> bool:
        return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))
    if is_int(argnums):
        return int(argnums)
    if isinstance(argnums, (tuple, list)) and argnums and all(is_int(a) for a in argnums):
        return tuple(int(a) for a in argnums)
    raise TypeError(f"tg.func.{name}: argnums must be an int or a non-empty tuple of ints, "
                    f"got {argnums!r}")


def _positions(argnums: int | tuple, n: int, name: str) -> tuple[tuple, bool]:
    """(the differentiated positions, counted from 0, whether argnums was a single int)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else argnums
    if any(not -n <= a < n for a in nums):
        raise ValueError(f"tg.func.{name}: argnums={argnums!r}, but f was called with {n} "
                         f"positional argument{'s' if n != 1 else ''}")
    nums = tuple(a % n for a in nums)
    if len(set(nums)) != len(nums):
        raise ValueError(f"tg.func.{name}: argnums={argnums!r} names an argument twice")
    return nums, single


def _as_tuple(xs: Any) -> tuple:
    return tuple(xs) if isinstance(xs, (tuple, list)) else (xs,)


def _tangents(tangents: tuple, point: _Point, name: str) -> list[Any]:
    """Each tangent as an array of its primal's dtype (or a Tensor, when it is in a graph)."""
    if len(tangents) != len(point.variables):
        raise ValueError(f"tg.func.{name}: {len(point.variables)} primals but "
                         f"{len(tangents)} tangents; give one tangent per primal")
    ts = []
    for j, (t, v) in enumerate(zip(tangents, point.variables)):
        if _shape(t) != v.shape:
            raise ValueError(f"tg.func.{name}: tangent {j} has shape {_shape(t)} but primal "
                             f"{j} has shape {v.shape}; a tangent has its primal's shape")
        if point.connected and _requires_grad(t):
            ts.append(t if t.dtype == v.dtype else t.astype(v.dtype))
        else:
            ts.append(np.asarray(t.data if isinstance(t, Tensor) else t, dtype=v.dtype))
    return ts


def _cotangents(cotangents: Any, outs: list[Tensor], several: bool) -> list[Any]:
    cots = _as_tuple(cotangents) if several else (cotangents,)
    if len(cots) != len(outs):
        raise ValueError(f"tg.func.vjp: f returned {len(outs)} outputs but vjp_fn got "
                         f"{len(cots)} cotangents; give one per output")
    checked = []
    for k, (c, o) in enumerate(zip(cots, outs)):
        if _shape(c) != o.shape:
            raise ValueError(f"tg.func.vjp: cotangent {k} has shape {_shape(c)} but output "
                             f"{k} has shape {o.shape}; a cotangent has its output's shape")
        checked.append(c if isinstance(c, Tensor) else np.asarray(c, dtype=o.dtype))
    return checked
