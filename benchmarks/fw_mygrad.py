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
