"""HIPS autograd: a pure loss function of the parameter list, value_and_grad, SGD by hand."""
from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
from autograd import make_vjp, value_and_grad

from bench_data import CHAIN_ADD, CHAIN_MUL

NAME = "autograd"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return getattr(autograd, "__version__", "1.9.1")


def _loss(params: list, x: np.ndarray, y: np.ndarray, kind: str) -> float:
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = anp.dot(h, params[2 * i].T) + params[2 * i + 1]
        if i < n_layers - 1:
            h = anp.maximum(h, 0)
    if kind == "bce":
        p = 1 / (1 + anp.exp(-h))
        return -anp.mean(y * anp.log(p) + (1 - y) * anp.log(1 - p))
    if kind == "ce":
        shifted = h - anp.max(h, axis=1, keepdims=True)
        log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
        return -anp.mean(log_probs[np.arange(len(y)), y])
    return anp.mean(anp.maximum(1 - y * h, 0))


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        self._params = [p.copy() for pair in weights for p in pair]
        self.x, self.y, self.loss, self.lr = x, y, loss, lr
        self.loss_and_grad = value_and_grad(_loss)
        self._grads: list = []

    def step(self) -> float:
        loss, grads = self.loss_and_grad(self._params, self.x, self.y, self.loss)
        self._params = [p - self.lr * g for p, g in zip(self._params, grads)]
        self._grads = grads
        return float(loss)

    def params(self) -> list:
        return self._params

    def grads(self) -> list:
        return self._grads


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    def forward(x):
        y = x
        for _ in range(iterations):
            y = anp.tanh(y * CHAIN_MUL + CHAIN_ADD)
        return y

    def run() -> tuple:
        vjp, y = make_vjp(forward)(x0)
        return y, vjp(np.ones_like(x0))
    return run
