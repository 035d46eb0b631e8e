"""The moons tutorial, with tinygrad_np: a net built from a list of layer dicts classifies moons.

The NumPy moons tutorial ("Neural Network in plain NumPy") describes each layer
as a dict {"input_dim", "output_dim", "activation"}, trains ReLU layers with a
sigmoid output on binary cross-entropy by gradient descent, and reaches about
95% test accuracy on a two-class point set. Here the same list of dicts becomes
a model through `Sequential.from_architecture`, autograd replaces the
hand-written backward pass, and the tutorial's bugs are gone: sigmoid is
1/(1+exp(-z)), the cross-entropy has its minus sign (BCELoss), the update
subtracts lr * grad (tg.optim.SGD), and activations are compared with ==, never
`is`.

Data: scikit-learn's make_moons with 1,000 points, noise 0.2 and a 10% test
split. The tutorial's text does not state them; they are the constants of the
tutorial's own notebook (make_moons random_state=100, split random_state=42),
so every run sees the tutorial's points; --seed changes the initial weights
and the shuffling. Pictures: the loss and accuracy curves and the decision
boundary. The trained weights are saved with tg.save and reloaded into a fresh
model, which must score the same accuracy.

    python examples/moons.py --out runs/moons
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, momentum_float, positive_float,
    positive_int, progress, seed_int, train_epoch, training_step)

# The network the tutorial trains for its moons experiment (2-25-50-50-25-1).
NN_ARCHITECTURE = [
    {"input_dim": 2, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"},
]
N_SAMPLES, NOISE, TEST_SIZE = 1000, 0.2, 0.1
DATA_SEED, SPLIT_SEED = 100, 42  # the tutorial notebook's
TARGET_ACCURACY = 0.95


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__,
        "Classify make_moons with a dense net built from a list of layer dicts, as the NumPy "
        "moons tutorial does, trained with tinygrad_np.")
    parser.add_argument("--out", type=Path, default=Path("runs/moons"),
                        help="folder for pictures and weights (created if missing)")
    parser.add_argument("--epochs", type=positive_int, default=200,
                        help="passes over the training set")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="SGD learning rate")
    parser.add_argument("--momentum", type=momentum_float, default=0.9,
                        help="SGD momentum, in [0, 1)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="mini-batch size")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the initial weights and the shuffling")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (40 epochs) for tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


def accuracy(model: tg.nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of points whose predicted probability lands on the right side of 0.5."""
    with tg.no_grad():
        probs = model(tg.Tensor(X)).data.ravel()
    return float(np.mean((probs > 0.5) == (y > 0.5)))


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], label="training loss (BCE)")
    ax_loss.set(xlabel="epoch", ylabel="binary cross-entropy", title="Loss", yscale="log")
    ax_acc.plot(epochs, history["train_accuracy"], label="train")
    ax_acc.plot(epochs, history["test_accuracy"], label="test")
    ax_acc.axhline(TARGET_ACCURACY, color="grey", ls="--", lw=1, label="95% target")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0.5, 1.01))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_boundary(model: tg.nn.Module, X_train: np.ndarray, y_train: np.ndarray,
                  X_test: np.ndarray, y_test: np.ndarray, test_acc: float, path: Path) -> None:
    lo, hi = np.vstack([X_train, X_test]).min(0) - 0.5, np.vstack([X_train, X_test]).max(0) + 0.5
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(X_train.dtype)
    with tg.no_grad():
        probs = model(tg.Tensor(grid)).data.reshape(xx.shape)
    fig = Figure(figsize=(7, 5.5))
    ax = fig.subplots()
    filled = ax.contourf(xx, yy, probs, levels=np.linspace(0, 1, 21), cmap="RdBu_r", alpha=0.75)
    ax.contour(xx, yy, probs, levels=[0.5], colors="k", linewidths=1.5)
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.scatter(*X_train.T, c=y_train, cmap="RdBu_r", s=12, edgecolors="white", linewidths=0.3,
               label="train")
    ax.scatter(*X_test.T, c=y_test, cmap="RdBu_r", s=40, marker="^", edgecolors="k",
               label="test")
    ax.set(title=f"Decision boundary (test accuracy {test_acc:.1%})", xlabel="x1", ylabel="x2")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict:
    """Train, report, draw, save and reload; returns the final metrics."""
    args = parse_args(argv)
    epochs = 40 if args.quick else args.epochs
    start = time.perf_counter()

    X, y = make_moons(n_samples=N_SAMPLES, noise=NOISE, random_state=DATA_SEED)
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float32), y.astype(np.float32), test_size=TEST_SIZE, random_state=SPLIT_SEED)

    tg.manual_seed(args.seed)
    model = tg.nn.Sequential.from_architecture(NN_ARCHITECTURE)
    print(model)
    loss_fn = tg.nn.BCELoss()
    optimizer = tg.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loader = tg.data.DataLoader(X_train, y_train.reshape(-1, 1), batch_size=args.batch_size,
                                shuffle=True, seed=args.seed)

    step = training_step(model, loss_fn, optimizer, compiled=args.compile)
    history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    for epoch in range(1, epochs + 1):
        history["loss"].append(train_epoch(step, loader))
        history["train_accuracy"].append(accuracy(model, X_train, y_train))
        history["test_accuracy"].append(accuracy(model, X_test, y_test))
        progress(epoch, epochs, ".4f", loss=history["loss"][-1],
                 train_acc=history["train_accuracy"][-1], test_acc=history["test_accuracy"][-1])
    train_seconds = time.perf_counter() - start

    test_acc = history["test_accuracy"][-1]
    curves, boundary = args.out / "moons_curves.png", args.out / "moons_decision_boundary.png"
    plot_curves(history, curves)
    plot_boundary(model, X_train, y_train, X_test, y_test, test_acc, boundary)

    weights = args.out / "moons_weights.npz"
    tg.save(model.state_dict(), weights)
    fresh = tg.nn.Sequential.from_architecture(NN_ARCHITECTURE)
    untrained_acc = accuracy(fresh, X_test, y_test)
    fresh.load_state_dict(tg.load(weights))
    reloaded_acc = accuracy(fresh, X_test, y_test)

    print(f"\nmake_moons: {len(X_train)} training / {len(X_test)} test points, noise {NOISE}")
    print(f"training:   {epochs} epochs of SGD (lr {args.lr}, momentum {args.momentum}, "
          f"batch {args.batch_size}) in {train_seconds:.1f} s{compile_report(step)}")
    print(f"final loss: {history['loss'][-1]:.4f}")
    verdict = "reached" if test_acc >= TARGET_ACCURACY else "MISSED"
    print(f"accuracy:   train {history['train_accuracy'][-1]:.1%}, test {test_acc:.1%} "
          f"(target {TARGET_ACCURACY:.0%}: {verdict})")
    print(f"weights:    saved to {weights}; a fresh model scores {untrained_acc:.1%} untrained "
          f"and {reloaded_acc:.1%} after loading them "
          f"({'same' if reloaded_acc == test_acc else 'DIFFERENT'})")
    print(f"pictures:   {curves}, {boundary}")
    return {"test_accuracy": test_acc, "train_accuracy": history["train_accuracy"][-1],
            "reloaded_test_accuracy": reloaded_acc, "final_loss": history["loss"][-1],
            "epochs": epochs, "seconds": time.perf_counter() - start,
            "files": [str(curves), str(boundary), str(weights)]}


if __name__ == "__main__":
    main()
