"""SciPy minimizes, tinygrad_np differentiates: tg.func gradients and Hessian-vector products.

`scipy.optimize.minimize` takes plain functions of a NumPy vector: the loss, its
gradient (`jac`) and, for Newton-type methods, the Hessian times a vector
(`hessp`). `tg.func` turns one loss written with Tensor ops into all three, and
since ndarrays in give ndarrays out, they plug straight in:

    loss_and_grad = tg.func.value_and_grad(loss)          # jac=True
    hessp = lambda x, p: tg.func.hvp(loss, x, p)[1]       # H(x) p

Three ways to minimize, on three problems:
  - L-BFGS-B with finite-difference gradients (SciPy's default when jac is None:
    one extra loss evaluation per coordinate for every gradient),
  - L-BFGS-B with the exact gradient from tg.func,
  - trust-ncg (Newton steps by conjugate gradients) with the gradient and
    Hessian-vector products from tg.func;
on L2-regularised logistic regression on scikit-learn's breast-cancer data (569
tumours, 30 features, standardised on the training split; the bias is not
regularised) and on the Rosenbrock function in 2 and 10 dimensions (minimum 0 at
(1, ..., 1), started at (-1.2, 1, -1.2, 1, ...)). Before optimizing, the tg.func
gradient and Hessian-vector product are compared with SciPy's own `rosen_der` and
`rosen_hess_prod` and with the logistic loss's gradient written out by hand.

Reported: iterations, loss and gradient evaluations, the final loss and gradient
norm, the time, and the test accuracy. Picture: the loss at each iteration and
against the number of loss evaluations, one column per problem.

    python examples/scipy_optimize.py --out runs/scipy_optimize
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from matplotlib.figure import Figure  # the object API renders with Agg, no pyplot state
from scipy.optimize import minimize, rosen_der, rosen_hess_prod
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits  # installed with scikit-learn

import tinygrad_np as tg
import tinygrad_np.nn.functional as F
from _common import ExampleParser, non_negative_float, positive_int, seed_int  # examples/

ROSENBROCK_DIMS = (2, 10)
METHODS = ("L-BFGS-B, finite differences", "L-BFGS-B, tg.func gradient",
           "trust-ncg, tg.func gradient + Hv")
TARGET_ACCURACY = 0.95     # test accuracy of the logistic regression
ROSENBROCK_TOLERANCE = 1e-4  # distance of the tg.func solutions from (1, ..., 1)


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__, "Minimize with scipy.optimize using gradients and Hessian-vector products "
                  "from tg.func, against finite differences.")
    parser.add_argument("--out", type=Path, default=Path("runs/scipy_optimize"),
                        help="folder for the picture (created if missing)")
    parser.add_argument("--l2", type=non_negative_float, default=1e-3,
                        help="L2 penalty of the logistic regression: loss + l2/2 |w|^2")
    parser.add_argument("--maxiter", type=positive_int, default=2000,
                        help="iteration limit of every run")
    parser.add_argument("--seed", type=seed_int, default=0,
                        help="seeds the train/test split of the breast-cancer data")
    parser.add_argument("--quick", action="store_true",
                        help="a short run for tests and smoke checks: Rosenbrock in 2 and "
                             "5 dimensions, at most 300 iterations")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out exists and is writable (else a one-line error, exit 2)."""
    return build_parser().parse_args(argv)


# ------------------------------------------------------------------ the problems
@dataclass
class Problem:
    """A loss written with Tensor ops, where to start, and the best value known (if any)."""

    name: str
    loss: Callable[[tg.Tensor], tg.Tensor]
    x0: np.ndarray
    minimum: float = 0.0


def rosenbrock(x: tg.Tensor) -> tg.Tensor:
    """sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2: a curved valley, minimum 0 at all ones."""
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def logistic_loss(X: np.ndarray, y: np.ndarray, l2: float) -> Callable[[tg.Tensor], tg.Tensor]:
    """w -> mean binary cross-entropy of sigmoid(X w[:-1] + w[-1]) + l2/2 |w[:-1]|^2."""
    def loss(w: tg.Tensor) -> tg.Tensor:
        logits = X @ w[:-1] + w[-1]
        return F.binary_cross_entropy_with_logits(logits, y) + 0.5 * l2 * (w[:-1] ** 2).sum()
    return loss


