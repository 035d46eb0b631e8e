"""micrograd: scalar Values, so only the micro workload (W5, hinge loss as in its demo).

micrograd has no exp/log/tanh (so no sigmoid, BCE, softmax or the tanh chain),
and its topological sort is recursive (a long chain overflows the stack).
"""
from __future__ import annotations

import micrograd
import numpy as np
from micrograd.nn import MLP as MicroMLP

NAME = "micrograd"
KINDS = {"hinge"}


def version() -> str:
    return getattr(micrograd, "__version__", "0.1.0")


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        if loss != "hinge":
            raise ValueError(f"micrograd cannot compute the {loss} loss (no exp/log)")
        sizes = [weights[0][0].shape[1]] + [w.shape[0] for w, _ in weights]
        self.model = MicroMLP(sizes[0], sizes[1:])
        for layer, (w, b) in zip(self.model.layers, weights):
            for j, neuron in enumerate(layer.neurons):
                for i, wi in enumerate(neuron.w):
                    wi.data = float(w[j, i])
                neuron.b.data = float(b[j])
        self.rows = x.tolist()
        self.targets = y[:, 0].tolist()
        self.lr = lr

    def step(self) -> float:
        scores = [self.model(row) for row in self.rows]
        losses = [(1 + -t * s).relu() for t, s in zip(self.targets, scores)]
        loss = sum(losses) * (1.0 / len(losses))
        self.model.zero_grad()
        loss.backward()
        for p in self.model.parameters():
            p.data -= self.lr * p.grad
        return float(loss.data)

    def _collect(self, attr: str) -> list:
        out = []
        for layer in self.model.layers:
            out.append(np.array([[getattr(wi, attr) for wi in n.w] for n in layer.neurons]))
            out.append(np.array([getattr(n.b, attr) for n in layer.neurons]))
        return out

    def params(self) -> list:
        return self._collect("data")

    def grads(self) -> list:
        return self._collect("grad")


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)
