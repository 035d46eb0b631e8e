"""Helpers shared by the example programs (not an example itself)."""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, NoReturn

import tinygrad_np as tg


class ExampleParser(argparse.ArgumentParser):
    """An ArgumentParser named after the program: one-line errors (status 2), defaults in --help."""

    def __init__(self, program: str, description: str) -> None:
        super().__init__(prog=Path(program).name, description=description,
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)

    def error(self, message: str) -> NoReturn:
        """Print 'PROG: error: MESSAGE (see PROG --help)' on one line and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:
        """argparse's parse_args, then --out (if the program has it) made a writable folder."""
        parsed = super().parse_args(args, namespace)
        out = getattr(parsed, "out", None)
        if out is not None:
            problem = prepare_out_dir(out)
            if problem:
                self.error(f"argument --out: {problem}")
        return parsed


def prepare_out_dir(path: Path) -> str | None:
    """Create the folder `path` (with its parents) and check it is writable; None or the problem."""
    if path.exists() and not path.is_dir():
        return f"'{path}' exists and is not a folder; give a folder (created if missing)"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"cannot create the folder '{path}': {error.strerror or error}"
    try:
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as error:
        return f"cannot write in the folder '{path}': {error.strerror or error}"
    return None


def _number(kind: Callable[[str], Any], text: str, what: str, ok: Callable[[Any], bool]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or not ok(value):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (epochs, steps, sizes)."""
    return _number(int, text, "an integer >= 1", lambda v: v >= 1)


def seed_int(text: str) -> int:
    """argparse type: a random seed, an integer from 0 to 2**32 - 1."""
    return _number(int, text, "an integer from 0 to 4294967295", lambda v: 0 <= v < 2 ** 32)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (learning rates)."""
    return _number(float, text, "a number > 0", lambda v: v > 0)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0 (weight decay)."""
    return _number(float, text, "a number >= 0", lambda v: v >= 0)


def momentum_float(text: str) -> float:
    """argparse type: an SGD momentum, a number from 0 up to (not including) 1."""
    return _number(float, text, "a number from 0 to below 1", lambda v: 0 <= v < 1)


def progress(epoch: int, epochs: int, fmt: str = ".3g", **metrics: float) -> None:
    """One progress line; redrawn in place on a terminal, every 10% otherwise."""
    tty = sys.stdout.isatty()
    if not tty and epoch % max(1, epochs // 10) and epoch != epochs:
        return
    line = f"epoch {epoch:4d}/{epochs}  " + "  ".join(f"{k} {v:{fmt}}" for k, v in metrics.items())
    print(line, end="\r" if tty and epoch < epochs else "\n", flush=True)


def add_compile_option(parser: argparse.ArgumentParser) -> None:
    """--compile: run the training step with tg.compile (recorded once, then replayed)."""
    parser.add_argument("--compile", action="store_true",
                        help="record the training step once with tg.compile and replay it")


def training_step(model: tg.nn.Module, loss_fn: Callable[..., Any],
                  optimizer: tg.optim.Optimizer, compiled: bool = False) -> Callable:
    """step(xb, yb) -> loss: one optimizer step on a mini-batch (tg.compile'd if asked)."""
    def step(xb: Any, yb: Any) -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        return loss.item()
    return tg.compile(step) if compiled else step


def train_epoch(step: Callable, loader: Iterable) -> float:
    """One pass of `step` over the loader's mini-batches; returns the mean loss per row."""
    total, rows = 0.0, 0
    for xb, yb in loader:
        total += step(xb, yb) * len(xb)
        rows += len(xb)
    return total / rows


def compile_report(step: Callable) -> str:
    """' (tg.compile: ...)' after a training time: recordings and the time they took."""
    if not isinstance(step, tg.CompiledFunction):
        return ""
    return (f" (tg.compile: {step.recordings} recording(s) took {step.record_seconds:.2f} s; "
            "the other steps were replays)")
