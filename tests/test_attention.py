"""Attention: scaled_dot_product_attention, MultiheadAttention and TransformerEncoderLayer
against NumPy formulas written out, against PyTorch's outputs for a converted state dict,
gradients to first and second order, masks, dropout and errors."""
import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F
from tinygrad_np.testing import gradcheck, gradgradcheck

from pattern_weights import data, load_pattern  # tests/pattern_weights.py

F64 = np.float64


# ------------------------------------------------------------------ NumPy, written out
def np_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_sdpa(q, k, v, keep=None, add=None, scale=None):
    """softmax(q k^T scale + mask) v; rows with no key kept give zeros."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if add is not None:
        s = s + add
    if keep is not None:
        s = np.where(keep, s, -np.inf)
    dead = np.all(np.isneginf(s), axis=-1, keepdims=True)
    w = np_softmax(np.where(dead, 0.0, s))
    w = np.where(dead, 0.0, w)
    return w @ v, w


def np_mha(module, q, k, v, keep=None, add=None):
    """MultiheadAttention on (L, N, E) inputs in NumPy; returns (out, head-averaged weights)."""
    e, h = module.embed_dim, module.num_heads
    w, b = module.in_proj_weight.data, module.in_proj_bias.data
    proj = [x.swapaxes(0, 1) @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]
            for i, x in enumerate((q, k, v))]  # (N, L, E)
    heads = [p.reshape(p.shape[0], p.shape[1], h, e // h).transpose(0, 2, 1, 3) for p in proj]
    out, weights = np_sdpa(*heads, keep=keep, add=add)
    out = out.transpose(0, 2, 1, 3).reshape(q.shape[1], q.shape[0], e)
    out = out @ module.out_proj.weight.data.T + module.out_proj.bias.data
    return out.swapaxes(0, 1), weights.mean(axis=1)


def np_layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def np_encoder(layer, x, keep=None):
    p = {n: t.data for n, t in layer.named_parameters()}
    attn = np_mha(layer.self_attn, x, x, x, keep=keep)[0]
    x = np_layer_norm(x + attn, p["norm1.weight"], p["norm1.bias"])
    ff = np.maximum(x @ p["linear1.weight"].T + p["linear1.bias"], 0)
    ff = ff @ p["linear2.weight"].T + p["linear2.bias"]
    return np_layer_norm(x + ff, p["norm2.weight"], p["norm2.bias"])


# ------------------------------------------------------------------ scaled_dot_product_attention
RNG = np.random.default_rng(0)
Q, K, V = RNG.standard_normal((2, 3, 4, 5)), RNG.standard_normal((2, 3, 6, 5)), \
    RNG.standard_normal((2, 3, 6, 7))
BOOL_MASK = RNG.random((4, 6)) > 0.4
FLOAT_MASK = RNG.standard_normal((3, 1, 6))


@pytest.mark.parametrize(("options", "keep", "add"), [
    ({}, None, None),
    ({"scale": 0.3}, None, None),
    ({"is_causal": True}, np.tril(np.ones((4, 6), bool)), None),
    ({"attn_mask": BOOL_MASK}, BOOL_MASK, None),
    ({"attn_mask": FLOAT_MASK}, None, FLOAT_MASK),
], ids=["plain", "scale", "causal", "bool mask", "float mask"])
def test_sdpa_matches_the_formula_written_out(options, keep, add):
    out = F.scaled_dot_product_attention(Q, K, V, **options)
    want, _ = np_sdpa(Q, K, V, keep=keep, add=add, scale=options.get("scale"))
    assert out.shape == (2, 3, 4, 7)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-14)


def test_sdpa_batch_axes_broadcast_and_float32_stays_float32():
    q = tg.randn(2, 1, 4, 8)
    k, v = tg.randn(3, 5, 8), tg.randn(3, 5, 8)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    assert out.shape == (2, 3, 4, 8) and out.dtype == np.float32
    want, _ = np_sdpa(q.data.astype(F64), k.data.astype(F64), v.data.astype(F64))
    np.testing.assert_allclose(out.data, want, rtol=1e-5, atol=1e-6)


def test_a_query_with_every_key_masked_gets_zeros_and_finite_gradients():
    q, k, v = (tg.tensor(a, requires_grad=True) for a in (Q[0, 0], K[0, 0], V[0, 0]))
    mask = np.ones((4, 6), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out.data[1], 0)
    assert np.all(np.isfinite(out.data))
    out.sum().backward()
    assert all(np.all(np.isfinite(t.grad.data)) for t in (q, k, v))
    np.testing.assert_array_equal(q.grad.data[1], 0)
    float_mask = np.where(mask, 0.0, -np.inf)
    same = F.scaled_dot_product_attention(Q[0, 0], K[0, 0], V[0, 0], attn_mask=float_mask)
    np.testing.assert_allclose(same.data, out.data, rtol=1e-13)


def test_sdpa_gradients_first_and_second_order():
    rng = np.random.default_rng(1)
    q, k, v = (tg.tensor(rng.standard_normal(s), requires_grad=True)
               for s in ((2, 3, 2), (2, 4, 2), (2, 4, 3)))
    mask = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    for fn in (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m),
               lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, is_causal=True)
               * m.sum()):
        assert gradcheck(fn, [q, k, v, mask])
        assert gradgradcheck(fn, [q, k, v, mask])


def test_sdpa_dropout_drops_weights_with_the_seeded_generator():
    q = np.ones((1, 200, 4))
    v = np.random.default_rng(0).standard_normal((1, 200, 4))
    tg.manual_seed(0)
    a = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    tg.manual_seed(0)
    b = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.data, b.data)
    plain = F.scaled_dot_product_attention(q, q, v)
    assert not np.allclose(a.data, plain.data)
    # inverted dropout keeps the expected value: averaged over queries it is close
    np.testing.assert_allclose(a.data.mean(axis=1), plain.data.mean(axis=1), atol=0.05)
    np.testing.assert_array_equal(F.scaled_dot_product_attention(q, q, v, dropout_p=1.0).data, 0)


def test_sdpa_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"query of shape \(2, 3, 4, 5\) and key of shape "
                                         r"\(2, 3, 6, 4\)"):
        F.scaled_dot_product_attention(Q, K[..., :4], V)
    with pytest.raises(ValueError, match=r"key of shape \(2, 3, 6, 5\) and value of shape "
                                         r"\(2, 3, 5, 7\)"):
        F.scaled_dot_product_attention(Q, K, V[:, :, :5])
    with pytest.raises(ValueError, match=r"mask of shape \(4, 5\) does not broadcast to the "
                                         r"attention weights' shape \(2, 3, 4, 6\)"):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match="not both"):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=BOOL_MASK, is_causal=True)
    with pytest.raises(TypeError, match="bool .* or float"):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((4, 6), int))
    with pytest.raises(ValueError, match="at least 2 axes"):
        F.scaled_dot_product_attention(Q[0, 0, 0], K, V)
    with pytest.raises(ValueError, match=r"dropout_p must be in \[0, 1\]"):
        F.scaled_dot_product_attention(Q, K, V, dropout_p=2)


# ------------------------------------------------------------------ MultiheadAttention
def test_mha_matches_the_formula_written_out_with_every_mask():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dtype=F64)
    with tg.no_grad():  # nonzero biases, so every term is exercised
        mha.in_proj_bias.data[...] = np.linspace(-1, 1, 24)
        mha.out_proj.bias.data[...] = np.linspace(1, -1, 8)
    rng = np.random.default_rng(2)
    q, k, v = rng.standard_normal((4, 3, 8)), rng.standard_normal((5, 3, 8)), \
        rng.standard_normal((5, 3, 8))
    out, w = mha(q, k, v)
    want_out, want_w = np_mha(mha, q, k, v)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w.data, want_w, rtol=1e-12, atol=1e-13)
    # bool attn_mask: True = not allowed; key_padding_mask: True = ignore
    attn = rng.random((4, 5)) > 0.7
    pad = np.zeros((3, 5), bool)
    pad[1, 3:] = True
    keep = ~attn & ~pad[:, None, None, :]
    out, w = mha(q, k, v, attn_mask=attn, key_padding_mask=pad)
    want_out, want_w = np_mha(mha, q, k, v, keep=keep)
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(w.data, want_w, rtol=1e-12, atol=1e-13)
    # float masks add; per-head (N * heads, L, S) masks; per-head weights
    add = rng.standard_normal((6, 4, 5))
    out, w = mha(q, k, v, attn_mask=add, average_attn_weights=False)
    want_out, _ = np_mha(mha, q, k, v, add=add.reshape(3, 2, 4, 5))
    np.testing.assert_allclose(out.data, want_out, rtol=1e-12, atol=1e-13)
    assert w.shape == (3, 2, 4, 5)
    np.testing.assert_allclose(w.data.sum(-1), 1, rtol=1e-12)
    assert mha(q, k, v, need_weights=False)[1] is None


def test_mha_layouts_batch_first_unbatched_and_causal_give_the_same_numbers():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 4, dtype=F64)
    x = np.random.default_rng(3).standard_normal((5, 2, 8))
    out, w = mha(x, x, x, is_causal=True)
    causal = ~np.tril(np.ones((5, 5), bool))
    same, same_w = mha(x, x, x, attn_mask=causal)
    np.testing.assert_allclose(out.data, same.data, rtol=1e-13)
    np.testing.assert_allclose(np.triu(w.data[0], 1), 0)
    first = nn.MultiheadAttention(8, 4, batch_first=True, dtype=F64)
    first.load_state_dict(mha.state_dict())
    xb = x.swapaxes(0, 1)
    out_b, w_b = first(xb, xb, xb, is_causal=True)
    np.testing.assert_allclose(out_b.data, out.data.swapaxes(0, 1), rtol=1e-13)
    np.testing.assert_allclose(w_b.data, w.data, rtol=1e-13)
    single, single_w = mha(x[:, 1], x[:, 1], x[:, 1], is_causal=True)
    assert single.shape == (5, 8) and single_w.shape == (5, 5)
    np.testing.assert_allclose(single.data, out.data[:, 1], rtol=1e-13)


def test_mha_has_pytorchs_parameters_and_init():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    assert [(n, p.shape) for n, p in mha.named_parameters()] == [
        ("in_proj_weight", (48, 16)), ("in_proj_bias", (48,)), ("out_proj.weight", (16, 16)),
        ("out_proj.bias", (16,))]
    assert isinstance(mha.out_proj, nn.Linear)
    bound = np.sqrt(6 / (16 + 48))  # xavier_uniform_ of (3E, E)
    assert bound * 0.9 < np.abs(mha.in_proj_weight.data).max() <= bound
    assert not mha.in_proj_bias.data.any() and not mha.out_proj.bias.data.any()
    assert [n for n, _ in nn.MultiheadAttention(8, 2, bias=False).named_parameters()] == [
        "in_proj_weight", "out_proj.weight"]


def test_mha_gradients_first_and_second_order():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(4, 2, dtype=F64)
    rng = np.random.default_rng(4)
    q, k = (tg.tensor(rng.standard_normal(s), requires_grad=True) for s in ((3, 2, 4), (2, 2, 4)))
    pad = np.array([[False, False], [False, True]])

    def fn(q, k):
        return mha(q, k, k, key_padding_mask=pad)

    assert gradcheck(fn, [q, k])
    assert gradgradcheck(fn, [q, k])


def test_mha_dropout_in_training_only():
    tg.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, dropout=0.5, dtype=F64)
    x = np.random.default_rng(5).standard_normal((6, 2, 8))
    a = mha(x, x, x)[0].data
    mha.eval()
    b = mha(x, x, x)[0].data
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(b, mha(x, x, x)[0].data)


def test_mha_errors_name_the_layer_and_the_shapes():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        nn.MultiheadAttention(10, 4)
    mha = nn.MultiheadAttention(8, 2)
    x = tg.zeros(5, 3, 8)
    with pytest.raises(ValueError, match=r"MultiheadAttention\(8, 2\): query of shape "
                                         r"\(5, 3, 6\)"):
        mha(tg.zeros(5, 3, 6), x, x)
    with pytest.raises(ValueError, match=r"attn_mask of shape \(5, 4\) must be \(L, S\) = "
                                         r"\(5, 5\) or \(N \* num_heads, L, S\) = \(6, 5, 5\)"):
        mha(x, x, x, attn_mask=np.zeros((5, 4), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(5, 3\) must be "
                                         r"\(N, S\) = \(3, 5\)"):
        mha(x, x, x, key_padding_mask=np.zeros((5, 3), bool))
    with pytest.raises(ValueError, match="same batch size"):
        mha(x, tg.zeros(5, 2, 8), tg.zeros(5, 2, 8))
    with pytest.raises(ValueError, match="same sequence length"):
        mha(x, x, tg.zeros(4, 3, 8))


# ------------------------------------------------------------------ TransformerEncoderLayer
def test_encoder_layer_matches_the_formula_written_out():
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, dtype=F64)
    x = np.random.default_rng(6).standard_normal((5, 3, 8))
    causal = ~np.tril(np.ones((5, 5), bool))
    np.testing.assert_allclose(layer(x, src_mask=causal).data,
                               np_encoder(layer, x, keep=~causal), rtol=1e-11, atol=1e-12)
    first = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                       dtype=F64)
    first.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(first(x.swapaxes(0, 1)).data.swapaxes(0, 1),
                               np_encoder(layer, x), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"norm_first": True, "activation": "gelu"}])
def test_encoder_layer_gradients_first_and_second_order(options):
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=4, dropout=0.0, dtype=F64,
                                       **options)
    x = tg.tensor(np.random.default_rng(7).standard_normal((3, 2, 4)), requires_grad=True)
    assert gradcheck(lambda x: layer(x, is_causal=True), [x])
    assert gradgradcheck(lambda x: layer(x, is_causal=True), [x])


def test_encoder_layer_trains_in_float32_with_every_parameter_reached():
    tg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
    assert [n for n, _ in layer.named_parameters()] == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
        "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight",
        "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    x = tg.randn(6, 2, 16)
    out = layer(x)
    assert out.dtype == np.float32 and out.shape == (6, 2, 16)
    (out * out).mean().backward()
    assert all(p.grad is not None and p.grad.dtype == np.float32 for p in layer.parameters())
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(16, 4, activation="tanh")
    custom = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, activation=F.tanh)
    assert custom(x).shape == (6, 2, 16)


# ------------------------------------------------------------------ PyTorch's own numbers
# torch.nn.MultiheadAttention(4, 2), the state dict filled with pattern(shape, i) in
# state-dict order; query data((3, 2, 4)), key data((5, 2, 4), 1), value data((5, 2, 4), 2),
# attn_mask float (3, 5): 0 except [0, 3:] = -inf and [1, 1] = 0.5; key_padding_mask bool
# with batch 1's last key padded.
MHA_KEYS = [('in_proj_weight', (12, 4)), ('in_proj_bias', (12,)), ('out_proj.weight', (4, 4)),
            ('out_proj.bias', (4,))]
MHA_OUT = np.array([
    -0.3118404975, 0.3484107127, 0.1844492506, -0.7890897179, -0.4721200359, 0.587441477,
    0.3880754044, -0.9911942539, -0.3310218423, 0.4170386891, 0.2160758157, -0.8519824302,
    -0.5014522373, 0.5329297037, 0.4075222638, -0.9331559239, -0.4155628991, 0.4652286639,
    0.3093557991, -0.8832567098, -0.3981040046, 0.4136699989, 0.2825470887, -0.8365596234,
]).reshape((3, 2, 4))
MHA_W = np.array([
    0.1582103705, 0.4766930123, 0.3650966172, 0, 0, 0.06960785123,
    0.5155299438, 0.3056001615, 0.06446650172, 0.04479554178, 0.1993311095, 0.1223316291,
    0.1509036728, 0.2501265646, 0.2773070241, 0.2091313882, 0.6107129759, 0.1801556359,
    0, 0, 0.1625589692, 0.4523769865, 0.2231473676, 0.1619166766,
    0, 0.1152124811, 0.05697339995, 0.1706834427, 0.6571306762, 0,
]).reshape((2, 3, 5))

# torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0) (relu, post-norm) and with
# activation="gelu", norm_first=True; input data((3, 2, 4)), src_mask the causal float mask
# of Transformer.generate_square_subsequent_mask(3).
ENC_RELU_KEYS = [('self_attn.in_proj_weight', (12, 4)), ('self_attn.in_proj_bias', (12,)),
                 ('self_attn.out_proj.weight', (4, 4)), ('self_attn.out_proj.bias', (4,)),
                 ('linear1.weight', (6, 4)), ('linear1.bias', (6,)), ('linear2.weight', (4, 6)),
                 ('linear2.bias', (4,)), ('norm1.weight', (4,)), ('norm1.bias', (4,)),
                 ('norm2.weight', (4,)), ('norm2.bias', (4,))]
ENC_RELU_OUT = np.array([
    -0.7873171449, -0.8424606871, 0.04033075018, 0.3474892594, -0.1924298922, -0.9304314203,
    -0.769009917, 0.1999937084, -0.3983378107, -1.119811825, -0.3052416106, 0.3319020369,
    -0.7168603851, -0.9077680869, -0.1241702749, 0.4677741517, -0.05799606894, -0.8833458844,
    -0.6293854785, -0.2465754168, -0.7471839565, -0.8949319415, -0.00650466304, 0.386597453,
]).reshape((3, 2, 4))
ENC_GELU_NORM_FIRST_KEYS = [('self_attn.in_proj_weight', (12, 4)),
                            ('self_attn.in_proj_bias', (12,)),
                            ('self_attn.out_proj.weight', (4, 4)),
                            ('self_attn.out_proj.bias', (4,)), ('linear1.weight', (6, 4)),
                            ('linear1.bias', (6,)), ('linear2.weight', (4, 6)),
                            ('linear2.bias', (4,)), ('norm1.weight', (4,)), ('norm1.bias', (4,)),
                            ('norm2.weight', (4,)), ('norm2.bias', (4,))]
ENC_GELU_NORM_FIRST_OUT = np.array([
    1.322393684, 1.395056958, 1.056698413, -0.1652339671, -0.4320822872, -0.2788586917,
    -0.1672580393, -0.4025443866, 0.5576223931, 1.400925249, 1.608059796, 0.9661608502,
    0.7977526312, 0.5458465739, 0.1254410494, -0.9302124401, -0.5501627003, 0.1669605007,
    0.5833303348, 0.6041353073, 1.256706337, 1.586378586, 1.371417461, 0.1792181663,
]).reshape((3, 2, 4))


def test_pytorch_state_dicts_load_and_give_pytorchs_outputs():
    mha = load_pattern(nn.MultiheadAttention(4, 2, dtype=F64), MHA_KEYS)
    attn = np.zeros((3, 5))
    attn[0, 3:] = -np.inf
    attn[1, 1] = 0.5
    pad = np.array([[False] * 5, [False] * 4 + [True]])
    out, w = mha(data((3, 2, 4)), data((5, 2, 4), 1), data((5, 2, 4), 2), attn_mask=attn,
                 key_padding_mask=pad)
    np.testing.assert_allclose(out.data, MHA_OUT, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(w.data, MHA_W, rtol=1e-8, atol=1e-9)
    causal = np.triu(np.full((3, 3), -np.inf), 1)
    for keys, want, options in ((ENC_RELU_KEYS, ENC_RELU_OUT, {}),
                                (ENC_GELU_NORM_FIRST_KEYS, ENC_GELU_NORM_FIRST_OUT,
                                 {"activation": "gelu", "norm_first": True})):
        layer = load_pattern(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=F64,
                                                        **options), keys)
        np.testing.assert_allclose(layer(data((3, 2, 4)), src_mask=causal).data, want,
                                   rtol=1e-8, atol=1e-9)
