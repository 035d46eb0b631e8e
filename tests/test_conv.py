"""Convolution and pooling: forward against written-out loops, gradients against finite
differences (first and second order) for every option hypothesis draws, float32, ties,
NaN, memory, the layers (init, repr, errors, summary) and a PyTorch state_dict.

The references below are direct loops over every output element, written from PyTorch's
documented formulas, independent of the im2col code they check.
"""
from __future__ import annotations

import gc
import itertools
import math
import weakref
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np.testing import gradcheck, gradgradcheck


# ------------------------------------------------------------ the loop references
def ref_conv(x: np.ndarray, w: np.ndarray, b: Any, stride: tuple, pads: tuple,
             dilation: tuple, groups: int) -> np.ndarray:
    """out[n, o, *p] = b[o] + sum_{c, k} xpad[n, g(o) C/G + c, p stride + k dilation] w[o, c, k]
    (g(o) the group of output channel o)."""
    nd = x.ndim - 2
    xp = np.pad(x, ((0, 0), (0, 0), *pads))
    n_out, per_group = w.shape[0], w.shape[1]
    kernel = w.shape[2:]
    sizes = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
             for i in range(nd)]
    out = np.zeros((x.shape[0], n_out, *sizes))
    for n, o in itertools.product(range(x.shape[0]), range(n_out)):
        group = o // (n_out // groups)
        for p in itertools.product(*map(range, sizes)):
            total = 0.0 if b is None else b[o]
            for c in range(per_group):
                for k in itertools.product(*map(range, kernel)):
                    at = tuple(p[i] * stride[i] + k[i] * dilation[i] for i in range(nd))
                    total += xp[(n, group * per_group + c) + at] * w[(o, c) + k]
            out[(n, o) + p] = total
    return out


