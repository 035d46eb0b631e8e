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


# --- W8, W9 (branch wt-rnnattn): pure loss functions of the parameter list ----------------
KINDS |= {"gru", "encoder"}


def _sigmoid(a):
    return 1 / (1 + anp.exp(-a))


def _gru_loss(params: list, x: np.ndarray, y: np.ndarray) -> float:
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    hidden = w_hh.shape[1]
    h = anp.zeros((x.shape[1], hidden), x.dtype)
    for x_t in x:
        gi, gh = anp.dot(x_t, w_ih.T) + b_ih, anp.dot(h, w_hh.T) + b_hh
        r = _sigmoid(gi[:, :hidden] + gh[:, :hidden])
        z = _sigmoid(gi[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
        n = anp.tanh(gi[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
        h = (1 - z) * n + z * h
    logits = anp.dot(h, w_out.T) + b_out
    shifted = logits - anp.max(logits, axis=1, keepdims=True)
    log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
    return -anp.mean(log_probs[np.arange(len(y)), y])


def _layer_norm(x, g, b, eps: float = 1e-5):
    centred = x - anp.mean(x, axis=-1, keepdims=True)
    return centred / anp.sqrt(anp.mean(centred * centred, axis=-1, keepdims=True) + eps) * g + b


def _encoder_loss(params: list, x: np.ndarray, target: np.ndarray, heads: int) -> float:
    w_in, b_in, w_o, b_o, w_1, b_1, w_2, b_2, g_1, be_1, g_2, be_2 = params
    n, steps, d = x.shape  # (batch, seq, d)
    hd = d // heads

    def split(a):
        return anp.transpose(anp.reshape(a, (n, steps, heads, hd)), (0, 2, 1, 3))

    q, k, v = (split(anp.dot(x, w_in[i * d:(i + 1) * d].T) + b_in[i * d:(i + 1) * d])
               for i in range(3))
    scores = anp.matmul(q * (1 / hd ** 0.5), anp.swapaxes(k, -1, -2))
    e = anp.exp(scores - anp.max(scores, axis=-1, keepdims=True))
    o = anp.matmul(e / anp.sum(e, axis=-1, keepdims=True), v)
    o = anp.reshape(anp.transpose(o, (0, 2, 1, 3)), (n, steps, d))
    n1 = _layer_norm(x + anp.dot(o, w_o.T) + b_o, g_1, be_1)
    hidden = anp.maximum(anp.dot(n1, w_1.T) + b_1, 0)
    out = _layer_norm(n1 + anp.dot(hidden, w_2.T) + b_2, g_2, be_2)
    return anp.mean((out - target) ** 2)


class _Trainer(MLP):
    """value_and_grad of a loss of the parameter list, SGD by hand."""

    def __init__(self, weights: list, loss, lr: float, *args) -> None:
        self._params, self.lr, self.args = [w.copy() for w in weights], lr, args
        self.loss_and_grad = value_and_grad(loss)
        self._grads = []

    def step(self) -> float:
        loss, grads = self.loss_and_grad(self._params, *self.args)
        self._params = [p - self.lr * g for p, g in zip(self._params, grads)]
        self._grads = grads
        return float(loss)


def gru(weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> _Trainer:
    return _Trainer(weights, _gru_loss, lr, x, y)


def encoder(weights: list, x: np.ndarray, y: np.ndarray, lr: float, heads: int) -> _Trainer:
    return _Trainer(weights, _encoder_loss, lr, x.swapaxes(0, 1), y.swapaxes(0, 1), heads)
# --- end W8, W9 ---------------------------------------------------------------------------
