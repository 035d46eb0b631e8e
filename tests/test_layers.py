"""tg.nn layers beyond MLPs: buffers, containers, activations, Dropout, Embedding, LayerNorm,
BatchNorm -- each against its formula written out in NumPy (float64), gradients to second
order, train/eval behaviour, running statistics, state dicts (also PyTorch's), errors."""
import math

import numpy as np
import pytest
from hypothesis import assume, given

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


# -------------------------------------------------------------------- buffers
class Counter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.register_buffer("scale", np.full(2, 2.0))
        self.register_buffer("steps", np.zeros((), np.int64))
        self.register_buffer("cache", tg.zeros(3), persistent=False)

    def forward(self, x):
        self.steps.data += 1
        return self.fc(x) * self.scale


def test_buffers_are_registered_state_not_parameters():
    model = nn.Sequential(Counter(), nn.BatchNorm1d(2))
    assert [n for n, _ in model.named_buffers()] == [
        "0.scale", "0.steps", "0.cache", "1.running_mean", "1.running_var",
        "1.num_batches_tracked"]
    assert len(list(model.buffers())) == 6 and len(list(model[0].buffers(recurse=False))) == 3
    assert all(not b.requires_grad for b in model.buffers())
    assert {id(p) for p in model.parameters()}.isdisjoint(id(b) for b in model.buffers())
    assert list(model.state_dict()) == [  # per module: parameters, persistent buffers, children
        "0.scale", "0.steps", "0.fc.weight", "0.fc.bias", "1.weight", "1.bias",
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    out = model(tg.ones(3, 2))
    out.sum().backward()
    assert model[0].steps.item() == 1 and model[0].scale.grad is None
    assert model.num_parameters() == 6 + 4  # buffers are not counted


def test_buffer_assignment_deletion_and_errors():
    m = Counter()
    m.scale = np.array([3.0, 4.0])  # re-assigning keeps it a buffer
    assert isinstance(m.scale, tg.Tensor) and "scale" in m.state_dict()
    kept = tg.tensor([5.0, 6.0])
    m.scale = kept
    assert m.scale is kept  # a Tensor is kept as it is, not copied
    m.scale = None
    assert "scale" not in m.state_dict() and m.scale is None
    del m.steps
    assert "steps" not in dict(m.named_buffers()) and not hasattr(m, "steps")
    with pytest.raises(TypeError, match="buffer 'b' of Counter: a buffer holds state without "
                                        "gradient, but this Tensor requires grad"):
        m.register_buffer("b", tg.zeros(2, requires_grad=True))
    with pytest.raises(TypeError, match="a buffer holds state without gradient"):
        m.cache = nn.Parameter(np.zeros(2)).requires_grad_(True) * 1
    with pytest.raises(KeyError, match="must be non-empty and contain no '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(KeyError, match="Counter already has an attribute 'fc'"):
        m.register_buffer("fc", np.zeros(1))
    with pytest.raises(KeyError, match="already has an attribute 'train'"):
        m.register_buffer("train", np.zeros(1))
    with pytest.raises(TypeError, match="name must be a str"):
        m.register_buffer(1, np.zeros(1))

    class Early(nn.Module):
        def __init__(self) -> None:
            self.register_buffer("x", np.zeros(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) ran"):
        Early()


def test_to_casts_parameters_and_float_buffers_but_keeps_integer_buffers():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))
    param = model[0].weight
    model(tg.randn(4, 2)).sum().backward()
    assert model.to(np.float64) is model
    assert isinstance(param, nn.Parameter) and param is model[0].weight  # cast in place
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model[1].running_mean.dtype == np.float64 and model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64 and model[1].num_batches_tracked == 1
    with pytest.raises(TypeError, match="must stay floating-point"):
        model.to(np.int32)


def test_state_dict_round_trip_with_buffers_through_a_weights_file(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.LayerNorm(4))
    for _ in range(3):
        model(tg.randn(8, 3))
    tg.save(model.state_dict(), tmp_path / "bn.npz")
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.LayerNorm(4))
    fresh.load_state_dict(tg.load(tmp_path / "bn.npz"))
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(),
                                 strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype
    assert fresh[1].num_batches_tracked.item() == 3
    x = tg.randn(5, 3)
    np.testing.assert_array_equal(model.eval()(x).data, fresh.eval()(x).data)


