"""tinygrad_np, used the way a user would: tg.nn layers and losses, tg.optim.SGD."""
from __future__ import annotations

import numpy as np

import tinygrad_np as tg
from bench_data import CHAIN_ADD, CHAIN_MUL

NAME = "tinygrad_np"
KINDS = {"bce", "ce", "hinge", "chain"}


def version() -> str:
    return tg.__version__


class MLP:
    def __init__(self, weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> None:
        tg.set_default_dtype(x.dtype)  # the float64 check builds float64 layers
        layers: list = []
        for i, (w, b) in enumerate(weights):
            linear = tg.nn.Linear(w.shape[1], w.shape[0])
            linear.weight.data = w.copy()
            linear.bias.data = b.copy()
            layers.append(linear)
            if i < len(weights) - 1:
                layers.append(tg.nn.ReLU())
        if loss == "bce":
            layers.append(tg.nn.Sigmoid())
        self.model = tg.nn.Sequential(*layers)
        self.x, self.y = tg.Tensor(x), tg.Tensor(y)
        self.loss = loss
        self.criterion = {"bce": tg.nn.BCELoss(), "ce": tg.nn.CrossEntropyLoss()}.get(loss)
        self.optimizer = tg.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        out = self.model(self.x)
        if self.criterion is not None:
            loss = self.criterion(out, self.y)
        else:  # hinge, micrograd's demo loss
            loss = (1 - self.y * out).relu().mean()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.data for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.data for p in self.model.parameters()]


def mlp(weights: list, x: np.ndarray, y: np.ndarray, loss: str, lr: float) -> MLP:
    return MLP(weights, x, y, loss, lr)


def chain(x0: np.ndarray, iterations: int):
    def run() -> tuple:
        x = tg.Tensor(x0, requires_grad=True)
        y = x
        for _ in range(iterations):
            y = (y * CHAIN_MUL + CHAIN_ADD).tanh()
        y.backward(np.ones_like(x0))
        return y.data, x.grad.data
    return run


# --- W7: the digits CNN (tg.nn.Conv2d, MaxPool2d, Flatten, CrossEntropyLoss, optim.SGD)
KINDS = KINDS | {"cnn"}


class CNN:
    def __init__(self, spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> None:
        tg.set_default_dtype(x.dtype)
        nn = tg.nn
        self.model = nn.Sequential(
            nn.Conv2d(spec.c_in, spec.c1, 3, padding=1), nn.ReLU(),
            nn.Conv2d(spec.c1, spec.c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(spec.c2 * (spec.side // 2) ** 2, spec.classes))
        for p, w in zip(self.model.parameters(), weights):
            p.data = w.copy()
        self.x, self.y = tg.Tensor(x), tg.Tensor(y)
        self.criterion = tg.nn.CrossEntropyLoss()
        self.optimizer = tg.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.data for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.data for p in self.model.parameters()]


def cnn(spec, weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> CNN:
    return CNN(spec, weights, x, y, lr)


# --- W8, W9 (branch wt-rnnattn) -----------------------------------------------------------
KINDS |= {"gru", "encoder"}


class _Trainer:
    """One module, its loss and tg.optim.SGD; params/grads in state-dict order."""

    def __init__(self, model: tg.nn.Module, forward, lr: float) -> None:
        self.model, self.forward = model, forward
        self.optimizer = tg.optim.SGD(self.model.parameters(), lr=lr)

    def step(self) -> float:
        self.optimizer.zero_grad()
        loss = self.forward()
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def params(self) -> list:
        return [p.data for p in self.model.parameters()]

    def grads(self) -> list:
        return [p.grad.data for p in self.model.parameters()]


class _GRUClassifier(tg.nn.Module):
    def __init__(self, n_in: int, hidden: int, classes: int) -> None:
        super().__init__()
        self.rnn = tg.nn.GRU(n_in, hidden)
        self.head = tg.nn.Linear(hidden, classes)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        _, h = self.rnn(x)
        return self.head(h[-1])


def _load(model: tg.nn.Module, weights: list) -> tg.nn.Module:
    names = [name for name, _ in model.named_parameters()]
    model.load_state_dict(dict(zip(names, weights, strict=True)))
    return model


def gru(weights: list, x: np.ndarray, y: np.ndarray, lr: float) -> _Trainer:
    tg.set_default_dtype(x.dtype)
    model = _load(_GRUClassifier(weights[0].shape[1], weights[1].shape[1], weights[4].shape[0]),
                  weights)
    xt, criterion = tg.Tensor(x), tg.nn.CrossEntropyLoss()
    return _Trainer(model, lambda: criterion(model(xt), y), lr)


def encoder(weights: list, x: np.ndarray, y: np.ndarray, lr: float, heads: int) -> _Trainer:
    tg.set_default_dtype(x.dtype)
    model = _load(tg.nn.TransformerEncoderLayer(weights[2].shape[0], heads, weights[4].shape[0],
                                                dropout=0.0), weights)
    xt, yt, criterion = tg.Tensor(x), tg.Tensor(y), tg.nn.MSELoss()
    return _Trainer(model, lambda: criterion(model(xt), yt), lr)
# --- end W8, W9 ---------------------------------------------------------------------------