def pool_sizes(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size (pooling_output_shape in ATen)."""
    top = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = top // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def ref_max_pool(x: np.ndarray, kernel: tuple, stride: tuple, pad: tuple, dilation: tuple,
                 ceil_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Values and, per window, the flat input position of its first maximum (row-major;
    -1 for a window that holds only padding: it gets no gradient, as in PyTorch)."""
    nd = x.ndim - 2
    sizes = [pool_sizes(x.shape[2 + i], kernel[i], stride[i], pad[i], dilation[i], ceil_mode)
             for i in range(nd)]
    out = np.zeros((*x.shape[:2], *sizes))
    where = np.zeros(out.shape, dtype=np.int64)
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for p in itertools.product(*map(range, sizes)):
            best, best_at = -np.inf, None
            for k in itertools.product(*map(range, kernel)):
                at = tuple(p[i] * stride[i] - pad[i] + k[i] * dilation[i] for i in range(nd))
                if all(0 <= a < x.shape[2 + i] for i, a in enumerate(at)):
                    if x[(n, c) + at] > best or best_at is None:
                        best, best_at = x[(n, c) + at], at
            out[(n, c) + p] = best  # -inf for a window all in the padding (dilation)
            where[(n, c) + p] = -1 if best_at is None else np.ravel_multi_index(
                (n, c) + best_at, x.shape)
    return out, where


def ref_avg_pool(x: np.ndarray, kernel: tuple, stride: tuple, pad: tuple, ceil_mode: bool,
                 count_include_pad: bool, divisor: Any) -> np.ndarray:
    """Window sums over the input, divided by the window clipped to the padded input
    (count_include_pad) or to the input, or by divisor (avg_pool2d in ATen)."""
    nd = x.ndim - 2
    sizes = [pool_sizes(x.shape[2 + i], kernel[i], stride[i], pad[i], 1, ceil_mode)
             for i in range(nd)]
    out = np.zeros((*x.shape[:2], *sizes))
    for n, c in itertools.product(*map(range, x.shape[:2])):
        for p in itertools.product(*map(range, sizes)):
            lo = [p[i] * stride[i] - pad[i] for i in range(nd)]
            hi = [min(lo[i] + kernel[i], x.shape[2 + i] + pad[i]) for i in range(nd)]
            padded_count = math.prod(h - lo_ for lo_, h in zip(lo, hi))
            lo = [max(v, 0) for v in lo]
            hi = [min(h, x.shape[2 + i]) for i, h in enumerate(hi)]
            window = x[(n, c) + tuple(slice(a, b) for a, b in zip(lo, hi))]
            count = divisor or (padded_count if count_include_pad else window.size)
            out[(n, c) + p] = window.sum() / count
    return out


def ref_adaptive_avg_pool(x: np.ndarray, sizes: tuple) -> np.ndarray:
    """Window i of an axis of length L: [floor(i L / out), ceil((i + 1) L / out))."""
    nd = x.ndim - 2
    out = np.zeros((*x.shape[:2], *sizes))
    for p in itertools.product(*map(range, sizes)):
        index = tuple(slice(p[i] * x.shape[2 + i] // sizes[i],
                            -(-(p[i] + 1) * x.shape[2 + i] // sizes[i])) for i in range(nd))
        out[(..., *p)] = x[(slice(None), slice(None)) + index].mean(axis=tuple(range(2, 2 + nd)))
    return out


# ------------------------------------------------------------------ strategies
def _per_axis(nd: int, lo: int, hi: int) -> st.SearchStrategy[tuple]:
    return st.tuples(*[st.integers(lo, hi)] * nd)


@st.composite
def conv_cases(draw: Any, max_channels: int = 2) -> dict:
    """Small convolutions with every option: 1-D or 2-D, stride, padding (int, tuple,
    'same', 'valid'), dilation, groups, bias."""
    nd = draw(st.sampled_from([1, 2]))
    groups = draw(st.sampled_from([1, 2]))
    c_in = groups * draw(st.integers(1, max_channels))
    c_out = groups * draw(st.integers(1, max_channels))
    kernel = draw(_per_axis(nd, 1, 3))
    stride = draw(_per_axis(nd, 1, 2))
    dilation = draw(_per_axis(nd, 1, 2))
    kind = draw(st.sampled_from(["int", "tuple", "same", "valid"] if stride == (1,) * nd
                                else ["int", "tuple", "valid"]))
    if kind == "int":
        padding: Any = draw(st.integers(0, 2))
        pads = ((padding, padding),) * nd
    elif kind == "tuple":
        padding = draw(_per_axis(nd, 0, 2))
        pads = tuple((p, p) for p in padding)
    else:
        padding = kind
        total = [d * (k - 1) if kind == "same" else 0 for k, d in zip(kernel, dilation)]
        pads = tuple((t // 2, t - t // 2) for t in total)
    extents = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    spatial = tuple(max(1, e - lo - hi + draw(st.integers(0, 2)))
                    for e, (lo, hi) in zip(extents, pads))
    return {"nd": nd, "x": (draw(st.integers(1, 2)), c_in, *spatial),
            "w": (c_out, c_in // groups, *kernel), "bias": draw(st.booleans()),
            "stride": stride if draw(st.booleans()) else stride[0] if len(set(stride)) == 1
            else stride, "padding": padding, "pads": pads, "dilation": dilation,
            "groups": groups}


@st.composite
def pool_cases(draw: Any, dilation: bool = True) -> dict:
    nd = draw(st.sampled_from([1, 2]))
    kernel = draw(_per_axis(nd, 1, 3))
    stride = draw(st.none() | _per_axis(nd, 1, 3))
    pad = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dil = draw(_per_axis(nd, 1, 2)) if dilation else (1,) * nd
    pad = tuple(min(p, (d * (k - 1) + 1) // 2) for p, k, d in zip(pad, kernel, dil))
    spatial = tuple(d * (k - 1) + 1 - 2 * p + draw(st.integers(0, 3))
                    for k, d, p in zip(kernel, dil, pad))
    spatial = tuple(max(1, s) for s in spatial)
    return {"nd": nd, "x": (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *spatial),
            "kernel": kernel, "stride": stride, "pad": pad, "dilation": dil,
            "ceil_mode": draw(st.booleans())}


# NOTE: the gradient properties draw fewer cases than the profile's (the op table in
# tests/test_ops.py also checks conv1d/conv2d/max_pool2d/avg_pool2d): ~4x less ci time
FEWER = settings(max_examples=min(settings.default.max_examples, 15))


def distinct(shape: tuple, seed: int = 0) -> np.ndarray:
    """Values 0.05 apart in a random order: no ties, and eps never crosses one."""
    return np.random.default_rng(seed).permutation(math.prod(shape)).reshape(shape) / 20 - 1


def normal(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def leaf(a: np.ndarray) -> tg.Tensor:
    return tg.tensor(a, requires_grad=True)


def conv_fn(case: dict) -> Any:
    fn = F.conv1d if case["nd"] == 1 else F.conv2d
    return lambda x, w, b=None: fn(x, w, b, case["stride"], case["padding"], case["dilation"],
                                   case["groups"])


def _stride(case: dict) -> tuple:
    s = case["stride"]
    return (s,) * case["nd"] if isinstance(s, int) else s


# ------------------------------------------------------------------ convolution
@given(conv_cases(), st.integers(0, 2**16))
def test_conv_matches_the_loops(case: dict, seed: int) -> None:
    x, w = normal(case["x"], seed), normal(case["w"], seed + 1)
    b = normal(case["w"][:1], seed + 2) if case["bias"] else None
    got = conv_fn(case)(leaf(x), leaf(w), None if b is None else leaf(b))
    want = ref_conv(x, w, b, _stride(case), case["pads"], case["dilation"], case["groups"])
    assert got.shape == want.shape and got.dtype == np.float64
    np.testing.assert_allclose(got.data, want, rtol=1e-10, atol=1e-12)


@FEWER
@given(conv_cases(max_channels=1), st.integers(0, 2**16))
def test_conv_gradients_first_and_second_order(case: dict, seed: int) -> None:
    inputs = [leaf(normal(case["x"], seed)), leaf(normal(case["w"], seed + 1))]
    if case["bias"]:
        inputs.append(leaf(normal(case["w"][:1], seed + 2)))
    fn = conv_fn(case)
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@given(conv_cases(), st.integers(0, 2**16))
def test_conv_float32_stays_float32(case: dict, seed: int) -> None:
    x = leaf(normal(case["x"], seed).astype(np.float32))
    w = leaf(normal(case["w"], seed + 1).astype(np.float32))
    b = leaf(normal(case["w"][:1], seed + 2).astype(np.float32)) if case["bias"] else None
    out = conv_fn(case)(x, w, b)
    assert out.dtype == np.float32
    want = ref_conv(x.data.astype(np.float64), w.data.astype(np.float64),
                    None if b is None else b.data.astype(np.float64), _stride(case),
                    case["pads"], case["dilation"], case["groups"])
    np.testing.assert_allclose(out.data, want, rtol=1e-4, atol=1e-5)
    out.backward(np.ones(out.shape, np.float32))
    for t in [x, w] + ([b] if b is not None else []):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


def test_conv_third_order_stays_in_the_closed_set() -> None:
    """Gradients of a gradient of a gradient: the bilinear primitives differentiate each
    other, so any order works."""
    x, w = leaf(distinct((1, 2, 3, 3))), leaf(distinct((2, 2, 2, 2), 1))

    def penalty(x: tg.Tensor, w: tg.Tensor) -> tg.Tensor:
        gx, gw = tg.grad((F.conv2d(x, w, padding=1) ** 2).sum(), [x, w], create_graph=True)
        return (gx ** 2).sum() + (gw ** 2).sum()

    assert gradgradcheck(penalty, [x, w])


def test_conv_input_gradient_is_the_transposed_convolution() -> None:
    """<conv(x, w), g> = <x, conv_transpose(g, w)>, with conv_transpose written out as the
    scatter it is (stride 2, padding 1, dilation 2)."""
    x, w, g = distinct((1, 2, 7, 6)), distinct((3, 2, 2, 3), 1), None
    t = leaf(x)
    y = F.conv2d(t, w, stride=2, padding=1, dilation=2)
    g = normal(y.shape, 3)
    y.backward(g)
    want = np.zeros((1, 2, 9, 8))  # padded input
    for o, p, q, c, i, j in itertools.product(range(3), range(y.shape[2]), range(y.shape[3]),
                                             range(2), range(2), range(3)):
        want[0, c, 2 * p + 2 * i, 2 * q + 2 * j] += g[0, o, p, q] * w[o, c, i, j]
    np.testing.assert_allclose(t.grad.data, want[:, :, 1:-1, 1:-1], rtol=1e-12)


def test_conv_columns_live_only_until_backward() -> None:
    x, conv = tg.randn(2, 3, 5, 5), tg.nn.Conv2d(3, 4, 3)
    y = conv(x)
    columns = y.grad_fn.saved[-1]
    assert columns.shape == (1, 2 * 3 * 3, 3 * 3 * 3)  # (groups, N * out, kernel * C)
    freed = weakref.ref(columns)
    del columns
    y.sum().backward()
    gc.collect()
    assert freed() is None


def test_conv_keeps_no_columns_when_the_weight_needs_no_gradient() -> None:
    x = tg.randn(2, 3, 5, 5, requires_grad=True)
    w = tg.randn(4, 3, 3, 3)
    y = F.conv2d(x, w)
    assert len(y.grad_fn.saved) == 4  # (output, x, w, bias): no columns
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data[0, 0, 2, 2], w.data[:, 0].sum(), rtol=1e-5)


# ------------------------------------------------------------------ max pooling
def max_pool_fn(case: dict) -> Any:
    fn = F.max_pool1d if case["nd"] == 1 else F.max_pool2d
    return lambda x: fn(x, case["kernel"], case["stride"], case["pad"], case["dilation"],
                        case["ceil_mode"])


@given(pool_cases(), st.integers(0, 2**16))
def test_max_pool_matches_the_loops_and_routes_the_gradient(case: dict, seed: int) -> None:
    x = distinct(case["x"], seed)
    x.flat[::3] = 0.25  # ties: the first maximum of a window takes its gradient
    t = leaf(x)
    out = max_pool_fn(case)(t)
    stride = case["stride"] or case["kernel"]
    want, where = ref_max_pool(x, case["kernel"], stride, case["pad"], case["dilation"],
                               case["ceil_mode"])
    np.testing.assert_array_equal(out.data, want)
    g = normal(out.shape, seed)
    out.backward(g)
    expected = np.zeros(x.size)
    inside = where.ravel() >= 0
    np.add.at(expected, where.ravel()[inside], g.ravel()[inside])
    np.testing.assert_allclose(t.grad.data, expected.reshape(x.shape), rtol=1e-12)


@FEWER
@given(pool_cases(), st.integers(0, 2**16))
def test_max_pool_gradients_first_and_second_order(case: dict, seed: int) -> None:
    x = leaf(distinct(case["x"], seed))
    fn = max_pool_fn(case)
    assume(np.isfinite(fn(x).data).all())  # a window all in the padding is -inf (PyTorch's)
    assert gradcheck(fn, [x])
    assert gradgradcheck(lambda x: fn(x) ** 2, [x])


def test_max_pool_gives_a_tied_window_gradient_to_its_first_element() -> None:
    """PyTorch's rule: the whole gradient goes to the first maximum, row-major."""
    x = leaf(np.ones((1, 1, 4, 4)))
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0],
                                                      [1, 0, 1, 0], [0, 0, 0, 0]])
    x = leaf(np.ones((1, 1, 3, 3)))  # overlapping windows: the shared first element adds up
    F.max_pool2d(x, 2, stride=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pool_nan_wins_and_takes_the_gradient() -> None:
    x = np.array([[[1.0, np.nan, 3.0, 2.0]]])
    t = leaf(x)
    out = F.max_pool1d(t, 2)
    np.testing.assert_array_equal(out.data, [[[np.nan, 3.0]]])
    out.backward(np.ones(out.shape))
    np.testing.assert_array_equal(t.grad.data, [[[0.0, 1.0, 1.0, 0.0]]])


def test_max_pool_padding_is_minus_infinity_and_never_chosen() -> None:
    x = leaf(-np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    out = F.max_pool2d(x, 3, stride=1, padding=1)
    np.testing.assert_array_equal(out.data[0, 0], [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[4, 2, 0], [2, 1, 0], [0, 0, 0]])


def test_max_pool_gradient_stays_exact_with_infinite_upstream_gradients() -> None:
    x = leaf(distinct((1, 1, 4, 4)))
    out = F.max_pool2d(x, 2)
    g = np.ones(out.shape)
    g[0, 0, 0, 0] = np.inf
    out.backward(g)
    assert np.isinf(x.grad.data).sum() == 1 and not np.isnan(x.grad.data).any()


# ------------------------------------------------------------------ average pooling
@st.composite
def avg_cases(draw: Any) -> dict:
    case = draw(pool_cases(dilation=False))
    case["count_include_pad"] = draw(st.booleans())
    case["divisor"] = draw(st.none() | st.integers(1, 5)) if case["nd"] == 2 else None
    return case


def avg_pool_fn(case: dict) -> Any:
    args = (case["kernel"], case["stride"], case["pad"], case["ceil_mode"],
            case["count_include_pad"])
    if case["nd"] == 1:
        return lambda x: F.avg_pool1d(x, *args)
    return lambda x: F.avg_pool2d(x, *args, divisor_override=case["divisor"])


@given(avg_cases(), st.integers(0, 2**16))
def test_avg_pool_matches_the_loops(case: dict, seed: int) -> None:
    x = normal(case["x"], seed)
    got = avg_pool_fn(case)(leaf(x))
    want = ref_avg_pool(x, case["kernel"], case["stride"] or case["kernel"], case["pad"],
                        case["ceil_mode"], case["count_include_pad"], case["divisor"])
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-14)


@FEWER
@given(avg_cases(), st.integers(0, 2**16))
def test_avg_pool_gradients_first_and_second_order(case: dict, seed: int) -> None:
    x = leaf(normal(case["x"], seed))
    fn = avg_pool_fn(case)
    assert gradcheck(fn, [x])
    assert gradgradcheck(lambda x: fn(x) ** 2, [x])


@FEWER
@given(st.sampled_from([1, 2]), st.integers(1, 7), st.integers(1, 7), st.integers(1, 5),
       st.integers(1, 5), st.integers(0, 2**16))
def test_adaptive_avg_pool_matches_the_loops(nd: int, h: int, w: int, oh: int, ow: int,
                                             seed: int) -> None:
    shape, sizes = ((2, 2, h, w), (oh, ow)) if nd == 2 else ((2, 2, h), (oh,))
    x = normal(shape, seed)
    fn = F.adaptive_avg_pool2d if nd == 2 else F.adaptive_avg_pool1d
    t = leaf(x)
    np.testing.assert_allclose(fn(t, sizes).data, ref_adaptive_avg_pool(x, sizes),
                               rtol=1e-12)
    assert gradcheck(lambda t: fn(t, sizes), [t])
    assert gradgradcheck(lambda t: fn(t, sizes) ** 2, [t])


def test_adaptive_avg_pool_output_size_forms() -> None:
    x = tg.randn(2, 3, 5, 6)
    assert F.adaptive_avg_pool2d(x, 1).shape == (2, 3, 1, 1)
    assert F.adaptive_avg_pool2d(x, (2, None)).shape == (2, 3, 2, 6)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1).data[..., 0, 0],
                               x.data.mean(axis=(2, 3)), rtol=1e-6)
    with pytest.raises(ValueError, match="adaptive_avg_pool2d: output_size"):
        F.adaptive_avg_pool2d(x, (2, 0))


@pytest.mark.parametrize("name", ["max_pool1d", "avg_pool1d", "adaptive_avg_pool1d",
                                  "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"])
def test_pools_keep_float32(name: str) -> None:
    nd = int(name[-2])
    x = tg.tensor(distinct((2, 3) + (5,) * nd).astype(np.float32), requires_grad=True)
    out = getattr(F, name)(x, 2)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32))
    assert x.grad.dtype == np.float32


# ------------------------------------------------------------------ layers
TORCH_REPRS = [  # printed by PyTorch 2.13 for the same constructor calls
    (lambda: tg.nn.Conv2d(1, 16, 3, padding=1),
     "Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"),
    (lambda: tg.nn.Conv2d(4, 8, (3, 2), stride=2, padding="valid", dilation=2, groups=2,
                          bias=False),
     "Conv2d(4, 8, kernel_size=(3, 2), stride=(2, 2), padding=valid, dilation=(2, 2), "
     "groups=2, bias=False)"),
    (lambda: tg.nn.Conv2d(2, 2, 3, padding="same"),
     "Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), padding=same)"),
    (lambda: tg.nn.Conv1d(1, 16, 3, padding=1),
     "Conv1d(1, 16, kernel_size=(3,), stride=(1,), padding=(1,))"),
    (lambda: tg.nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                 "ceil_mode=False)"),
    (lambda: tg.nn.MaxPool1d(3, 2, 1), "MaxPool1d(kernel_size=3, stride=2, padding=1, "
                                       "dilation=1, ceil_mode=False)"),
    (lambda: tg.nn.MaxPool2d((2, 3), stride=(1, 2)),
     "MaxPool2d(kernel_size=(2, 3), stride=(1, 2), padding=0, dilation=1, ceil_mode=False)"),
    (lambda: tg.nn.AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: tg.nn.AvgPool1d(3), "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"),
    (lambda: tg.nn.AvgPool2d((2, 3), ceil_mode=True, count_include_pad=False),
     "AvgPool2d(kernel_size=(2, 3), stride=(2, 3), padding=0)"),
    (lambda: tg.nn.AdaptiveAvgPool2d((2, None)), "AdaptiveAvgPool2d(output_size=(2, None))"),
    (lambda: tg.nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)"),
    (lambda: tg.nn.AdaptiveAvgPool1d(3), "AdaptiveAvgPool1d(output_size=3)"),
]


@pytest.mark.parametrize(("make", "text"), TORCH_REPRS, ids=[t for _, t in TORCH_REPRS])
def test_layer_reprs_are_pytorchs(make: Any, text: str) -> None:
    assert repr(make()).split("  #")[0] == text  # our repr may add a parameter count


def test_conv_layers_init_like_pytorch() -> None:
    """weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), weight drawn first, from the
    global generator: the same numbers as kaiming_uniform_(a=sqrt(5)) then uniform_."""
    tg.manual_seed(3)
    conv = tg.nn.Conv2d(6, 8, (3, 2), groups=2)
    assert conv.weight.shape == (8, 3, 3, 2) and conv.bias.shape == (8,)
    assert conv.weight.dtype == np.float32
    bound = 1 / math.sqrt(3 * 3 * 2)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(conv.weight.data,
                                  rng.uniform(-bound, bound, (8, 3, 3, 2)).astype(np.float32))
    np.testing.assert_array_equal(conv.bias.data, rng.uniform(-bound, bound, 8).astype(np.float32))
    one_d = tg.nn.Conv1d(2, 3, 4, bias=False, dtype=np.float64, generator=1)
    assert one_d.bias is None and one_d.weight.dtype == np.float64
    assert [name for name, _ in one_d.named_parameters()] == ["weight"]


def test_conv_layers_forward_and_same_padding() -> None:
    tg.manual_seed(0)
    conv = tg.nn.Conv2d(2, 3, (3, 4), padding="same", dilation=(1, 2))
    x = tg.randn(2, 2, 5, 7)
    assert conv(x).shape == (2, 3, 5, 7)
    np.testing.assert_allclose(conv(x[0]).data, conv(x).data[0], rtol=1e-6)  # unbatched
    assert tg.nn.Conv1d(2, 4, 3, stride=2)(tg.randn(5, 2, 9)).shape == (5, 4, 4)


@pytest.mark.parametrize(("make", "x_shape", "words"), [
    (lambda: tg.nn.Conv2d(3, 16, 3), (2, 1, 8, 8),
     ["Conv2d(3, 16", "3 channels", "(16, 3, 3, 3)", "(2, 1, 8, 8)"]),
    (lambda: tg.nn.Conv2d(1, 4, 5), (2, 1, 3, 3),
     ["Conv2d(1, 4", "kernel is larger than the padded input", "(2, 1, 3, 3)", "(4, 1, 5, 5)"]),
    (lambda: tg.nn.Conv1d(4, 4, 3, groups=2), (1, 3, 8),
     ["Conv1d(4, 4", "4 channels", "groups=2", "(4, 2, 3)", "(1, 3, 8)"]),
    (lambda: tg.nn.Conv2d(1, 4, 3), (8, 8), ["Conv2d(1, 4", "(N, C, H, W)", "(8, 8)"]),
    (lambda: tg.nn.MaxPool2d(2, padding=2), (1, 1, 8, 8), ["MaxPool2d(", "half"]),
    (lambda: tg.nn.MaxPool1d(5), (1, 1, 3), ["MaxPool1d(", "larger than the padded", "(1, 1, 3)"]),
    (lambda: tg.nn.AvgPool2d(4), (1, 1, 3, 9), ["AvgPool2d(", "larger than the padded"]),
])
def test_layer_errors_name_the_layer_and_the_shapes(make: Any, x_shape: tuple,
                                                    words: list) -> None:
    with pytest.raises(ValueError) as info:
        make()(tg.zeros(*x_shape))
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: tg.nn.Conv2d(4, 6, 3, groups=4), ["Conv2d", "out_channels=6", "groups=4"]),
    (lambda: tg.nn.Conv2d(3, 6, 3, groups=2), ["Conv2d", "in_channels=3", "groups=2"]),
    (lambda: tg.nn.Conv2d(1, 6, 3, groups=0), ["Conv2d", "groups"]),
    (lambda: tg.nn.Conv1d(1, 6, 3, stride=2, padding="same"), ["Conv1d", "'same'", "stride"]),
    (lambda: tg.nn.Conv2d(1, 6, 3, padding="full"), ["Conv2d", "'full'"]),
    (lambda: tg.nn.Conv2d(1, 6, 3, stride=0), ["Conv2d", "stride"]),
])
def test_bad_layer_arguments_are_refused_at_construction(make: Any, words: list) -> None:
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)
    with pytest.raises(TypeError, match="kernel_size must be an int or a tuple of 2 ints"):
        tg.nn.Conv2d(1, 2, (3, 3, 3))


