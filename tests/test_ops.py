"""Every Tensor op, driven by one table: forward vs NumPy, gradients vs finite differences.

A row of OPS names the op, calls it the tinygrad_np way (`fn`) and the NumPy way
(`ref`), says how to draw its input shapes and parameters (`cases`) and the
values of each input (`domains`). Adding an op to the library means adding a
row here; the property tests below then cover it at every shape they draw.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_np as tg
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import arrays, axes, broadcastable_shapes, shapes

MAX_SIDE = 3  # small shapes keep finite differences (two forwards per element) fast


# ------------------------------------------------------------ input domains
def _grid(shape: tuple, offset: float, unique: bool) -> st.SearchStrategy[np.ndarray]:
    # NOTE: multiples of 0.05 (+ offset) are far apart compared with eps=1e-6, so a
    # perturbation never crosses a tie (max/min) or a kink (abs, relu, clip at +-1).
    values = st.integers(-60, 59).map(lambda k: (k + offset) / 20)
    return hnp.arrays(np.float64, shape, elements=values, unique=unique)


DOMAINS: dict[str, Callable[[tuple], st.SearchStrategy[np.ndarray]]] = {
    "real": lambda s: arrays(s),
    "positive": lambda s: arrays(s, min_value=0.5),            # log, sqrt, pow base
    "nonzero": lambda s: arrays(s, min_magnitude=0.5),         # divisors
    "distinct": lambda s: _grid(s, 0.0, unique=True),         # max/min without ties
    "grid": lambda s: _grid(s, 0.0, unique=False),
    "offgrid": lambda s: _grid(s, 0.5, unique=False),         # never 0, +-1 or on the grid
}


# ------------------------------------------------------ shapes and parameters
def same_shape(n: int = 1, **shape_options: Any) -> st.SearchStrategy:
    """n inputs of one shape, no parameters."""
    options = {"max_side": MAX_SIDE, **shape_options}
    return shapes(**options).map(lambda s: ((s,) * n, {}))


def broadcasting(n: int = 2) -> st.SearchStrategy:
    """n inputs of mutually broadcastable shapes."""
    return broadcastable_shapes(n, max_side=MAX_SIDE).map(lambda ss: (ss, {}))


def with_params(shape_strategy: st.SearchStrategy, params: Callable) -> st.SearchStrategy:
    """One input whose parameters (a dict strategy) depend on its shape."""
    return shape_strategy.flatmap(lambda s: st.tuples(st.just((s,)), params(s)))


def reducing(min_dims: int = 0, min_side: int = 1, nonempty: bool = False) -> st.SearchStrategy:
    """A reduction's input shape with {"axis": None | int | tuple, "keepdims": bool}."""
    def params(s: tuple) -> st.SearchStrategy:
        axis = axes(len(s)).filter(lambda a: a != ()) if nonempty else axes(len(s))
        return st.fixed_dictionaries({"axis": axis, "keepdims": st.booleans()})
    return with_params(shapes(min_dims, 3, min_side, MAX_SIDE), params)


def one_axis(s: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"axis": st.integers(-len(s), len(s) - 1)})


def matmul_shapes() -> st.SearchStrategy:
    """numpy.matmul operands: 1-D or (batched) 2-D on either side, batch axes broadcasting."""
    def build(n: int, k: int, m: int, batches: tuple, a_1d: bool, b_1d: bool) -> tuple:
        a = (k,) if a_1d else batches[0] + (n, k)
        b = (k,) if b_1d else batches[1] + (k, m)
        return (a, b), {}
    sides = st.integers(1, MAX_SIDE)
    return st.builds(build, sides, sides, sides, broadcastable_shapes(2, 0, 2, 1, 2),
                     st.booleans(), st.booleans())


def linear_shapes() -> st.SearchStrategy:
    """nn.functional.linear: x (batch axes..., in) or (in,), weight (out, in), bias (out,)."""
    def build(batch: tuple, n_in: int, n_out: int) -> tuple:
        return (batch + (n_in,), (n_out, n_in), (n_out,)), {}
    return st.builds(build, shapes(0, 2, 1, MAX_SIDE), st.integers(1, MAX_SIDE),
                     st.integers(1, MAX_SIDE))


def concatenate_shapes() -> st.SearchStrategy:
    """Three shapes equal except along `axis`."""
    def build(s: tuple, axis: int, sizes: list) -> tuple:
        ax = axis % len(s)
        return tuple(s[:ax] + (n,) + s[ax + 1:] for n in sizes), {"axis": axis}
    return shapes(1, 3, 1, MAX_SIDE).flatmap(lambda s: st.builds(
        build, st.just(s), st.integers(-len(s), len(s) - 1),
        st.lists(st.integers(1, MAX_SIDE), min_size=3, max_size=3)))


def stack_shapes() -> st.SearchStrategy:
    return shapes(0, 2, 1, MAX_SIDE).flatmap(lambda s: st.tuples(
        st.just((s, s, s)), st.fixed_dictionaries({"axis": st.integers(-len(s) - 1, len(s))})))


