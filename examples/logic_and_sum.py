"""The logic-gates tutorial, with tinygrad_np: OR, why XOR needs a hidden layer, and y = a + b.

The NumPy logic-gates tutorial ("Building Simple Neural Network Using Numpy")
trains a 2-3-1 sigmoid network on the OR gate and then on y = a + b over 10,000
random points (np.random.seed(4)), with loss 0.5 * sum of squared errors. Its output layer is
a sigmoid, whose values lie in (0, 1), so it can never produce a + b > 1 --
about half of those targets. Here:

1. OR: one Linear(2, 1) layer with a sigmoid, binary cross-entropy, Adam; all
   four outputs round to the truth.
2. XOR: the same single layer cannot learn it (no straight line separates the
   classes, so at most 3 of 4 can be right); one hidden layer of tanh units can.
3. a + b: the tutorial's 2-3-1 shape with sigmoid hidden units, but a *linear*
   output layer, trained with MSELoss on the tutorial's own points (80/20 split);
   the test MSE is reported next to the best a sigmoid output could ever reach.

    python examples/logic_and_sum.py --out runs/logic_and_sum
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from matplotlib.lines import Line2D
from sklearn.model_selection import train_test_split

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, positive_float, positive_int, progress,
    seed_int, train_epoch, training_step)
from tinygrad_np import nn

GATE_X = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
OR_Y = np.array([0, 1, 1, 1], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0], dtype=np.float32)
DATA_SEED = 4      # the tutorial's np.random.seed(4)
SUM_SAMPLES = 10_000
MSE_TARGET = 1e-4  # full run; --quick trains 5 epochs and aims at 1e-3
TUTORIAL_TRAINED_MSE = 0.08943408  # sse / 10000 that the tutorial printed after training


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__,
        "OR and XOR gates, and the a + b regression with a linear output: the NumPy "
        "logic-gates tutorial (a 2-3-1 sigmoid network), trained with tinygrad_np.")
    parser.add_argument("--out", type=Path, default=Path("runs/logic_and_sum"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--gate-steps", type=positive_int, default=300,
                        help="full-batch Adam steps per gate")
    parser.add_argument("--epochs", type=positive_int, default=30,
                        help="passes over the a + b data")
    parser.add_argument("--lr", type=positive_float, default=0.01,
                        help="Adam learning rate for a + b")
    parser.add_argument("--batch-size", type=positive_int, default=32,
                        help="mini-batch size for a + b")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the initial weights and the shuffling")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (5 epochs of a + b) for tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


def single_layer() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())


def hidden_layer(width: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, width), nn.Tanh(), nn.Linear(width, 1), nn.Sigmoid())


def train_gate(model: nn.Module, y: np.ndarray, steps: int) -> tuple[np.ndarray, list[float]]:
    """Full-batch Adam on the four gate inputs; returns the outputs and the loss curve."""
    optimizer = tg.optim.Adam(model.parameters(), lr=0.1)
    loss_fn = nn.BCELoss()
    x, target = tg.Tensor(GATE_X), tg.Tensor(y.reshape(-1, 1))
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with tg.no_grad():
        return model(x).data.ravel(), losses


def report_gate(title: str, outputs: np.ndarray, y: np.ndarray) -> int:
    """Print the truth table with the outputs; returns how many round to the truth."""
    correct = int(np.sum((outputs > 0.5) == (y > 0.5)))
    print(f"\n{title}: {correct}/4 correct")
    print("   a  b | truth | output  rounded")
    for (a, b), t, o in zip(GATE_X.astype(int), y.astype(int), outputs, strict=True):
        print(f"   {a}  {b} |   {t}   | {o:.4f}     {int(o > 0.5)}")
    return correct


def plot_gates(panels: list[tuple[str, nn.Module, np.ndarray, int]], path: Path) -> Figure:
    """One panel per gate model: its output over the plane, the 0.5 line, the four inputs."""
    fig = Figure(figsize=(13, 4.3), layout="constrained")
    axes = fig.subplots(1, len(panels))
    cmap = matplotlib.colormaps["RdBu_r"]
    xx, yy = np.meshgrid(np.linspace(-0.5, 1.5, 200), np.linspace(-0.5, 1.5, 200))
    grid = tg.Tensor(np.c_[xx.ravel(), yy.ravel()].astype(np.float32))
    for ax, (title, model, y, correct) in zip(axes, panels, strict=True):
        with tg.no_grad():
            probs = model(grid).data.reshape(xx.shape)
        filled = ax.contourf(xx, yy, probs, levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.7)
        ax.contour(xx, yy, probs, levels=[0.5], colors="k", linewidths=1.5)
        for label in (0, 1):
            ax.scatter(*GATE_X[y == label].T, color=cmap(float(label)), s=150, edgecolors="k",
                       label=f"truth {label}")
        ax.set(title=f"{title}: {correct}/4", xlabel="a", ylabel="b", aspect="equal")
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], color="k", lw=1.5))
    labels.append("output = 0.5 (the decision line)")
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    fig.colorbar(filled, ax=axes, label="network output (rounds to 1 above 0.5)", shrink=0.85)
    fig.savefig(path, dpi=100)
    return fig


def plot_sum(losses: list[float], y_test: np.ndarray, predicted: np.ndarray, mse: float,
             path: Path) -> None:
    fig = Figure(figsize=(10, 4))
    ax_loss, ax_fit = fig.subplots(1, 2)
    ax_loss.plot(np.arange(1, len(losses) + 1), losses)
    ax_loss.set(xlabel="epoch", ylabel="training MSE", yscale="log", title="a + b: training loss")
    ax_loss.grid(alpha=0.3)
    ax_fit.scatter(y_test, predicted, s=3, alpha=0.4, label="linear output (this example)")
    ax_fit.plot([0, 2], [0, 2], "k--", lw=1, label="truth")
    ax_fit.plot([0, 1, 2], [0, 1, 1], color="tab:red", lw=1.5,
                label="best a sigmoid output can do")
    ax_fit.set(xlabel="a + b (truth)", ylabel="prediction", title=f"test set, MSE {mse:.2e}")
    ax_fit.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict:
    """Train the gates and the a + b regression, report, draw; returns the final metrics."""
    args = parse_args(argv)
    epochs = 5 if args.quick else args.epochs
    start = time.perf_counter()
    tg.manual_seed(args.seed)

    # 1-2. Gates.
    or_model, xor_single, xor_hidden = single_layer(), single_layer(), hidden_layer()
    or_out, _ = train_gate(or_model, OR_Y, args.gate_steps)
    xor_single_out, _ = train_gate(xor_single, XOR_Y, args.gate_steps)
    xor_hidden_out, _ = train_gate(xor_hidden, XOR_Y, args.gate_steps)
    or_correct = report_gate("OR, one layer", or_out, OR_Y)
    xor_single_correct = report_gate("XOR, one layer (a line cannot separate it: at most 3/4)",
                                     xor_single_out, XOR_Y)
    xor_hidden_correct = report_gate("XOR, hidden layer of 4 tanh units", xor_hidden_out, XOR_Y)
    gates = args.out / "gates.png"
    plot_gates([("OR, one layer", or_model, OR_Y, or_correct),
                ("XOR, one layer", xor_single, XOR_Y, xor_single_correct),
                ("XOR, hidden layer", xor_hidden, XOR_Y, xor_hidden_correct)], gates)

    # 3. a + b on the tutorial's own points.
    X = np.random.RandomState(DATA_SEED).rand(SUM_SAMPLES, 2)
    y = X.sum(axis=1, keepdims=True)
    print(f"\na + b: {SUM_SAMPLES} points from np.random.seed({DATA_SEED}); first: "
          f"{X[0].round(8).tolist()} -> {y[0, 0]:.8f} (as in the tutorial)")
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float32), y.astype(np.float32), test_size=0.2, random_state=0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1))  # linear output
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()
    loader = tg.data.DataLoader(X_train, y_train, batch_size=args.batch_size, shuffle=True,
                                seed=args.seed)
    losses = []
    step = training_step(model, loss_fn, optimizer, compiled=args.compile)
    for epoch in range(1, epochs + 1):
        losses.append(train_epoch(step, loader))
        progress(epoch, epochs, train_mse=losses[-1])
    with tg.no_grad():
        predicted = model(tg.Tensor(X_test)).data
    test_mse = float(np.mean((predicted - y_test) ** 2))
    # NOTE: a sigmoid output o lies in (0, 1), so its squared error on a target t > 1 is at
    # least (t - 1)^2; averaging that over the test set bounds the tutorial's MSE from below.
    sigmoid_floor = float(np.mean(np.maximum(y_test - 1, 0) ** 2))
    above_one = float(np.mean(y_test > 1))
    summed = args.out / "sum.png"
    plot_sum(losses, y_test.ravel(), predicted.ravel(), test_mse, summed)

    print(f"\na + b with a linear output: test MSE {test_mse:.2e} on {len(X_test)} points "
          f"(train MSE {losses[-1]:.2e}; the tutorial printed {TUTORIAL_TRAINED_MSE} after "
          "training)")
    print(f"The tutorial's sigmoid output could never exceed 1, yet {above_one:.0%} of the targets "
          f"a + b do: even a perfect network of that shape has test MSE >= {sigmoid_floor:.4f}.")
    print(f"\nfinished in {time.perf_counter() - start:.1f} s{compile_report(step)}; "
          f"pictures: {gates}, {summed}")
    return {"or_correct": or_correct, "or_outputs": or_out.tolist(),
            "xor_single_layer_correct": xor_single_correct,
            "xor_hidden_layer_correct": xor_hidden_correct,
            "sum_test_mse": test_mse, "sum_train_mse": losses[-1],
            "sigmoid_output_mse_floor": sigmoid_floor, "epochs": epochs,
            "seconds": time.perf_counter() - start, "files": [str(gates), str(summed)]}


if __name__ == "__main__":
    main()