def test_summary_lists_conv_layers_with_shapes_and_parameters() -> None:
    model = tg.nn.Sequential(tg.nn.Conv2d(1, 16, 3, padding=1), tg.nn.ReLU(),
                             tg.nn.Conv2d(16, 32, 3, padding=1), tg.nn.ReLU(),
                             tg.nn.MaxPool2d(2), tg.nn.AvgPool2d(2),
                             tg.nn.AdaptiveAvgPool2d(1), tg.nn.Identity())
    rows = tg.nn.summary(model, (1, 1, 8, 8)).rows
    assert [(r.kind, r.output_shape, r.num_params) for r in rows] == [
        ("Conv2d", (1, 16, 8, 8), 160), ("ReLU", (1, 16, 8, 8), 0),
        ("Conv2d", (1, 32, 8, 8), 4640), ("ReLU", (1, 32, 8, 8), 0),
        ("MaxPool2d", (1, 32, 4, 4), 0), ("AvgPool2d", (1, 32, 2, 2), 0),
        ("AdaptiveAvgPool2d", (1, 32, 1, 1), 0), ("Identity", (1, 32, 1, 1), 0)]
    assert tg.nn.summary(tg.nn.Conv1d(3, 4, 2), (2, 3, 5)).total_params == 3 * 4 * 2 + 4