def reshape_targets(s: tuple) -> st.SearchStrategy:
    size = math.prod(s)
    targets = [s[::-1], (-1,), (size,), (1,) + s, s + (1,)]
    targets += [s[:i] + (-1,) + s[i + 1:] for i in range(len(s))]
    return st.fixed_dictionaries({"shape": st.sampled_from(targets)})


def squeeze_axes(s: tuple) -> st.SearchStrategy:
    ones = [i for i, n in enumerate(s) if n == 1]
    choices = [st.none()]
    if ones:
        choices.append(st.sampled_from(ones + [i - len(s) for i in ones]))
        choices.append(st.lists(st.sampled_from(ones), unique=True).map(tuple))
    return st.fixed_dictionaries({"axis": st.one_of(choices)})


def advanced_indices(s: tuple) -> st.SearchStrategy:
    """Integer-array indices (repeats included): one array per axis, or a list on axis 0."""
    index_shapes = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
    per_axis = hnp.integer_array_indices(s, result_shape=index_shapes)
    first_axis = st.lists(st.integers(-s[0], s[0] - 1), min_size=1, max_size=5)
    return st.fixed_dictionaries({"index": st.one_of(per_axis, first_axis)})


def boolean_indices(s: tuple) -> st.SearchStrategy:
    masks = st.one_of(hnp.arrays(np.bool_, s), hnp.arrays(np.bool_, s[:1]))
    return st.fixed_dictionaries({"index": masks})


def where_mask(*xs: Any) -> np.ndarray:
    """A fixed condition of the operands' broadcast shape (the same on every call)."""
    shape = np.broadcast_shapes(*(np.shape(x) for x in xs))
    return np.arange(math.prod(shape)).reshape(shape) % 3 == 0


def np_softmax(a: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_logsumexp(a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    return np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims))


# ----------------------------------------- cases of the PyTorch-named ops
def dim_keepdim(s: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"dim": st.integers(-len(s), len(s) - 1),
                                  "keepdim": st.booleans()})


def mask_and_value_cases() -> st.SearchStrategy:
    """An input, a 0-d value, and a bool mask that broadcasts to the input's shape (its
    last axes, some of them 1)."""
    def mask_shapes(s: tuple) -> st.SearchStrategy:
        return st.tuples(st.integers(0, len(s)), st.lists(st.booleans(), min_size=len(s),
                                                          max_size=len(s))).map(
            lambda c: tuple(n if keep else 1 for n, keep in zip(s, c[1]))[c[0]:])
    return shapes(max_side=MAX_SIDE).flatmap(lambda s: st.tuples(
        st.just((s, ())), st.fixed_dictionaries({"mask": hnp.arrays(np.bool_, mask_shapes(s))})))


def split_cases(s: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"size": st.integers(1, MAX_SIDE + 1),
                                  "dim": st.integers(-len(s), len(s) - 1)})


def np_split_by_size(a: np.ndarray, size: int, dim: int) -> list:
    """torch.split(a, size, dim) with NumPy: pieces of `size`, the last one shorter."""
    return np.split(a, range(size, a.shape[dim], size), axis=dim)


def weighted_pieces(pieces: Any, dim: int, join: Callable) -> Any:
    """The pieces joined back, the i-th times i + 1 (so each piece's gradient differs)."""
    return join([p * (i + 1) for i, p in enumerate(pieces)], axis=dim)


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Op:
    name: str
    fn: Callable[..., Any]    # the op on Tensors (and the params as keywords)
    ref: Callable[..., Any]   # the same on ndarrays, by NumPy
    cases: Any                # strategy of (input shapes, params)
    domains: tuple = ("real",)  # one domain per input
    constants: str = ""       # "scalar" / "array": those also work on either side of the op
    second_order: bool = True


def _binary(name: str, fn: Callable, ref: Callable, domains: tuple = ("real", "real")) -> Op:
    return Op(name, fn, ref, broadcasting(2), domains, constants="scalar")


def _unary(name: str, fn: Callable, ref: Callable, domain: str = "real") -> Op:
    return Op(name, fn, ref, same_shape(), (domain,))


def _reduction(name: str, domain: str = "real", **shape_options: Any) -> Op:
    return Op(name, lambda a, **kw: getattr(a, name)(**kw),
              lambda a, **kw: getattr(np, name)(a, **kw), reducing(**shape_options), (domain,))


def signed_permutations(ndim: int) -> st.SearchStrategy[tuple]:
    """Axis orders for transpose, each axis written as positive or negative."""
    return st.permutations(range(ndim)).flatmap(
        lambda order: st.tuples(*[st.sampled_from([a, a - ndim]) for a in order]))


