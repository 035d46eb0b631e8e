"""tg.nn modules: registration, names, state dicts, repr, Sequential, Linear, summary."""
import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import nn, versions
from tinygrad_np.testing import gradcheck
from tinygrad_np.testing.strategies import arrays

SEED_000_ARCH = [  # the tutorial's own network (seed 000, Snippet 1)
    {"input_dim": 2, "output_dim": 4, "activation": "relu"},
    {"input_dim": 4, "output_dim": 6, "activation": "relu"},
    {"input_dim": 6, "output_dim": 6, "activation": "relu"},
    {"input_dim": 6, "output_dim": 4, "activation": "relu"},
    {"input_dim": 4, "output_dim": 1, "activation": "sigmoid"},
]
WIDE_ARCH = [  # the 2-25-50-50-25-1 network the tutorial compares with Keras
    {"input_dim": 2, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"},
]


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


class AutoEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.decoder = nn.Linear(4, 3, bias=False)
        self.scale = nn.Parameter(np.ones(3))
        self.note = "plain attribute"

    def forward(self, x):
        return self.decoder(self.encoder(x)) * self.scale


def snapshot(model: nn.Module) -> dict:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def assert_unchanged(model: nn.Module, before: dict) -> None:
    after = snapshot(model)
    assert list(after) == list(before)
    for name in before:
        assert after[name].dtype == before[name].dtype
        np.testing.assert_array_equal(after[name], before[name])


# ------------------------------------------------------------- Parameter
def test_parameter_is_a_tensor_that_requires_grad_and_gets_grads():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, tg.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == tg.get_default_dtype()
    assert nn.Parameter(np.zeros(2)).dtype == np.float64
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.data, [2.0, 4.0])
    q = nn.Parameter(np.array([0.5, -1.0]))
    (g,) = tg.grad((q * q * q).sum(), [q], create_graph=True)
    (h,) = tg.grad(g.sum(), [q])
    np.testing.assert_allclose(h.data, [3.0, -6.0])
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(np.array([1, 2]))
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\nTensor(")


# ---------------------------------------------------------- registration
def test_registration_names_children_and_modules():
    model = AutoEncoder()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "encoder.fc.weight", "encoder.fc.bias", "decoder.weight"]
    assert [p.shape for p in model.parameters()] == [(3,), (4, 3), (4,), (3, 4)]
    assert [type(m).__name__ for m in model.children()] == ["Encoder", "Linear"]
    assert [name for name, _ in model.named_modules()] == [
        "", "encoder", "encoder.fc", "encoder.act", "decoder"]
    assert [name for name, _ in model.named_parameters(recurse=False)] == ["scale"]
    assert model.note == "plain attribute" and model.encoder.fc.in_features == 3
    assert model.num_parameters() == 3 + 12 + 4 + 12


def test_reassignment_and_deletion_update_the_registry():
    model = AutoEncoder()
    model.scale = None  # a declared-but-absent parameter
    assert "scale" not in dict(model.named_parameters())
    model.decoder = nn.Linear(4, 3)
    assert "decoder.bias" in dict(model.named_parameters())
    model.encoder = None  # a Module slot takes Modules or None
    assert list(dict(model.named_children())) == ["decoder"]
    with pytest.raises(AttributeError):
        _ = model.missing_attribute
    del model.decoder
    assert "decoder.weight" not in dict(model.named_parameters())
    with pytest.raises(AttributeError):
        _ = model.decoder
    # attribute reads always agree with the registry (parameters are also kept in __dict__)
    assert model.scale is None and model.encoder is None
    model.scale = nn.Parameter(np.ones(2))
    assert model.scale is dict(model.named_parameters())["scale"]
    model.register_parameter("scale", None)
    assert model.scale is None
    with pytest.raises(TypeError, match="cannot assign float as parameter 'scale'"):
        model.scale = 3.0
    assert model.scale is None
    del model.scale
    model.scale = 3.0  # once deleted, the name is free for a plain attribute
    assert model.scale == 3.0 and "scale" not in dict(model.named_parameters())