def logistic_gradient_by_hand(w: np.ndarray, X: np.ndarray, y: np.ndarray,
                              l2: float) -> np.ndarray:
    """The same gradient written out: X^T (sigmoid(z) - y) / n, plus l2 w (not on the bias)."""
    residual = 1 / (1 + np.exp(-(X @ w[:-1] + w[-1]))) - y
    return np.append(X.T @ residual / len(y) + l2 * w[:-1], residual.mean())


def newton_minimum(loss: Callable[[tg.Tensor], tg.Tensor], x0: np.ndarray,
                   max_steps: int = 50) -> tuple[np.ndarray, int]:
    """Newton's method with tg.func's Hessian, halving a step that does not lower the loss:
    the reference minimum of the (convex) logistic loss. Returns (x, steps taken)."""
    value_and_grad, hessian = tg.func.value_and_grad(loss), tg.func.hessian(loss)
    x = x0.copy()
    value, gradient = value_and_grad(x)
    for step in range(1, max_steps + 1):
        direction = np.linalg.solve(hessian(x), gradient)
        scale = 1.0
        while scale > 1e-8:
            trial_value, trial_gradient = value_and_grad(x - scale * direction)
            if trial_value <= value:
                break
            scale /= 2
        x, value, gradient = x - scale * direction, trial_value, trial_gradient
        if np.linalg.norm(gradient) < 1e-12 or scale <= 1e-8:
            return x, step
    return x, max_steps


def accuracy(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(((X @ w[:-1] + w[-1]) > 0) == y))


# ------------------------------------------------------------------ one minimization
@dataclass
class Run:
    """What one method did on one problem."""

    method: str
    x: np.ndarray = field(repr=False)
    iterations: int
    loss_evaluations: int    # calls of the loss (with its gradient, for tg.func methods)
    hvp_evaluations: int
    final_loss: float
    gradient_norm: float
    seconds: float           # CPU time of the minimization
    message: str
    history: list[float] = field(repr=False)       # the loss at x0 and after each iteration
    evaluations: list[int] = field(repr=False)     # loss evaluations made by then (x0: 1)


