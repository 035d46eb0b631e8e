"""The workloads W1..W6: their data, their float32 weights, and their sizes.

Everything here is plain NumPy drawn from fixed seeds, so every framework, in
every fresh process, starts from bit-identical arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEED = 0
LR = 0.01
CHAIN_MUL, CHAIN_ADD = 1.0001, 0.001  # the chain body: y = (y * 1.0001 + 0.001).tanh()


@dataclass(frozen=True)
class Workload:
    """One benchmark row: what it runs and how it is measured."""

    key: str
    title: str
    kind: str          # "mlp" (a training step), "chain" (fwd+bwd of a long chain), "memory"
    loss: str = ""     # for mlp: "bce" (sigmoid out), "ce" (softmax), "hinge" (linear out)
    sizes: tuple = ()  # for mlp: layer widths; for chain: (elements, iterations)
    rows: int = 0


WORKLOADS = {
    "W1": Workload("W1", "moons MLP 2-25-50-50-25-1, BCE, 800 rows, SGD step", "mlp", "bce",
                   (2, 25, 50, 50, 25, 1), 800),
    "W2": Workload("W2", "MLP 784-256-256-10, softmax CE, batch 128, SGD step", "mlp", "ce",
                   (784, 256, 256, 10), 128),
    "W3": Workload("W3", "1000 x (y*1.0001+0.001).tanh() on 16 floats, fwd+bwd", "chain",
                   sizes=(16, 1000)),
    # NOTE: 33,334 bodies of 3 ops = 100,002 recorded ops.
    "W4": Workload("W4", "100,000-op chain fwd+bwd, fresh process", "chain", sizes=(16, 33_334)),
    "W5": Workload("W5", "micro MLP 2-16-16-1, hinge loss, 100 rows, SGD step", "mlp", "hinge",
                   (2, 16, 16, 1), 100),
    "W6": Workload("W6", "RSS growth from W1 step 100 to step 10,000", "memory", "bce",
                   (2, 25, 50, 50, 25, 1), 800),
}


def moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's make_moons), labels 0/1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], 1)])
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    x += rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n)
    return x[order], y[order]


def init_weights(sizes: tuple, seed: int, dtype: np.dtype) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default Linear init, drawn from one seed: [(W (out, in), b (out,)), ...]."""
    rng = np.random.default_rng(seed)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(n_in)
        w = rng.uniform(-bound, bound, size=(n_out, n_in)).astype(dtype)
        b = rng.uniform(-bound, bound, size=(n_out,)).astype(dtype)
        weights.append((w, b))
    return weights


