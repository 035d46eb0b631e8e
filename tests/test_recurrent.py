"""Recurrent layers: RNN, GRU, LSTM and their cells against NumPy formulas written out, against
PyTorch's outputs for a converted state dict, gradients to first and second order, errors and
the collapsed picture of an unrolled sequence."""
import numpy as np
import pytest
from dot_parser import parse

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.testing import gradcheck, gradgradcheck

from pattern_weights import data, load_pattern  # tests/pattern_weights.py

F64 = np.float64


# ------------------------------------------------------------------ NumPy, written out
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_cell(kind, x, h, c, w_ih, w_hh, b_ih, b_hh, relu=False):
    """One step of each cell in float64, PyTorch's formulas; returns (h', c')."""
    gi, gh = x @ w_ih.T + b_ih, h @ w_hh.T + b_hh
    if kind == "RNN":
        pre = gi + gh
        return (np.maximum(pre, 0) if relu else np.tanh(pre)), None
    if kind == "GRU":
        i_r, i_z, i_n = np.split(gi, 3, axis=-1)
        h_r, h_z, h_n = np.split(gh, 3, axis=-1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h, None
    i, f, g, o = np.split(gi + gh, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c), c


def np_layers(kind, module, x, h0=None, c0=None):
    """The whole stacked, bidirectional layer in NumPy, reading the module's weights."""
    p = {name: t.data for name, t in module.named_parameters()}
    if module.batch_first:
        x = x.swapaxes(0, 1)
    steps, batch = x.shape[:2]
    dirs = 2 if module.bidirectional else 1
    zeros = np.zeros((module.num_layers * dirs, batch, module.hidden_size))
    h0 = zeros if h0 is None else h0
    c0 = zeros if c0 is None else c0
    relu = getattr(module, "nonlinearity", "tanh") == "relu"
    seq, hn, cn = x, [], []
    for layer in range(module.num_layers):
        outs = []
        for d, suffix in enumerate(["", "_reverse"][:dirs]):
            s = f"l{layer}{suffix}"
            w = [p[f"{k}_{s}"] if f"{k}_{s}" in p else 0.0
                 for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            h, c = h0[layer * dirs + d], c0[layer * dirs + d]
            out = [None] * steps
            for t in (range(steps - 1, -1, -1) if d else range(steps)):
                h, c = np_cell(kind, seq[t], h, c, *w, relu=relu)
                out[t] = h
            outs.append(np.stack(out))
            hn.append(h)
            cn.append(c)
        seq = np.concatenate(outs, axis=-1)
    out = seq.swapaxes(0, 1) if module.batch_first else seq
    return out, np.stack(hn), (np.stack(cn) if kind == "LSTM" else None)


def run(module, x, h0=None, c0=None):
    """The module's (output, h_n, c_n or None) as arrays."""
    if isinstance(module, nn.LSTM):
        out, (h, c) = module(x, None if h0 is None else (h0, c0))
        return out.data, h.data, c.data
    out, h = module(x, h0)
    return out.data, h.data, None


LAYERS = [
    ("RNN", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", batch_first=True)),
    ("GRU", dict(num_layers=3, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False)),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(batch_first=True, bias=False)),
]


@pytest.mark.parametrize(("kind", "options"), LAYERS, ids=lambda v: str(v))
@pytest.mark.parametrize("initial_state", [False, True])
def test_layers_match_the_formulas_written_out_in_numpy(kind, options, initial_state):
    tg.manual_seed(3)
    module = getattr(nn, kind)(3, 4, dtype=F64, **options)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3) if module.batch_first else (5, 2, 3))
    count = module.num_layers * (2 if module.bidirectional else 1)
    h0 = rng.standard_normal((count, 2, 4)) if initial_state else None
    c0 = rng.standard_normal((count, 2, 4)) if initial_state and kind == "LSTM" else None
    expected = np_layers(kind, module, x, h0, c0)
    for got, want in zip(run(module, x, h0, c0), expected, strict=True):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_unbatched_input_gives_the_batched_result_without_the_batch_axis(kind):
    tg.manual_seed(0)
    module = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, dtype=F64)
    x = np.random.default_rng(1).standard_normal((6, 3))
    h0 = np.random.default_rng(2).standard_normal((4, 4))
    batched = run(module, x[:, None], h0[:, None], h0[:, None])
    single = run(module, x, h0, h0)
    assert single[0].shape == (6, 8) and single[1].shape == (4, 4)
    for a, b in zip(single, batched, strict=True):
        if b is not None:
            np.testing.assert_allclose(a, b.squeeze(1), rtol=1e-13)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_cells_match_one_step_written_out_and_the_layer(kind):
    tg.manual_seed(1)
    cell = getattr(nn, kind + "Cell")(3, 4, dtype=F64)
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    weights = [t.data for _, t in cell.named_parameters()]
    want_h, want_c = np_cell(kind, x, h, c, *weights)
    got = cell(x, (h, c)) if kind == "LSTM" else cell(x, h)
    got_h, got_c = got if kind == "LSTM" else (got, None)
    np.testing.assert_allclose(got_h.data, want_h, rtol=1e-13)
    if kind == "LSTM":
        np.testing.assert_allclose(got_c.data, want_c, rtol=1e-13)
    # one step of the layer with the same weights is the cell
    layer = getattr(nn, kind)(3, 4, dtype=F64)
    layer.load_state_dict({f"{name}_l0": t.data for name, t in cell.named_parameters()})
    out = run(layer, x[None], h[None], c[None])
    np.testing.assert_allclose(out[0][0], want_h, rtol=1e-13)
    # no state: zeros
    zero = cell(x)
    np.testing.assert_allclose((zero[0] if kind == "LSTM" else zero).data,
                               np_cell(kind, x, 0 * h, 0 * c, *weights)[0], rtol=1e-13)


