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


# --- W7: the digits CNN by hand: im2col convolutions, 2x2 max pooling, softmax CE, SGD
KINDS = KINDS | {"cnn"}
_K, _PAD = 3, 1  # 3x3 kernels, padding 1


def _im2col(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N*H*W, C*3*3): row (n, h, w) is the window at (h, w), in the
    weight's (c, i, j) order, so conv = cols @ w.reshape(O, -1).T."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (_PAD, _PAD), (_PAD, _PAD)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (_K, _K), axis=(2, 3))
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, c * _K * _K)


def _col2im(dcols: np.ndarray, shape: tuple) -> np.ndarray:
    """The adjoint of _im2col: each window's gradient added back where it was read."""
    n, c, h, w = shape
    dcols = dcols.reshape(n, h, w, c, _K, _K)
    dxp = np.zeros((n, c, h + 2 * _PAD, w + 2 * _PAD), dcols.dtype)
    for i in range(_K):
        for j in range(_K):
            dxp[:, :, i:i + h, j:j + w] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, _PAD:-_PAD, _PAD:-_PAD]


class CNN:
    def __init__(self, spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        self.weights = [w.copy() for w in weights]
        self.x, self.y, self.lr = x, y, lr
        self._grads: list = []

    def _conv(self, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple:
        cols = _im2col(x)
        rows = cols @ w.reshape(w.shape[0], -1).T + b  # (N*H*W, O)
        n, _, h, width = x.shape
        return rows.reshape(n, h, width, -1).transpose(0, 3, 1, 2), cols

    def _conv_backward(self, dz: np.ndarray, cols: np.ndarray, w: np.ndarray,
                       x_shape: tuple, need_input: bool) -> tuple:
        rows = dz.transpose(0, 2, 3, 1).reshape(-1, w.shape[0])
        dw = (rows.T @ cols).reshape(w.shape)
        db = rows.sum(axis=0)
        dx = _col2im(rows @ w.reshape(w.shape[0], -1), x_shape) if need_input else None
        return dw, db, dx

    def step(self) -> float:
        w1, b1, w2, b2, w3, b3 = self.weights
        x, y, n = self.x, self.y, len(self.x)
        z1, cols1 = self._conv(x, w1, b1)
        a1 = np.maximum(z1, 0)
        z2, cols2 = self._conv(a1, w2, b2)
        a2 = np.maximum(z2, 0)
        c, h, w = a2.shape[1:]
        windows = a2.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        windows = windows.reshape(n, c, h // 2, w // 2, 4)
        first = windows.argmax(axis=-1)  # the first maximum takes the gradient
        pooled = np.take_along_axis(windows, first[..., None], -1)[..., 0]
        flat = pooled.reshape(n, -1)
        z = flat @ w3.T + b3
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = -(shifted[rows, y] - np.log(s[:, 0])).mean()
        dz = e / s
        dz[rows, y] -= 1
        dz /= n
        dw3, db3 = dz.T @ flat, dz.sum(axis=0)
        dpooled = (dz @ w3).reshape(pooled.shape)
        dwindows = (np.arange(4) == first[..., None]) * dpooled[..., None]
        da2 = dwindows.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        dz2 = da2.reshape(a2.shape) * (z2 > 0)
        dw2, db2, da1 = self._conv_backward(dz2, cols2, w2, a1.shape, True)
        dw1, db1, _ = self._conv_backward(da1 * (z1 > 0), cols1, w1, x.shape, False)
        self._grads = [dw1, db1, dw2, db2, dw3, db3]
        for p, g in zip(self.weights, self._grads):
            p -= self.lr * g
        return float(loss)

    def params(self) -> list:
        return self.weights

    def grads(self) -> list:
        return self._grads


def cnn(spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> CNN:
    return CNN(spec, weights, x, y, lr)
