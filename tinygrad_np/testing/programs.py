"""Random composite programs: small DAGs of tinygrad_np ops, for property tests.

`programs()` draws a program of several ops (elementwise, broadcasting binary
ops with Tensors, Python numbers or ndarrays on either side, reductions, shape
ops, indexing, matmul, concatenate/stack, where, softmax...), where later ops
reuse earlier values, together with the float64 inputs to run it on. Every op
is drawn only where it is differentiable with room to spare, so finite
differences are valid: log, sqrt and pow bases see values >= 0.2 (a program
inserts `v.exp()` or `v * v + 0.5` first when needed), divisors |values| >= 0.2,
and relu, abs, clip, maximum/minimum, max/min, std, where and masks are used
only where the values stand more than 1e-3 from their kinks and ties. Values
stay within +-100.

>>> from hypothesis import given
>>> from tinygrad_np.testing import gradcheck
>>> from tinygrad_np.testing.strategies import programs
>>> @given(programs(max_ops=4))
... def test_gradients(program):
...     assert gradcheck(program, program.tensors())
>>> test_gradients()

A program prints as the Python code it runs (its `source`), with its inputs:

    c0 = array([0.25, -1.5])

    def program(v0, v1):
        v2 = v0 * v1
        v3 = v2.tanh()
        v4 = c0 - v3
        return v4

    inputs = [array([[0.5, 1.0], [0.15, -0.3]]), array([2.0, -0.5])]

Each op is one row of `OPS`: its text, its tinygrad_np call and its NumPy
reference side by side, the kinds of operand each slot takes, and when the op
applies. Adding an op to the programs means adding a row.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np as tg
from tinygrad_np.nn import functional as F
from tinygrad_np._tensor import Tensor

__all__ = ["OPS", "OpRow", "Program", "programs"]

MARGIN = 1e-3     # the least distance of a value from a kink or tie of the op it enters
LEAST = 0.2       # the least value of a log/sqrt/pow base, the least |divisor|
BOUND = 100.0     # the largest |value| a program computes
MAX_SIDE, MAX_DIMS, MAX_SIZE = 3, 4, 48


# ------------------------------------------------------------ values and domains
DOMAINS: dict[str, Callable[[Any], bool]] = {
    "real": lambda a: True,
    "positive": lambda a: bool(np.min(a) >= LEAST),
    "nonzero": lambda a: bool(np.min(np.abs(a)) >= LEAST),
    "unit": lambda a: bool(np.min(a) >= 0.05 and np.max(a) <= 0.95),  # probabilities
}


def _values(shape: tuple, domain: str) -> st.SearchStrategy[np.ndarray]:
    """Input values on a grid: k/20 in [-3, 3) (in the domain), or all of them 1/40 off it
    (k/40 in [0.05, 0.925] or 1/80 off for probabilities).

    Values off the grid are never 0, +-1 or equal to a value on it.
    """
    k = {"real": st.integers(-60, 59), "positive": st.integers(4, 59),  # >= LEAST, as below
         "nonzero": st.integers(4, 59).flatmap(lambda k: st.sampled_from([k, -k])),
         "unit": st.integers(2, 37)}[domain]
    scale = 80 if domain == "unit" else 40

    def build(ks: np.ndarray, off: int) -> np.ndarray:  # (2k + 1) / 40 is exact in its digits
        return np.asarray((2 * ks + (np.sign(ks) if domain == "nonzero" else 1) * off) / scale)
    return st.builds(build, hnp.arrays(np.int64, shape, elements=k), st.sampled_from([0, 1]))


def _numbers(domain: str) -> st.SearchStrategy[float]:
    """Python-number constants: multiples of 1/4 in [-2, 2] (in the domain), whole ones as ints."""
    k = {"real": st.integers(-8, 8), "positive": st.integers(1, 8), "unit": st.integers(1, 3),
         "nonzero": st.integers(1, 8).flatmap(lambda k: st.sampled_from([k, -k]))}[domain]
    return k.map(lambda k: k // 4 if k % 4 == 0 else k / 4)


def _slices(a: np.ndarray, axis: Any) -> np.ndarray:
    """a's reduction slices along `axis` as the last axis of a 2-D array."""
    axes = range(a.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    axes = [ax % a.ndim for ax in axes]
    kept = [ax for ax in range(a.ndim) if ax not in axes]
    n = math.prod(a.shape[ax] for ax in axes)
    return np.transpose(a, kept + axes).reshape(-1, n)


def _gap(a: np.ndarray, axis: Any, top: bool) -> float:
    """The least distance between the max (top) / min of a slice and its runner-up."""
    s = np.sort(_slices(a, axis), axis=-1)
    if s.shape[-1] < 2:
        return np.inf
    return float(np.min(s[:, -1] - s[:, -2]) if top else np.min(s[:, 1] - s[:, 0]))


def _spread(a: np.ndarray, axis: Any, ddof: int) -> float:
    s = _slices(a, axis)
    return float(np.min(s.var(axis=-1, ddof=ddof))) if s.shape[-1] > ddof else -np.inf


def _inside(x: np.ndarray, lo: float | None, hi: float | None) -> bool:
    """True when some value of x lies inside (lo, hi), so a clip lets some gradient through."""
    lo, hi = -np.inf if lo is None else lo, np.inf if hi is None else hi
    return bool(np.any((x > lo) & (x < hi)))


def _far(a: Any, points: Any) -> bool:
    """True when every value of a stands more than MARGIN from every kink point."""
    return all(np.min(np.abs(np.asarray(a) - p)) > MARGIN for p in points if p is not None)


# ------------------------------------------------------------------ parameters
def _axis_choices(ndim: int) -> list:
    """Every reduction `axis`: None, each axis (as positive and negative), each subset."""
    choices: list = [None] + [a for i in range(ndim) for a in (i, i - ndim)]
    for r in range(ndim + 1):
        for subset in itertools.combinations(range(ndim), r):
            choices += [subset] + ([tuple(a - ndim for a in subset)] if subset else [])
    return choices


def _reduction(valid: Callable[[np.ndarray, Any, int], bool] | None = None,
               ddofs: Sequence[int] = ()) -> Callable:
    """Params {"axis", "keepdims"} (and "ddof") of a reduction, where valid(x, axis, ddof)."""
    def params(x: np.ndarray) -> st.SearchStrategy[dict] | None:
        options = [{"axis": axis, "ddof": d} for axis in _axis_choices(x.ndim)
                   for d in (ddofs or [0]) if valid is None or valid(x, axis, d)]
        if not options:
            return None

        def build(kw: dict, keepdims: bool) -> dict:  # defaults left out, as a user writes it
            kw = {**kw, "keepdims": keepdims}
            return {k: v for k, v in kw.items() if v != {"axis": None, "ddof": 0,
                                                         "keepdims": False}[k]}
        return st.builds(build, st.sampled_from(options), st.booleans())
    return params


def _one_axis(x: np.ndarray) -> st.SearchStrategy[dict] | None:
    return st.fixed_dictionaries({"axis": st.integers(-x.ndim, x.ndim - 1)}) if x.ndim else None


def _clip_bounds(x: np.ndarray) -> st.SearchStrategy[dict] | None:
    points = [None, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
    options = [{"lo": lo, "hi": hi} for lo in points for hi in points
               if (lo is not None or hi is not None) and (lo is None or hi is None or lo < hi)
               and _far(x, [lo, hi]) and _inside(x, lo, hi)]
    return st.sampled_from(options) if options else None


def _reshapes(x: np.ndarray) -> st.SearchStrategy[dict]:
    s = x.shape
    targets = [s[::-1], (-1,), (1,) + s, s + (1,)] + [s[:i] + (-1,) + s[i + 1:]
                                                     for i in range(len(s))]
    return st.sampled_from([{"shape": t} for t in targets if len(t) <= MAX_DIMS])


def _permutations(x: np.ndarray) -> st.SearchStrategy[dict]:
    n = x.ndim
    return st.permutations(range(n)).flatmap(lambda order: st.tuples(
        *[st.sampled_from([a, a - n]) for a in order])).map(lambda axes: {"axes": axes})


def _squeezes(x: np.ndarray) -> st.SearchStrategy[dict]:
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    choices = [None] + ones + [i - x.ndim for i in ones] + [tuple(ones)] * bool(ones)
    return st.sampled_from([{"axis": a} for a in choices])


def _broadcast_targets(x: np.ndarray) -> st.SearchStrategy[dict]:
    return _broadcast_partner(x.shape).map(
        lambda s: {"shape": np.broadcast_shapes(x.shape, s)}).filter(
        lambda p: math.prod(p["shape"]) <= MAX_SIZE and len(p["shape"]) <= MAX_DIMS)


def _basic_indices(x: np.ndarray) -> st.SearchStrategy[dict]:
    return hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True).filter(
        lambda ix: 0 < np.empty(x.shape)[ix].size and np.empty(x.shape)[ix].ndim <= MAX_DIMS
    ).map(lambda ix: {"index": ix})


def _integer_indices(x: np.ndarray) -> st.SearchStrategy[dict]:
    """Repeats included: a list or tuple on axis 0, or on axis 1 after `:`, an array per axis."""
    def along(axis: int) -> st.SearchStrategy[list]:
        n = x.shape[axis]
        return st.lists(st.integers(-n, n - 1), min_size=1, max_size=4)
    forms = [along(0), along(0).map(lambda ix: (tuple(ix),))]  # x[((1, 1),)]
    if x.ndim >= 2:
        forms.append(along(1).map(lambda ix: (slice(None), ix)))
        forms.append(along(1).map(lambda ix: (slice(None), tuple(ix))))  # x[:, (0, 0)]
    forms.append(hnp.integer_array_indices(x.shape, result_shape=hnp.array_shapes(
        min_dims=1, max_dims=2, max_side=MAX_SIDE)))
    return st.one_of(forms).filter(lambda ix: np.empty(x.shape)[ix].ndim <= MAX_DIMS).map(
        lambda ix: {"index": ix})


def _masks(x: np.ndarray) -> st.SearchStrategy[dict]:
    """A boolean mask of x's shape or of its first axis, selecting at least one element."""
    def build(mask: np.ndarray, chosen: int) -> dict:
        mask.flat[chosen % mask.size] = True
        return {"index": mask}
    masks = st.one_of(hnp.arrays(np.bool_, x.shape), hnp.arrays(np.bool_, x.shape[:1]))
    return st.builds(build, masks, st.integers(0, x.size - 1))


def _reductions() -> st.SearchStrategy[dict]:
    return st.sampled_from([{}, {"reduction": "sum"}, {"reduction": "none"}])


def _class_targets(x: np.ndarray) -> st.SearchStrategy[dict]:
    """cross_entropy/nll_loss params for input x ((C,), (N, C) or (N, C, d)): integer
    targets, and maybe class weights, an ignored class and a reduction."""
    axis = 0 if x.ndim == 1 else 1
    classes = x.shape[axis]
    target = hnp.arrays(np.int64, x.shape[:axis] + x.shape[axis + 1:],
                        elements=st.integers(0, classes - 1))
    weight = hnp.arrays(np.float64, (classes,), elements=st.sampled_from([0.5, 1.0, 2.0]))
    options = st.fixed_dictionaries({}, optional={
        "weight": weight, "ignore_index": st.integers(0, classes - 1),
        "reduction": st.sampled_from(["sum", "none"])})
    return st.builds(lambda t, kw: {"target": t, **kw}, target, options)


# ------------------------------------------------------ operand shapes by layout
@st.composite
def _broadcast_partner(draw: Any, shape: tuple) -> tuple:
    """A shape that broadcasts with `shape`: trailing axes kept or 1, maybe new leading ones."""
    n = len(shape)
    keep = draw(st.integers(0, n))
    trailing = tuple(1 if draw(st.booleans()) else side for side in shape[n - keep:])
    lead = draw(st.lists(st.integers(1, MAX_SIDE), max_size=MAX_DIMS - n)) if keep == n else []
    return tuple(lead) + trailing


@st.composite
def _matmul_partner(draw: Any, shape: tuple, chain_first: bool) -> tuple:
    """The other operand of `chain @ partner` (chain_first) or `partner @ chain`."""
    k = shape[-1] if chain_first else shape[0] if len(shape) == 1 else shape[-2]
    form = draw(st.sampled_from(["vector", "matrix", "batched"]))
    if form == "vector":
        return (k,)
    m = draw(st.integers(1, MAX_SIDE))
    matrix = (k, m) if chain_first else (m, k)
    batch = draw(_broadcast_partner(shape[:-2])) if form == "batched" else ()
    return batch[-2:] + matrix


def _fits(row: OpRow, shapes: list, params: dict) -> bool:
    """True when operands of these shapes (None: not chosen yet) suit the row, within size."""
    chain = next(s for s in shapes if s is not None)
    if row.layout == "linear":  # x (..., k), weight (m, k), bias (m,): exactly
        w = shapes[1]
        if not (len(w) == 2 and w[1] == chain[-1] and shapes[2] in (None, (w[0],))):
            return False
        shapes = [chain, w, (w[0],)]
    if row.layout == "same" and any(s not in (None, chain) for s in shapes):
        return False
    filler = () if row.layout == "broadcast" else chain  # a shape that fits the open slots
    try:
        with np.errstate(all="ignore"):
            out = np.shape(row.ref(*[np.ones(filler if s is None else s) for s in shapes],
                                   **params))
    except (ValueError, IndexError):
        return False
    return len(out) <= MAX_DIMS and math.prod(out) <= MAX_SIZE


def _fresh_shape(row: OpRow, shapes: list, slot: int, params: dict) -> st.SearchStrategy:
    """A strategy of shapes for a new operand in `slot`."""
    chain = next(s for s in shapes if s is not None)
    if row.layout == "broadcast":
        return _broadcast_partner(np.broadcast_shapes(*[s for s in shapes if s is not None]))
    if row.layout == "matmul":
        return _matmul_partner(chain, chain_first=slot == 1)
    if row.layout == "same":
        return st.just(chain)
    if row.layout == "concatenate":
        ax = params["axis"] % len(chain)
        return st.integers(1, MAX_SIDE).map(lambda n: chain[:ax] + (n,) + chain[ax + 1:])
    if row.layout == "linear":
        if slot == 1:
            return st.integers(1, MAX_SIDE).map(lambda m: (m, chain[-1]))
        return st.just((shapes[1][0],))
    raise ValueError(f"op {row.name}: unknown layout {row.layout!r}")


# ------------------------------------------------------------------- the table
@dataclass(frozen=True, eq=False)
class OpRow:
    """One op a program may use.

    `text` formats the op with its operands ({0}, {1}...) and params ({name},
    or {kw} for all of them as keywords); `fn(*operands, **params)` calls it on
    Tensors and `ref(*operands, **params)` on ndarrays. `slots` says, per
    operand, what may stand there: "t" the program's current value, "v" an
    earlier value or a new input, "n" a Python number, "a" an ndarray constant.
    `domains` names each operand's domain (DOMAINS); `layout` how the operand
    shapes fit together; `accepts(x)` whether the op applies to the current
    value x; `params(x)` a strategy of params (None: no params suit x);
    `smooth(*operands, **params)` whether the op is differentiable, with
    MARGIN to spare, at these operands; `guard` marks ops that can bring a value
    into a domain, inserted before an op whose domain the current value misses.
    """

    name: str
    text: str
    fn: Callable[..., Any]
    ref: Callable[..., Any]
    slots: tuple = ("t",)
    domains: tuple = ("real",)
    layout: str = "elementwise"
    accepts: Callable[[np.ndarray], bool] = lambda x: True
    params: Callable[[np.ndarray], Any] | None = None
    smooth: Callable[..., bool] | None = None
    guard: bool = False


def _unary(name: str, text: str, fn: Callable, ref: Callable, domain: str = "real",
           **options: Any) -> OpRow:
    return OpRow(name, text, fn, ref, domains=(domain,), **options)


def _binary(name: str, text: str, fn: Callable, ref: Callable,
            domains: tuple = ("real", "real"), **options: Any) -> OpRow:
    return OpRow(name, text, fn, ref, ("tvna", "tvna"), domains, "broadcast", **options)


def _reduce(name: str, valid: Callable | None = None, ddofs: Sequence[int] = ()) -> OpRow:
    return OpRow(name, f"{{0}}.{name}({{kw}})", lambda a, **kw: getattr(a, name)(**kw),
                 lambda a, **kw: getattr(np, name)(a, **kw), params=_reduction(valid, ddofs))


def _ndim(at_least: int = 0, below: int = MAX_DIMS + 1) -> Callable[[np.ndarray], bool]:
    return lambda x: at_least <= x.ndim < below


def _np_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    return a - _np_logsumexp(a, axis=axis, keepdims=True)


def _reduced(loss: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


def _np_nll(logp: np.ndarray, target: np.ndarray, weight: Any = None, ignore_index: int = -100,
            reduction: str = "mean") -> np.ndarray:
    """PyTorch's nll_loss: -w[t] logp[n, t[n], ...], mean divided by the sum of w[t]."""
    picked = np.take_along_axis(logp, np.expand_dims(target, 0 if logp.ndim == 1 else 1),
                                axis=0 if logp.ndim == 1 else 1)
    picked = picked.reshape(target.shape)
    w = (np.ones(logp.shape[0 if logp.ndim == 1 else 1]) if weight is None else weight)[target]
    w = w * (target != ignore_index)
    if reduction == "mean":
        return np.sum(-picked * w) / np.sum(w)
    return _reduced(-picked * w, reduction)


def _np_soft_cross_entropy(x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    axis = 0 if x.ndim == 1 else 1
    loss = -np.sum(_np_log_softmax(x, axis) * y, axis=axis)
    return loss.sum() / max(loss.size, 1) if reduction == "mean" else _reduced(loss, reduction)


def _np_logsumexp(a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))


OPS: list[OpRow] = [
    # binary, broadcasting; Python numbers and ndarrays on either side
    _binary("mul", "{0} * {1}", lambda a, b: a * b, np.multiply),
    _binary("add", "{0} + {1}", lambda a, b: a + b, np.add),
    _binary("sub", "{0} - {1}", lambda a, b: a - b, np.subtract),
    _binary("div", "{0} / {1}", lambda a, b: a / b, np.divide, ("real", "nonzero")),
    _binary("pow", "{0} ** {1}", lambda a, b: a ** b, np.power, ("positive", "real")),
    _binary("maximum", "tg.maximum({0}, {1})", tg.maximum, np.maximum,
            smooth=lambda a, b: _far(np.subtract(a, b), [0])),
    _binary("minimum", "tg.minimum({0}, {1})", tg.minimum, np.minimum,
            smooth=lambda a, b: _far(np.subtract(a, b), [0])),
    OpRow("where", "tg.where({0} > 0, {1}, {2})", lambda c, a, b: tg.where(c > 0, a, b),
          lambda c, a, b: np.where(c > 0, a, b), ("va", "tvna", "tvna"), ("real",) * 3,
          "broadcast", smooth=lambda c, a, b: _far(c, [0])),
    OpRow("matmul", "{0} @ {1}", lambda a, b: a @ b, np.matmul, ("tva", "tva"), ("real",) * 2,
          "matmul", accepts=_ndim(1)),
    OpRow("linear", "tg.nn.functional.linear({0}, {1}, {2})", tg.nn.functional.linear,
          lambda x, w, b: x @ w.T + b, ("t", "va", "va"), ("real",) * 3, "linear",
          accepts=_ndim(1, MAX_DIMS)),
    # elementwise
    _unary("neg", "-{0}", lambda a: -a, np.negative),
    _unary("exp", "{0}.exp()", lambda a: a.exp(), np.exp, accepts=lambda x: np.max(x) <= 4,
           guard=True),
    _unary("square_plus_half", "{0} * {0} + 0.5", lambda a: a * a + 0.5, lambda a: a * a + 0.5,
           guard=True),
    _unary("log", "{0}.log()", lambda a: a.log(), np.log, "positive"),
    _unary("sqrt", "{0}.sqrt()", lambda a: a.sqrt(), np.sqrt, "positive"),
    _unary("tanh", "{0}.tanh()", lambda a: a.tanh(), np.tanh),
    _unary("sigmoid", "{0}.sigmoid()", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a)),
           guard=True),
    _unary("abs", "{0}.abs()", lambda a: a.abs(), np.abs, accepts=lambda x: _far(x, [0])),
    _unary("relu", "{0}.relu()", lambda a: a.relu(), lambda a: np.maximum(a, 0),
           accepts=lambda x: _far(x, [0]) and np.max(x) > 0),  # not all of it cut off
    _unary("clip", "{0}.clip({kw})", lambda a, lo, hi: a.clip(lo, hi),
           lambda a, lo, hi: np.clip(a, lo, hi),
           params=_clip_bounds),
    _unary("int_power", "{0} ** {n}", lambda a, n: a ** n, lambda a, n: a ** n,
           params=lambda x: st.fixed_dictionaries({"n": st.sampled_from([2, 3])})),
    # reductions
    _reduce("sum"),
    _reduce("mean"),
    _reduce("max", lambda x, axis, _: _gap(x, axis, top=True) > MARGIN),
    _reduce("min", lambda x, axis, _: _gap(x, axis, top=False) > MARGIN),
    _reduce("var", lambda x, axis, ddof: _spread(x, axis, ddof) >= 0, ddofs=(0, 1)),
    # std needs a spread (sqrt is not differentiable at 0): > 0.01 variance in every slice
    _reduce("std", lambda x, axis, ddof: _spread(x, axis, ddof) > 0.01, ddofs=(0, 1)),
    OpRow("logsumexp", "{0}.logsumexp({kw})", lambda a, **kw: a.logsumexp(**kw), _np_logsumexp,
          params=_reduction()),
    OpRow("softmax", "{0}.softmax({axis})", lambda a, axis: a.softmax(axis), _np_softmax,
          params=_one_axis),
    OpRow("log_softmax", "{0}.log_softmax({axis})", lambda a, axis: a.log_softmax(axis),
          lambda a, axis: np.log(_np_softmax(a, axis)), params=_one_axis),
    # shapes
    _unary("reshape", "{0}.reshape({shape})", lambda a, shape: a.reshape(shape), np.reshape,
           params=_reshapes),
    _unary("transpose", "{0}.transpose({axes})", lambda a, axes: a.transpose(axes),
           np.transpose, params=_permutations, accepts=_ndim(1)),
    _unary("T", "{0}.T", lambda a: a.T, np.transpose),
    _unary("flatten", "{0}.flatten()", lambda a: a.flatten(), lambda a: a.reshape(-1)),
    _unary("squeeze", "{0}.squeeze({axis})", lambda a, axis: a.squeeze(axis), np.squeeze,
           params=_squeezes),
    _unary("expand_dims", "{0}.expand_dims({axis})", lambda a, axis: a.expand_dims(axis),
           np.expand_dims, accepts=_ndim(0, MAX_DIMS), params=lambda x: st.fixed_dictionaries(
               {"axis": st.integers(-x.ndim - 1, x.ndim)})),
    _unary("swapaxes", "{0}.swapaxes({a1}, {a2})", lambda a, a1, a2: a.swapaxes(a1, a2),
           lambda a, a1, a2: np.swapaxes(a, a1, a2), accepts=_ndim(1),
           params=lambda x: st.fixed_dictionaries({"a1": st.integers(-x.ndim, x.ndim - 1),
                                                   "a2": st.integers(-x.ndim, x.ndim - 1)})),
    _unary("broadcast_to", "{0}.broadcast_to({shape})", lambda a, shape: a.broadcast_to(shape),
           np.broadcast_to, params=_broadcast_targets),
    # indexing
    _unary("getitem", "{0}[{index}]", lambda a, index: a[index], lambda a, index: a[index],
           accepts=_ndim(1), params=_basic_indices),
    _unary("take", "{0}[{index}]", lambda a, index: a[index], lambda a, index: a[index],
           accepts=_ndim(1), params=_integer_indices),
    _unary("mask", "{0}[{index}]", lambda a, index: a[index], lambda a, index: a[index],
           accepts=_ndim(1), params=_masks),
    # joining
    OpRow("concatenate", "tg.concatenate([{0}, {1}], axis={axis})",
          lambda a, b, axis: tg.concatenate([a, b], axis=axis),
          lambda a, b, axis: np.concatenate([a, b], axis=axis), ("tva", "tva"), ("real",) * 2,
          "concatenate", accepts=_ndim(1), params=_one_axis),
    OpRow("stack", "tg.stack([{0}, {1}, {2}], axis={axis})",
          lambda a, b, c, axis: tg.stack([a, b, c], axis=axis),
          lambda a, b, c, axis: np.stack([a, b, c], axis=axis), ("tva",) * 3, ("real",) * 3,
          "same", accepts=_ndim(0, MAX_DIMS), params=lambda x: st.fixed_dictionaries(
              {"axis": st.integers(-x.ndim - 1, x.ndim)})),
    # losses (tg.nn.functional); targets may be values of the program too
    OpRow("mse_loss", "tg.nn.functional.mse_loss({0}, {1}{kw_})",
          lambda a, b, **kw: F.mse_loss(a, b, **kw),
          lambda a, b, reduction="mean": _reduced((a - b) ** 2, reduction), ("tva", "tva"),
          ("real", "real"), "same", params=lambda x: _reductions()),
    OpRow("bce_with_logits", "tg.nn.functional.binary_cross_entropy_with_logits({0}, {1}{kw_})",
          lambda a, b, **kw: F.binary_cross_entropy_with_logits(a, b, **kw),
          lambda x, y, reduction="mean", pos_weight=1.0: _reduced(
              (1 - y) * x + (1 + (pos_weight - 1) * y) * np.logaddexp(0, -x), reduction),
          ("tva", "tva"), ("real", "unit"), "same", params=lambda x: st.builds(
              lambda kw, p: {**kw, **p}, _reductions(),
              st.sampled_from([{}, {"pos_weight": 2.0}]))),
    OpRow("bce", "tg.nn.functional.binary_cross_entropy({0}, {1}{kw_})",
          lambda a, b, **kw: F.binary_cross_entropy(a, b, **kw),
          lambda x, y, reduction="mean": _reduced(-(y * np.log(x) + (1 - y) * np.log(1 - x)),
                                                  reduction),
          ("tva", "tva"), ("unit", "unit"), "same", params=lambda x: _reductions()),
    OpRow("cross_entropy", "tg.nn.functional.cross_entropy({0}{kw_})",
          lambda a, **kw: F.cross_entropy(a, **kw), lambda a, **kw: _np_nll(
              _np_log_softmax(a, 0 if a.ndim == 1 else 1), **kw),
          accepts=_ndim(1, 4), params=_class_targets),
    OpRow("cross_entropy_probabilities", "tg.nn.functional.cross_entropy({0}, {1}{kw_})",
          lambda a, b, **kw: F.cross_entropy(a, b, **kw),
          lambda x, y, reduction="mean": _np_soft_cross_entropy(x, y, reduction),
          ("tva", "tva"), ("real", "unit"), "same", accepts=_ndim(1, 4),
          params=lambda x: _reductions()),
    OpRow("nll_loss", "tg.nn.functional.nll_loss({0}{kw_})",
          lambda a, **kw: F.nll_loss(a, **kw), _np_nll, accepts=_ndim(1, 4), params=_class_targets),
]
_BY_NAME = {row.name: row for row in OPS}


