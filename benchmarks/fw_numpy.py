"""The floor: the same graphs in plain NumPy, forward and backward written by hand.

No autograd: the chain rule is applied op by op, in the same order an autograd
walk would, with the same formulas (the sigmoid and BCE are differentiated
separately, not fused into `p - y`), and the SGD update is in place. Every
framework is measured against this.
"""
from __future__ import annotations

import math

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


# --- W8, W9 by hand (branch wt-rnnattn) ---------------------------------------------------
KINDS |= {"gru", "encoder"}


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


class GRUClassifier:
    """W8: a GRU over the sequence (PyTorch's gates r, z, n), its last state through a Linear
    head, softmax cross-entropy; backpropagation through time written out, in-place SGD."""

    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        self.weights = [w.copy() for w in weights]
        self.x, self.y, self.lr = x, y, lr
        self._grads: list = []

    def step(self) -> float:
        w_ih, w_hh, b_ih, b_hh, w_out, b_out = self.weights
        x, y, n = self.x, self.y, len(self.y)
        hidden = w_hh.shape[1]
        h = np.zeros((x.shape[1], hidden), x.dtype)
        cache = []
        for x_t in x:
            gi, gh = x_t @ w_ih.T + b_ih, h @ w_hh.T + b_hh
            rz = _sigmoid(gi[:, :2 * hidden] + gh[:, :2 * hidden])
            r, z = rz[:, :hidden], rz[:, hidden:]
            hn = gh[:, 2 * hidden:]
            cand = np.tanh(gi[:, 2 * hidden:] + r * hn)
            cache.append((h, rz, hn, cand))
            h = cand + z * (h - cand)
        logits = h @ w_out.T + b_out
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = -(shifted[rows, y] - np.log(s[:, 0])).mean()
        d_logits = e / s
        d_logits[rows, y] -= 1
        d_logits /= n
        grads = [np.zeros_like(w) for w in self.weights]
        grads[4], grads[5] = d_logits.T @ h, d_logits.sum(axis=0)
        dh = d_logits @ w_out
        d_gates = np.empty((len(y), 3 * hidden), x.dtype)
        for t in range(len(x) - 1, -1, -1):
            h_prev, rz, hn, cand = cache[t]
            r, z = rz[:, :hidden], rz[:, hidden:]
            d_cand = dh * (1 - z)
            d_z = dh * (h_prev - cand)
            d_pre_n = d_cand * (1 - cand * cand)
            d_r = d_pre_n * hn
            d_rz = np.concatenate([d_r, d_z], axis=1) * (rz * (1 - rz))
            d_gates[:, :2 * hidden] = d_rz
            d_gates[:, 2 * hidden:] = d_pre_n  # input side of n
            grads[0] += d_gates.T @ x[t]
            grads[2] += d_gates.sum(axis=0)
            d_gates[:, 2 * hidden:] = d_pre_n * r  # hidden side of n
            grads[1] += d_gates.T @ h_prev
            grads[3] += d_gates.sum(axis=0)
            dh = dh * z + d_gates @ w_hh
        for w, g in zip(self.weights, grads):
            w -= self.lr * g
        self._grads = grads
        return float(loss)

    def params(self) -> list:
        return self.weights

    def grads(self) -> list:
        return self._grads