def test_registration_errors_are_clear():
    model = AutoEncoder()
    with pytest.raises(TypeError, match="parameter 'scale'.*tg.nn.Parameter"):
        model.scale = tg.ones(3)
    with pytest.raises(TypeError, match="child module 'decoder'"):
        model.decoder = 3

    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgetful()
    with pytest.raises(NotImplementedError, match="Module.forward"):
        nn.Module()(1)


def test_shared_parameter_is_listed_once():
    a = nn.Linear(2, 2)
    model = nn.Sequential(a, nn.ReLU(), a)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_zero_grad_train_eval():
    model = AutoEncoder()
    model(tg.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.data == 0) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    assert model.eval() is model
    assert [m.training for m in model.modules()] == [False] * 5
    model.train()
    assert all(m.training for m in model.modules())
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_forward_span_covers_the_nodes_a_module_created():
    model = AutoEncoder()
    x = tg.ones(2, 3, requires_grad=True)
    before = versions.next_seq()
    out = model(x)
    start, end = model._forward_span
    assert before < start < out.grad_fn.seq < end
    inner_start, inner_end = model.encoder._forward_span
    assert start < inner_start < inner_end < end
    assert nn.Linear(1, 1)._forward_span is None


# ------------------------------------------------------------ state dicts
def test_state_dict_is_a_copy_in_order():
    model = AutoEncoder()
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.named_parameters()]
    state["scale"][:] = 7.0
    np.testing.assert_array_equal(model.scale.data, np.ones(3))


def test_load_state_dict_round_trip_in_place_and_casting():
    source, target = AutoEncoder(), AutoEncoder()
    weight = target.encoder.fc.weight
    state = {k: v.astype(np.float64) for k, v in source.state_dict().items()}
    assert target.load_state_dict(state) == ([], [])
    assert target.encoder.fc.weight is weight  # in place: optimizers keep their references
    assert weight.dtype == np.float32
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(dict(target.named_parameters())[name].data, value)
    tensors = {k: tg.tensor(v) for k, v in source.state_dict().items()}
    target.load_state_dict(tensors)


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("decoder.weight"), r"missing keys: 'decoder.weight'"),
    (lambda s: s.update(extra=np.zeros(1)), r"unexpected keys: 'extra'"),
    (lambda s: s.update({"encoder.fc.bias": np.zeros(5)}),
     r"'encoder.fc.bias': shape \(5,\) in the state dict, but the model's parameter has "
     r"shape \(4,\)"),
    (lambda s: s.update({"scale": np.ones(3, dtype=np.complex128)}),
     r"'scale': dtype complex128 cannot be cast"),
    (lambda s: s.update({"scale": np.array(["a", "b", "c"])}), r"'scale': dtype <U1"),
])
def test_load_state_dict_refuses_bad_state_and_changes_nothing(edit, message):
    model = AutoEncoder()
    before = snapshot(model)
    state = {k: v + 1 for k, v in model.state_dict().items()}  # valid entries differ
    edit(state)
    with pytest.raises(RuntimeError, match=message) as info:
        model.load_state_dict(state)
    assert "nothing was changed" in str(info.value)
    assert_unchanged(model, before)