# ------------------------------------------------------------------ PyTorch's own numbers
# torch.nn.RNN(2, 3, num_layers=2, bidirectional=True, batch_first=True), the state dict
# filled with pattern(shape, i) in state-dict order, input data((2, 4, 2)), no h0.
RNN_KEYS = [('weight_ih_l0', (3, 2)), ('weight_hh_l0', (3, 3)), ('bias_ih_l0', (3,)),
            ('bias_hh_l0', (3,)), ('weight_ih_l0_reverse', (3, 2)),
            ('weight_hh_l0_reverse', (3, 3)), ('bias_ih_l0_reverse', (3,)),
            ('bias_hh_l0_reverse', (3,)), ('weight_ih_l1', (3, 6)), ('weight_hh_l1', (3, 3)),
            ('bias_ih_l1', (3,)), ('bias_hh_l1', (3,)), ('weight_ih_l1_reverse', (3, 6)),
            ('weight_hh_l1_reverse', (3, 3)), ('bias_ih_l1_reverse', (3,)),
            ('bias_hh_l1_reverse', (3,))]
RNN_OUT = np.array([
    -0.1885592814, -0.9160351727, -0.5331869208, 0.8609001475, 0.9740535985, -0.008369635128,
    -0.4130706584, -0.6686890987, 0.2499547301, 0.9235366712, 0.9569305504, -0.01507402249,
    -0.7600554197, -0.8037023541, 0.2786096465, 0.9333976784, 0.8404641997, 0.1136070309,
    -0.7878345526, -0.7984869348, 0.5795682669, 0.9139520022, 0.5632519453, -0.3067269317,
    -0.2502034128, -0.9331443835, -0.3684870277, 0.8896689109, 0.9659312439, -0.1443410816,
    -0.004989203349, -0.7612117919, -0.06269783872, 0.819047957, 0.9816901439, -0.1353641573,
    -0.3651860713, -0.8123957155, -0.1576334777, 0.8208956921, 0.9342934777, 0.0761076684,
    -0.6093518674, -0.8202256553, 0.5218630982, 0.8945294249, 0.690393058, -0.4344222309,
]).reshape((2, 4, 6))
RNN_H = np.array([
    0.3750107072, -0.04641341201, -0.4547478699, 0.7577031991, 0.1877168259, -0.7491535297,
    -0.6921473758, -0.04032001172, 0.649482346, -0.02096308014, 0.2591148206, 0.4555440677,
    -0.7878345526, -0.7984869348, 0.5795682669, -0.6093518674, -0.8202256553, 0.5218630982,
    0.8609001475, 0.9740535985, -0.008369635128, 0.8896689109, 0.9659312439, -0.1443410816,
]).reshape((4, 2, 3))

