"""tinygrad_np with tg.compile: fw_tinygrad_np's step, recorded on its first call and
replayed after (the recording's time is reported separately, as compile time)."""
from __future__ import annotations

import numpy as np

import fw_tinygrad_np as eager
import tinygrad_np as tg

NAME = "tinygrad_np_compiled"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return tg.__version__


class MLP(eager.MLP):
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        super().__init__(weights, x, y, loss, lr)
        self.compiled = tg.compile(super().step)

    def step(self) -> float:
        return self.compiled()


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    """The chain's forward and backward, compiled (recorded here, so run() replays): x0 is
    the compiled call's input."""
    def body(x0: np.ndarray) -> tuple:
        x = tg.Tensor(x0, requires_grad=True)
        y = x
        for _ in range(iterations):
            y = (y * eager.CHAIN_MUL + eager.CHAIN_ADD).tanh()
        y.backward(np.ones_like(x0))
        return y.data, x.grad.data
    compiled = tg.compile(body)
    compiled(x0)

    def run() -> tuple:
        return compiled(x0)
    return run