def test_load_state_dict_checks_buffers_and_loads_nothing_on_any_error():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    before = model.state_dict()
    for edit, message in [
        (lambda s: s.update({"1.running_mean": np.zeros(4)}),
         r"'1.running_mean': shape \(4,\) in the state dict, but the model's buffer has shape"),
        (lambda s: s.update({"1.num_batches_tracked": np.array(2.5)}),
         "'1.num_batches_tracked': dtype float64 cannot be cast to the buffer's dtype int64"),
        (lambda s: s.pop("1.running_var"), "missing keys: '1.running_var'"),
    ]:
        state = {k: v + 1 for k, v in before.items()}
        edit(state)
        with pytest.raises(RuntimeError, match=message):
            model.load_state_dict(state)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name], err_msg=name)
    state = {k: v + 1 for k, v in before.items()}
    model.load_state_dict(state)
    assert model[1].num_batches_tracked.item() == 1
    np.testing.assert_array_equal(model[1].running_var.data, 2.0)
    skipped = model.load_state_dict({"0.weight": before["0.weight"]}, strict=False)
    assert "1.running_mean" in skipped.missing_keys


def test_parameter_is_a_tensor_that_requires_grad_and_is_cast_by_to():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:")
    m = nn.Module()
    m.w = p
    m.to(np.float64)
    assert m.w is p and p.dtype == np.float64 and list(m.parameters()) == [p]


# ----------------------------------------------------------------- containers
def test_module_list_behaves_like_a_list_with_pytorch_names():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    layers.append(nn.Linear(2, 3)).extend([nn.Tanh()])
    layers.insert(1, nn.SiLU())
    assert [type(m).__name__ for m in layers] == ["Linear", "SiLU", "ReLU", "Linear", "Tanh"]
    assert list(dict(layers.named_children())) == ["0", "1", "2", "3", "4"]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "3.weight",
                                                         "3.bias"]
    assert isinstance(layers[-1], nn.Tanh) and len(layers) == 5
    part = layers[1:4]
    assert isinstance(part, nn.ModuleList) and list(dict(part.named_children())) == ["0", "1",
                                                                                     "2"]
    layers[1] = nn.GELU()
    del layers[0]
    assert [type(m).__name__ for m in layers] == ["GELU", "ReLU", "Linear", "Tanh"]
    assert list(dict(layers.named_children())) == ["0", "1", "2", "3"]
    layers += [nn.ELU()]
    assert len(layers + nn.ModuleList([nn.ReLU()])) == 6
    with pytest.raises(IndexError, match="ModuleList index 9 out of range for 5 modules"):
        layers[9]
    with pytest.raises(TypeError, match="holds Modules, got type"):
        layers.append(nn.ReLU)
    with pytest.raises(TypeError, match="use append for one module"):
        layers.extend(nn.Linear(1, 1))
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        layers(tg.zeros(1))


def test_module_dict_behaves_like_a_dict():
    heads = nn.ModuleDict({"score": nn.Linear(4, 1)})
    heads.update([("act", nn.ReLU())])
    heads["norm"] = nn.LayerNorm(4)
    assert list(heads) == ["score", "act", "norm"] == heads.keys()
    assert "act" in heads and len(heads) == 3 and isinstance(heads["norm"], nn.LayerNorm)
    assert [k for k, _ in heads.items()] == heads.keys() and len(heads.values()) == 3
    assert [n for n, _ in heads.named_parameters()] == ["score.weight", "score.bias",
                                                        "norm.weight", "norm.bias"]
    assert isinstance(heads.pop("act"), nn.ReLU) and "act" not in heads
    del heads["score"]
    assert heads.keys() == ["norm"]
    with pytest.raises(KeyError, match=r"ModuleDict has no module 'score'; keys: \['norm'\]"):
        heads["score"]
    with pytest.raises(KeyError, match="already has an attribute 'train'"):
        heads["train"] = nn.ReLU()
    with pytest.raises(KeyError, match="contain no '.'"):
        heads["a.b"] = nn.ReLU()
    heads.clear()
    assert len(heads) == 0


