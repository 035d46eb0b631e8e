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