# torch.nn.GRU(2, 3, num_layers=2, bidirectional=True); input data((4, 2, 2)), h0 data((4, 2, 3), 1)
GRU_KEYS = [('weight_ih_l0', (9, 2)), ('weight_hh_l0', (9, 3)), ('bias_ih_l0', (9,)),
            ('bias_hh_l0', (9,)), ('weight_ih_l0_reverse', (9, 2)),
            ('weight_hh_l0_reverse', (9, 3)), ('bias_ih_l0_reverse', (9,)),
            ('bias_hh_l0_reverse', (9,)), ('weight_ih_l1', (9, 6)), ('weight_hh_l1', (9, 3)),
            ('bias_ih_l1', (9,)), ('bias_hh_l1', (9,)), ('weight_ih_l1_reverse', (9, 6)),
            ('weight_hh_l1_reverse', (9, 3)), ('bias_ih_l1_reverse', (9,)),
            ('bias_hh_l1_reverse', (9,))]
GRU_OUT = np.array([
    -0.5135496815, 0.4811636086, 0.1086739343, -0.1083250809, -0.8485974266, -0.1462688451,
    -0.8087892595, 0.3239109707, 0.4735522415, -0.1520924596, -0.9241903207, 0.035840362,
    -0.5827849651, 0.4198756992, 0.3195685395, 0.09958951214, -0.8252019089, -0.1985334593,
    -0.7895955103, 0.4542936291, 0.5594160784, -0.04699447863, -0.8996636287, -0.1220143871,
    -0.6602469672, 0.518056453, 0.3289481528, 0.2975323809, -0.7720571933, 0.0811992084,
    -0.7921903697, 0.5523027752, 0.5242108374, 0.04125721446, -0.8539680583, -0.1151886683,
    -0.7309164609, 0.6019940973, 0.3135027489, 0.6682297581, -0.5337300807, 0.3199155817,
    -0.7734459706, 0.4726872929, 0.5990145719, 0.2003084199, -0.7032718901, -0.3919973779,
]).reshape((4, 2, 6))
GRU_H = np.array([
    -0.5783768141, -0.6686159451, -0.367216341, -0.4384857648, -0.3662456709, -0.2689171013,
    0.2448537071, 0.5348818517, 0.497713145, 0.5202835691, 0.5696094353, 0.6623562336,
    -0.7309164609, 0.6019940973, 0.3135027489, -0.7734459706, 0.4726872929, 0.5990145719,
    -0.1083250809, -0.8485974266, -0.1462688451, -0.1520924596, -0.9241903207, 0.035840362,
]).reshape((4, 2, 3))

# torch.nn.LSTM(2, 3, num_layers=2); input data((4, 2, 2)), h0 data((2, 2, 3), 1),
# c0 data((2, 2, 3), 2)
LSTM_KEYS = [('weight_ih_l0', (12, 2)), ('weight_hh_l0', (12, 3)), ('bias_ih_l0', (12,)),
             ('bias_hh_l0', (12,)), ('weight_ih_l1', (12, 3)), ('weight_hh_l1', (12, 3)),
             ('bias_ih_l1', (12,)), ('bias_hh_l1', (12,))]
LSTM_OUT = np.array([
    0.2231998325, 0.1688879554, 0.1650986177, 0.1688587064, 0.06942823488, 0.02410407408,
    0.2913183553, 0.2334324443, 0.1376615303, 0.2075586753, 0.144762543, 0.03043164818,
    0.2651750156, 0.220159464, 0.1099985414, 0.212506556, 0.1769250214, -0.01970641463,
    0.2715549776, 0.2216066435, 0.07890232313, 0.2781139763, 0.1982661905, -0.001098477051,
]).reshape((4, 2, 3))
LSTM_H = np.array([
    -0.3884283528, -0.3321353351, -0.1607646629, -0.2478438319, -0.1312744967, -0.05797213126,
    0.2715549776, 0.2216066435, 0.07890232313, 0.2781139763, 0.1982661905, -0.001098477051,
]).reshape((2, 2, 3))
LSTM_C = np.array([
    -0.946687837, -0.7048606579, -0.3158488861, -0.6611909456, -0.4380975526, -0.2042231728,
    1.0666171, 1.053984226, 0.2570745653, 0.901543465, 0.7495126339, -0.003655080347,
]).reshape((2, 2, 3))

# the cells (RNNCell with relu), input data((2, 2)), h data((2, 3), 1), c data((2, 3), 2);
# LSTMCELL_OUT is [h, c]
RNNCELL_KEYS = [('weight_ih', (3, 2)), ('weight_hh', (3, 3)), ('bias_ih', (3,)),
                ('bias_hh', (3,))]
RNNCELL_OUT = np.array([
    0.5835692982, 1.072532389, 1.013687734, 0, 0, 0.4306583616,
]).reshape((2, 3))
GRUCELL_KEYS = [('weight_ih', (9, 2)), ('weight_hh', (9, 3)), ('bias_ih', (9,)),
                ('bias_hh', (9,))]