def test_flatten_and_identity():
    x = leaf(wave((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-3, -2)(x).shape == (2, 12, 5)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.data.reshape(2, 60))
    assert gradcheck(nn.Flatten(), [leaf(wave((2, 2, 2)))])
    with pytest.raises(IndexError, match=r"Flatten\(start_dim=1, end_dim=-1\): dimension 1 is "
                                         r"out of range for an input of shape \(3,\)"):
        nn.Flatten()(tg.zeros(3))
    with pytest.raises(ValueError, match="start_dim 2 comes after end_dim 1"):
        nn.Flatten(2, 1)(x)
    assert nn.Identity(54, unused=0.1)(x) is x  # arguments ignored, as in PyTorch


# ------------------------------------------------------------ summary and viz
def test_summary_shows_every_new_layer_and_leaves_the_model_as_it_was():
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(4, 6), nn.BatchNorm1d(6)])
            self.acts = nn.ModuleDict({"leaky": nn.LeakyReLU(), "gelu": nn.GELU()})
            self.rest = nn.Sequential(nn.SiLU(), nn.ELU(), nn.Softplus(), nn.Dropout(0.5),
                                      nn.LayerNorm(6), nn.Flatten(0), nn.Identity())

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return self.rest(self.acts["gelu"](self.acts["leaky"](x)))

    net = Net()
    result = net.summary((3, 4))
    rows = [(r.name, r.kind, r.output_shape, r.num_params) for r in result.rows]
    assert rows == [("blocks.0", "Linear", (3, 6), 30), ("blocks.1", "BatchNorm1d", (3, 6), 12),
                    ("acts.leaky", "LeakyReLU", (3, 6), 0), ("acts.gelu", "GELU", (3, 6), 0),
                    ("rest.0", "SiLU", (3, 6), 0), ("rest.1", "ELU", (3, 6), 0),
                    ("rest.2", "Softplus", (3, 6), 0), ("rest.3", "Dropout", (3, 6), 0),
                    ("rest.4", "LayerNorm", (3, 6), 12), ("rest.5", "Flatten", (18,), 0),
                    ("rest.6", "Identity", (18,), 0)]
    assert result.total_params == 54 and "Total params: 54" in str(result)
    assert net.training and net.blocks[1].training  # modes restored
    assert net.blocks[1].num_batches_tracked.item() == 0  # ran in eval mode: no update
    np.testing.assert_array_equal(net.blocks[1].running_mean.data, 0)


def test_viz_names_a_buffer_used_in_the_graph_like_a_parameter():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
    model.eval()
    loss = model(tg.randn(5, 3)).sum()
    with_model = tg.viz.draw_graph(loss, model).source
    line = next(ln for ln in with_model.splitlines() if "1.running_mean" in ln)
    assert 'class="const"' in line
    cluster = with_model[with_model.index("subgraph cluster_1"):]
    assert "1.running_mean" in cluster[:cluster.index("}")]  # drawn in its module's cluster
    assert "1.running_mean" in tg.viz.draw_graph(loss).source  # found in the live model
    collapsed = tg.viz.draw_graph(loss, model, collapse=True).source
    assert "running_mean" not in collapsed  # part of the BatchNorm box, as its parameters
    model.train()
    loss = model(tg.randn(5, 3)).sum()
    assert "running_mean" not in tg.viz.draw_graph(loss, model).source  # batch stats instead