def test_load_state_dict_lists_every_problem_and_non_strict_mode():
    model = AutoEncoder()
    state = model.state_dict()
    state.pop("scale")
    state["encoder.fc.weight"] = np.zeros((3, 4))
    state["bogus"] = np.zeros(2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    text = str(info.value)
    assert "missing keys: 'scale'" in text and "unexpected keys: 'bogus'" in text
    assert "'encoder.fc.weight': shape (3, 4)" in text
    state["encoder.fc.weight"] = np.zeros((4, 3))
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["bogus"]
    np.testing.assert_array_equal(model.encoder.fc.weight.data, np.zeros((4, 3)))
    with pytest.raises(RuntimeError, match="shape"):  # shapes are checked even when lax
        model.load_state_dict({"scale": np.zeros(2)}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([1, 2])


# ------------------------------------------------------------------ repr
def test_repr_prints_the_tree_with_parameter_counts():
    assert repr(AutoEncoder()) == (
        "AutoEncoder(  # 31 parameters\n"
        "  (encoder): Encoder(  # 16 parameters\n"
        "    (fc): Linear(in_features=3, out_features=4, bias=True)  # 16 parameters\n"
        "    (act): Tanh()\n"
        "  )\n"
        "  (decoder): Linear(in_features=4, out_features=3, bias=False)  # 12 parameters\n"
        ")")
    assert repr(nn.Softmax()) == "Softmax(axis=-1)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"


# ---------------------------------------------------------------- Linear
def test_linear_layout_forward_and_default_init():
    tg.manual_seed(3)
    layer = nn.Linear(5, 3)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32
    # PyTorch: kaiming_uniform_(a=sqrt(5)) -> U(-1/sqrt(5), 1/sqrt(5)); bias the same bound
    rng = np.random.default_rng(3)
    gain = math.sqrt(2.0 / (1 + 5))
    bound = math.sqrt(3.0) * gain / math.sqrt(5)
    expected_w = rng.uniform(-bound, bound, (3, 5)).astype(np.float32)
    expected_b = rng.uniform(-1 / math.sqrt(5), 1 / math.sqrt(5), (3,)).astype(np.float32)
    np.testing.assert_array_equal(layer.weight.data, expected_w)
    np.testing.assert_array_equal(layer.bias.data, expected_b)
    x = np.arange(10.0, dtype=np.float32).reshape(2, 5)
    np.testing.assert_allclose(layer(x).data, x @ expected_w.T + expected_b, rtol=1e-6)
    assert layer(tg.ones(4, 2, 5)).shape == (4, 2, 3)
    with pytest.raises(ValueError, match=r"input of shape \(2, 4\).*in_features=5"):
        layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="in_features must be a non-negative int"):
        nn.Linear(2.5, 3)


def test_linear_init_is_reproducible_bit_for_bit():
    tg.manual_seed(11)
    a = nn.Linear(7, 4, dtype=np.float64)
    tg.manual_seed(11)
    b = nn.Linear(7, 4, dtype=np.float64)
    c = nn.Linear(7, 4, dtype=np.float64)
    assert a.weight.data.tobytes() == b.weight.data.tobytes()
    assert a.bias.data.tobytes() == b.bias.data.tobytes()
    assert not np.array_equal(b.weight.data, c.weight.data)
    d = nn.Linear(7, 4, dtype=np.float64, generator=np.random.default_rng(11))
    assert d.weight.data.tobytes() == a.weight.data.tobytes()


@given(arrays((3, 2)), arrays((4, 2)), arrays((4,)))
def test_gradients_flow_through_linear_and_activations(x, w, b):
    model = nn.Sequential(nn.Linear(2, 4, dtype=np.float64), nn.Tanh(), nn.Sigmoid(),
                          nn.Softmax(axis=1), nn.LogSoftmax())
    model.load_state_dict({"0.weight": w, "0.bias": b})
    x_t = tg.tensor(x, requires_grad=True)
    gradcheck(lambda x_, w_, b_: nn.functional.linear(x_, w_, b_).tanh().sigmoid()
              .softmax(1).log_softmax(), [x_t, model[0].weight, model[0].bias])
    out = model(x_t)
    reference = nn.functional.linear(x, w, b).tanh().sigmoid().softmax(1).log_softmax()
    np.testing.assert_allclose(out.data, reference.data, rtol=1e-12)


# ------------------------------------------------------------ Sequential
def test_sequential_indexing_iteration_and_length():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.Sigmoid()]
    model = nn.Sequential(*layers)
    assert len(model) == 4 and list(model) == layers
    assert model[0] is layers[0] and model[-1] is layers[3]
    tail = model[2:]
    assert isinstance(tail, nn.Sequential) and list(tail) == layers[2:]
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]  # names kept, like PyTorch
    with pytest.raises(IndexError, match="out of range for 4 modules"):
        model[4]
    with pytest.raises(TypeError, match=r"not a Module \(write tg.nn.ReLU\(\)"):
        nn.Sequential(nn.ReLU)
    model.append(nn.Identity())
    assert len(model) == 5 and "4" in dict(model.named_children())
    x = tg.randn(5, 2)
    manual = layers[3](layers[2](layers[1](layers[0](x))))
    np.testing.assert_array_equal(model(x).data, manual.data)