# ------------------------------------------------------------------ printing
def _show(v: Any) -> str:
    """A param or constant as Python source."""
    if isinstance(v, np.ndarray):
        return f"array({v.tolist()!r})"  # on one line, each float as its shortest repr
    if isinstance(v, slice):
        text = ":".join("" if p is None else str(p) for p in (v.start, v.stop))
        return text if v.step is None else f"{text}:{v.step}"
    if v is Ellipsis:
        return "..."
    return repr(v)


def _index_text(index: Any) -> str:
    if not isinstance(index, tuple):
        return _show(index)
    if len(index) == 1:
        return _show(index[0]) + ","
    return ", ".join(_show(i) for i in index) if index else "()"


def _step_text(row: OpRow, names: list, params: dict) -> str:
    shown = {k: _index_text(v) if k == "index" else _show(v) for k, v in params.items()}
    kw = ", ".join(f"{k}={v}" for k, v in shown.items())
    return row.text.format(*names, kw=kw, kw_=", " + kw if kw else "", **shown)


# ------------------------------------------------------------------- programs
@dataclass(frozen=True, eq=False)
class _Step:
    row: OpRow
    args: tuple    # ("v", value index) | ("c", constant index) | ("n", a Python number)
    params: dict


class Program:
    """A drawn program: `program(*tensors)` runs it with tinygrad_np, `program.numpy()` with NumPy.

    `inputs` holds the float64 arrays to run it on (`tensors()` makes leaves of
    them), `constants` the ndarray constants it uses (`c0, c1...`), `steps` the
    op names in order; `repr(program)` is its Python source with the inputs.
    """

    def __init__(self, inputs: Sequence[np.ndarray], constants: Sequence[np.ndarray],
                 steps: Sequence[_Step]) -> None:
        self.inputs = tuple(inputs)
        self.constants = tuple(constants)
        self._steps = tuple(steps)

    @property
    def steps(self) -> list[str]:
        """The names of the ops, in order (rows of OPS)."""
        return [s.row.name for s in self._steps]

    def _run(self, inputs: Sequence[Any], constants: Sequence[Any], tensors: bool) -> list:
        if len(inputs) != len(self.inputs):
            raise TypeError(f"this program takes {len(self.inputs)} inputs, got {len(inputs)}")
        values = list(inputs)
        for step in self._steps:
            args = [values[i] if kind == "v" else constants[i] if kind == "c" else i
                    for kind, i in step.args]
            values.append((step.row.fn if tensors else step.row.ref)(*args, **step.params))
        return values

    def __call__(self, *inputs: Any) -> Tensor:
        """The program on Tensors; its ndarray constants take the inputs' float dtype."""
        dtype = np.result_type(*[np.asarray(x.data if isinstance(x, Tensor) else x).dtype
                                 for x in inputs])
        constants = [c.astype(dtype) if dtype.kind == "f" else c for c in self.constants]
        return self._run(inputs, constants, tensors=True)[-1]

    def numpy(self, *arrays: np.ndarray) -> np.ndarray:
        """The program evaluated by NumPy alone (on `self.inputs` unless given)."""
        return self.values(*arrays)[-1]

    def values(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """Every value the program computes, by NumPy: the inputs, then each step's result."""
        return [np.asarray(v) for v in self._run(arrays or self.inputs, self.constants, False)]

    def tensors(self, dtype: Any = np.float64, requires_grad: bool = True) -> list[Tensor]:
        """Fresh leaf Tensors holding the inputs."""
        return [Tensor(x.astype(dtype), requires_grad=requires_grad) for x in self.inputs]

    @property
    def source(self) -> str:
        """The program as a Python function (needs `tg`, and `array` for its constants)."""
        n = len(self.inputs)
        lines = [f"c{j} = {_show(c)}" for j, c in enumerate(self.constants)]
        lines += [""] * bool(lines) + [f"def program({', '.join(f'v{i}' for i in range(n))}):"]
        for k, step in enumerate(self._steps):
            names = [f"{kind}{i}" if kind != "n" else f"({i!r})" if i < 0 else repr(i)
                     for kind, i in step.args]
            lines.append(f"    v{n + k} = {_step_text(step.row, names, step.params)}")
        lines.append(f"    return v{n + len(self._steps) - 1}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inputs = ", ".join(_show(x) for x in self.inputs)
        return f"{self.source}\n\ninputs = [{inputs}]"


class _Builder:
    """Grows a program one step at a time, evaluating each value by NumPy as it goes."""

    def __init__(self, draw: Any, rows: list[OpRow], max_inputs: int, constants: bool) -> None:
        self.draw, self.rows, self.max_inputs = draw, rows, max_inputs
        self.use_constants = constants
        self.inputs: list[np.ndarray] = []
        self.constants: list[np.ndarray] = []
        self.steps: list[tuple] = []     # (row, refs, params)
        self.values: dict = {}           # ref -> ndarray; refs are ("x", i) inputs, ("s", k) steps
        self.unused: list = []           # step results no later step has used yet

    def value(self, ref: tuple) -> Any:
        return ref[1] if ref[0] == "n" else self.values[ref]

    def new_input(self, shape: tuple, domain: str) -> tuple:
        self.inputs.append(self.draw(_values(shape, domain), label=f"v{len(self.inputs)}"))
        ref = ("x", len(self.inputs) - 1)
        self.values[ref] = self.inputs[-1]
        return ref

    def new_constant(self, shape: tuple, domain: str) -> tuple:
        self.constants.append(self.draw(_values(shape, domain)))
        ref = ("c", len(self.constants) - 1)
        self.values[ref] = self.constants[-1]
        return ref

    def apply(self, row: OpRow, refs: list, params: dict) -> tuple:
        """Evaluate the step by NumPy; keep it only if it is smooth there and stays bounded."""
        operands = [self.value(r) for r in refs]
        with np.errstate(all="ignore"):
            out = np.asarray(row.ref(*operands, **params))
        assume(0 < out.size <= MAX_SIZE and out.ndim <= MAX_DIMS)
        assume(np.isfinite(out).all() and np.max(np.abs(out)) <= BOUND)
        assume(row.smooth is None or row.smooth(*operands, **params))
        self.unused = [u for u in self.unused if u not in refs]
        self.steps.append((row, tuple(refs), params))
        ref = ("s", len(self.steps) - 1)
        self.values[ref] = out
        self.unused.append(ref)
        return ref

    def guards(self, x: np.ndarray, domain: str) -> list[OpRow]:
        """The guard ops that bring x into the domain."""
        with np.errstate(all="ignore"):
            return [g for g in self.rows if g.guard and g.accepts(x)
                    and DOMAINS[domain](g.ref(x)) and np.max(np.abs(g.ref(x))) <= BOUND]

    def positions(self, row: OpRow, x: np.ndarray) -> list[int]:
        """The slots where x may stand in the row, through a guard if need be."""
        return [i for i, (s, d) in enumerate(zip(row.slots, row.domains))
                if "t" in s and (DOMAINS[d](x) or self.guards(x, d))]

    def usable(self, row: OpRow, x: np.ndarray) -> bool:
        if not row.accepts(x) or (row.params is not None and row.params(x) is None):
            return False
        return bool(self.positions(row, x))

    def partner(self, row: OpRow, slot: int, refs: list, params: dict) -> tuple:
        """An operand for `slot`: an earlier value, a new input, a number or an ndarray."""
        kinds, domain = row.slots[slot], row.domains[slot]
        shapes = [None if r is None else np.shape(self.value(r)) for r in refs]

        def fits(shape: tuple) -> bool:
            return _fits(row, shapes[:slot] + [shape] + shapes[slot + 1:], params)

        earlier = [r for r in self.values if r[0] != "c" and fits(np.shape(self.values[r]))
                   and DOMAINS[domain](self.values[r])]
        earlier.sort(key=lambda r: r not in self.unused)  # unused branches first
        options = ["input"] * ("v" in kinds and len(self.inputs) < self.max_inputs)
        options += ["value"] * bool("v" in kinds and earlier)
        if self.use_constants:
            options += ["number"] * ("n" in kinds and fits(())) + ["array"] * ("a" in kinds)
        assume(options)
        choice = self.draw(st.sampled_from(options))
        if choice == "value":
            return self.draw(st.sampled_from(earlier))
        if choice == "number":
            return ("n", self.draw(_numbers(domain)))
        shape = self.draw(_fresh_shape(row, shapes, slot, params).filter(fits))
        return self.new_input(shape, domain) if choice == "input" else \
            self.new_constant(shape, domain)

    def step(self, chain: tuple) -> tuple:
        """One drawn op with the current value `chain` as one of its operands."""
        x = self.value(chain)
        rows = [r for r in self.rows if self.usable(r, x)]
        assume(rows)  # (only when `ops` holds too few ops for this value)
        row = self.draw(st.sampled_from(rows))
        position = self.draw(st.sampled_from(self.positions(row, x)))
        domain = row.domains[position]
        if not DOMAINS[domain](x):
            chain = self.apply(self.draw(st.sampled_from(self.guards(x, domain))), [chain], {})
            x = self.value(chain)
            assume(self.usable(row, x))
        params = self.draw(row.params(x)) if row.params is not None else {}
        refs: list = [None] * len(row.slots)
        refs[position] = chain
        for slot in range(len(refs)):
            if refs[slot] is None:
                refs[slot] = self.partner(row, slot, refs, params)
        return self.apply(row, refs, params)

    def build(self, n_ops: int) -> Program:
        chain = self.new_input(self.draw(hnp.array_shapes(
            min_dims=0, max_dims=3, min_side=1, max_side=MAX_SIDE)), "real")
        branches = {"add", "mean"} <= {row.name for row in self.rows}  # to fold them in with
        while len(self.steps) < n_ops:
            if branches and self.steps and self.draw(st.integers(0, 3)) == 3:  # a new branch
                chain = self.draw(st.sampled_from([r for r in self.values
                                                   if r[0] != "c" and r != chain]))
            chain = self.step(chain)
        for dangling in [u for u in self.unused if u != chain]:  # fold branches in
            chain = self.apply(_BY_NAME["add"], [chain, self.apply(
                _BY_NAME["mean"], [dangling], {})], {})
        return self.program()

    def program(self) -> Program:
        n = len(self.inputs)
        index = {("x", i): i for i in range(n)} | {("s", k): n + k for k in range(len(self.steps))}
        steps = [_Step(row, tuple(r if r[0] in "cn" else ("v", index[r]) for r in refs), params)
                 for row, refs, params in self.steps]
        return Program(self.inputs, self.constants, steps)


def programs(min_ops: int = 2, max_ops: int = 8, ops: Sequence[str] | None = None,
             max_inputs: int = 3, constants: bool = True) -> st.SearchStrategy[Program]:
    """Random programs of `min_ops` to `max_ops` ops drawn from OPS (or the rows named in `ops`).

    Each op takes the current value and, where it needs more operands, an
    earlier value (diamonds), a new input (at most `max_inputs` in all), or
    with `constants` a Python number or an ndarray constant, on either side.
    An op whose domain the current value misses is preceded by a guard among
    the ops (`v.exp()`, `v * v + 0.5`, `v.sigmoid()`). When `ops` holds "add"
    and "mean", a program may also start a branch from an earlier value; the
    branches are folded into the result at the end (`out + branch.mean()`).
    Guards and folds are steps too, so a program may hold a few more steps than
    max_ops. Inputs, numbers and constants lie on a grid of 1/20 or 1/40 in [-3, 3].

    >>> from hypothesis import given
    >>> from tinygrad_np.testing import gradgradcheck
    >>> @given(programs(max_ops=3, ops=["mul", "tanh", "sum", "log"]))
    ... def test_second_order(program):
    ...     assert gradgradcheck(program, program.tensors())
    >>> test_second_order()
    """
    unknown = sorted(set(ops or ()) - set(_BY_NAME))
    if unknown:
        raise ValueError(f"programs(): unknown ops {unknown}; the ops are {sorted(_BY_NAME)}")
    rows = OPS if ops is None else [_BY_NAME[name] for name in ops]
    if not 1 <= min_ops <= max_ops:
        raise ValueError(f"need 1 <= min_ops <= max_ops, got {min_ops} and {max_ops}")
    if max_inputs < 1:
        raise ValueError(f"a program needs at least one input, got max_inputs={max_inputs}")

    @st.composite
    def draw_program(draw: Any) -> Program:
        n_ops = draw(st.integers(min_ops, max_ops), label="ops")
        return _Builder(draw, rows, max_inputs, constants).build(n_ops)

    return draw_program()
