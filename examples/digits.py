"""Handwritten digits: an MLP with softmax cross-entropy and Adam on scikit-learn's load_digits.

load_digits ships with scikit-learn (1,797 real 8x8 grey-level digits, offline).
The split (25% test, stratified) and the standardisation (fitted on the
training set only) come from scikit-learn; the model is a 64-128-64-10 ReLU
network whose raw logits go to `CrossEntropyLoss` (log-softmax + NLL, computed
stably through log-sum-exp), trained with `tg.optim.Adam` on shuffled
mini-batches from `tg.data.DataLoader`. Pictures: the training curves, the
confusion matrix, and a few misclassified test digits.

    python examples/digits.py --out runs/digits
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, non_negative_float, positive_float,
    positive_int, progress, seed_int, train_epoch, training_step)
from tinygrad_np import nn

HIDDEN = (128, 64)
TARGET_ACCURACY = 0.97
MISTAKES_SHOWN = 20  # in the picture of misclassified digits


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__, "Classify scikit-learn's 8x8 digits with an MLP, cross-entropy and Adam.")
    parser.add_argument("--out", type=Path, default=Path("runs/digits"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--epochs", type=positive_int, default=40,
                        help="passes over the training set")
    parser.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    parser.add_argument("--weight-decay", type=non_negative_float, default=1e-4,
                        help="Adam L2 weight decay")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="mini-batch size")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the split, the initial weights and the shuffling")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (12 epochs) for tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


def build_model(n_in: int, n_classes: int) -> nn.Sequential:
    sizes = (n_in, *HIDDEN)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(sizes[-1], n_classes))  # logits, no softmax


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    with tg.no_grad():
        return model(tg.Tensor(X)).argmax(axis=1).data


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"])
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="Training loss")
    ax_acc.plot(epochs, history["train_accuracy"], label="train")
    ax_acc.plot(epochs, history["test_accuracy"], label="test")
    ax_acc.axhline(TARGET_ACCURACY, color="grey", ls="--", lw=1, label="97% target")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0.8, 1.005))
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, accuracy: float, path: Path) -> None:
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    ConfusionMatrixDisplay(confusion_matrix(y_true, y_pred, labels=range(10)),
                           display_labels=range(10)).plot(ax=ax, cmap="Blues", colorbar=True)
    ax.set_title(f"Confusion matrix, test accuracy {accuracy:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_mistakes(images: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray,
                  path: Path) -> Figure:
    """The first MISTAKES_SHOWN misclassified digits, rows of <= 10 (a note if there are none)."""
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:MISTAKES_SHOWN]
    rows = max(1, -(-len(shown) // 10))  # rows of at most 10, as full as possible
    cols = max(1, -(-len(shown) // rows))
    height = 1.35 * rows + 0.4 if len(shown) else 1.0
    fig = Figure(figsize=(max(1.1 * cols, 4.0), height), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, i in zip(axes, shown, strict=False):
        ax.imshow(images[i], cmap="gray_r")
        ax.set(xticks=[], yticks=[])
        ax.set_title(f"true {y_true[i]}\nsaid {y_pred[i]}", fontsize=9)
    for ax in axes[len(shown):]:
        ax.axis("off")
    if len(shown) == 0:
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center", fontsize=14)
    fig.suptitle(f"Misclassified test digits ({len(wrong)} in all"
                 + (f", first {len(shown)} shown)" if len(shown) < len(wrong) else ")"))
    fig.savefig(path, dpi=100)
    return fig


def main(argv: list[str] | None = None) -> dict:
    """Train, report and draw; returns the final metrics."""
    args = parse_args(argv)
    epochs = 12 if args.quick else args.epochs
    start = time.perf_counter()

    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(indices, test_size=0.25, stratify=digits.target,
                                           random_state=args.seed)
    scaler = StandardScaler().fit(digits.data[train_idx])
    X_train = scaler.transform(digits.data[train_idx]).astype(np.float32)
    X_test = scaler.transform(digits.data[test_idx]).astype(np.float32)
    y_train, y_test = digits.target[train_idx], digits.target[test_idx]

    tg.manual_seed(args.seed)
    model = build_model(X_train.shape[1], 10)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    loader = tg.data.DataLoader(X_train, y_train, batch_size=args.batch_size, shuffle=True,
                                seed=args.seed)

    step = training_step(model, loss_fn, optimizer, compiled=args.compile)
    history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": []}
    for epoch in range(1, epochs + 1):
        history["loss"].append(train_epoch(step, loader))
        history["train_accuracy"].append(float(np.mean(predict(model, X_train) == y_train)))
        history["test_accuracy"].append(float(np.mean(predict(model, X_test) == y_test)))
        progress(epoch, epochs, ".4f", loss=history["loss"][-1],
                 train_acc=history["train_accuracy"][-1], test_acc=history["test_accuracy"][-1])

    y_pred = predict(model, X_test)
    test_acc = float(np.mean(y_pred == y_test))
    curves = args.out / "digits_curves.png"
    confusion = args.out / "digits_confusion.png"
    mistakes = args.out / "digits_mistakes.png"
    plot_curves(history, curves)
    plot_confusion(y_test, y_pred, test_acc, confusion)
    plot_mistakes(digits.images[test_idx], y_test, y_pred, mistakes)

    per_class = confusion_matrix(y_test, y_pred).diagonal() / np.bincount(y_test)
    verdict = "reached" if test_acc >= TARGET_ACCURACY else "MISSED"
    print(f"\nload_digits: {len(X_train)} training / {len(X_test)} test images, 10 classes")
    print(f"model:      {model.num_parameters():,} parameters; {epochs} epochs of Adam "
          f"(lr {args.lr}, weight decay {args.weight_decay}, batch {args.batch_size})")
    print(f"final loss: {history['loss'][-1]:.4f}")
    print(f"accuracy:   train {history['train_accuracy'][-1]:.1%}, test {test_acc:.1%} "
          f"({int(np.sum(y_pred != y_test))} mistakes; target {TARGET_ACCURACY:.0%}: {verdict})")
    print("per digit:  " + "  ".join(f"{d}:{r:.0%}" for d, r in enumerate(per_class)))
    print(f"finished in {time.perf_counter() - start:.1f} s{compile_report(step)}")
    print(f"pictures:   {curves}, {confusion}, {mistakes}")
    return {"test_accuracy": test_acc, "train_accuracy": history["train_accuracy"][-1],
            "final_loss": history["loss"][-1], "epochs": epochs,
            "seconds": time.perf_counter() - start,
            "files": [str(curves), str(confusion), str(mistakes)]}


if __name__ == "__main__":
    main()