OPS = [
    _binary("add", lambda a, b: a + b, np.add),
    _binary("sub", lambda a, b: a - b, np.subtract),
    _binary("mul", lambda a, b: a * b, np.multiply),
    _binary("div", lambda a, b: a / b, np.divide, ("real", "nonzero")),
    _binary("pow", lambda a, b: a ** b, np.power, ("positive", "real")),
    _binary("maximum", tg.maximum, np.maximum, ("grid", "offgrid")),
    _binary("minimum", tg.minimum, np.minimum, ("grid", "offgrid")),
    _binary("where", lambda a, b: tg.where(where_mask(a, b), a, b),
            lambda a, b: np.where(where_mask(a, b), a, b)),
    Op("matmul", lambda a, b: a @ b, np.matmul, matmul_shapes(), ("real", "real"),
       constants="array"),
    Op("linear", lambda x, w, b: tg.nn.functional.linear(x, w, b),
       lambda x, w, b: x @ w.T + b, linear_shapes(), ("real", "real", "real")),
    _unary("neg", lambda a: -a, np.negative),
    _unary("pow_int_exponent", lambda a: a ** 3, lambda a: a ** 3),
    _unary("pow_float_exponent", lambda a: a ** -1.5, lambda a: a ** -1.5, "positive"),
    _unary("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a),
    _unary("exp", lambda a: a.exp(), np.exp),
    _unary("log", lambda a: a.log(), np.log, "positive"),
    _unary("sqrt", lambda a: a.sqrt(), np.sqrt, "positive"),
    _unary("abs", lambda a: a.abs(), np.abs, "offgrid"),
    _unary("tanh", lambda a: a.tanh(), np.tanh),
    _unary("sigmoid", lambda a: a.sigmoid(), lambda a: 1 / (1 + np.exp(-a))),
    _unary("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0), "offgrid"),
    _unary("clip", lambda a: a.clip(-1, 1), lambda a: np.clip(a, -1, 1), "offgrid"),
    _unary("clip_lower_only", lambda a: a.clip(lo=-0.5), lambda a: np.clip(a, -0.5, None),
           "offgrid"),
    _unary("astype", lambda a: a.astype(np.float64), lambda a: a.astype(np.float64)),
    _reduction("sum"),
    _reduction("mean"),
    _reduction("max", "distinct"),
    _reduction("min", "distinct"),
    _reduction("var"),
    # NOTE: std needs a nonzero spread (sqrt' is infinite at 0): distinct values, >= 2 per slice.
    _reduction("std", "distinct", min_dims=1, min_side=2, nonempty=True),
    Op("var_ddof1", lambda a, **kw: a.var(ddof=1, **kw), lambda a, **kw: np.var(a, ddof=1, **kw),
       reducing(min_dims=1, min_side=2, nonempty=True)),
    Op("logsumexp", lambda a, **kw: a.logsumexp(**kw), np_logsumexp, reducing()),
    Op("softmax", lambda a, axis: a.softmax(axis), np_softmax,
       with_params(shapes(1, 3, 1, MAX_SIDE), one_axis)),
    Op("log_softmax", lambda a, axis: a.log_softmax(axis),
       lambda a, axis: np.log(np_softmax(a, axis)),
       with_params(shapes(1, 3, 1, MAX_SIDE), one_axis)),
    Op("reshape", lambda a, shape: a.reshape(*shape), np.reshape,
       with_params(shapes(max_side=MAX_SIDE), reshape_targets)),
    Op("transpose", lambda a, axes: a.transpose(axes), np.transpose,
       with_params(shapes(max_side=MAX_SIDE),
                   lambda s: st.fixed_dictionaries({"axes": signed_permutations(len(s))}))),
    _unary("transpose_reversed", lambda a: a.transpose(), np.transpose),
    _unary("T", lambda a: a.T, lambda a: a.T),
    _unary("flatten", lambda a: a.flatten(), lambda a: a.reshape(-1)),
    Op("squeeze", lambda a, axis: a.squeeze(axis), np.squeeze,
       with_params(shapes(0, 4, 1, 2), squeeze_axes)),
    Op("expand_dims", lambda a, axis: a.expand_dims(axis), np.expand_dims,
       with_params(shapes(max_side=MAX_SIDE), lambda s: st.fixed_dictionaries(
           {"axis": st.integers(-len(s) - 1, len(s))}))),
    Op("broadcast_to", lambda a, shape: a.broadcast_to(shape), np.broadcast_to,
       broadcastable_shapes(2, max_side=MAX_SIDE).map(
           lambda ss: ((ss[0],), {"shape": np.broadcast_shapes(*ss)}))),
    Op("getitem_basic", lambda a, index: a[index], lambda a, index: a[index],
       with_params(shapes(1, 3, 1, MAX_SIDE), lambda s: st.fixed_dictionaries(
           {"index": hnp.basic_indices(s, allow_newaxis=True, allow_ellipsis=True)}))),
    Op("getitem_advanced", lambda a, index: a[index], lambda a, index: a[index],
       with_params(shapes(1, 3, 1, MAX_SIDE), advanced_indices)),
    Op("getitem_boolean", lambda a, index: a[index], lambda a, index: a[index],
       with_params(shapes(1, 3, 1, MAX_SIDE), boolean_indices)),
    Op("concatenate", lambda a, b, c, axis: tg.concatenate([a, b, c], axis=axis),
       lambda a, b, c, axis: np.concatenate([a, b, c], axis=axis), concatenate_shapes(),
       ("real", "real", "real")),
    Op("stack", lambda a, b, c, axis: tg.stack([a, b, c], axis=axis),
       lambda a, b, c, axis: np.stack([a, b, c], axis=axis), stack_shapes(),
       ("real", "real", "real")),
    # PyTorch-named ops with logic of their own (tests/test_pytorch_spellings.py compares
    # the others -- amin, min(dim=), transpose(d0, d1), flatten, chunk -- with NumPy's names)
    _reduction("amax", "distinct"),
    Op("max_dim", lambda a, dim, keepdim: a.max(dim=dim, keepdim=keepdim).values,
       lambda a, dim, keepdim: np.max(a, axis=dim, keepdims=keepdim),
       with_params(shapes(1, 3, 1, MAX_SIDE), dim_keepdim), ("distinct",)),
    _unary("clone", lambda a: a.clone(), np.copy),
    Op("masked_fill_tensor_value", lambda a, v, mask: a.masked_fill(mask, v),
       lambda a, v, mask: np.where(mask, v, a), mask_and_value_cases(), ("real", "real")),
    Op("split", lambda a, size, dim: weighted_pieces(a.split(size, dim), dim, tg.concatenate),
       lambda a, size, dim: weighted_pieces(np_split_by_size(a, size, dim), dim, np.concatenate),
       with_params(shapes(1, 3, 1, MAX_SIDE), split_cases)),
    # nn layers (Beyond MLPs): erf and the activation primitives
    _unary("erf", lambda a: a.erf(), lambda a: np.asarray(np.vectorize(math.erf)(a), a.dtype)),
    _unary("elu", lambda a: tg.nn.functional.elu(a, 1.5),
           lambda a: np.where(a > 0, a, 1.5 * np.expm1(a)), "offgrid"),
    _unary("softplus", lambda a: tg.nn.functional.softplus(a), lambda a: np.logaddexp(0, a)),
    _unary("softplus_threshold", lambda a: tg.nn.functional.softplus(a, 2, 1),
           lambda a: np.where(2 * a > 1, a, np.logaddexp(0, 2 * a) / 2), "offgrid"),
]
# --- v2 ops: strategies, written-out references and rows
EINSUM_LABELS = "ijkl"


def einsum_cases(n_operands: int) -> st.SearchStrategy:
    """Random einsum subscripts for n operands: repeated labels, size-1 labels that
    broadcast, '...' anywhere in a term, implicit or explicit output."""
    @st.composite
    def build(draw: Any) -> tuple:
        sizes = draw(st.fixed_dictionaries(
            {c: st.integers(1, MAX_SIDE) for c in EINSUM_LABELS}))
        ellipsis = draw(st.booleans())
        ellipsis_shapes = (draw(broadcastable_shapes(n_operands, 0, 2, 1, 2)) if ellipsis
                           else [()] * n_operands)
        most = 3 if n_operands < 3 and not ellipsis else 2
        terms, operand_shapes = [], []
        for extra in ellipsis_shapes:
            labels = draw(st.lists(st.sampled_from(EINSUM_LABELS), max_size=most))
            unit = draw(st.sets(st.sampled_from(EINSUM_LABELS)))  # broadcast from size 1
            shape = [1 if c in unit else sizes[c] for c in labels]
            at = draw(st.integers(0, len(labels)))
            dots = "..." if ellipsis else ""
            terms.append("".join(labels[:at]) + dots + "".join(labels[at:]))
            operand_shapes.append(tuple(shape[:at]) + tuple(extra) + tuple(shape[at:]))
        subscripts = ",".join(terms)
        if draw(st.booleans()):  # explicit output: some of the labels in any order
            used = sorted(set(subscripts) - set(".,"))
            out = draw(st.lists(st.sampled_from(used), unique=True)) if used else []
            if ellipsis:
                out.insert(draw(st.integers(0, len(out))), "...")
            subscripts += "->" + "".join(out)
        return tuple(operand_shapes), {"subscripts": subscripts}
    return build()


def _einsum_op(name: str, n: int, **options: Any) -> Op:
    return Op(name, lambda *xs, subscripts: tg.einsum(subscripts, *xs),
              lambda *xs, subscripts: np.einsum(subscripts, *xs), einsum_cases(n),
              ("real",) * n, **options)


def cumsum_axis(s: tuple) -> st.SearchStrategy:
    axis = st.none() | st.integers(-len(s), len(s) - 1) if s else st.none()
    return st.fixed_dictionaries({"axis": axis})


def numpy_pad_widths(s: tuple) -> st.SearchStrategy:
    """Every form of NumPy's pad_width: n, (n,), (before, after), one pair per axis."""
    width = st.integers(0, 2)
    pair = st.tuples(width, width)
    forms = [width, st.tuples(width), pair, st.tuples(pair)]
    if s:
        forms.append(st.tuples(*[pair] * len(s)))
    return st.fixed_dictionaries({"pad_width": st.one_of(forms),
                                  "value": st.sampled_from([0, 1.5, -2.0])})


def torch_pads(s: tuple) -> st.SearchStrategy:
    """PyTorch's pad tuples (last axis first) for 1 to ndim axes; negative pads crop."""
    @st.composite
    def build(draw: Any) -> dict:
        pad: list[int] = []
        for n in s[::-1][:draw(st.integers(1, len(s)))]:
            before = draw(st.integers(-1, 2))
            pad += [before, draw(st.integers(max(-1, -(n + before)), 2))]
        return {"pad": tuple(pad), "value": draw(st.sampled_from([0.0, 0.5]))}
    return build()


def np_torch_pad(a: np.ndarray, pad: tuple, value: float) -> np.ndarray:
    """F.pad written out: crop the negative pads, then np.pad the positive ones."""
    pairs = [(0, 0)] * (a.ndim - len(pad) // 2) + [
        (pad[i], pad[i + 1]) for i in range(0, len(pad), 2)][::-1]
    a = a[tuple(slice(max(-b, 0), n - max(-e, 0)) for n, (b, e) in zip(a.shape, pairs))]
    return np.pad(a, [(max(b, 0), max(e, 0)) for b, e in pairs], constant_values=value)


def roll_args(s: tuple) -> st.SearchStrategy:
    shift = st.integers(-4, 4)
    options = [st.fixed_dictionaries({"shift": shift, "axis": st.none()})]
    if s:
        axis = st.integers(-len(s), len(s) - 1)
        options.append(st.fixed_dictionaries({"shift": shift, "axis": axis}))
        options.append(st.lists(st.tuples(shift, axis), min_size=1, max_size=3).map(
            lambda pairs: {"shift": tuple(p[0] for p in pairs),
                           "axis": tuple(p[1] for p in pairs)}))
    return st.one_of(options)


def diagonal_offsets(s: tuple) -> st.SearchStrategy:
    return st.fixed_dictionaries({"k": st.integers(-3, 3)})


def along_axis_indices(s: tuple) -> st.SearchStrategy:
    """take_along_axis: indices of the input's ndim (other axes 1 or the input's size), any
    length along axis, negatives included; or 1-D indices into the flattened input."""
    def along(axis: int) -> st.SearchStrategy:
        n = s[axis]
        sides = [st.integers(1, 4) if d == axis else st.sampled_from([1, m])
                 for d, m in enumerate(s)]
        return st.tuples(*sides).flatmap(lambda shape: hnp.arrays(
            np.int64, shape, elements=st.integers(-n, n - 1))).map(
            lambda index: {"indices": index, "axis": axis})
    size = math.prod(s)
    flat = hnp.arrays(np.int64, st.integers(1, 5), elements=st.integers(-size, size - 1)).map(
        lambda index: {"indices": index, "axis": None})
    return st.one_of(flat, st.integers(0, len(s) - 1).flatmap(along))


def gather_indices(s: tuple) -> st.SearchStrategy:
    """torch.gather: index no larger than the input off `dim`, 0 <= index < s[dim]."""
    def build(dim: int) -> st.SearchStrategy:
        sides = [st.integers(1, 4) if d == dim else st.integers(1, m) for d, m in enumerate(s)]
        return st.tuples(*sides).flatmap(lambda shape: hnp.arrays(
            np.int64, shape, elements=st.integers(0, s[dim] - 1))).map(
            lambda index: {"dim": dim - len(s) * (dim % 2), "index": index})
    return st.integers(0, len(s) - 1).flatmap(build)


def np_gather(a: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
    """torch.gather written out: out[p] = a[p with p[dim] replaced by index[p]]."""
    out = np.empty(index.shape, a.dtype)
    for p in np.ndindex(*index.shape):
        source = list(p)
        source[dim] = index[p]
        out[p] = a[tuple(source)]
    return out


def tile_reps(s: tuple) -> st.SearchStrategy:
    rep = st.integers(0, 2)
    return st.fixed_dictionaries({"reps": rep | st.lists(rep, max_size=4).map(tuple)})


def repeat_reps(s: tuple) -> st.SearchStrategy:
    reps = st.lists(st.integers(0, 2), min_size=len(s), max_size=len(s) + 1).map(tuple)
    return st.fixed_dictionaries({"reps": reps})


OPS += [
    _unary("sin", lambda a: a.sin(), np.sin),
    _unary("cos", lambda a: a.cos(), np.cos),
    _unary("log1p", lambda a: a.log1p(), np.log1p, "positive"),
    _unary("expm1", lambda a: a.expm1(), np.expm1),
    _unary("square", lambda a: a.square(), np.square),
    _einsum_op("einsum_one_operand", 1),
    _einsum_op("einsum_two_operands", 2, constants="array"),
    _einsum_op("einsum_three_operands", 3),
    Op("cumsum", lambda a, axis: a.cumsum(axis), np.cumsum,
       with_params(shapes(max_side=MAX_SIDE), cumsum_axis)),
    Op("pad", lambda a, pad_width, value: a.pad(pad_width, value),
       lambda a, pad_width, value: np.pad(a, pad_width, constant_values=value),
       with_params(shapes(max_side=MAX_SIDE), numpy_pad_widths)),
    Op("functional_pad", lambda a, pad, value: tg.nn.functional.pad(a, pad, value=value),
       np_torch_pad, with_params(shapes(1, 3, 1, MAX_SIDE), torch_pads)),
    Op("flip", lambda a, axis: a.flip(axis), np.flip,
       with_params(shapes(max_side=MAX_SIDE), lambda s: st.fixed_dictionaries(
           {"axis": axes(len(s))}))),
    Op("roll", lambda a, shift, axis: a.roll(shift, axis), np.roll,
       with_params(shapes(max_side=MAX_SIDE), roll_args)),
    Op("tril", lambda a, k: a.tril(k), np.tril,
       with_params(shapes(2, 3, 1, MAX_SIDE), diagonal_offsets)),
    Op("triu", lambda a, k: a.triu(k), np.triu,
       with_params(shapes(2, 3, 1, MAX_SIDE), diagonal_offsets)),
    Op("take_along_axis", lambda a, indices, axis: a.take_along_axis(indices, axis),
       np.take_along_axis, with_params(shapes(1, 3, 1, MAX_SIDE), along_axis_indices)),
    Op("gather", lambda a, dim, index: a.gather(dim, index), np_gather,
       with_params(shapes(1, 3, 1, MAX_SIDE), gather_indices)),
    Op("tile", lambda a, reps: a.tile(reps), np.tile,
       with_params(shapes(max_side=MAX_SIDE), tile_reps)),
    Op("repeat", lambda a, reps: a.repeat(*reps), np.tile,
       with_params(shapes(max_side=MAX_SIDE), repeat_reps)),
]
# --- the fused gates of the recurrent cells (branch wt-rnnattn)
def _np_sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def _np_gru(gi: np.ndarray, gh: np.ndarray, h: np.ndarray) -> np.ndarray:
    (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, -1), np.split(gh, 3, -1)
    r, z = _np_sigmoid(i_r + h_r), _np_sigmoid(i_z + h_z)
    n = np.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def _np_lstm_c(gates: np.ndarray, c: np.ndarray) -> np.ndarray:
    i, f, g, _ = np.split(gates, 4, -1)
    return _np_sigmoid(f) * c + _np_sigmoid(i) * np.tanh(g)


def gate_shapes(gates: int, with_projection_pair: bool) -> st.SearchStrategy:
    """Pre-activations (batch..., gates * H) (twice for the GRU) and a state (batch..., H)."""
    def build(batch: tuple, hidden: int) -> tuple:
        wide = batch + (gates * hidden,)
        return ((wide, wide) if with_projection_pair else (wide,)) + (batch + (hidden,),), {}
    return st.builds(build, shapes(0, 2, 1, MAX_SIDE), st.integers(1, MAX_SIDE))


OPS += [
    Op("gru_gates", lambda gi, gh, h: tg.ops.GRUGates.apply(gi, gh, h), _np_gru,
       gate_shapes(3, True), ("real", "real", "real")),
    Op("lstm_cell_state", lambda g, c: tg.ops.LSTMCellState.apply(g, c), _np_lstm_c,
       gate_shapes(4, False), ("real", "real")),
    Op("lstm_hidden", lambda g, c: tg.ops.LSTMHidden.apply(g, c),
       lambda g, c: _np_sigmoid(np.split(g, 4, -1)[3]) * np.tanh(c), gate_shapes(4, False),
       ("real", "real")),
]
# --- end wt-rnnattn

# --- conv/pool: the primitives at small sizes (tests/test_conv.py has every option)
def _pairs(v: Any, nd: int) -> tuple:
    return (v,) * nd if isinstance(v, int) else tuple(v)


def _windows(a: np.ndarray, kernel: tuple, stride: tuple, dilation: tuple) -> np.ndarray:
    """(N, C, *out, *kernel): the windows of an already padded a, by sliding_window_view."""
    nd = len(kernel)
    extent = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    view = np.lib.stride_tricks.sliding_window_view(a, extent, axis=tuple(range(2, 2 + nd)))
    return view[(slice(None),) * 2 + tuple(slice(None, None, s) for s in stride)
                + tuple(slice(None, None, d) for d in dilation)]


def np_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: Any, padding: int,
            dilation: Any, groups: int) -> np.ndarray:
    nd = w.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0)) + ((padding, padding),) * nd)
    win = _windows(xp, w.shape[2:], _pairs(stride, nd), _pairs(dilation, nd))
    win = win.reshape(x.shape[0], groups, x.shape[1] // groups, *win.shape[2:])
    wg = w.reshape(groups, w.shape[0] // groups, *w.shape[1:])
    out, kern = "hi"[:nd], "jk"[:nd]
    y = np.einsum(f"ngc{out}{kern},goc{kern}->ngo{out}", win, wg)
    return y.reshape(x.shape[0], w.shape[0], *y.shape[3:]) + b.reshape(-1, *(1,) * nd)


def conv_shapes(nd: int) -> st.SearchStrategy:
    """x, weight, bias of a small convolution with its stride, padding, dilation, groups."""
    @st.composite
    def build(draw: Any) -> tuple:
        groups = draw(st.sampled_from([1, 2]))
        c_in, c_out = (groups * draw(st.integers(1, 2)) for _ in range(2))
        kernel = draw(st.tuples(*[st.integers(1, 3)] * nd))
        stride = draw(st.integers(1, 2) | st.tuples(*[st.integers(1, 2)] * nd))
        dilation = draw(st.integers(1, 2) | st.tuples(*[st.integers(1, 2)] * nd))
        padding = draw(st.integers(0, 1))
        spatial = tuple(max(1, d * (k - 1) + 1 - 2 * padding) + draw(st.integers(0, 2))
                        for k, d in zip(kernel, _pairs(dilation, nd)))
        shapes_ = ((draw(st.integers(1, 2)), c_in, *spatial), (c_out, c_in // groups, *kernel),
                   (c_out,))
        return shapes_, {"stride": stride, "padding": padding, "dilation": dilation,
                         "groups": groups}
    return build()


def pool_shapes() -> st.SearchStrategy:
    """A small (N, C, H, W) input with a pooling kernel, stride and padding (<= half)."""
    @st.composite
    def build(draw: Any) -> tuple:
        kernel = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
        stride = draw(st.none() | st.integers(1, 2))
        padding = draw(st.integers(0, min(kernel) // 2))
        spatial = tuple(k + draw(st.integers(0, 2)) for k in kernel)
        x = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial)
        return (x,), {"kernel_size": kernel, "stride": stride, "padding": padding}
    return build()


def np_pool(x: np.ndarray, kernel_size: tuple, stride: Any, padding: int, reduce: Callable,
            fill: float) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                constant_values=fill)
    win = _windows(xp, kernel_size, _pairs(kernel_size if stride is None else stride, 2),
                   (1, 1))
    return reduce(win, axis=(-2, -1))


OPS += [
    Op("conv1d", lambda x, w, b, **kw: tg.nn.functional.conv1d(x, w, b, **kw), np_conv,
       conv_shapes(1), ("real", "real", "real")),
    Op("conv2d", lambda x, w, b, **kw: tg.nn.functional.conv2d(x, w, b, **kw), np_conv,
       conv_shapes(2), ("real", "real", "real")),
    Op("max_pool2d", lambda x, **kw: tg.nn.functional.max_pool2d(x, **kw),
       lambda x, **kw: np_pool(x, **kw, reduce=np.max, fill=-np.inf), pool_shapes(),
       ("distinct",)),
    Op("avg_pool2d", lambda x, **kw: tg.nn.functional.avg_pool2d(x, **kw),
       lambda x, **kw: np_pool(x, **kw, reduce=np.mean, fill=0.0), pool_shapes()),
]
SECOND_ORDER = [op for op in OPS if op.second_order]
WITH_CONSTANTS = [op for op in OPS if op.constants]


def draw_case(data: st.DataObject, op: Op) -> tuple[list[np.ndarray], dict]:
    input_shapes, params = data.draw(op.cases, label="shapes, params")
    values = [data.draw(DOMAINS[d](s), label=f"input {i}")
              for i, (d, s) in enumerate(zip(op.domains, input_shapes, strict=True))]
    return values, params


def leaves(values: list[np.ndarray]) -> list[tg.Tensor]:
    return [tg.Tensor(v, requires_grad=True) for v in values]


def assert_matches(got: tg.Tensor, want: Any) -> None:
    want = np.asarray(want)
    assert isinstance(got, tg.Tensor)
    assert got.shape == want.shape, f"shape {got.shape}, NumPy gives {want.shape}"
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy gives {want.dtype}"
    np.testing.assert_allclose(got.data, want, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ the properties
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_forward_matches_numpy(op: Op, data: st.DataObject) -> None:
    values, params = draw_case(data, op)
    got = op.fn(*leaves(values), **params)
    assert_matches(got, op.ref(*values, **params))
    assert got.requires_grad and got.grad_fn is not None


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_gradient_matches_finite_differences(op: Op, data: st.DataObject) -> None:
    values, params = draw_case(data, op)
    assert gradcheck(lambda *xs: op.fn(*xs, **params), leaves(values))


@pytest.mark.parametrize("op", SECOND_ORDER, ids=lambda op: op.name)
@given(data=st.data())
def test_second_order_matches_finite_differences(op: Op, data: st.DataObject) -> None:
    values, params = draw_case(data, op)
    assert gradgradcheck(lambda *xs: op.fn(*xs, **params), leaves(values))


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
@given(data=st.data())
def test_float32_stays_float32_forward_and_backward(op: Op, data: st.DataObject) -> None:
    """float32 in, float32 out (as NumPy), and float32 gradients."""
    values, params = draw_case(data, op)
    values = [v.astype(np.float32) for v in values]
    xs = leaves(values)
    out = op.fn(*xs, **params)
    want = np.asarray(op.ref(*values, **params))
    assert out.dtype == want.dtype  # float32 except for astype(float64): NumPy's rule
    np.testing.assert_allclose(out.data, want, rtol=1e-5, atol=1e-6)
    out.backward(np.ones(out.shape, dtype=np.float32))
    for x in xs:
        assert x.grad.dtype == np.float32 and x.grad.shape == x.shape


@pytest.mark.parametrize("op", WITH_CONSTANTS, ids=lambda op: op.name)
@pytest.mark.parametrize("side", [0, 1])
@given(data=st.data())
def test_constants_on_either_side(op: Op, side: int, data: st.DataObject) -> None:
    """An ndarray (or Python scalar) operand works on either side; only the Tensor gets grad."""
    values, params = draw_case(data, op)
    kinds = ["array", "scalar"] if op.constants == "scalar" else ["array"]
    kind = data.draw(st.sampled_from(kinds), label="constant kind")
    constant = values[side]
    if kind == "scalar":
        constant = float(data.draw(DOMAINS[op.domains[side]](()), label="scalar"))
    other = 1 - side

    def call(x: tg.Tensor) -> tg.Tensor:
        return op.fn(*((constant, x) if side == 0 else (x, constant)), **params)

    operands = [None, None]
    operands[side], operands[other] = constant, values[other]
    x = tg.Tensor(values[other], requires_grad=True)
    assert_matches(call(x), op.ref(*operands, **params))
    assert gradcheck(call, [x])


# ----------------------------------------------------- behaviours beyond the table
@pytest.mark.parametrize("x", [1000.0, -1000.0])
def test_stable_at_extreme_inputs(x: float) -> None:
    t = tg.tensor([x, 0.0, -x], dtype=np.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            soft = t.softmax()
            log_soft = t.log_softmax()
            lse = t.logsumexp()
            sig = t.sigmoid()
            (soft[0] + log_soft.sum() + lse + sig.sum()).backward()
    big = abs(x)
    np.testing.assert_allclose(lse.item(), big, rtol=1e-12)
    expected_soft = [1.0, 0.0, 0.0] if x > 0 else [0.0, 0.0, 1.0]
    np.testing.assert_allclose(soft.data, expected_soft, atol=1e-300)
    np.testing.assert_allclose(log_soft.data, t.data - big, rtol=1e-12)
    np.testing.assert_allclose(sig.data, [1.0, 0.5, 0.0] if x > 0 else [0.0, 0.5, 1.0])
    assert np.isfinite(t.grad.data).all()


def test_logsumexp_of_all_minus_infinity_is_minus_infinity() -> None:
    t = tg.tensor([-np.inf, -np.inf], dtype=np.float64)
    with np.errstate(divide="ignore"):  # log(0), as in NumPy
        assert t.logsumexp().item() == -np.inf


@given(broadcastable_shapes(2, max_side=MAX_SIDE), st.data())
def test_comparisons_give_bool_tensors_without_grad(pair: tuple, data: st.DataObject) -> None:
    a_values, b_values = (data.draw(DOMAINS["grid"](s)) for s in pair)
    a = tg.Tensor(a_values, requires_grad=True)
    b = tg.Tensor(b_values, requires_grad=True)
    for got, want in [(a < b, a_values < b_values), (a <= b, a_values <= b_values),
                      (a > b, a_values > b_values), (a >= b, a_values >= b_values),
                      (a == b, a_values == b_values), (a != b, a_values != b_values),
                      (a < 0.5, a_values < 0.5), (b_values > a, b_values > a_values)]:
        assert got.dtype == np.bool_ and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.data, want)


@given(shapes(1, 3, 1, MAX_SIDE).flatmap(
    lambda s: st.tuples(DOMAINS["distinct"](s), st.none() | st.integers(-len(s), len(s) - 1))))
def test_argmax_matches_numpy_and_has_no_grad(case: tuple) -> None:
    values, axis = case
    x = tg.Tensor(values, requires_grad=True)
    got = x.argmax(axis)
    assert not got.requires_grad
    np.testing.assert_array_equal(got.data, values.argmax(axis=axis))
    np.testing.assert_array_equal(x.argmin(axis).data, values.argmin(axis=axis))


def test_repeated_indices_add_their_gradients() -> None:
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])
    y = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (y[[1, 1], [2, 2]] * tg.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(y.grad.data, [[0, 0, 0], [0, 0, 11.0]])


def test_indexing_with_tensor_indices() -> None:
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[tg.tensor([2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(x[x > 1.5].data, [2.0, 3.0])


def test_astype_float32_round_trip_keeps_gradient_dtype() -> None:
    x = tg.tensor([1.5, -2.0], dtype=np.float32, requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])


def test_concatenate_and_stack_accept_arrays_next_to_tensors() -> None:
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    cat = tg.concatenate([np.array([0.0]), x, [5.0]])
    np.testing.assert_array_equal(cat.data, [0.0, 1.0, 2.0, 5.0])
    stacked = tg.stack([x, np.array([3.0, 4.0])], axis=1)
    np.testing.assert_array_equal(stacked.data, [[1.0, 3.0], [2.0, 4.0]])
    (cat.sum() + stacked[:, 0].sum() * 2).backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