def minimize_with(problem: Problem, method: str, maxiter: int) -> Run:
    """Minimize problem.loss with one of METHODS; count every evaluation."""
    counts = {"loss": 0, "hvp": 0}
    loss_and_grad = tg.func.value_and_grad(problem.loss)

    def value_at(x: np.ndarray) -> float:  # the loss alone (no graph is recorded)
        with tg.no_grad():
            return float(problem.loss(tg.Tensor(x)))

    def fun(x: np.ndarray) -> float:
        counts["loss"] += 1
        return value_at(x)

    def fun_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        counts["loss"] += 1
        value, gradient = loss_and_grad(x)   # ndarray in: 0-d ndarray and ndarray out
        return float(value), gradient

    def hessp(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        counts["hvp"] += 1
        return tg.func.hvp(problem.loss, x, p)[1]

    history, evaluations = [value_at(problem.x0)], [1]

    def record(xk: np.ndarray) -> None:  # after each iteration: not counted
        history.append(value_at(xk))
        evaluations.append(counts["loss"])

    options = {"maxiter": maxiter}
    warm_up(method)
    start = time.process_time()  # CPU time: steadier than wall time on a busy machine
    if method == METHODS[0]:
        result = minimize(fun, problem.x0, method="L-BFGS-B", callback=record, options=options)
    elif method == METHODS[1]:
        result = minimize(fun_and_grad, problem.x0, jac=True, method="L-BFGS-B",
                          callback=record, options=options)
    else:
        result = minimize(fun_and_grad, problem.x0, jac=True, hessp=hessp, method="trust-ncg",
                          callback=record, options=options)
    seconds = time.process_time() - start
    gradient = tg.func.grad(problem.loss)(result.x)
    return Run(method, result.x, int(result.nit), counts["loss"], counts["hvp"],
               value_at(result.x), float(np.linalg.norm(gradient)), seconds,
               str(result.message), history, evaluations)


def warm_up(method: str) -> None:
    """One tiny run of the SciPy method, so its first-call set-up is not in the timings."""
    square = (lambda x: float(x @ x), lambda x: 2 * x, lambda x, p: 2 * p)
    if method.startswith("trust-ncg"):
        minimize(square[0], np.ones(2), jac=square[1], hessp=square[2], method="trust-ncg")
    else:
        minimize(square[0], np.ones(2), jac=square[1], method="L-BFGS-B")


# ------------------------------------------------------------------ checks against SciPy
def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def check_derivatives(problems: list[Problem], X: np.ndarray, y: np.ndarray,
                      l2: float) -> dict[str, float]:
    """tg.func's gradient and Hessian-vector product against SciPy's and the hand-written."""
    rng = np.random.default_rng(0)
    errors = {}
    for problem in problems:
        x = problem.x0 + rng.normal(0, 0.1, problem.x0.shape)
        p = rng.normal(size=problem.x0.shape)
        gradient = tg.func.grad(problem.loss)(x)
        product = tg.func.hvp(problem.loss, x, p)[1]
        if problem.name.startswith("Rosenbrock"):
            errors[f"{problem.name}: gradient vs scipy rosen_der"] = relative_error(
                gradient, rosen_der(x))
            errors[f"{problem.name}: Hv vs scipy rosen_hess_prod"] = relative_error(
                product, rosen_hess_prod(x, p))
        else:
            errors[f"{problem.name}: gradient vs written out"] = relative_error(
                gradient, logistic_gradient_by_hand(x, X, y, l2))
            eps = 1e-5  # the Hessian-vector product against differences of gradients
            by_differences = (tg.func.grad(problem.loss)(x + eps * p)
                              - tg.func.grad(problem.loss)(x - eps * p)) / (2 * eps)
            errors[f"{problem.name}: Hv vs gradient differences"] = relative_error(
                product, by_differences)
    return errors


# ------------------------------------------------------------------ the picture
def plot_convergence(results: dict[str, list[Run]], problems: list[Problem],
                     path: Path) -> Figure:
    """Loss above its minimum per iteration (top) and per loss evaluation (bottom)."""
    fig = Figure(figsize=(5 * len(problems), 8.5), layout="constrained")
    axes = fig.subplots(2, len(problems), squeeze=False)
    # finite differences take (nearly) the same steps as the exact gradient: drawn wide
    # underneath it, so both lines show
    styles = {METHODS[0]: dict(color="tab:grey", lw=4, alpha=0.6),
              METHODS[1]: dict(color="tab:blue", lw=1.5, ls="--"),
              METHODS[2]: dict(color="tab:orange", lw=1.5)}
    floor = 1e-16
    for column, problem in enumerate(problems):
        for run in results[problem.name]:
            gap = np.maximum(np.asarray(run.history) - problem.minimum, floor)
            axes[0, column].plot(np.arange(len(gap)), gap, label=run.method, **styles[run.method])
            axes[1, column].plot(run.evaluations, gap, label=run.method, **styles[run.method])
        what = "loss" if problem.minimum == 0 else "loss - minimum (Newton)"
        axes[0, column].set(title=problem.name, xlabel="iteration", ylabel=what, yscale="log")
        axes[1, column].set(xlabel="loss evaluations (each with its gradient for tg.func)",
                            ylabel=what, yscale="log", xscale="log")
        for ax in axes[:, column]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=9)
    fig.suptitle("scipy.optimize.minimize: finite differences vs tg.func derivatives")
    fig.savefig(path, dpi=100)
    return fig


# ------------------------------------------------------------------ the program
def main(argv: list[str] | None = None) -> dict:
    """Check the derivatives, run every method on every problem, report and draw."""
    args = parse_args(argv)
    # NOTE: these problems are tiny (a 426 x 30 matrix at most): BLAS threads only add
    # hand-over costs. One thread (OPENBLAS_NUM_THREADS=1 vs the default, two runs each)
    # took the program from 7.2-7.4 to 4.9-5.4 s of CPU time (26-27 -> 18-19 s wall on a
    # busy 2-core machine) and each method's CPU time 3-10x down.
    with threadpool_limits(limits=1, user_api="blas"):
        return run(args)