def test_from_architecture_builds_the_seed_network():
    tg.manual_seed(0)
    model = nn.Sequential.from_architecture(SEED_000_ARCH)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "ReLU"] * 4 + ["Linear", "Sigmoid"]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [
        (2, 4), (4, 6), (6, 6), (6, 4), (4, 1)]
    out = model(tg.randn(7, 2))
    assert out.shape == (7, 1) and np.all((out.data > 0) & (out.data < 1))
    # strings are compared by value (the seed's `is` bug): a built-up string works too
    name = "".join(["re", "lu"])
    linear = nn.Sequential.from_architecture([
        {"input_dim": 1, "output_dim": 2, "activation": name},
        {"input_dim": 2, "output_dim": 1, "activation": "linear"},
        {"input_dim": 1, "output_dim": 1, "activation": None},
        {"input_dim": 1, "output_dim": 3, "activation": "Softmax"},
        {"input_dim": 3, "output_dim": 3},
    ])
    assert [type(m).__name__ for m in linear] == ["Linear", "ReLU", "Linear", "Linear",
                                                  "Linear", "Softmax", "Linear"]


@pytest.mark.parametrize("arch, error, message", [
    ([{"input_dim": 2, "output_dim": 4, "activation": "relu"},
      {"input_dim": 5, "output_dim": 1, "activation": "sigmoid"}], ValueError,
     r"layer 1 has input_dim=5, but layer 0 has output_dim=4"),
    ([{"input_dim": 2, "output_dim": 4, "activation": "relu"},
      {"input_dim": 4, "output_dim": 1, "activation": "swish"}], ValueError,
     r"layer 1 has unknown activation 'swish'; known activations: 'relu', 'sigmoid', "
     r"'tanh', 'softmax'"),
    ([{"input_dim": 2, "output_dim": 4, "activation": "relu"},
      {"input_dim": 4, "activation": "relu"}], ValueError, r"layer 1 .* lacks \['output_dim'\]"),
    ([{"input_dim": 2, "output_dim": 4, "activaton": "relu"}], ValueError,
     r"layer 0 .* has unknown keys \['activaton'\]"),
    ([("input_dim", 2)], TypeError, r"layer 0 is a tuple"),
    ([{"input_dim": 2, "output_dim": 1, "activation": ["relu"]}], ValueError,
     r"layer 0 has unknown activation \['relu'\]"),
    ([], ValueError, "empty"),
])
def test_from_architecture_errors_name_the_layer(arch, error, message):
    with pytest.raises(error, match=message):
        nn.Sequential.from_architecture(arch)


# --------------------------------------------------------------- summary
def test_summary_of_the_seed_networks():
    tg.manual_seed(0)
    small = nn.Sequential.from_architecture(SEED_000_ARCH)
    report = small.summary((1, 2))
    # (2*4+4) + (4*6+6) + (6*6+6) + (6*4+4) + (4*1+1)
    assert report.total_params == 12 + 30 + 42 + 28 + 5 == 117
    wide = nn.summary(nn.Sequential.from_architecture(WIDE_ARCH), (32, 2))
    assert wide.total_params == wide.trainable_params == 75 + 1300 + 2550 + 1275 + 26 == 5226
    assert [(r.name, r.kind, r.output_shape, r.num_params) for r in wide.rows] == [
        ("0", "Linear", (32, 25), 75), ("1", "ReLU", (32, 25), 0),
        ("2", "Linear", (32, 50), 1300), ("3", "ReLU", (32, 50), 0),
        ("4", "Linear", (32, 50), 2550), ("5", "ReLU", (32, 50), 0),
        ("6", "Linear", (32, 25), 1275), ("7", "ReLU", (32, 25), 0),
        ("8", "Linear", (32, 1), 26), ("9", "Sigmoid", (32, 1), 0)]
    text = str(wide)
    assert "Total params: 5,226" in text and "2 (Linear)" in text and "(32, 50)" in text
    assert text.splitlines()[0] == "Input shape: (32, 2)"


