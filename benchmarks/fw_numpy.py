"""The floor: the same graphs in plain NumPy, forward and backward written by hand.

No autograd: the chain rule is applied op by op, in the same order an autograd
walk would, with the same formulas (the sigmoid and BCE are differentiated
separately, not fused into `p - y`), and the SGD update is in place. Every
framework is measured against this.
"""
from __future__ import annotations

import numpy as np

from bench_data import CHAIN_ADD, CHAIN_MUL

NAME = "numpy"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return np.__version__


class MLP:
    """Linear layers with ReLU between them; the loss decides the output head."""

    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        self.layers = [(w.copy(), b.copy()) for w, b in weights]
        self.x, self.y, self.loss, self.lr = x, y, loss, lr
        self._grads: list = []

    def step(self) -> float:
        """Forward, backward and SGD update; returns the loss."""
        x, y, n = self.x, self.y, len(self.x)
        acts, pre = [x], []
        for i, (w, b) in enumerate(self.layers):
            z = acts[-1] @ w.T + b
            pre.append(z)
            if i < len(self.layers) - 1:
                acts.append(np.maximum(z, 0))
        z = pre[-1]
        if self.loss == "bce":
            p = 1 / (1 + np.exp(-z))
            loss = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
            dp = -(y / p - (1 - y) / (1 - p)) / n
            dz = dp * (p * (1 - p))
        elif self.loss == "ce":
            shifted = z - z.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            rows = np.arange(n)
            loss = -(shifted[rows, y] - np.log(s[:, 0])).mean()
            dz = e / s
            dz[rows, y] -= 1
            dz /= n
        else:  # hinge
            margin = 1 - y * z
            loss = np.maximum(margin, 0).mean()
            dz = -y * ((margin > 0) / n)
        grads = []
        for i in range(len(self.layers) - 1, -1, -1):
            w, b = self.layers[i]
            grads.append((dz.T @ acts[i], dz.sum(axis=0)))
            if i > 0:
                dz = (dz @ w) * (pre[i - 1] > 0)
        grads.reverse()
        for (w, b), (dw, db) in zip(self.layers, grads):
            w -= self.lr * dw
            b -= self.lr * db
        self._grads = [g for pair in grads for g in pair]
        return float(loss)

    def params(self) -> list:
        return [p for pair in self.layers for p in pair]

    def grads(self) -> list:
        return self._grads


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    """fwd+bwd of `iterations` x y = tanh(y * mul + add); returns a function -> (y, dy/dx0)."""
    def run() -> tuple:
        y = x0
        outs = []
        for _ in range(iterations):
            y = np.tanh(y * CHAIN_MUL + CHAIN_ADD)
            outs.append(y)
        g = np.ones_like(y)
        for out in reversed(outs):
            g = g * (1 - out * out)  # tanh'
            g = g * CHAIN_MUL        # the add passes g through; the mul scales it
        return y, g
    return run
