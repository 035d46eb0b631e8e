"""tg.nn layers beyond MLPs: buffers, containers, activations, Dropout, Embedding, LayerNorm,
BatchNorm -- each against its formula written out in NumPy (float64), gradients to second
order, train/eval behaviour, running statistics, state dicts (also PyTorch's), errors."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F
from tinygrad_np.testing import gradcheck, gradgradcheck
from tinygrad_np.testing.strategies import arrays

SQRT1_2 = 1 / math.sqrt(2)


def leaf(a, dtype=np.float64) -> tg.Tensor:
    return tg.Tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def wave(shape, k=0.0) -> np.ndarray:
    """Deterministic float64 inputs (the PyTorch reference values below use the same)."""
    return np.sin(np.arange(math.prod(shape)).reshape(shape) * 1.3 + k) * 2.0


def grad_of(fn, *values):
    """Gradients of sum(fn(*xs) * weights) for fixed weights (so every output counts)."""
    xs = [leaf(v) for v in values]
    out = fn(*xs)
    weights = wave(out.shape, 0.7)
    (out * weights).sum().backward()
    return [x.grad.data for x in xs], weights


# ------------------------------------------------------------------------ erf
def test_erf_agrees_with_math_erf_to_1e15_relative_everywhere():
    rng = np.random.default_rng(0)
    points = np.concatenate([
        np.linspace(-7, 7, 20001), rng.uniform(-6, 6, 20000), rng.standard_normal(5000) * 0.3,
        10.0 ** rng.uniform(-300, 1.5, 10000) * rng.choice([-1, 1], 10000),
        [0.46875, -0.46875, 4.0, -4.0, np.nextafter(0.46875, 1), np.nextafter(4.0, 5), 5e-324,
         1e-310, 26.5, 27.5, 1e300, -1e300]])
    got = tg.erf(points).data
    want = np.array([math.erf(v) for v in points])
    assert np.all(np.abs(got - want) <= 1e-15 * np.abs(want))
    special = tg.tensor(np.array([0.0, -0.0, np.inf, -np.inf, np.nan])).erf().data
    assert special[:4].tolist() == [0.0, 0.0, 1.0, -1.0] and np.isnan(special[4])
    assert np.signbit(special[1]) and not np.signbit(special[0])


def test_erf_method_function_dtype_and_derivative():
    x = leaf([-2.0, -0.3, 0.0, 0.5, 3.0])
    y = x.erf()
    assert y.grad_fn.name == "ErfBackward"
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 / math.sqrt(math.pi) * np.exp(-x.data ** 2),
                               rtol=1e-15)
    assert tg.erf(np.float32([0.5, 1.0])).dtype == np.float32
    assert tg.erf([1, 2]).dtype == np.float64  # integers compute in float64, as np.exp does
    assert gradgradcheck(lambda t: t.erf(), [leaf(wave((5,)))])


# ---------------------------------------------------------------- activations
def np_softplus(x, beta=1.0, threshold=20.0):
    z = x * beta
    return np.where(z > threshold, x, np.log1p(np.exp(np.minimum(z, threshold))) / beta)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = [  # (module, functional call, NumPy formula, its derivative)
    (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
     lambda x: np.where(x > 0, 1.0, 0.2)),
    (nn.GELU(), F.gelu,
     lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x * SQRT1_2)),
     lambda x: 0.5 * (1 + np.vectorize(math.erf)(x * SQRT1_2))
     + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    (nn.GELU("tanh"), lambda x: F.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     lambda x: 0.5 * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
     + 0.5 * x * (1 - np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)) ** 2)
     * math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x ** 2)),
    (nn.SiLU(), F.silu, lambda x: x * np_sigmoid(x),
     lambda x: np_sigmoid(x) * (1 + x * (1 - np_sigmoid(x)))),
    (nn.ELU(1.5), lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x)),
     lambda x: np.where(x > 0, 1.0, 1.5 * np.exp(x))),
    (nn.Softplus(), F.softplus, np_softplus, np_sigmoid),
    (nn.Softplus(beta=2, threshold=3), lambda x: F.softplus(x, 2, 3),
     lambda x: np_softplus(x, 2, 3), lambda x: np.where(2 * x > 3, 1.0, np_sigmoid(2 * x))),
]
ACTIVATION_IDS = ["leaky_relu", "gelu", "gelu_tanh", "silu", "elu", "softplus", "softplus_b2"]


@pytest.mark.parametrize("module, functional, formula, derivative", ACTIVATIONS,
                         ids=ACTIVATION_IDS)
def test_activation_matches_its_formula_and_derivative(module, functional, formula, derivative):
    x = np.concatenate([wave((40,)) * 2.5, [-30.0, -5.5, -1e-10, 1e-10, 4.5, 30.0]])
    for fn in (module, functional):
        out = fn(leaf(x))
        np.testing.assert_allclose(out.data, formula(x), rtol=1e-13, atol=1e-14)
        (grad,), weights = grad_of(fn, x)
        np.testing.assert_allclose(grad, derivative(x) * weights, rtol=1e-12, atol=1e-14)
    assert module(np.float32(x)).dtype == np.float32


@pytest.mark.parametrize("module, functional, formula, derivative", ACTIVATIONS,
                         ids=ACTIVATION_IDS)
@given(x=arrays((2, 3), min_value=-3, max_value=3, min_magnitude=0.05))
def test_activation_gradients_first_and_second_order(module, functional, formula, derivative,
                                                     x):
    assume(not isinstance(module, nn.Softplus) or np.all(np.abs(2 * x - 3) > 0.05))  # kink
    assert gradcheck(module, [leaf(x)]) and gradgradcheck(module, [leaf(x)])


def test_activations_are_finite_at_extremes_and_follow_pytorch_at_kinks():
    x = leaf([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    for module in (nn.LeakyReLU(), nn.GELU(), nn.GELU("tanh"), nn.SiLU(), nn.ELU(), nn.Softplus()):
        out = module(x)
        out.sum().backward()
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data)), module
        x.grad = None
    zero = leaf([0.0])
    F.leaky_relu(zero, 0.1).backward()
    assert zero.grad.item() == 0.1  # PyTorch: negative slope at 0
    zero.grad = None
    F.elu(zero, 2.0).backward()
    assert zero.grad.item() == 2.0  # PyTorch: alpha at 0
    # expm1 and log1p keep the digits a composite of exp/log would lose
    assert F.elu(tg.tensor(np.array([-1e-10]))).item() == -9.999999999500001e-11  # PyTorch
    assert F.softplus(tg.tensor(np.array([-40.0]))).item() == 4.248354255291589e-18
    assert F.softplus(tg.tensor(np.array([20.0001]))).item() == 20.0001  # above threshold: x
    assert F.gelu(tg.tensor(np.array([3.0]))).item() == pytest.approx(2.99595030590511, 1e-15)


def test_activation_arguments_and_repr():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(tg.zeros(2), approximate="erf")
    with pytest.raises(ValueError, match="beta must be nonzero"):
        nn.Softplus(beta=0)
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"


# -------------------------------------------------------------------- dropout
def test_dropout_is_inverted_dropout_with_masks_from_the_global_generator():
    x = leaf(wave((20, 30)))
    tg.manual_seed(3)
    out = nn.Dropout(0.25)(x)
    keep = np.random.default_rng(3).random((20, 30)) >= 0.25  # what manual_seed(3) draws
    np.testing.assert_array_equal(out.data, np.where(keep, x.data * (1 / 0.75), 0.0))  # PyTorch
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.where(keep, 1 / 0.75, 0.0))
    assert 0.6 < keep.mean() < 0.9
    tg.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.25).data, out.data)  # reproducible
    assert nn.Dropout(0.5)(np.float32(x.data)).dtype == np.float32


def test_dropout_eval_and_edge_probabilities_follow_pytorch():
    x = leaf(wave((4, 5)))
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x and F.dropout(x, 0.5, training=False) is x
    state = tg.default_generator().bit_generator.state
    assert nn.Dropout(0.0)(x) is x  # p = 0: the input itself, no mask drawn
    zeros = nn.Dropout(1.0)(x)
    assert np.all(zeros.data == 0)
    assert tg.default_generator().bit_generator.state == state  # p = 1 draws nothing either
    zeros.sum().backward()
    assert np.all(x.grad.data == 0)
    for p in (-0.1, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 2.0)
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1)"


def test_dropout_mode_follows_train_and_eval_of_the_model():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.9))
    x = tg.ones(2, 3)
    assert model.eval()(x).data.tolist() == model[0](x).data.tolist()
    assert np.any(model.train()(tg.ones(50, 3)).data == 0)


# ------------------------------------------------------------------ embedding
def test_embedding_init_forward_and_gradient_with_padding():
    tg.manual_seed(5)
    emb = nn.Embedding(6, 3, padding_idx=-2)  # negative: counts from the end -> 4
    want = np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32)
    want[4] = 0
    np.testing.assert_array_equal(emb.weight.data, want)  # N(0, 1) from the global generator
    assert emb.padding_idx == 4 and repr(emb) == "Embedding(6, 3, padding_idx=4)  # 18 parameters"
    emb.to(np.float64)
    emb.weight.data[4] = 7.0  # a changed padding row is still looked up as it is
    index = np.array([[0, 4, 2], [2, 4, 5]])
    out = emb(index)
    np.testing.assert_array_equal(out.data, emb.weight.data[index])
    (out * wave(out.shape)).sum().backward()
    expected = np.zeros((6, 3))
    np.add.at(expected, index, wave(out.shape))
    expected[4] = 0  # the padding row never receives a gradient
    np.testing.assert_allclose(emb.weight.grad.data, expected, rtol=1e-15)
    assert gradgradcheck(lambda w: F.embedding([1, 1, 3], w, padding_idx=3), [leaf(wave((5, 2)))])


def test_embedding_errors_name_the_layer_the_index_and_the_size():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index 12 is out of range for "
                                         r"num_embeddings=10"):
        emb([[1, 12]])
    with pytest.raises(IndexError, match="index -1 is out of range"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="indices must be integers, got dtype float"):
        emb(tg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="padding_idx=10 must lie within num_embeddings=10"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(IndexError, match="embedding: index 3 is out of range for "
                                         "num_embeddings=3"):
        F.embedding([3], tg.zeros(3, 2))


def test_embedding_from_pretrained_and_summary_with_indices():
    table = wave((4, 2))
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.weight.dtype == np.float64
    np.testing.assert_array_equal(emb([3, 0]).data, table[[3, 0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    rows = model.summary((5, 3)).rows  # an Embedding-first model gets int64 zeros
    assert [(r.kind, r.output_shape, r.num_params) for r in rows] == [
        ("Embedding", (5, 3, 4), 40), ("Flatten", (5, 12), 0), ("Linear", (5, 2), 26)]


# ------------------------------------------------------------------ LayerNorm
def np_layer_norm(x, axes, weight=None, bias=None, eps=1e-5):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)  # biased
    y = (x - mean) / np.sqrt(var + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


@pytest.mark.parametrize("normalized_shape, axes", [(4, (2,)), ((3, 4), (1, 2))])
def test_layer_norm_matches_the_formula(normalized_shape, axes):
    ln = nn.LayerNorm(normalized_shape, eps=1e-3).to(np.float64)
    shape = ln.weight.shape
    ln.weight.data[...] = wave(shape, 1)
    ln.bias.data[...] = wave(shape, 2)
    x = wave((2, 3, 4)) + 3
    want = np_layer_norm(x, axes, ln.weight.data, ln.bias.data, eps=1e-3)
    np.testing.assert_allclose(ln(leaf(x)).data, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(F.layer_norm(x, normalized_shape, eps=1e-3).data,
                               np_layer_norm(x, axes, eps=1e-3), rtol=1e-12, atol=1e-14)
    assert ln(np.float32(x)).dtype == np.float64  # float64 parameters promote, as in NumPy
    assert nn.LayerNorm(normalized_shape)(np.float32(x)).dtype == np.float32


@given(x=arrays((2, 4), min_value=-3, max_value=3))
def test_layer_norm_gradients_first_and_second_order(x):
    w, b = leaf(wave((4,), 1)), leaf(wave((4,), 2))
    fn = lambda x, w, b: F.layer_norm(x, (4,), w, b, eps=0.1)  # noqa: E731
    assert gradcheck(fn, [leaf(x), w, b]) and gradgradcheck(fn, [leaf(x), w, b])


def test_layer_norm_options_and_errors():
    assert list(nn.LayerNorm(3, elementwise_affine=False).parameters()) == []
    assert [n for n, _ in nn.LayerNorm(3, bias=False).named_parameters()] == ["weight"]
    assert repr(nn.LayerNorm(4)) == ("LayerNorm((4,), eps=1e-05, elementwise_affine=True)"
                                     "  # 8 parameters")
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4,\), .*\): normalized_shape=\(4,\) "
                                         r"needs an input of shape \(\*, 4\), got \(2, 5\)"):
        nn.LayerNorm(4)(tg.zeros(2, 5))
    with pytest.raises(ValueError, match="normalized_shape must be a positive int"):
        nn.LayerNorm(0)
    constant = nn.LayerNorm(3)(tg.ones(2, 3))  # zero variance: 0, not NaN (eps)
    assert np.all(constant.data == 0)


# ------------------------------------------------------------------ BatchNorm
def np_batch_norm_train(x, weight, bias, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    return np_layer_norm(x, axes, weight.reshape(view), bias.reshape(view), eps)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d, (5, 3)), (nn.BatchNorm1d, (4, 3, 2)),
                                          (nn.BatchNorm2d, (2, 3, 2, 2))])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batch_norm_running_statistics_follow_pytorch_over_several_steps(layer, shape, momentum):
    bn = layer(3, momentum=momentum).to(np.float64)
    bn.weight.data[...] = wave((3,), 1)
    bn.bias.data[...] = wave((3,), 2)
    axes = (0,) + tuple(range(2, len(shape)))
    n = math.prod(shape) // 3
    mean, var = np.zeros(3), np.ones(3)
    for step in range(1, 5):
        x = wave(shape, step) * step + step  # each batch has its own mean and spread
        out = bn(leaf(x))
        np.testing.assert_allclose(out.data, np_batch_norm_train(x, bn.weight.data,
                                                                 bn.bias.data), rtol=1e-12)
        factor = 1 / step if momentum is None else momentum  # None: cumulative average
        mean = (1 - factor) * mean + factor * x.mean(axis=axes)
        var = (1 - factor) * var + factor * x.var(axis=axes) * n / (n - 1)  # unbiased
        np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-13)
        np.testing.assert_allclose(bn.running_var.data, var, rtol=1e-13)
        assert bn.num_batches_tracked.data == step and bn.num_batches_tracked.dtype == np.int64
    bn.eval()  # eval: the running statistics, and no update
    x = wave(shape, 9)
    view = (1, 3) + (1,) * (len(shape) - 2)
    want = ((x - mean.reshape(view)) / np.sqrt(var.reshape(view) + 1e-5)
            * bn.weight.data.reshape(view) + bn.bias.data.reshape(view))
    np.testing.assert_allclose(bn(leaf(x)).data, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(bn.running_mean.data, mean, rtol=1e-13)
    assert bn.num_batches_tracked.data == 4


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradients_first_and_second_order(training):
    bn = nn.BatchNorm1d(2, eps=0.1).to(np.float64)
    bn.running_mean.data[...] = [0.5, -0.5]
    bn.running_var.data[...] = [2.0, 0.5]
    bn.train(training)
    fn = lambda x, w, b: F.batch_norm(x, bn.running_mean.data.copy(),  # noqa: E731
                                      bn.running_var.data.copy(), w, b, training=training, eps=0.1)
    inputs = [leaf(wave((3, 2, 2))), leaf(wave((2,), 1)), leaf(wave((2,), 2))]
    assert gradcheck(fn, inputs) and gradgradcheck(fn, inputs)
    x = leaf(wave((3, 2)))
    assert gradcheck(bn, [x]) and gradgradcheck(bn, [x])


def test_batch_norm_without_running_stats_or_affine():
    bn = nn.BatchNorm2d(2, affine=False, track_running_stats=False).to(np.float64)
    assert bn.running_mean is None and bn.num_batches_tracked is None
    assert list(bn.state_dict()) == [] and list(bn.parameters()) == []
    x = wave((2, 2, 3, 1))
    want = np_layer_norm(x, (0, 2, 3))
    np.testing.assert_allclose(bn.eval()(leaf(x)).data, want, rtol=1e-12)  # batch stats always
    functional = F.batch_norm(x, None, None, training=False)
    np.testing.assert_allclose(functional.data, want, rtol=1e-12)


def test_batch_norm_errors_name_the_layer_and_shapes_and_change_nothing():
    bn = nn.BatchNorm1d(3)
    bn(tg.randn(4, 3))
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    cases = [(tg.zeros(4, 5), r"BatchNorm1d\(3, eps=1e-05, momentum=0.1, affine=True, "
                              r"track_running_stats=True\) got an input of shape \(4, 5\); it "
                              r"expects \(N, 3\) or \(N, 3, L\)"),
             (tg.zeros(2, 3, 4, 4), r"got an input of shape \(2, 3, 4, 4\)"),
             (tg.zeros(3), r"got an input of shape \(3,\)"),
             (tg.zeros(1, 3), "expected more than 1 value per channel when training, got "
                              r"input of shape \(1, 3\)")]
    for x, message in cases:
        with pytest.raises(ValueError, match=message):
            bn(x)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3.*\(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(tg.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"batch_norm: running_var has shape \(2,\), but the "
                                         r"input of shape \(4, 3\) has 3 channels"):
        F.batch_norm(tg.zeros(4, 3), np.zeros(3), np.ones(2), training=True)
    for name, value in bn.state_dict().items():  # nothing was half-updated
        np.testing.assert_array_equal(value, before[name])
    assert bn.eval()(tg.zeros(1, 3)).shape == (1, 3)  # one sample is fine in eval mode
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum must lie in"):
        nn.BatchNorm1d(3, momentum=1.5)


def test_functional_batch_norm_updates_ndarrays_and_tensors_in_place():
    x = wave((6, 2))
    mean, var = np.zeros(2), tg.ones(2, dtype=np.float64)
    F.batch_norm(x, mean, var, training=True, momentum=0.5)
    np.testing.assert_allclose(mean, 0.5 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(var.data, 0.5 + 0.5 * x.var(axis=0, ddof=1), rtol=1e-14)