def mlp_data(loss: str, sizes: tuple, rows: int, seed: int,
             dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for an MLP workload.

    bce: moons (noise 0.2, as in examples/moons.py), targets (rows, 1) in {0, 1};
    hinge: moons, targets (rows, 1) in {-1, +1} (micrograd's demo);
    ce: standard-normal inputs, integer class targets (rows,).
    """
    if loss in ("bce", "hinge"):
        x, y = moons(rows, 0.2, seed)
        if sizes[0] != 2:  # tiny checks may use wider inputs: pad with noise
            extra = np.random.default_rng(seed + 1).normal(size=(rows, sizes[0] - 2))
            x = np.concatenate([x, extra], 1)
        y = y if loss == "bce" else 2 * y - 1
        return x.astype(dtype), y.reshape(-1, 1).astype(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, sizes[0])).astype(dtype)
    return x, rng.integers(0, sizes[-1], size=rows).astype(np.int64)


def chain_input(elements: int, seed: int, dtype: np.dtype) -> np.ndarray:
    """The chain's starting vector."""
    return np.random.default_rng(seed).uniform(-1, 1, size=elements).astype(dtype)


# The tiny cases the correctness check runs in every framework (see bench_check.py).
TINY_MLP = {"bce": ((3, 5, 4, 1), 12), "ce": ((6, 7, 4), 9), "hinge": ((2, 4, 3, 1), 10)}
TINY_CHAIN = (4, 6)


# --- W7: the digits CNN step (a convolutional network; frameworks list "cnn" in KINDS)
@dataclass(frozen=True)
class CNN:
    """Conv2d(c_in, c1, 3, p=1)-ReLU-Conv2d(c1, c2, 3, p=1)-ReLU-MaxPool2d(2)-Flatten-
    Linear(c2 * (side / 2)**2, classes), softmax cross-entropy, SGD."""

    c_in: int
    c1: int
    c2: int
    side: int
    classes: int
    rows: int


WORKLOADS["W7"] = Workload("W7", "digits CNN conv16-conv32-maxpool-linear, batch 64 of 1x8x8, "
                           "CE, SGD step", "cnn", "ce", (1, 16, 32, 8, 10), 64)
TINY_CNN = CNN(1, 2, 3, 4, 3, 5)


def cnn_spec(w: Workload) -> CNN:
    return CNN(*w.sizes, w.rows)


def init_cnn(spec: CNN, seed: int, dtype: np.dtype) -> list[np.ndarray]:
    """PyTorch's default Conv2d/Linear init from one seed: [w1, b1, w2, b2, w3, b3]."""
    rng = np.random.default_rng(seed)
    shapes = [(spec.c1, spec.c_in, 3, 3), (spec.c2, spec.c1, 3, 3),
              (spec.classes, spec.c2 * (spec.side // 2) ** 2)]
    weights = []
    for shape in shapes:
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        weights.append(rng.uniform(-bound, bound, size=shape).astype(dtype))
        weights.append(rng.uniform(-bound, bound, size=shape[0]).astype(dtype))
    return weights


def cnn_data(spec: CNN, seed: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Standard-normal (rows, c_in, side, side) images and integer class targets (rows,)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((spec.rows, spec.c_in, spec.side, spec.side)).astype(dtype)
    return x, rng.integers(0, spec.classes, size=spec.rows).astype(np.int64)


# --- W8, W9: a recurrent and an attention training step (branch wt-rnnattn) ---------------
WORKLOADS["W8"] = Workload(
    "W8", "GRU(32 -> 128), seq 32, batch 32, last state -> Linear(10), CE, SGD step", "gru",
    "ce", (32, 128, 10, 32), 32)
WORKLOADS["W9"] = Workload(
    "W9", "TransformerEncoderLayer(d 64, 4 heads, ff 128, dropout 0), seq 32, batch 16, MSE, "
    "SGD step", "encoder", "mse", (64, 4, 128, 32), 16)
SEQUENCE_KINDS = {"gru", "encoder"}
# tiny cases of the correctness check: (sizes as in WORKLOADS, batch)
TINY_SEQUENCE = {"gru": ((3, 4, 2, 5), 3), "encoder": ((8, 2, 12, 5), 3)}


def gru_weights(sizes: tuple, seed: int, dtype: np.dtype) -> list[np.ndarray]:
    """[weight_ih (3H, I), weight_hh (3H, H), bias_ih, bias_hh, head weight (C, H), head bias]:
    PyTorch's layout and init, U(-1/sqrt(H), 1/sqrt(H)) for all."""
    n_in, hidden, classes, _ = sizes
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(hidden)
    shapes = [(3 * hidden, n_in), (3 * hidden, hidden), (3 * hidden,), (3 * hidden,),
              (classes, hidden), (classes,)]
    return [rng.uniform(-bound, bound, size=s).astype(dtype) for s in shapes]


def gru_data(sizes: tuple, batch: int, seed: int, dtype: np.dtype) -> tuple:
    """x (seq, batch, input) standard normal, integer class targets (batch,)."""
    n_in, _, classes, steps = sizes
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((steps, batch, n_in)).astype(dtype),
            rng.integers(0, classes, size=batch).astype(np.int64))


ENCODER_NAMES = ("self_attn.in_proj_weight", "self_attn.in_proj_bias",
                 "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                 "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
                 "norm2.weight", "norm2.bias")


def encoder_weights(sizes: tuple, seed: int, dtype: np.dtype) -> list[np.ndarray]:
    """The TransformerEncoderLayer's parameters in PyTorch's state-dict order (ENCODER_NAMES);
    uniform draws of PyTorch's scales, biases and norms included, so every term matters."""
    d, _, ff, _ = sizes
    rng = np.random.default_rng(seed)
    shapes = [(3 * d, d), (3 * d,), (d, d), (d,), (ff, d), (ff,), (d, ff), (d,), (d,), (d,),
              (d,), (d,)]
    bounds = [np.sqrt(6 / (4 * d)), 0.1, 1 / np.sqrt(d), 0.1, 1 / np.sqrt(d), 1 / np.sqrt(d),
              1 / np.sqrt(ff), 1 / np.sqrt(ff), 0.1, 0.1, 0.1, 0.1]
    weights = [rng.uniform(-b, b, size=s) for s, b in zip(shapes, bounds)]
    weights[8] += 1  # the norms' scales near 1
    weights[10] += 1
    return [w.astype(dtype) for w in weights]


def encoder_data(sizes: tuple, batch: int, seed: int, dtype: np.dtype) -> tuple:
    """x and the regression target, both (seq, batch, d_model) standard normal."""
    d, _, _, steps = sizes
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((steps, batch, d)).astype(dtype) for _ in range(2))


def sequence_case(kind: str, sizes: tuple, batch: int, seed: int, dtype: np.dtype) -> tuple:
    """(weights, x, y) of a W8 ("gru") or W9 ("encoder") case."""
    if kind == "gru":
        return (gru_weights(sizes, seed, dtype), *gru_data(sizes, batch, seed + 1, dtype))
    return (encoder_weights(sizes, seed, dtype), *encoder_data(sizes, batch, seed + 1, dtype))
# --- end W8, W9 ---------------------------------------------------------------------------