# ------------------------------------------------------------------ PyTorch's weights
# A PyTorch model's state_dict, converted to arrays (values on a 1/8 grid, so the output
# is exact in float64), an input, and the output PyTorch 2.13 printed for them
# (torch.nn.Sequential of the same layers, .double(), load_state_dict of these arrays).
TORCH_STATE = {
    "0.weight": (np.arange(24.0).reshape(3, 2, 2, 2) % 7 - 3) / 8,
    "0.bias": np.array([0.125, -0.25, 0.5]),
    "3.weight": (np.arange(24.0).reshape(2, 3, 2, 2) % 5 - 2) / 8,
}
TORCH_INPUT = (np.arange(2 * 2 * 6 * 6.0).reshape(2, 2, 6, 6) % 11 - 5) / 4
TORCH_OUTPUT = np.array([[-0.4345703125, 0.08984375], [-0.3251953125, -0.009765625]])


def test_a_pytorch_state_dict_loads_and_gives_pytorchs_output() -> None:
    model = tg.nn.Sequential(tg.nn.Conv2d(2, 3, 2, padding=1), tg.nn.ReLU(), tg.nn.MaxPool2d(2),
                             tg.nn.Conv2d(3, 2, 2, bias=False), tg.nn.AdaptiveAvgPool2d(1))
    model.to(np.float64)
    assert sorted(model.state_dict()) == sorted(TORCH_STATE)
    model.load_state_dict(TORCH_STATE)
    out = model(tg.tensor(TORCH_INPUT))
    assert out.shape == (2, 2, 1, 1)
    np.testing.assert_array_equal(out.data[:, :, 0, 0], TORCH_OUTPUT)


