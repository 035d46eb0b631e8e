"""tg.onnx.export: the files pass onnx.checker and onnxruntime gives our outputs (1e-5),
also at other batch sizes; errors name the op and the module; the ImportError names the extra."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from tinygrad_np import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"onnx_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def roundtrip(model, inputs, tmp_path, batches=(3, 1), **kwargs):
    """Export, check, and compare onnxruntime with our forward at the example's batch size
    and at `batches` (new rows drawn like the example's). Returns the ModelProto."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    path = tmp_path / "model.onnx"
    proto = tg.onnx.export(model, inputs, path, **kwargs)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    rng = np.random.default_rng(1)
    model.eval()
    axes = [next((k for k, d in enumerate(i.type.tensor_type.shape.dim) if d.dim_param), None)
            for i in proto.graph.input]
    for n in (None, *batches):
        arrays = [np.asarray(x) for x in inputs]
        if n is not None:  # n new rows along each input's batch axis, drawn like the example's
            arrays = [x if axis is None else
                      np.take(x, rng.integers(0, x.shape[axis], n), axis) if x.dtype.kind in "iu"
                      else rng.standard_normal(x.shape[:axis] + (n,) + x.shape[axis + 1:])
                      .astype(x.dtype) for x, axis in zip(arrays, axes)]
        ours = model(*[tg.tensor(a) for a in arrays])
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = session.run(None, dict(zip(names, arrays)))
        for o, t in zip(ours, theirs):
            assert t.shape == o.shape and t.dtype == o.dtype
            np.testing.assert_allclose(t, o.data, rtol=1e-5, atol=1e-5)
    return proto


def randn(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)


class Lambda(nn.Module):
    """forward = fn(self, *inputs), with child modules in self.layers."""

    def __init__(self, fn, *layers):
        super().__init__()
        self.fn, self.layers = fn, nn.ModuleList(layers)

    def forward(self, *inputs):
        return self.fn(self, *inputs)


# ------------------------------------------------------------ the examples
def test_moons_mlp_trained_exported_and_served(tmp_path):
    moons = load_example("moons")
    tg.manual_seed(0)
    model = nn.Sequential.from_architecture(moons.NN_ARCHITECTURE)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    x, y = randn(32, 2), (randn(32, 1) > 0).astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        nn.BCELoss()(model(tg.tensor(x)), tg.tensor(y)).backward()
        opt.step()
    model[1].eval()
    tg.onnx.export(model, tg.tensor(x[:5]), None)
    assert model.training and not model[1].training  # each module's mode as it was
    proto = roundtrip(model, tg.tensor(x[:5]), tmp_path, batches=(7, 1))
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) <= names
    assert [n.op_type for n in proto.graph.node].count("Gemm") == 5


def test_digits_mlp(tmp_path):
    digits = load_example("digits")
    tg.manual_seed(0)
    model = digits.build_model(64, 10)
    roundtrip(model, tg.tensor(randn(8, 64)), tmp_path)


# --------------------------------------------------------------- layers
def test_layernorm_gelu_dropout(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Dropout(0.5),
                          nn.Linear(16, 16), nn.GELU("tanh"), nn.SiLU(), nn.Linear(16, 3))
    proto = roundtrip(model, tg.tensor(randn(5, 6)), tmp_path)
    kinds = {n.op_type for n in proto.graph.node}
    assert {"Erf", "LayerNormalization"} <= kinds and "Dropout" not in kinds


def test_embedding_and_batch_norm(tmp_path):
    tg.manual_seed(0)
    emb, bn, fc = nn.Embedding(12, 8), nn.BatchNorm1d(8), nn.Linear(8, 4)
    model = Lambda(lambda s, i: s.layers[2](s.layers[1](s.layers[0](i).mean(axis=1))), emb, bn,
                   fc)
    model.train()
    for _ in range(3):  # running statistics away from 0 and 1
        model(tg.tensor(np.random.default_rng(2).integers(0, 12, (6, 5))))
    tokens = np.random.default_rng(3).integers(0, 12, (4, 5))
    proto = roundtrip(model, tg.tensor(tokens), tmp_path)
    padded = Lambda(lambda s, i: s.layers[0](i), nn.Embedding(5, 3, padding_idx=0))
    roundtrip(padded, tg.tensor(np.array([[0, 1, 2], [3, 0, 4]])), tmp_path)
    assert "Gather" in {n.op_type for n in proto.graph.node}
    assert {"layers.0.weight", "layers.1.running_mean.view"} <= \
        {i.name for i in proto.graph.initializer}