# ---------------------------------------------------- a PyTorch state_dict loads
# Written from torch 2.13 in float64 (torch.manual_seed(0) init; LayerNorm and BatchNorm
# affine set to wave(...); three training forwards on wave((5, 3), k), k = 0, 1, 2):
#   {k: v.numpy() for k, v in model.state_dict().items()} and the outputs below.
MLP_STATE = {
    "0.weight": np.array(
        [
            [0.5427704542528101, 0.23996970930833816, -0.046900537438113156],
            [0.48583757737745076, 0.16745942958373372, 0.3361886278485809],
            [-0.3711136225274597, -0.17192610627289662, 0.09392440389406982],
            [-0.24452412935978926, -0.05442236557141126, -0.3731997610970005],
        ]
    ),
    "0.bias": np.array(
        [-0.1671235520669772, 0.14076405628150718, -0.02095966138980555, -0.06835769562526114]
    ),
    "1.weight": np.array(
        [0.8242369704835132, -1.535371619527165, -1.6456571899374177, 0.6549488782753861]
    ),
    "1.bias": np.array(
        [-1.0880422217787395, -1.908038499804178, 0.06724609444227339, 1.9440150027899519]
    ),
    "1.running_mean": np.array(
        [-0.04931065375892101, 0.042358022564536385, -0.001655834911397514, -0.0247796811954009]
    ),
    "1.running_var": np.array(
        [1.044902702910516, 0.8443078505828951, 0.9078883160519348, 0.7712529872367747]
    ),
    "1.num_batches_tracked": np.array(3, np.int64),
    "3.weight": np.array(
        [1.3139731974375781, 1.8043436675125866, -0.3486535624459593, -1.9908725066127548]
    ),
    "3.bias": np.array(
        [1.9787164932467636, 0.2489088470141234, -1.8455508432256131, -1.2362742244740665]
    ),
    "4.weight": np.array(
        [
            [-0.09271842563555842, -0.29456140653841284, 0.16503817575014942, 0.2848739004551177],
            [-0.2896335250816154, 0.17673912091767904, -0.3902647397625539, 0.02375205940224345],
        ]
    ),
    "4.bias": np.array([-0.27397979706160946, 0.05824307538022577]),
}
MLP_EVAL_OUT = np.array(
    [[-1.7571859278368844, 0.0659317051242474], [-1.649694124266249, 0.18751751818558438]]
)
MLP_TRAIN_OUT = np.array(
    [
        [-1.7278961024193529, 0.271637907209336],
        [-1.8319356814964483, 0.153842281643493],
        [-1.0037254031886704, 0.38209928424018474],
        [-1.7438172986649247, 0.06324141872321912],
    ]
)
MLP_RUNNING_AFTER = {
    "1.running_mean": np.array(
        [-0.07553859119952619, 0.05720367016167123, 0.009222203832809821, -0.0412037889497633]
    ),
    "1.running_var": np.array(
        [1.0640551247357062, 0.8067016041747157, 0.8861454270632708, 0.708764529155519]
    ),
    "1.num_batches_tracked": np.array(4, np.int64),
}
EMB_BN2D_STATE = {
    "emb.weight": np.array(
        [
            [-1.3218818291421377, 1.3148113651971234, 0.4604689979691664],
            [0.0, 0.0, 0.0],
            [-3.1452962731231335, -0.11373127757597257, 1.6962024805143952],
            [-0.6652034805381666, 1.154696227582466, -0.0860751366873787],
            [-1.96124168414333, 0.22092437177232177, -1.3809366518587674],
            [-2.0547510174380235, 0.04757655385024031, -0.3855687975933702],
        ]
    ),
    "bn.weight": np.array([1.0, 1.0]),
    "bn.bias": np.array([0.0, 0.0]),
    "bn.running_mean": np.array([-0.015054046660141254, -0.005223301254252693]),
    "bn.running_var": np.array([2.1591243320629334, 2.199524908313788]),
    "bn.num_batches_tracked": np.array(2, np.int64),
}
EMB_OUT = np.array(
    [
        [
            [-1.3218818291421377, 1.3148113651971234, 0.4604689979691664],
            [0.0, 0.0, 0.0],
            [-2.0547510174380235, 0.04757655385024031, -0.3855687975933702],
        ],
        [
            [0.0, 0.0, 0.0],
            [-0.6652034805381666, 1.154696227582466, -0.0860751366873787],
            [-0.6652034805381666, 1.154696227582466, -0.0860751366873787],
        ],
    ]
)
BN2D_EVAL_OUT = np.array(
    [
        [
            [[-1.334565211957775, -0.1471894411210958], [1.2708282053656226, 0.8420885533373282]],
            [[-0.8045022916375937, -1.2529376921475412], [0.13934318459053033, 1.3326455923881826]],
        ],
        [
            [[0.5908588281442508, -1.0206289147440883], [-1.1218839068736537, 0.435432652440575]],
            [[1.3505809241134645, 0.302930688226264], [-1.183354092672465, -0.9308627325711963]],
        ],
    ]
)


def torch_like_mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.GELU(), nn.LayerNorm(4),
                         nn.Linear(4, 2)).to(np.float64)


def test_a_pytorch_state_dict_loads_and_gives_pytorch_outputs():
    model = torch_like_mlp()
    model.load_state_dict(MLP_STATE)
    assert model[1].num_batches_tracked.item() == 3
    model.eval()
    np.testing.assert_allclose(model(wave((2, 3), 5)).data, MLP_EVAL_OUT, rtol=1e-12)
    model.train()
    np.testing.assert_allclose(model(wave((4, 3), 6)).data, MLP_TRAIN_OUT, rtol=1e-12)
    state = model.state_dict()
    for name, value in MLP_RUNNING_AFTER.items():
        np.testing.assert_allclose(state[name], value, rtol=1e-13, err_msg=name)


def test_a_pytorch_embedding_and_batchnorm2d_state_loads():
    model = nn.Module()
    model.emb = nn.Embedding(6, 3, padding_idx=1)
    model.bn = nn.BatchNorm2d(2, momentum=None)
    model.to(np.float64).load_state_dict(EMB_BN2D_STATE)
    np.testing.assert_array_equal(model.emb([[0, 1, 5], [1, 3, 3]]).data, EMB_OUT)
    model.eval()
    np.testing.assert_allclose(model.bn(wave((2, 2, 2, 2), 30)).data, BN2D_EVAL_OUT, rtol=1e-12)
    # the same running statistics from scratch: momentum=None averages the two batches
    fresh = nn.BatchNorm2d(2, momentum=None).to(np.float64)
    for k in range(2):
        fresh(wave((3, 2, 2, 2), 20 + k))
    for name, value in fresh.state_dict().items():
        np.testing.assert_allclose(value, EMB_BN2D_STATE["bn." + name], rtol=1e-13)


def test_dropout_gradient_with_a_fixed_mask_passes_gradcheck():
    def fn(x):
        tg.manual_seed(11)  # the same mask on every call
        return F.dropout(x, 0.4)

    assert gradcheck(fn, [leaf(wave((3, 4)))]) and gradgradcheck(fn, [leaf(wave((3, 4)))])