def gru(weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> GRUClassifier:
    return GRUClassifier(weights, x, y, lr)


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> tuple:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    inv_std = 1 / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    x_hat = centred * inv_std
    return x_hat * g + b, (x_hat, inv_std)


def _layer_norm_back(dy: np.ndarray, g: np.ndarray, cache: tuple) -> tuple:
    x_hat, inv_std = cache
    axes = tuple(range(dy.ndim - 1))
    d_hat = dy * g
    dx = (d_hat - d_hat.mean(axis=-1, keepdims=True)
          - x_hat * (d_hat * x_hat).mean(axis=-1, keepdims=True)) * inv_std
    return dx, (dy * x_hat).sum(axis=axes), dy.sum(axis=axes)


class EncoderRegressor:
    """W9: PyTorch's TransformerEncoderLayer (post-norm, relu, no dropout, no mask) on
    (seq, batch, d) inputs, mean squared error to a target; chain rule written out."""

    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, lr: float,
                 heads: int) -> None:
        self.weights = [w.copy() for w in weights]
        self.x, self.y, self.lr, self.heads = x.swapaxes(0, 1), y.swapaxes(0, 1), lr, heads
        self._grads: list = []

    def step(self) -> float:
        w_in, b_in, w_o, b_o, w_1, b_1, w_2, b_2, g_1, be_1, g_2, be_2 = self.weights
        x, target = self.x, self.y  # (batch, seq, d)
        n, steps, d = x.shape
        heads, hd = self.heads, d // self.heads

        def split(a: np.ndarray) -> np.ndarray:  # (n, seq, d) -> (n, heads, seq, hd)
            return a.reshape(n, steps, heads, hd).transpose(0, 2, 1, 3)

        def merge(a: np.ndarray) -> np.ndarray:
            return a.transpose(0, 2, 1, 3).reshape(n, steps, d)

        scale = 1 / math.sqrt(hd)  # a Python float: a NumPy float64 would promote float32
        q, k, v = (split(x @ w_in[i * d:(i + 1) * d].T + b_in[i * d:(i + 1) * d])
                   for i in range(3))
        scores = (q * scale) @ k.swapaxes(-1, -2)
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        o = merge(p @ v)
        r1 = x + (o @ w_o.T + b_o)
        n1, ln1 = _layer_norm(r1, g_1, be_1)
        h1 = n1 @ w_1.T + b_1
        hr = np.maximum(h1, 0)
        r2 = n1 + (hr @ w_2.T + b_2)
        out, ln2 = _layer_norm(r2, g_2, be_2)
        diff = out - target
        loss = (diff * diff).mean()

        rows = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
        d_out = diff * (2 / diff.size)
        d_r2, d_g2, d_be2 = _layer_norm_back(d_out, g_2, ln2)
        d_w2, d_b2 = rows(d_r2).T @ rows(hr), d_r2.sum(axis=(0, 1))
        d_h1 = (d_r2 @ w_2) * (h1 > 0)
        d_w1, d_b1 = rows(d_h1).T @ rows(n1), d_h1.sum(axis=(0, 1))
        d_n1 = d_r2 + d_h1 @ w_1
        d_r1, d_g1, d_be1 = _layer_norm_back(d_n1, g_1, ln1)
        d_wo, d_bo = rows(d_r1).T @ rows(o), d_r1.sum(axis=(0, 1))
        d_oh = split(d_r1 @ w_o)
        d_p = d_oh @ v.swapaxes(-1, -2)
        d_v = p.swapaxes(-1, -2) @ d_oh
        d_scores = p * (d_p - (d_p * p).sum(axis=-1, keepdims=True))
        d_q = (d_scores @ k) * scale
        d_k = d_scores.swapaxes(-1, -2) @ (q * scale)
        d_w_in = np.concatenate([rows(merge(dz)).T @ rows(x) for dz in (d_q, d_k, d_v)])
        d_b_in = np.concatenate([merge(dz).sum(axis=(0, 1)) for dz in (d_q, d_k, d_v)])
        grads = [d_w_in, d_b_in, d_wo, d_bo, d_w1, d_b1, d_w2, d_b2, d_g1, d_be1, d_g2, d_be2]
        for w, g in zip(self.weights, grads):
            w -= self.lr * g
        self._grads = grads
        return float(loss)

    def params(self) -> list:
        return self.weights

    def grads(self) -> list:
        return self._grads


def encoder(weights: list, x: np.ndarray, y: np.ndarray, lr: float,
            heads: int) -> EncoderRegressor:
    return EncoderRegressor(weights, x, y, lr, heads)
# --- end W8, W9 ---------------------------------------------------------------------------
