"""The nine-steps tutorial, with tinygrad_np: a, b -> a+b, a-b, |a-b|, from data to testing.

The NumPy nine-steps tutorial ("Neural Network in 9 Steps") generates inputs a,
b with three outputs a + b, a - b and |a - b| (10,000 points), splits them
70/30, standardises with scalers fitted on the training set only, builds the
net from layer objects, checks the parameter count, then writes forward
propagation, back-propagation, gradient descent and testing by hand. Here the
same nine steps run on tinygrad_np: scikit-learn does the split and the
scaling, `Linear` layers replace the layer objects, `tg.nn.summary` gives the
parameter count, autograd does back-propagation and `tg.optim.SGD` the descent.
As in the tutorial, the test set is not looked at until training is over.

    python examples/nine_steps.py --out runs/nine_steps
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import tinygrad_np as tg
from _common import (  # examples/_common.py
    add_compile_option, compile_report, ExampleParser, momentum_float, positive_float,
    positive_int, progress, seed_int, train_epoch, training_step)
from tinygrad_np import nn

N_POINTS, TEST_SIZE = 10_000, 0.3
OUTPUTS = ("a+b", "a-b", "|a-b|")
LAYER_SIZES = (2, 32, 32, 3)  # input, two ReLU hidden layers, linear output
MAX_TEST_OVER_TRAIN = 1.5     # "test loss not much higher than training loss"


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__,
        "a, b -> a+b, a-b, |a-b| in nine steps from data to testing, as the NumPy nine-steps "
        "tutorial does, with tinygrad_np.")
    parser.add_argument("--out", type=Path, default=Path("runs/nine_steps"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--epochs", type=positive_int, default=60,
                        help="passes over the training set")
    parser.add_argument("--lr", type=positive_float, default=0.01, help="SGD learning rate")
    parser.add_argument("--momentum", type=momentum_float, default=0.9,
                        help="SGD momentum, in [0, 1)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="mini-batch size")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the data, the split, the initial weights and the shuffling")
    add_compile_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="a short run (10 epochs) for tests and smoke checks")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


def step(n: int, title: str) -> None:
    print(f"\n--- Step {n}. {title}")


def mse(model: nn.Module, X: np.ndarray, Y: np.ndarray) -> float:
    with tg.no_grad():
        return nn.MSELoss()(model(tg.Tensor(X)), tg.Tensor(Y)).item()


def plot_results(losses: list[float], test_loss: float, truth: np.ndarray, predicted: np.ndarray,
                 path: Path) -> None:
    fig = Figure(figsize=(14, 3.6))
    axes = fig.subplots(1, 4)
    axes[0].plot(np.arange(1, len(losses) + 1), losses, label="training loss")
    axes[0].axhline(test_loss, color="tab:orange", ls="--", label="test loss (after training)")
    axes[0].set(xlabel="epoch", ylabel="MSE (standardised targets)", yscale="log",
                title="Step 8: training")
    axes[0].legend()
    axes[0].grid(alpha=0.3)
    for ax, k, name in zip(axes[1:], range(3), OUTPUTS, strict=True):
        ax.scatter(truth[:, k], predicted[:, k], s=2, alpha=0.3)
        lo, hi = truth[:, k].min(), truth[:, k].max()
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        error = np.sqrt(np.mean((predicted[:, k] - truth[:, k]) ** 2))
        ax.set(xlabel=f"{name} (truth)", ylabel="prediction",
               title=f"Step 9: {name}, test RMSE {error:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv: list[str] | None = None) -> dict:
    """Run the nine steps; returns the final metrics."""
    args = parse_args(argv)
    epochs = 10 if args.quick else args.epochs
    start = time.perf_counter()

    step(1, "Initialization")
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    print(f"import numpy, tinygrad_np; seed {args.seed}")

    step(2, "Data generation")
    ab = rng.uniform(-1, 1, size=(N_POINTS, 2))
    a, b = ab[:, 0], ab[:, 1]
    targets = np.stack([a + b, a - b, np.abs(a - b)], axis=1)
    print(f"{N_POINTS} points: inputs a, b ~ U(-1, 1); outputs {', '.join(OUTPUTS)}")

    step(3, "Train-test splitting")
    X_train, X_test, Y_train, Y_test = train_test_split(ab, targets, test_size=TEST_SIZE,
                                                        random_state=args.seed)
    print(f"{len(X_train)} training points (70%), {len(X_test)} test points (30%)")

    step(4, "Data standardization (scalers fitted on the training set only)")
    x_scaler, y_scaler = StandardScaler().fit(X_train), StandardScaler().fit(Y_train)
    Xs_train, Xs_test = (x_scaler.transform(X).astype(np.float32) for X in (X_train, X_test))
    Ys_train, Ys_test = (y_scaler.transform(Y).astype(np.float32) for Y in (Y_train, Y_test))
    def show(values: np.ndarray) -> str:
        return "[" + ", ".join(f"{v:+.3f}" for v in values) + "]"

    print(f"scaled training inputs: mean {show(Xs_train.mean(0))}, std {show(Xs_train.std(0))}; "
          f"test inputs (same scaler, never fitted on them): mean {show(Xs_test.mean(0))}, "
          f"std {show(Xs_test.std(0))}")

    step(5, "Neural net construction, and the parameter-count sanity check")
    layers: list[nn.Module] = []
    for n_in, n_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:], strict=True):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])  # no activation after the output layer
    report = tg.nn.summary(model, (1, LAYER_SIZES[0]))
    print(report)
    by_formula = sum((n_in + 1) * n_out for n_in, n_out in
                     zip(LAYER_SIZES[:-1], LAYER_SIZES[1:], strict=True))
    counted = sum(p.size for p in model.parameters())
    assert by_formula == counted == report.total_params, (by_formula, counted, report)
    print(f"sum over layers of (N_(l-1) + 1) * N_l = {by_formula} = parameters counted "
          f"({counted}) = summary total ({report.total_params})")
    print(f"{Ys_train.size} training targets > {counted} parameters: "
          f"{'fine' if Ys_train.size > counted else 'it will overfit'}")

    step(6, "Forward propagation")
    with tg.no_grad():
        out = model(tg.Tensor(Xs_train[:5]))
    print(f"model(x) maps a batch of shape {Xs_train[:5].shape} to {out.shape}")

    step(7, "Back-propagation")
    loss = nn.MSELoss()(model(tg.Tensor(Xs_train[:256])), tg.Tensor(Ys_train[:256]))
    loss.backward()
    norms = {name: float(np.sqrt(np.sum(p.grad.data ** 2))) for name, p in
             model.named_parameters()}
    print("loss.backward() fills p.grad for every parameter; gradient norms: "
          + ", ".join(f"{k} {v:.3f}" for k, v in norms.items()))
    model.zero_grad()

    step(8, "Iterative optimization (gradient descent: p = p - lr * dp, with momentum)")
    optimizer = tg.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    loss_fn = nn.MSELoss()
    loader = tg.data.DataLoader(Xs_train, Ys_train, batch_size=args.batch_size, shuffle=True,
                                seed=args.seed)
    losses = []
    train_step = training_step(model, loss_fn, optimizer, compiled=args.compile)
    for epoch in range(1, epochs + 1):
        losses.append(train_epoch(train_step, loader))
        progress(epoch, epochs, train_loss=losses[-1])

    step(9, "Testing")
    train_loss, test_loss = mse(model, Xs_train, Ys_train), mse(model, Xs_test, Ys_test)
    ratio = test_loss / train_loss
    verdict = ("close: the model generalises" if ratio <= MAX_TEST_OVER_TRAIN
               else "NOT close: the model overfits")
    print(f"training loss {train_loss:.2e}, test loss {test_loss:.2e} (standardised MSE): "
          f"ratio {ratio:.2f}, {verdict}")
    with tg.no_grad():
        predicted = y_scaler.inverse_transform(model(tg.Tensor(Xs_test)).data.astype(np.float64))
    print("a few test cases, truth -> prediction:")
    print("        a        b |" + "|".join(f" {name:>16} " for name in OUTPUTS))
    for i in range(5):
        cells = "|".join(f" {Y_test[i, k]:7.3f} -> {predicted[i, k]:6.3f} " for k in range(3))
        print(f"  {X_test[i, 0]:7.3f}  {X_test[i, 1]:7.3f} |{cells}")
    rmse = np.sqrt(np.mean((predicted - Y_test) ** 2, axis=0))
    print("test RMSE in original units: "
          + ", ".join(f"{name} {e:.4f}" for name, e in zip(OUTPUTS, rmse, strict=True)))
    picture = args.out / "nine_steps.png"
    plot_results(losses, test_loss, Y_test, predicted, picture)
    print(f"\nfinished in {time.perf_counter() - start:.1f} s{compile_report(train_step)}; "
          f"picture: {picture}")
    return {"train_loss": train_loss, "test_loss": test_loss, "test_over_train": ratio,
            "num_parameters": counted, "test_rmse": dict(zip(OUTPUTS, rmse.tolist(), strict=True)),
            "epochs": epochs, "seconds": time.perf_counter() - start, "files": [str(picture)]}


if __name__ == "__main__":
    main()
