"""Handwritten digits with a small convolutional network on scikit-learn's load_digits.

The same data and split as examples/digits.py (1,797 real 8x8 grey-level digits, 25%
test, stratified), but the model sees each digit as a 1x8x8 image: two 3x3
convolutions with batch normalisation and ReLU, 2x2 max pooling, dropout, and a
linear layer on the 32 4x4 feature maps. Trained with `tg.optim.Adam` and a cosine
learning-rate schedule on shuffled mini-batches, each image shifted by up to one
pixel at random. Pictures: the confusion matrix, and the first layer's 16 filters with
the feature maps they make of one test digit.

    python examples/cnn_digits.py --out runs/cnn_digits
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
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, non_negative_float, positive_float,
    positive_int, progress, seed_int, train_epoch, training_step)
from tinygrad_np import nn

TARGET_ACCURACY = 0.985


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__, "Classify scikit-learn's 8x8 digits with a small convolutional network.")
    parser.add_argument("--out", type=Path, default=Path("runs/cnn_digits"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--epochs", type=positive_int, default=30,
                        help="passes over the training set")
    parser.add_argument("--lr", type=positive_float, default=3e-3,
                        help="Adam's starting learning rate (cosine decay to 0)")
    parser.add_argument("--weight-decay", type=non_negative_float, default=1e-4,
                        help="Adam L2 weight decay")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="mini-batch size")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the split, the initial weights, the shuffling, the shifts "
                        "and dropout")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (3 epochs) for tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


def build_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),   # 16 x 8 x 8
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # 32 x 8 x 8
        nn.MaxPool2d(2), nn.Dropout(0.25),                               # 32 x 4 x 4
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10))                         # logits


class ShiftedImages:
    """Mini-batches of (images, labels), each image moved by -1, 0 or 1 pixel on each axis
    (zeros shifted in): the training set seen slightly differently every epoch."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int,
                 seed: int) -> None:
        self.images, self.labels, self.batch_size = images, labels, batch_size
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        n = len(self.images)
        padded = np.pad(self.images, ((0, 0), (0, 0), (1, 1), (1, 1)))
        dy, dx = self.rng.integers(0, 3, size=(2, n))
        rows = np.arange(8)[None, :] + dy[:, None]             # (n, 8)
        cols = np.arange(8)[None, :] + dx[:, None]
        shifted = padded[np.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
        shifted = shifted[:, None]
        order = self.rng.permutation(n)
        for start in range(0, n, self.batch_size):
            batch = order[start:start + self.batch_size]
            yield tg.Tensor(shifted[batch]), tg.Tensor(self.labels[batch])


def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    model.eval()
    with tg.no_grad():
        return model(tg.Tensor(images)).argmax(axis=1).data


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, accuracy: float, path: Path) -> None:
    fig = Figure(figsize=(6.5, 5.5))
    ax = fig.subplots()
    ConfusionMatrixDisplay(confusion_matrix(y_true, y_pred, labels=range(10)),
                           display_labels=range(10)).plot(ax=ax, cmap="Blues", colorbar=True)
    ax.set_title(f"Confusion matrix, test accuracy {accuracy:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_filters(model: nn.Sequential, image: np.ndarray, label: int, path: Path) -> None:
    """Row 1: the input digit and the first layer's 16 3x3 filters; row 2: the 16 feature
    maps they make of it (after batch normalisation and ReLU, as the next layer sees them)."""
    model.eval()
    with tg.no_grad():
        maps = model[:3](tg.Tensor(image[None])).data[0]  # (16, 8, 8)
    filters = model[0].weight.data[:, 0]                   # (16, 3, 3)
    fig = Figure(figsize=(13, 2.3), layout="constrained")
    axes = fig.subplots(2, 17)
    axes[0, 0].imshow(image[0], cmap="gray_r")
    axes[0, 0].set_title(f"input ({label})", fontsize=9)
    axes[1, 0].axis("off")
    axes[1, 0].text(0.5, 0.5, "feature\nmaps", ha="center", va="center", fontsize=9)
    bound = np.abs(filters).max()
    for k in range(16):
        axes[0, k + 1].imshow(filters[k], cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes[0, k + 1].set_title(f"filter {k}", fontsize=8)
        axes[1, k + 1].imshow(maps[k], cmap="magma")
        axes[1, k + 1].set_title(f"map {k}", fontsize=8)
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
    fig.suptitle("First convolution: its 16 filters (red +, blue -) and the feature maps "
                 "they make of a test digit")
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict:
    """Train, report and draw; returns the final metrics."""
    args = parse_args(argv)
    # NOTE: one BLAS thread: this network's products are small ((2048, 32) @ (32, 16) in
    # the second convolution's backward), and OpenBLAS's threads made a training step
    # 7x slower (228 vs 36 ms at batch 32) on a busy 2-core machine
    with threadpool_limits(1, user_api="blas"):
        return _run(args)


def _run(args: argparse.Namespace) -> dict:
    epochs = 3 if args.quick else args.epochs
    start = time.perf_counter()

    digits = load_digits()
    indices = np.arange(len(digits.target))
    train_idx, test_idx = train_test_split(indices, test_size=0.25, stratify=digits.target,
                                           random_state=args.seed)
    images = (digits.images[:, None] / 16.0).astype(np.float32)  # (1797, 1, 8, 8) in [0, 1]
    X_train, X_test = images[train_idx], images[test_idx]
    y_train, y_test = digits.target[train_idx], digits.target[test_idx]

    tg.manual_seed(args.seed)
    model = build_model()
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = tg.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader = ShiftedImages(X_train, y_train, args.batch_size, args.seed)

    step = training_step(model, loss_fn, optimizer, compiled=args.compile)
    for epoch in range(1, epochs + 1):
        model.train()
        loss = train_epoch(step, loader)
        scheduler.step()
        progress(epoch, epochs, ".4f", loss=loss,
                 test_acc=float(np.mean(predict(model, X_test) == y_test)))

    y_pred = predict(model, X_test)
    test_acc = float(np.mean(y_pred == y_test))
    train_acc = float(np.mean(predict(model, X_train) == y_train))
    confusion = args.out / "cnn_digits_confusion.png"
    filters = args.out / "cnn_digits_filters.png"
    plot_confusion(y_test, y_pred, test_acc, confusion)
    plot_filters(model, X_test[0], int(y_test[0]), filters)

    verdict = "reached" if test_acc >= TARGET_ACCURACY else "MISSED"
    wrong = int(np.sum(y_pred != y_test))
    print(f"\nload_digits: {len(X_train)} training / {len(X_test)} test images (1x8x8), "
          "10 classes")
    print(f"model:      {model.num_parameters():,} parameters; {epochs} epochs of Adam "
          f"(lr {args.lr} with cosine decay, weight decay {args.weight_decay}, "
          f"batch {args.batch_size})")
    print(f"final loss: {loss:.4f}")
    print(f"accuracy:   train {train_acc:.1%}, test {test_acc:.1%} "
          f"({wrong} mistake{'' if wrong == 1 else 's'}; target {TARGET_ACCURACY:.1%}: "
          f"{verdict})")
    print(f"finished in {time.perf_counter() - start:.1f} s{compile_report(step)}")
    print(f"pictures:   {confusion}, {filters}")
    return {"test_accuracy": test_acc, "train_accuracy": train_acc, "final_loss": loss,
            "epochs": epochs, "seconds": time.perf_counter() - start,
            "files": [str(confusion), str(filters)]}


if __name__ == "__main__":
    main()