def test_activations_and_attention_like_block(tmp_path):
    tg.manual_seed(0)
    qkv, out = nn.Linear(8, 24), nn.Linear(8, 8)
    causal = np.tri(4, dtype=bool)

    def block(s, x):  # x (N, 4 tokens, 8)
        q, k, v = (s.layers[0](x)[:, :, i * 8:(i + 1) * 8] for i in range(3))
        scores = tg.where(causal, q @ k.transpose(0, 2, 1) * 8 ** -0.5, -1e9).softmax(-1)
        h = s.layers[1](scores @ v) + x
        return (nn.LeakyReLU(0.1)(h) + nn.ELU(0.5)(h) + nn.Softplus(2.0, 3.0)(h)).log_softmax(-1)

    model = Lambda(block, qkv, out)
    roundtrip(model, tg.tensor(randn(3, 4, 8)), tmp_path, batches=(2,))


def test_every_mapped_op(tmp_path):
    def many(s, x):
        h = s.layers[0](x)  # (N, 6)
        a = (h.exp() + (h.abs() + 1).log() + (h * h + 1).sqrt() + h.sin() + h.cos()
             + h.abs().log1p() + h.expm1() + h.square() + h.clip(-0.5, 0.5) + h.tanh()
             + h.sigmoid() + h.relu() + tg.maximum(h, 0.1) + tg.minimum(h, -0.1) + h ** 2
             + 1 / (h * h + 1) - (-h) + h.erf())
        b = tg.concatenate([h.reshape(-1, 2, 3).transpose(0, 2, 1).reshape(-1, 6),
                            h[:, ::-1], h[:, None, 2].reshape(-1, 1) * h[:, 1:],
                            ], axis=1)[:, :6]
        c = (h.flip(1) + h.roll(2, 1) + h.pad(((0, 0), (1, 1)))[:, 1:-1]
             + F.pad(h, (2, 0), value=3.0)[:, :6] + h.cumsum(1) + h.tile((1, 2))[:, 3:9])
        t = h.reshape(-1, 2, 3)
        d = (t.tril() + t.triu(1)).reshape(-1, 6) + tg.einsum("bi,ij->bj", h, s.layers[0].weight
                                                            @ s.layers[0].weight.T)
        e = (h.sum(1, keepdims=True) + h.max(1, keepdims=True) + h.mean(1, keepdims=True)
             + h.std(1, keepdims=True) + h.std(1, keepdims=True, ddof=1) + h.logsumexp(1)[:, None]
             + h.astype(np.float64).astype(np.float32) + tg.stack([h, h], axis=1).sum(1)
             + h.take_along_axis(np.array([[0, 2, 1, 0, 5, 4]]), 1) + h.var(1, keepdims=True)
             + h[:, :3].gather(1, np.array([[2, 0, 1]])).tile((1, 2)))
        return a + b + c + d + e, h.reshape(-1, 1, 6).broadcast_to((x.shape[0], 2, 6))

    tg.manual_seed(0)
    model = Lambda(many, nn.Linear(4, 6))
    roundtrip(model, tg.tensor(randn(5, 4)), tmp_path, output_names=["y", "z"])


@pytest.mark.parametrize("pick", [
    lambda h: h[..., 0], lambda h: h[:, 4:1:-1], lambda h: h[:, -3:], lambda h: h[:, ::2],
    lambda h: h[:, None, 1:3, None], lambda h: h[:, [0, 2, 2]], lambda h: h[:, np.array([-1, 0])],
    lambda h: h[0] + h[-1], lambda h: h.reshape(-1, 2, 3)[:, :, [2, 0]],
], ids=["ellipsis", "negative-step", "tail", "step", "new-axes", "ints", "negative-ints",
        "rows", "ints-last-axis"])
def test_indexing_forms(pick, tmp_path):
    tg.manual_seed(0)
    roundtrip(Lambda(lambda s, x: pick(s.layers[0](x)), nn.Linear(4, 6)), tg.tensor(randn(5, 4)),
              tmp_path, batches=(2,))


def test_fixed_batch_and_names(tmp_path):
    tg.manual_seed(0)
    model = Lambda(lambda s, x, y: s.layers[0](x) * y, nn.Linear(3, 2))
    proto = roundtrip(model, (tg.tensor(randn(4, 3)), tg.tensor(randn(4, 2))), tmp_path,
                      batches=(), input_names=["x", "y"], output_names="product",
                      dynamic_batch=False)
    assert [i.name for i in proto.graph.input] == ["x", "y"]
    assert proto.graph.output[0].name == "product"
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [4, 3]


# ---------------------------------------------------------------- errors
def test_unmapped_op_names_the_op_and_the_module():
    class Double(tg.Function):
        def forward(ctx, a): return a * 2
        def backward(ctx, g): return g * 2

    inner = Lambda(lambda s, x: Double.apply(x))
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(inner))
    with pytest.raises(NotImplementedError, match=r"op Double, recorded by module '1\.0' "
                                                  r"\(Lambda\).*EMITTERS"):
        tg.onnx.export(model, tg.tensor(randn(2, 3)), None)


