"""Helpers shared by the example programs (not an example itself)."""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterable

import tinygrad_np as tg


def progress(epoch: int, epochs: int, fmt: str = ".3g", **metrics: float) -> None:
    """One progress line; redrawn in place on a terminal, every 10% otherwise."""
    tty = sys.stdout.isatty()
    if not tty and epoch % max(1, epochs // 10) and epoch != epochs:
        return
    line = f"epoch {epoch:4d}/{epochs}  " + "  ".join(f"{k} {v:{fmt}}" for k, v in metrics.items())
    print(line, end="\r" if tty and epoch < epochs else "\n", flush=True)


def train_epoch(model: tg.nn.Module, loader: Iterable, loss_fn: Callable[..., Any],
                optimizer: tg.optim.Optimizer) -> float:
    """One pass of mini-batch steps over the loader; returns the mean loss per row."""
    total, rows = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        rows += len(xb)
    return total / rows
