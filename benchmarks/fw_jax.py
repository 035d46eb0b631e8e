"""JAX on the CPU: the whole training step -- loss, gradient (jax.value_and_grad), SGD
update -- under one jax.jit, parameters passed in and returned (their buffers donated)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bench_data import CHAIN_ADD, CHAIN_MUL

jax.config.update("jax_enable_x64", True)  # the check's float64 case; float32 stays float32
jax.config.update("jax_platforms", "cpu")

NAME = "jax"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return jax.__version__


def _loss(params: tuple, x: jax.Array, y: jax.Array, kind: str) -> jax.Array:
    h = x
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i].T + params[2 * i + 1]
        if i < n_layers - 1:
            h = jnp.maximum(h, 0)
    if kind == "bce":  # sigmoid, then BCE (log clamped at -100, as torch.nn.BCELoss)
        p = jax.nn.sigmoid(h)
        return -jnp.mean(y * jnp.maximum(jnp.log(p), -100)
                         + (1 - y) * jnp.maximum(jnp.log(1 - p), -100))
    if kind == "ce":
        log_probs = jax.nn.log_softmax(h, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))
    return jnp.mean(jnp.maximum(1 - y * h, 0))


def _make_step(kind: str, lr: float):
    def step(params: tuple, x: jax.Array, y: jax.Array) -> tuple:
        loss, grads = jax.value_and_grad(_loss)(params, x, y, kind)
        return tuple(p - lr * g for p, g in zip(params, grads)), loss, grads
    return jax.jit(step, donate_argnums=0)


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        self._params = tuple(jnp.asarray(p) for pair in weights for p in pair)
        self.x, self.y = jnp.asarray(x), jnp.asarray(y)
        self._step = _make_step(loss, lr)
        self._grads: tuple = ()

    def step(self) -> float:
        self._params, loss, self._grads = self._step(self._params, self.x, self.y)
        return float(loss)

    def params(self) -> list:
        return [np.asarray(p) for p in self._params]

    def grads(self) -> list:
        return [np.asarray(g) for g in self._grads]


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    """fwd+bwd of the chain under one jit (a fori_loop: the same ops, compiled once);
    compiled here, so run() times the compiled call."""
    def forward(x: jax.Array) -> jax.Array:
        return jax.lax.fori_loop(0, iterations,
                                 lambda _, y: jnp.tanh(y * CHAIN_MUL + CHAIN_ADD), x)

    @jax.jit
    def fwd_bwd(x: jax.Array) -> tuple:
        y, vjp = jax.vjp(forward, x)
        return y, vjp(jnp.ones_like(y))[0]

    x = jnp.asarray(x0)
    jax.block_until_ready(fwd_bwd(x))

    def run() -> tuple:
        y, dx = fwd_bwd(x)
        return np.asarray(y), np.asarray(dx)
    return run