def test_data_dependent_constant_mask_and_branch_are_refused():
    fc = nn.Linear(3, 3)
    masked = Lambda(lambda s, x: s.layers[0](x) * (x.data > 0), fc)
    with pytest.raises(tg.onnx.ExportError, match=r"Mul .*changes with the input's batch size"):
        tg.onnx.export(masked, tg.tensor(randn(4, 3)), None)
    with pytest.raises(tg.onnx.ExportError, match=r"changes with the input's values"):
        tg.onnx.export(masked, tg.tensor(randn(4, 3)), None, dynamic_batch=False)
    branch = Lambda(lambda s, x: s.layers[0](x).exp() if x.data[0, 0] > 0 else s.layers[0](x),
                    fc)
    x = randn(4, 3)
    x[0, 0], x[1, 0] = 1, -1  # export's second run sees other rows first
    with pytest.raises(tg.onnx.ExportError, match="different graph"):
        tg.onnx.export(branch, tg.tensor(x), None, dynamic_batch=False)
    picked = Lambda(lambda s, x: s.layers[0](x)[x.data > 0], fc)
    with pytest.raises(tg.onnx.ExportError, match="boolean mask"):
        tg.onnx.export(picked, tg.tensor(randn(4, 3)), None)


def test_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[onnx\]"'):
        tg.onnx.export(nn.Linear(2, 2), tg.tensor(randn(1, 2)), None)


# ------------------------------------------------- convolution and pooling
def test_conv_net(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.ReLU(),
        nn.AvgPool2d(2, ceil_mode=True, padding=1), nn.Conv2d(6, 4, 2, bias=False),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    model.train()
    model(tg.tensor(randn(6, 1, 12, 12)))  # running statistics of BatchNorm2d
    proto = roundtrip(model, tg.tensor(randn(2, 1, 12, 12)), tmp_path)
    kinds = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "AveragePool"} <= kinds


def test_conv1d_pools_with_padding_and_ceil_mode(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(3, 5, 3, padding="same"), nn.MaxPool1d(3, 2, 1),
                          nn.AvgPool1d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
                          nn.MaxPool1d(2, ceil_mode=True, dilation=1),
                          nn.Conv1d(5, 4, 2, padding=1, dilation=2), nn.MaxPool1d(2, dilation=2))
    roundtrip(model, tg.tensor(randn(2, 3, 29)), tmp_path)


# ------------------------------------------------- sequences and batch axes
def test_batch_shaped_zeros_and_sequence_first_inputs(tmp_path):
    tg.manual_seed(0)

    def step(s, x, h0):  # x (L, N, 4), h0 (1, N, 3): batch on axis 1 of both
        h = s.layers[1](np.zeros((x.shape[1], 3), np.float32))  # a zero state, made at run time
        for t in range(x.shape[0]):
            h = (s.layers[0](x[t]) + s.layers[1](h + h0[0])).tanh()
        return h

    model = Lambda(step, nn.Linear(4, 3), nn.Linear(3, 3))
    model.batch_first = False  # as a batch_first=False RNN says
    proto = roundtrip(model, (tg.tensor(randn(5, 2, 4)), tg.tensor(randn(1, 2, 3))), tmp_path)
    assert [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in proto.graph.input] == [[5, "batch", 4], [1, "batch", 3]]
    assert "ConstantOfShape" in {n.op_type for n in proto.graph.node}


@pytest.mark.skipif(not hasattr(nn, "LSTM"), reason="needs the recurrent layers")
def test_recurrent_layers_unrolled(tmp_path):
    tg.manual_seed(0)
    lstm = Lambda(lambda s, x: s.layers[0](x)[0], nn.LSTM(4, 5, num_layers=2, batch_first=True))
    roundtrip(lstm, tg.tensor(randn(3, 6, 4)), tmp_path, batches=(2,))
    gru = Lambda(lambda s, x, h: s.layers[0](x, h), nn.GRU(4, 5, bidirectional=True))
    roundtrip(gru, (tg.tensor(randn(6, 3, 4)), tg.tensor(randn(2, 3, 5))), tmp_path,
              batches=(2,))


@pytest.mark.skipif(not hasattr(nn, "TransformerEncoderLayer"), reason="needs attention layers")
def test_attention_layers(tmp_path):
    tg.manual_seed(0)
    mha = Lambda(lambda s, x: s.layers[0](x, x, x), nn.MultiheadAttention(8, 2))
    roundtrip(mha, tg.tensor(randn(5, 3, 8)), tmp_path, batches=(2,))
    encoder = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True,
                                         norm_first=True)
    roundtrip(encoder, tg.tensor(randn(3, 5, 8)), tmp_path, batches=(2,))


def test_pools_2d_with_padding_ceil_mode_and_adaptive_windows(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
                          nn.MaxPool2d(3, 2, 1, ceil_mode=True),
                          nn.AvgPool2d(2, 1, 1, count_include_pad=False),
                          nn.AdaptiveAvgPool2d((2, 3)))
    roundtrip(model, tg.tensor(randn(2, 2, 9, 8)), tmp_path)
