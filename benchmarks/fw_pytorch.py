"""PyTorch eager on the CPU, one thread: torch.nn layers and losses, torch.optim.SGD."""
from __future__ import annotations

import numpy as np
import torch

from bench_data import CHAIN_ADD, CHAIN_MUL

NAME = "pytorch"
KINDS = {"bce", "ce", "hinge", "chain"}
torch.set_num_threads(1)


def version() -> str:
    return torch.__version__


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        layers: list = []
        for i, (w, b) in enumerate(weights):
            linear = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.from_numpy(w).dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w))
                linear.bias.copy_(torch.from_numpy(b))
            layers.append(linear)
            if i < len(weights) - 1:
                layers.append(torch.nn.ReLU())
        if loss == "bce":
            layers.append(torch.nn.Sigmoid())
        self.model = torch.nn.Sequential(*layers)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.criterion = {"bce": torch.nn.BCELoss(), "ce": torch.nn.CrossEntropyLoss()}.get(loss)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        out = self.model(self.x)
        if self.criterion is not None:
            loss = self.criterion(out, self.y)
        else:
            loss = torch.relu(1 - self.y * out).mean()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.detach().numpy() for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.numpy() for p in self.model.parameters()]


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    def run() -> tuple:
        x = torch.tensor(x0, requires_grad=True)
        y = x
        for _ in range(iterations):
            y = (y * CHAIN_MUL + CHAIN_ADD).tanh()
        y.backward(torch.ones_like(y))
        return y.detach().numpy(), x.grad.numpy()
    return run


# --- W7: the digits CNN (torch.nn.Conv2d, MaxPool2d, Flatten, CrossEntropyLoss, optim.SGD)
KINDS = KINDS | {"cnn"}


class CNN:
    def __init__(self, spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        nn, dtype = torch.nn, torch.from_numpy(x).dtype
        self.model = nn.Sequential(
            nn.Conv2d(spec.c_in, spec.c1, 3, padding=1, dtype=dtype), nn.ReLU(),
            nn.Conv2d(spec.c1, spec.c2, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(spec.c2 * (spec.side // 2) ** 2, spec.classes, dtype=dtype))
        with torch.no_grad():
            for p, w in zip(self.model.parameters(), weights):
                p.copy_(torch.from_numpy(w))
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.detach().numpy() for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.numpy() for p in self.model.parameters()]


def cnn(spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> CNN:
    return CNN(spec, weights, x, y, lr)


# --- W8, W9 (branch wt-rnnattn) -----------------------------------------------------------
KINDS |= {"gru", "encoder"}


class _Trainer:
    """One module, its loss and torch.optim.SGD; params/grads in state-dict order."""

    def __init__(self, model: torch.nn.Module, forward, lr: float) -> None:
        self.model, self.forward = model, forward
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        loss = self.forward()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.detach().numpy() for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.numpy() for p in self.model.parameters()]


def _load(model: torch.nn.Module, weights: list) -> torch.nn.Module:
    with torch.no_grad():
        for p, w in zip(model.parameters(), weights, strict=True):
            p.copy_(torch.from_numpy(w))
    return model


def gru(weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> _Trainer:
    hidden, n_in = weights[1].shape[1], weights[0].shape[1]
    dtype = torch.from_numpy(x).dtype
    model = _load(torch.nn.ModuleDict({
        "rnn": torch.nn.GRU(n_in, hidden, dtype=dtype),
        "head": torch.nn.Linear(hidden, weights[4].shape[0], dtype=dtype)}), weights)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    criterion = torch.nn.CrossEntropyLoss()

    def forward() -> torch.Tensor:
        _, h = model["rnn"](xt)
        return criterion(model["head"](h[-1]), yt)
    return _Trainer(model, forward, lr)


def encoder(weights: list, x: np.ndarray, y: np.ndarray, lr: float, heads: int) -> _Trainer:
    d, ff = weights[2].shape[0], weights[4].shape[0]
    model = _load(torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0,
                                                   dtype=torch.from_numpy(x).dtype), weights)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    criterion = torch.nn.MSELoss()
    return _Trainer(model, lambda: criterion(model(xt), yt), lr)
# --- end W8, W9 ---------------------------------------------------------------------------