def test_summary_of_nested_model_lists_leaves_and_reports_bad_shapes():
    model = AutoEncoder()
    model.requires_grad_(False)
    model.scale.requires_grad_(True)
    model(tg.ones(1, 3))
    spans = [m._forward_span for m in model.modules()]
    report = nn.summary(model, (5, 3))
    assert [m._forward_span for m in model.modules()] == spans  # the user's spans are kept
    assert [(r.name, r.output_shape, r.num_params) for r in report.rows] == [
        ("encoder.fc", (5, 4), 16), ("encoder.act", (5, 4), 0), ("decoder", (5, 3), 12)]
    assert report.total_params == 31 and report.trainable_params == 3
    assert "Non-trainable params: 28" in str(report)
    with pytest.raises(ValueError, match="in_features=3") as info:
        nn.summary(model, (5, 7))
    assert "tg.nn.summary ran AutoEncoder on zeros of shape (5, 7)" in "".join(
        getattr(info.value, "__notes__", []))


@given(st.lists(st.integers(1, 6), min_size=2, max_size=5))
def test_summary_counts_match_the_formula(widths):
    arch = [{"input_dim": a, "output_dim": b, "activation": "tanh"}
            for a, b in pairwise(widths)]
    model = nn.Sequential.from_architecture(arch)
    expected = sum(a * b + b for a, b in pairwise(widths))
    assert nn.summary(model, (2, widths[0])).total_params == expected
    assert sum(r.num_params for r in nn.summary(model, (2, widths[0])).rows) == expected


def test_apply_visits_children_first_and_to_casts_in_place():
    model = AutoEncoder()
    visited = []
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "Tanh", "Encoder", "Linear", "AutoEncoder"]
    model.apply(lambda m: nn.init.ones_(m.weight) if isinstance(m, nn.Linear) else None)
    assert np.all(model.decoder.weight.data == 1)
    weight = model.encoder.fc.weight
    model(tg.ones(1, 3)).sum().backward()
    assert model.to(np.float64) is model
    assert model.encoder.fc.weight is weight and weight.dtype == np.float64
    assert weight.grad.dtype == np.float64
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    with pytest.raises(TypeError, match="must stay floating-point"):
        model.to(np.int32)


def test_append_to_a_slice_never_replaces_a_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    part = model[1:3]  # keeps the names "1" and "2", as PyTorch's slices do
    part.append(nn.Tanh())
    assert list(part._modules) == ["1", "2", "3"]
    assert [type(m) for m in part] == [nn.ReLU, nn.Linear, nn.Tanh]


def test_zero_grad_to_zeros_never_writes_into_a_create_graph_gradient():
    layer = nn.Linear(2, 1, dtype=np.float64)
    (layer(tg.tensor(np.ones((1, 2)))) ** 2).sum().backward(create_graph=True)
    graph_grad = layer.weight.grad
    kept = graph_grad.data.copy()
    assert graph_grad.grad_fn is not None and np.any(kept != 0)
    layer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad.data, np.zeros((1, 2)))
    assert layer.weight.grad.grad_fn is None
    np.testing.assert_array_equal(graph_grad.data, kept)  # the graph's array is intact


def test_zero_grad_in_place_refuses_a_graph_that_saved_the_gradient():
    layer = nn.Linear(2, 1, dtype=np.float64)
    layer(tg.ones(1, 2, dtype=np.float64)).sum().backward()
    uses_grad = (layer.weight.grad * layer.weight).sum()  # saves the grad's array
    layer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(layer.weight.grad.data, np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        uses_grad.backward()