GRUCELL_OUT = np.array([
    -0.09415890021, -0.6098591933, -0.5750987729, -0.8990475117, -0.8174921268, -0.2193962909,
]).reshape((2, 3))
LSTMCELL_KEYS = [('weight_ih', (12, 2)), ('weight_hh', (12, 3)), ('bias_ih', (12,)),
                 ('bias_hh', (12,))]
LSTMCELL_OUT = np.array([
    -0.3521966836, -0.4655265738, -0.3724436742, -0.842243842, -0.9186363798, -0.5814060411,
    -0.475163726, -0.2237126651, 0.04880905246, -0.8698189617, -0.4477156097, 0.1463621033,
]).reshape((2, 6))


def test_pytorch_state_dicts_load_and_give_pytorchs_outputs():
    rnn = load_pattern(nn.RNN(2, 3, num_layers=2, bidirectional=True, batch_first=True,
                              dtype=F64), RNN_KEYS)
    out, h = rnn(data((2, 4, 2)))
    np.testing.assert_allclose(out.data, RNN_OUT, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(h.data, RNN_H, rtol=1e-8, atol=1e-9)
    gru = load_pattern(nn.GRU(2, 3, num_layers=2, bidirectional=True, dtype=F64), GRU_KEYS)
    out, h = gru(data((4, 2, 2)), data((4, 2, 3), 1))
    np.testing.assert_allclose(out.data, GRU_OUT, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(h.data, GRU_H, rtol=1e-8, atol=1e-9)
    lstm = load_pattern(nn.LSTM(2, 3, num_layers=2, dtype=F64), LSTM_KEYS)
    out, (h, c) = lstm(data((4, 2, 2)), (data((2, 2, 3), 1), data((2, 2, 3), 2)))
    for got, want in ((out, LSTM_OUT), (h, LSTM_H), (c, LSTM_C)):
        np.testing.assert_allclose(got.data, want, rtol=1e-8, atol=1e-9)


def test_pytorch_cell_state_dicts_load_and_give_pytorchs_outputs():
    x, h, c = data((2, 2)), data((2, 3), 1), data((2, 3), 2)
    rnn = load_pattern(nn.RNNCell(2, 3, nonlinearity="relu", dtype=F64), RNNCELL_KEYS)
    np.testing.assert_allclose(rnn(x, h).data, RNNCELL_OUT, rtol=1e-8, atol=1e-9)
    gru = load_pattern(nn.GRUCell(2, 3, dtype=F64), GRUCELL_KEYS)
    np.testing.assert_allclose(gru(x, h).data, GRUCELL_OUT, rtol=1e-8, atol=1e-9)
    lstm = load_pattern(nn.LSTMCell(2, 3, dtype=F64), LSTMCELL_KEYS)
    h1, c1 = lstm(x, (h, c))
    np.testing.assert_allclose(np.concatenate([h1.data, c1.data], 1), LSTMCELL_OUT, rtol=1e-8,
                               atol=1e-9)


# ------------------------------------------------------------------ gradients
def outputs(module, x, h0, c0=None):
    """Every output of a layer or cell, as a tuple of Tensors (for gradcheck)."""
    if isinstance(module, (nn.LSTM, nn.LSTMCell)):
        out = module(x, (h0, c0))
        return (out[0], *out[1]) if isinstance(module, nn.LSTM) else out
    out = module(x, h0)
    return out if isinstance(out, tuple) else (out,)


def tiny(kind, **options):
    tg.manual_seed(5)
    module = getattr(nn, kind)(2, 2, dtype=F64, **options)
    rng = np.random.default_rng(0)
    is_cell = kind.endswith("Cell")
    count = 1 if is_cell else module.num_layers * (2 if module.bidirectional else 1)
    shape = (2, 2) if is_cell else (2, 3, 2) if options.get("batch_first") else (3, 2, 2)
    x = tg.tensor(rng.standard_normal(shape), requires_grad=True)
    state = (2, 2) if is_cell else (count, 2, 2)
    h0 = tg.tensor(rng.standard_normal(state), requires_grad=True)
    c0 = tg.tensor(rng.standard_normal(state), requires_grad=True)
    return module, x, h0, c0


TINY = [("RNN", dict(num_layers=2, bidirectional=True)), ("RNN", dict(nonlinearity="relu")),
        ("GRU", dict(num_layers=2, bidirectional=True)), ("LSTM", dict(num_layers=2)),
        ("LSTM", dict(bidirectional=True, batch_first=True)),
        ("RNNCell", {}), ("GRUCell", {}), ("LSTMCell", {})]


@pytest.mark.parametrize(("kind", "options"), TINY, ids=lambda v: str(v))
def test_gradients_of_inputs_and_states_first_and_second_order(kind, options):
    module, x, h0, c0 = tiny(kind, **options)
    lstm = "LSTM" in kind
    inputs = [x, h0, c0] if lstm else [x, h0]
    fn = (lambda x, h, c: outputs(module, x, h, c)) if lstm else \
        (lambda x, h: outputs(module, x, h))
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize(("kind", "options"), TINY[::2] + TINY[-2:], ids=lambda v: str(v))
def test_parameter_gradients_match_finite_differences(kind, options):
    module, x, h0, c0 = tiny(kind, **options)
    weights = np.random.default_rng(1)

    def loss() -> tg.Tensor:
        outs = outputs(module, x.detach(), h0.detach(), c0.detach())
        return sum((o * weights_for[i]).sum() for i, o in enumerate(outs))

    weights_for = [weights.standard_normal(o.shape) for o in
                   outputs(module, x.detach(), h0.detach(), c0.detach())]
    module.zero_grad()
    loss().backward()
    eps = 1e-6
    for name, p in module.named_parameters():
        flat, grad = p.data.reshape(-1), p.grad.data.reshape(-1)
        for j in range(flat.size):
            keep = flat[j]
            flat[j] = keep + eps
            plus = loss().item()
            flat[j] = keep - eps
            minus = loss().item()
            flat[j] = keep
            assert grad[j] == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-7), name


def test_float32_stays_float32_and_gradients_reach_every_parameter():
    for module in (nn.RNN(3, 4, num_layers=2), nn.GRU(3, 4, bidirectional=True),
                   nn.LSTM(3, 4, num_layers=2, bidirectional=True)):
        x = tg.randn(5, 2, 3, requires_grad=True)
        out = outputs(module, x, None)
        assert all(o.dtype == np.float32 for o in out)
        sum(o.sum() for o in out).backward()
        assert x.grad.dtype == np.float32
        assert all(p.grad is not None and p.grad.dtype == np.float32
                   for p in module.parameters())


# ------------------------------------------------------------------ construction
def test_parameters_have_pytorchs_names_shapes_and_uniform_init():
    tg.manual_seed(0)
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [n for n, _ in lstm.named_parameters()]
    assert names[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                         "bias_hh_l0_reverse"]
    assert lstm.weight_ih_l1.shape == (20, 10) and lstm.weight_hh_l1_reverse.shape == (20, 5)
    bound = 1 / np.sqrt(5)
    values = np.concatenate([p.data.ravel() for p in lstm.parameters()])
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.95 * bound
    assert abs(values.mean()) < 0.05
    tg.manual_seed(0)
    again = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(lstm.parameters(),
                                                               again.parameters(), strict=True))
    assert not any(n.startswith("bias") for n, _ in nn.GRU(3, 5, bias=False).named_parameters())
    assert repr(nn.GRU(3, 5, num_layers=2, batch_first=True)).startswith(
        "GRU(3, 5, num_layers=2, batch_first=True)")


