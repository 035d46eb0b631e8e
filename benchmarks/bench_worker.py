"""One measurement in a fresh process: `python bench_worker.py FRAMEWORK WORKLOAD [--quick]`.

Prints one JSON line. `WORKLOAD` may be `check` (the tiny-case results and this
process's NumPy/BLAS description). run.py starts this pinned to one core with
one BLAS thread; it can be run by hand the same way to reproduce one cell.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import sys
import time
from typing import Callable

import numpy as np

from bench_data import LR, SEED, WORKLOADS, chain_input, init_weights, mlp_data
from bench_data import SEQUENCE_KINDS  # W8, W9 (branch wt-rnnattn)

FRAMEWORKS = ("numpy", "tinygrad_np", "pytorch", "mygrad", "autograd", "micrograd")
# compiled steps (issue 15): their first call (the recording, jax's tracing and XLA
# compilation) is timed on its own and reported as compile_seconds
COMPILED = ("tinygrad_np_compiled", "jax")
FRAMEWORKS += COMPILED


def load(name: str):
    """The fw_<name> module (a uniform wrapper around one framework)."""
    if name not in FRAMEWORKS:
        raise SystemExit(f"unknown framework {name!r}; choose from {', '.join(FRAMEWORKS)}")
    return importlib.import_module(f"fw_{name}")


def rss_mib() -> float:
    """This process's resident set size now."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """The largest resident set size this process has had (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_per_call(fn: Callable[[], object], quick: bool) -> dict:
    """Warm up, then time blocks of calls (~0.1 s each); seconds per call of the best block.

    The best block, as timeit does: on a shared machine interference only adds time.
    run.py then takes the median of that over fresh processes.
    """
    start, calls = time.perf_counter(), 0
    while calls < 2 or time.perf_counter() - start < (0.1 if quick else 0.25):
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    k = max(1, round((0.05 if quick else 0.1) / per_call))
    blocks, cpu = [], []
    for _ in range(3 if quick or per_call > 0.2 else 5):
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(k):
            fn()
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        blocks.append((t1 - t0) / k)
        cpu.append(((r1.ru_utime - r0.ru_utime) / k, (r1.ru_stime - r0.ru_stime) / k,
                    (r1.ru_minflt - r0.ru_minflt) / k))
    best = blocks.index(min(blocks))
    # where the best block's time went: user-mode CPU, kernel CPU (mostly page faults:
    # memory the allocator gave back to the OS and touches again), minor page faults
    user, kernel, faults = cpu[best]
    return {"seconds": blocks[best], "median_block": statistics.median(blocks),
            "blocks": blocks, "calls_per_block": k, "user_seconds": user,
            "kernel_seconds": kernel, "page_faults": faults}


def describe() -> dict:
    """Python, NumPy and the BLAS kernel this process really runs."""
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "executable": sys.executable}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "architecture",
                                               "num_threads")} for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def run(framework: str, workload: str, quick: bool, steps: int | None) -> dict:
    fw = load(framework)
    result = {"framework": framework, "workload": workload, "version": fw.version()}
    if workload == "check":
        from bench_check import tiny_results
        result["env"] = describe()
        result["results"] = {d: tiny_results(fw, d) for d in ("float64", "float32")}
        # --- W8, W9 (branch wt-rnnattn)
        from bench_check import tiny_sequence_results
        for d in ("float64", "float32"):
            result["results"][d].update(tiny_sequence_results(fw, d))
        # --- end W8, W9
        return result
    w = WORKLOADS[workload]
    f32 = np.dtype(np.float32)
    # --- W8, W9: a recurrent and an attention training step (branch wt-rnnattn)
    if w.kind in SEQUENCE_KINDS:
        from bench_check import sequence_trainer
        trainer = sequence_trainer(fw, w.kind, w.sizes, w.rows, SEED, f32, LR)
        result.update(time_per_call(trainer.step, quick))
        return result
    # --- end W8, W9
    if w.kind == "chain":
        elements, iterations = w.sizes
        x0 = chain_input(elements, SEED, f32)
        if workload == "W4":  # one cold pass over the long chain: time and peak memory
            fw.chain(x0, 100)()
            result["rss_before_mib"] = rss_mib()
            t0 = time.perf_counter()
            fw.chain(x0, iterations)()
            result["seconds"] = time.perf_counter() - t0
            result["peak_rss_mib"] = peak_rss_mib()
        else:
            t0 = time.perf_counter()
            run_chain = fw.chain(x0, iterations)  # a compiled framework compiles here
            if framework in COMPILED:
                result["compile_seconds"] = time.perf_counter() - t0
            result.update(time_per_call(run_chain, quick))
            result["us_per_op"] = result["seconds"] / (3 * iterations) * 1e6
        return result
    if w.kind == "cnn":  # W7: time per step, and the whole process's peak memory
        from bench_data import cnn_data, cnn_spec, init_cnn
        spec = cnn_spec(w)
        x, y = cnn_data(spec, SEED, f32)
        trainer = fw.cnn(spec, init_cnn(spec, SEED, f32), x, y, LR)
        result.update(time_per_call(trainer.step, quick))
        result["peak_rss_mib"] = peak_rss_mib()
        result["rss_end_mib"] = rss_mib()
        return result
    x, y = mlp_data(w.loss, w.sizes, w.rows, SEED, f32)
    trainer = fw.mlp(init_weights(w.sizes, SEED, f32), x, y, w.loss, LR)
    if w.kind == "memory":
        total = steps or 10_000
        for _ in range(100):
            trainer.step()
        result["rss_100_mib"] = rss_mib()
        t0 = time.perf_counter()
        for _ in range(total - 100):
            loss = trainer.step()
        result["seconds"] = (time.perf_counter() - t0) / (total - 100)
        result["rss_end_mib"] = rss_mib()
        result["steps"] = total
        result["growth_mib"] = result["rss_end_mib"] - result["rss_100_mib"]
        result["final_loss"] = loss
        return result
    if framework in COMPILED:  # the first call records/compiles: timed on its own
        t0 = time.perf_counter()
        trainer.step()
        result["compile_seconds"] = time.perf_counter() - t0
    result.update(time_per_call(trainer.step, quick))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=FRAMEWORKS)
    parser.add_argument("workload", choices=[*WORKLOADS, "check"])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=None, help="W6: total training steps")
    args = parser.parse_args()
    print(json.dumps(run(args.framework, args.workload, args.quick, args.steps)))


if __name__ == "__main__":
    main()