def run(args: argparse.Namespace) -> dict:
    """The program's work, once the options are checked."""
    dims = (2, 5) if args.quick else ROSENBROCK_DIMS
    maxiter = min(args.maxiter, 300) if args.quick else args.maxiter
    start = time.perf_counter()

    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target.astype(np.float64), test_size=0.25, stratify=data.target,
        random_state=args.seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    n_weights = X_train.shape[1] + 1
    loss = logistic_loss(X_train, y_train, args.l2)
    w_newton, newton_steps = newton_minimum(loss, np.zeros(n_weights))
    problems = [Problem(f"logistic regression ({n_weights} weights)", loss,
                        np.zeros(n_weights), float(loss(tg.Tensor(w_newton))))]
    for n in dims:
        problems.append(Problem(f"Rosenbrock {n}-D", rosenbrock,
                                np.resize([-1.2, 1.0], n).astype(np.float64), minimum=0.0))

    print(f"breast cancer: {len(X_train)} training / {len(X_test)} test tumours, "
          f"{X_train.shape[1]} standardised features; L2 penalty {args.l2}")
    print(f"reference minimum by Newton's method with tg.func.hessian: loss "
          f"{problems[0].minimum:.12g} after {newton_steps} steps, |gradient| "
          f"{np.linalg.norm(tg.func.grad(loss)(w_newton)):.1e}")
    errors = check_derivatives(problems, X_train, y_train, args.l2)
    print("tg.func derivatives, largest relative difference:")
    for name, error in errors.items():
        print(f"  {name:58s} {error:.1e}")

    results: dict[str, list[Run]] = {}
    print(f"\n{'problem':34s} {'method':34s} {'iters':>6s} {'loss evals':>10s} "
          f"{'Hv evals':>8s} {'loss - min':>10s} {'|gradient|':>10s} {'CPU s':>8s}")
    for problem in problems:
        results[problem.name] = []
        for method in METHODS:
            run = minimize_with(problem, method, maxiter)
            results[problem.name].append(run)
            print(f"{problem.name:34s} {method:34s} {run.iterations:6d} "
                  f"{run.loss_evaluations:10d} {run.hvp_evaluations:8d} "
                  f"{run.final_loss - problem.minimum:10.1e} {run.gradient_norm:10.1e} "
                  f"{run.seconds:8.3f}",
                  flush=True)

    logistic = results[problems[0].name]
    test_accuracy = {run.method: accuracy(run.x, X_test, y_test) for run in logistic}
    train_accuracy = {run.method: accuracy(run.x, X_train, y_train) for run in logistic}
    rosenbrock_error = {f"{p.name}, {run.method}": float(np.max(np.abs(run.x - 1)))
                        for p in problems[1:] for run in results[p.name]}
    picture = args.out / "scipy_optimize_convergence.png"
    plot_convergence(results, problems, picture)

    print("\nlogistic regression accuracy (train / test):")
    for method in METHODS:
        print(f"  {method:34s} {train_accuracy[method]:.1%} / {test_accuracy[method]:.1%}")
    best = test_accuracy[METHODS[1]]
    print(f"  target {TARGET_ACCURACY:.0%} test accuracy with the tg.func gradient: "
          f"{'reached' if best >= TARGET_ACCURACY else 'MISSED'}")
    print("Rosenbrock, largest |x_i - 1| at the end:")
    for name, error in rosenbrock_error.items():
        print(f"  {name:62s} {error:.1e}")
    for problem in problems:
        fd, exact = results[problem.name][0], results[problem.name][1]
        print(f"{problem.name}: L-BFGS-B made {fd.loss_evaluations} loss evaluations with finite "
              f"differences, {exact.loss_evaluations} with tg.func gradients "
              f"({fd.loss_evaluations / max(exact.loss_evaluations, 1):.1f}x fewer)")
    print(f"finished in {time.perf_counter() - start:.1f} s; picture: {picture}")
    return {"derivative_errors": errors,
            "runs": {name: {run.method: run for run in runs} for name, runs in results.items()},
            "test_accuracy": test_accuracy, "train_accuracy": train_accuracy,
            "rosenbrock_error": rosenbrock_error,
            "seconds": time.perf_counter() - start, "files": [str(picture)]}


if __name__ == "__main__":
    main()