def test_dropout_acts_between_layers_in_training_only():
    tg.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2, dropout=1.0, dtype=F64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    out, _ = gru(x)  # every element dropped: the second layer sees zeros
    second = nn.GRU(4, 4, dtype=F64)
    second.load_state_dict({n.replace("l1", "l0"): p.data for n, p in gru.named_parameters()
                            if "l1" in n})
    np.testing.assert_allclose(out.data, second(np.zeros((5, 2, 4)))[0].data, rtol=1e-13)
    gru.eval()
    np.testing.assert_allclose(gru(x)[0].data, np_layers("GRU", gru, x)[0], rtol=1e-12)
    half = nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=F64)
    tg.manual_seed(1)
    a = half(x)[0].data
    tg.manual_seed(1)
    assert np.array_equal(a, half(x)[0].data)  # the masks come from tg.manual_seed
    assert not np.allclose(a, half.eval()(x)[0].data)
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.GRU(3, 4, dropout=0.5)


def test_errors_name_the_layer_and_both_shapes():
    gru = nn.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU\(3, 4, num_layers=2\).*\(5, 2, 7\).*input_size "
                                         r"is 3"):
        gru(tg.zeros(5, 2, 7))
    with pytest.raises(ValueError, match=r"axis 1 has size input_size.*transpose"):
        gru(tg.zeros(5, 3, 7))
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 5, 4\).*\(5, 7, 3\).*"
                                         r"\(2, 7, 4\).*batch_first=True"):
        gru(tg.zeros(5, 7, 3), tg.zeros(2, 5, 4))  # a (batch, seq, feature) input
    with pytest.raises(ValueError, match=r"3-D .*\(seq, batch, input_size\)"):
        gru(tg.zeros(1, 2, 5, 3))
    with pytest.raises(ValueError, match="empty sequence"):
        gru(tg.zeros(0, 2, 3))
    with pytest.raises(TypeError, match="pair"):
        nn.LSTM(3, 4)(tg.zeros(5, 2, 3), tg.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"c0 has shape \(1, 2, 5\)"):
        nn.LSTM(3, 4)(tg.zeros(5, 2, 3), (tg.zeros(1, 2, 4), tg.zeros(1, 2, 5)))
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\) got an input of shape \(2, 5\)"):
        nn.GRUCell(3, 4)(tg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"hx has shape \(3, 4\).*batch 2 .*\(2, 4\)"):
        nn.GRUCell(3, 4)(tg.zeros(2, 3), tg.zeros(3, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\]"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be an int >= 1"):
        nn.GRU(3, 0)


