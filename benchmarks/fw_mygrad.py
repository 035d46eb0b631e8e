"""MyGrad: mygrad tensors, its nnet activations and softmax cross-entropy, update in place."""
from __future__ import annotations

import mygrad as mg
import numpy as np
from mygrad.nnet.activations import relu, sigmoid
from mygrad.nnet.losses import softmax_crossentropy

from bench_data import CHAIN_ADD, CHAIN_MUL

NAME = "mygrad"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return mg.__version__


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        self.layers = [(mg.tensor(w.copy()), mg.tensor(b.copy())) for w, b in weights]
        self.x, self.y, self.loss, self.lr = x, y, loss, lr

    def step(self) -> float:
        h = self.x
        for i, (w, b) in enumerate(self.layers):
            h = mg.matmul(h, w.T) + b
            if i < len(self.layers) - 1:
                h = relu(h)
        y = self.y
        if self.loss == "bce":
            p = sigmoid(h)
            loss = -mg.mean(y * mg.log(p) + (1 - y) * mg.log(1 - p))
        elif self.loss == "ce":
            loss = softmax_crossentropy(h, y)
        else:
            loss = mg.mean(relu(1 - y * h))
        loss.backward()
        for w, b in self.layers:
            w.data -= self.lr * w.grad
            b.data -= self.lr * b.grad
        return float(loss.item())

    def params(self) -> list:
        return [p.data for pair in self.layers for p in pair]

    def grads(self) -> list:
        return [p.grad for pair in self.layers for p in pair]


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    def run() -> tuple:
        x = mg.tensor(x0)
        y = x
        for _ in range(iterations):
            y = mg.tanh(y * CHAIN_MUL + CHAIN_ADD)
        y.backward(np.ones_like(x0))
        return y.data, x.grad
    return run


# --- W7: the digits CNN (mygrad.nnet conv_nd and max_pool, softmax_crossentropy)
from mygrad.nnet.layers import conv_nd, max_pool  # noqa: E402

KINDS = KINDS | {"cnn"}


class CNN:
    def __init__(self, spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        self.weights = [mg.tensor(w.copy()) for w in weights]
        self.x, self.y, self.lr = x, y, lr

    def step(self) -> float:
        w1, b1, w2, b2, w3, b3 = self.weights
        h = relu(conv_nd(self.x, w1, stride=1, padding=1) + b1[:, None, None])
        h = relu(conv_nd(h, w2, stride=1, padding=1) + b2[:, None, None])
        h = max_pool(h, (2, 2), 2)
        h = h.reshape(h.shape[0], -1)
        loss = softmax_crossentropy(mg.matmul(h, w3.T) + b3, self.y)
        loss.backward()
        for w in self.weights:
            w.data -= self.lr * w.grad
        return float(loss.item())

    def params(self) -> list:
        return [w.data for w in self.weights]

    def grads(self) -> list:
        return [w.grad for w in self.weights]


def cnn(spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> CNN:
    return CNN(spec, weights, x, y, lr)


# --- W8, W9 (branch wt-rnnattn) -----------------------------------------------------------
KINDS |= {"gru", "encoder"}


def _gru_loss(params: list, x: np.ndarray, y: np.ndarray):
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    hidden = w_hh.shape[1]
    h = np.zeros((x.shape[1], hidden), x.dtype)
    for x_t in x:
        gi, gh = mg.matmul(x_t, w_ih.T) + b_ih, mg.matmul(h, w_hh.T) + b_hh
        r = sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
        n = mg.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
        h = (1 - z) * n + z * h
    return softmax_crossentropy(mg.matmul(h, w_out.T) + b_out, y)


def _layer_norm(x, g, b, eps: float = 1e-5):
    centred = x - mg.mean(x, axis=-1, keepdims=True)
    return centred / mg.sqrt(mg.mean(centred * centred, axis=-1, keepdims=True) + eps) * g + b


def _encoder_loss(params: list, x: np.ndarray, target: np.ndarray, heads: int):
    w_in, b_in, w_o, b_o, w_1, b_1, w_2, b_2, g_1, be_1, g_2, be_2 = params
    n, steps, d = x.shape  # (batch, seq, d)
    hd = d // heads

    def split(a):
        return mg.transpose(mg.reshape(a, (n, steps, heads, hd)), (0, 2, 1, 3))

    q, k, v = (split(mg.matmul(x, w_in[i * d:(i + 1) * d].T) + b_in[i * d:(i + 1) * d])
               for i in range(3))
    scores = mg.matmul(q * (1 / hd ** 0.5), mg.swapaxes(k, -1, -2))
    e = mg.exp(scores - mg.max(scores, axis=-1, keepdims=True))
    o = mg.matmul(e / mg.sum(e, axis=-1, keepdims=True), v)
    o = mg.reshape(mg.transpose(o, (0, 2, 1, 3)), (n, steps, d))
    n1 = _layer_norm(x + mg.matmul(o, w_o.T) + b_o, g_1, be_1)
    hidden = relu(mg.matmul(n1, w_1.T) + b_1)
    out = _layer_norm(n1 + mg.matmul(hidden, w_2.T) + b_2, g_2, be_2)
    return mg.mean((out - target) ** 2)


class _Trainer:
    """A loss of the parameter tensors, backward, SGD in place."""

    def __init__(self, weights: list, loss, lr: float, *args) -> None:
        self._params = [mg.tensor(w.copy()) for w in weights]
        self.loss, self.lr, self.args = loss, lr, args

    def step(self) -> float:
        loss = self.loss(self._params, *self.args)
        loss.backward()
        for p in self._params:
            p.data -= self.lr * p.grad
        return float(loss.item())

    def params(self) -> list:
        return [p.data for p in self._params]

    def grads(self) -> list:
        return [p.grad for p in self._params]


def gru(weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> _Trainer:
    return _Trainer(weights, _gru_loss, lr, x, y)


def encoder(weights: list, x: np.ndarray, y: np.ndarray, lr: float, heads: int) -> _Trainer:
    return _Trainer(weights, _encoder_loss, lr, x.swapaxes(0, 1), y.swapaxes(0, 1), heads)
# --- end W8, W9 ---------------------------------------------------------------------------