# ------------------------------------------------------------------ a conv net, end to end
def digits_cnn() -> tg.nn.Module:
    nn = tg.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(16, 3))


def test_draw_graph_collapses_a_conv_net_to_one_box_per_layer() -> None:
    tg.manual_seed(0)
    model = digits_cnn()
    loss = F.cross_entropy(model(tg.randn(2, 1, 4, 4)), np.array([0, 2]))
    source = tg.viz.draw_graph(loss, model, collapse=True).source
    boxes = [line.split('label="')[1].split('"')[0].split("\\n")
             for line in source.splitlines() if 'class="module"' in line]
    assert [b[0] for b in boxes] == ["0: Conv2d(1→4, 3x3)", "1: BatchNorm2d", "2: ReLU",
                                     "3: MaxPool2d", "4: Dropout(p=0.25)",
                                     "5: Flatten(start_dim=1, end_dim=-1)", "6: Linear(16→3)"]
    assert boxes[0][1:] == ["(2, 4, 4, 4) float32", "40 params"]
    assert boxes[3][1] == "(2, 4, 2, 2) float32"
    full = tg.viz.draw_graph(loss, model).source
    assert "ConvBackward" in full and "MaxPoolBackward" in full and "0.weight" in full


def test_a_conv_net_trains_and_its_step_frees_the_columns() -> None:
    """A few SGD steps lower the loss; after each backward no im2col buffer is alive."""
    tg.manual_seed(0)
    model = digits_cnn()
    x, y = tg.randn(8, 1, 4, 4), np.arange(8) % 3
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        features = model[0](x)
        columns = weakref.ref(features.grad_fn.saved[-1])
        loss = F.cross_entropy(model[1:](features), y)
        del features
        loss.backward()
        gc.collect()
        assert columns() is None
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------ PyTorch as an oracle
@pytest.mark.parametrize(("name", "kwargs"), [
    ("conv2d", {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}),
    ("conv2d", {"padding": "same", "dilation": 2}),
    ("conv1d", {"stride": 2, "padding": "valid"}),
    ("max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
    ("avg_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                    "count_include_pad": False}),
    ("adaptive_avg_pool2d", {"output_size": (3, 2)}),
])
def test_against_pytorch_when_installed(name: str, kwargs: dict) -> None:
    torch = pytest.importorskip("torch")
    nd = int(name[-2])
    x = normal((2, 4) + (7,) * nd, 0)
    args = [x]
    if name.startswith("conv"):
        args.append(normal((4, 4 // kwargs.get("groups", 1)) + (3,) * nd, 1))
    ours = [leaf(a) for a in args]
    theirs = [torch.tensor(a, requires_grad=True) for a in args]
    out, want = getattr(F, name)(*ours, **kwargs), getattr(torch.nn.functional, name)(
        *theirs, **kwargs)
    np.testing.assert_allclose(out.data, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = normal(out.shape, 2)
    out.backward(g)
    want.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-12, atol=1e-12)