# ------------------------------------------------------------------ pictures
def test_an_unrolled_sequence_collapses_to_one_box_per_layer_or_per_step():
    tg.manual_seed(0)
    gru = nn.GRU(4, 8, num_layers=2)
    x = tg.randn(32, 3, 4)
    out, h = gru(x)
    loss = h.sum()
    full = parse(tg.viz.draw_graph(loss, gru).source)
    assert len(full.nodes) > 3 * 64  # every op of 64 unrolled steps
    layers = parse(tg.viz.draw_graph(loss, [gru, {"x": x}], collapse=True).source)
    boxes = layers.of_class("module")
    assert [layers.label(b)[0] for b in boxes] == ["layer 0", "layer 1", "output"]
    assert len(layers.nodes) == 3 + 8 + 3  # the boxes, the 8 weights, x, the zero state, loss
    steps = parse(tg.viz.draw_graph(loss, [gru, {"x": x}], collapse=2).source)
    boxes = sorted(steps.label(b)[0] for b in steps.of_class("module"))
    assert boxes == sorted([f"t={t}" for t in range(32)] * 2 + ["output"])
    assert len(steps.nodes) < 2 * 32 + 20  # O(steps), not O(ops)
    assert {c.attrs["label"] for c in steps.clusters.values()} == {"layer 0", "layer 1"}
    # the 32 slices x[t] the steps read are one box: the whole sequence
    assert [steps.label(c) for c in steps.of_class("const")].count(["x", "(32, 3, 4)"]) == 1


def test_inside_a_model_the_layer_is_one_box_and_its_steps_one_level_deeper():
    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(4, 8, bidirectional=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    tg.manual_seed(0)
    model = Tagger()
    x = tg.randn(32, 3, 4)
    loss = model(x).sum()
    top = parse(tg.viz.draw_graph(loss, [model, {"x": x}], collapse=True).source)
    assert [top.label(b)[0] for b in top.of_class("module")] == [
        "rnn: LSTM(4, 8, bidirectional=True)", "head: Linear(16→2)"]
    assert len(top.nodes) < 8
    deep = parse(tg.viz.draw_graph(loss, [model, {"x": x}], collapse=2).source)
    assert sorted(deep.label(b)[0] for b in deep.of_class("module")) == [
        "head: Linear(16→2)", "layer 0", "layer 0 reverse", "output"]
    steps = parse(tg.viz.draw_graph(loss, [model, {"x": x}], collapse=3).source)
    assert len(steps.of_class("module")) == 2 * (32 + 1) + 2  # steps, weights, output, head


# ------------------------------------------------------------------ ONNX export
class _FlatLSTM(nn.Module):
    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return out, h, c


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_onnx_export_gives_our_outputs(kind, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    tg.manual_seed(0)
    layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True)
    if kind == "LSTM":  # export takes a Tensor or a flat tuple of them
        layer = _FlatLSTM(layer)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    path = tmp_path / "rnn.onnx"
    tg.onnx.export(layer, tg.tensor(x), path)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ours = layer(x)
    theirs = session.run(None, {session.get_inputs()[0].name: x})
    assert len(theirs) == len(ours)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(t, o.data, rtol=1e-5, atol=1e-5)
