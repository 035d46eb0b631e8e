"""The correctness check: every framework must compute the same losses, gradients and
updated weights as the hand-written NumPy reference on tiny cases, before anything is timed.

Each MLP case takes two SGD steps (so a gradient that is not reset between steps, or a
wrong update, shows up in the second loss and gradients); the chain case compares the
output and its gradient. Used by run.py (in each framework's own process) and by
tests/test_benchmarks.py (tinygrad_np against NumPy, in CI).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bench_data import LR, SEED, TINY_CHAIN, TINY_MLP, chain_input, init_weights, mlp_data

# (rtol, atol) per dtype the check runs in
TOLERANCES = {"float64": (1e-7, 1e-10), "float32": (2e-3, 2e-5)}


def tiny_results(fw: Any, dtype: str) -> dict:
    """Losses, gradients and weights of fw on every tiny case it supports (JSON-ready)."""
    dtype = np.dtype(dtype)
    results: dict[str, Any] = {}
    for loss, (sizes, rows) in TINY_MLP.items():
        if loss not in fw.KINDS:
            continue
        weights = init_weights(sizes, SEED + 1, dtype)
        x, y = mlp_data(loss, sizes, rows, SEED + 2, dtype)
        trainer = fw.mlp(weights, x, y, loss, 10 * LR)
        case: dict[str, Any] = {"loss": []}
        for step in (1, 2):
            case["loss"].append(trainer.step())
            case[f"grads{step}"] = [np.asarray(g, np.float64).tolist() for g in trainer.grads()]
        case["params"] = [np.asarray(p, np.float64).tolist() for p in trainer.params()]
        results[loss] = case
    if "chain" in fw.KINDS:
        elements, iterations = TINY_CHAIN
        y, dx = fw.chain(chain_input(elements, SEED + 3, dtype), iterations)()
        results["chain"] = {"y": np.asarray(y, np.float64).tolist(),
                            "dx": np.asarray(dx, np.float64).tolist()}
    if "cnn" in fw.KINDS:  # W7
        results["cnn"] = tiny_cnn(fw, dtype)
    return results


def compare(reference: dict, got: dict, dtype: str) -> list[str]:
    """Every quantity where `got` differs from `reference` beyond the dtype's tolerance."""
    rtol, atol = TOLERANCES[dtype]
    problems = []
    for case, values in got.items():
        for quantity, value in values.items():
            ref = reference[case][quantity]
            items = value if quantity.startswith(("grads", "params")) else [value]
            refs = ref if quantity.startswith(("grads", "params")) else [ref]
            if len(items) != len(refs):
                problems.append(f"{case}/{quantity}: {len(items)} arrays, expected {len(refs)}")
                continue
            for i, (a, r) in enumerate(zip(items, refs)):
                a, r = np.asarray(a, np.float64), np.asarray(r, np.float64)
                if a.shape != r.shape:
                    problems.append(f"{case}/{quantity}[{i}]: shape {a.shape}, expected {r.shape}")
                elif not np.allclose(a, r, rtol=rtol, atol=atol):
                    err = np.max(np.abs(a - r) / (atol + rtol * np.abs(r)))
                    problems.append(f"{case}/{quantity}[{i}]: off by {err:.3g}x the tolerance "
                                    f"(max |diff| {np.max(np.abs(a - r)):.3g}, {dtype})")
    return problems


# --- W7: the CNN case, two SGD steps like the MLP cases
def tiny_cnn(fw: Any, dtype: np.dtype) -> dict:
    from bench_data import TINY_CNN, cnn_data, init_cnn
    x, y = cnn_data(TINY_CNN, SEED + 4, dtype)
    trainer = fw.cnn(TINY_CNN, init_cnn(TINY_CNN, SEED + 5, dtype), x, y, 10 * LR)
    case: dict[str, Any] = {"loss": []}
    for step in (1, 2):
        case["loss"].append(trainer.step())
        case[f"grads{step}"] = [np.asarray(g, np.float64).tolist() for g in trainer.grads()]
    case["params"] = [np.asarray(p, np.float64).tolist() for p in trainer.params()]
    return case


# --- W8, W9: the recurrent and attention cases (branch wt-rnnattn) ------------------------
def sequence_trainer(fw: Any, kind: str, sizes: tuple, batch: int, seed: int,
                     dtype: np.dtype, lr: float) -> Any:
    """fw's trainer for a W8 ("gru") or W9 ("encoder") case built from bench_data's arrays."""
    from bench_data import sequence_case
    weights, x, y = sequence_case(kind, sizes, batch, seed, dtype)
    if kind == "gru":
        return fw.gru(weights, x, y, lr)
    return fw.encoder(weights, x, y, lr, heads=sizes[1])


def tiny_sequence_results(fw: Any, dtype: str) -> dict:
    """Losses, gradients and weights after two SGD steps of the tiny GRU and encoder cases."""
    from bench_data import TINY_SEQUENCE
    results: dict[str, Any] = {}
    for kind, (sizes, batch) in TINY_SEQUENCE.items():
        if kind not in fw.KINDS:
            continue
        trainer = sequence_trainer(fw, kind, sizes, batch, SEED + 4, np.dtype(dtype), 10 * LR)
        case: dict[str, Any] = {"loss": []}
        for step in (1, 2):
            case["loss"].append(trainer.step())
            case[f"grads{step}"] = [np.asarray(g, np.float64).tolist() for g in trainer.grads()]
        case["params"] = [np.asarray(p, np.float64).tolist() for p in trainer.params()]
        results[kind] = case
    return results
# --- end W8, W9 ---------------------------------------------------------------------------
