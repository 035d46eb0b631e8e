"""The benchmark harness's correctness check, run in CI on its tiny cases.

tinygrad_np (as a user runs it: tg.nn layers and losses, tg.optim.SGD) must give
the same losses, gradients and SGD updates as the hand-written NumPy reference
that benchmarks/run.py times it against, so a speed-up can never silently change
a gradient. The peers (PyTorch, MyGrad, ...) are not installed in CI; run.py
checks them the same way before it times anything. No timing here.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_check  # noqa: E402
import fw_numpy  # noqa: E402
import fw_tinygrad_np  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_default_dtype():
    previous = tg.get_default_dtype()
    yield
    tg.set_default_dtype(previous)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tinygrad_np_matches_hand_written_numpy(dtype):
    reference = bench_check.tiny_results(fw_numpy, dtype)
    got = bench_check.tiny_results(fw_tinygrad_np, dtype)
    assert set(got) == {"bce", "ce", "hinge", "chain", "cnn"}
    assert bench_check.compare(reference, got, dtype) == []


def test_the_check_catches_a_wrong_gradient():
    reference = bench_check.tiny_results(fw_numpy, "float64")
    broken = {case: dict(values) for case, values in reference.items()}
    grads = [np.asarray(g) for g in broken["bce"]["grads1"]]
    grads[0] = grads[0] * (1 + 1e-4)
    broken["bce"]["grads1"] = [g.tolist() for g in grads]
    problems = bench_check.compare(reference, broken, "float64")
    assert len(problems) == 1 and problems[0].startswith("bce/grads1[0]")


def test_the_two_steps_really_train():
    """The second step's loss is lower than the first's (the update has the right sign)."""
    results = bench_check.tiny_results(fw_tinygrad_np, "float64")
    for case in ("bce", "ce", "hinge"):
        first, second = results[case]["loss"]
        assert second < first, case


def test_hand_written_chain_gradient_matches_finite_differences():
    x0 = np.linspace(-0.5, 0.5, 4)
    run = fw_numpy.chain(x0, 6)
    _, dx = run()
    eps = 1e-6
    for i in range(4):
        bump = np.zeros(4)
        bump[i] = eps
        up = fw_numpy.chain(x0 + bump, 6)()[0].sum()
        down = fw_numpy.chain(x0 - bump, 6)()[0].sum()
        assert dx[i] == pytest.approx((up - down) / (2 * eps), rel=1e-6)


def test_the_minimal_engine_of_floor_py_computes_the_chain_gradient():
    import floor  # the speed floor (benchmarks/floor.py): its numbers mean nothing if wrong

    x0 = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    expected = floor.numpy_chain(x0, 20)
    np.testing.assert_allclose(floor.minimal_chain(x0, 20), expected, rtol=1e-5)
    np.testing.assert_allclose(floor.tinygrad_chain(x0, 20), expected, rtol=1e-5)


def test_the_table_takes_the_best_time_and_the_median_memory():
    import run  # benchmarks/run.py

    runs = {"W1": {"numpy": [{"seconds": 2.0}, {"seconds": 1.0}, {"seconds": 4.0}],
                   "tinygrad_np": [{"seconds": 3.0}, {"seconds": 1.5}, {"error": "crashed"}]},
            "W4": {"numpy": [{"seconds": 0.2, "peak_rss_mib": 40.0}],
                   "tinygrad_np": [{"seconds": 0.9, "peak_rss_mib": 80.0},
                                   {"seconds": 0.7, "peak_rss_mib": 90.0},
                                   {"seconds": 0.8, "peak_rss_mib": 100.0}]}}
    table = run.summarize(runs, ["W1", "W4"], ["numpy", "tinygrad_np"])
    assert table["W1"]["numpy"]["seconds"] == 1.0
    assert table["W1"]["tinygrad_np"] == {"n": 2, "error": "crashed", "seconds": 1.5,
                                          "ratio": 1.5}
    assert table["W4"]["tinygrad_np"]["seconds"] == 0.7
    assert table["W4"]["tinygrad_np"]["peak_rss_mib"] == 90.0


def test_every_worker_gets_the_same_allocator_thresholds_and_one_thread():
    import run  # benchmarks/run.py

    env = run.worker_env()
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20)
    assert env["MALLOC_TRIM_THRESHOLD_"] == str(64 << 20)
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    plain = run.worker_env(malloc_defaults=True)  # --malloc-defaults: what the shell has
    for var in run.MALLOC_ENV:
        assert plain.get(var) == os.environ.get(var)


def test_a_timing_reports_the_page_faults_of_its_best_block():
    import mmap

    import bench_worker

    def touch_fresh_pages():  # 256 new pages from the OS on every call
        m = mmap.mmap(-1, 256 * 4096)
        view = np.frombuffer(m, np.uint8)
        view[::4096] = 1
        del view
        m.close()

    result = bench_worker.time_per_call(touch_fresh_pages, quick=True)
    assert result["page_faults"] >= 256
    assert result["user_seconds"] >= 0 and result["kernel_seconds"] >= 0
    assert result["seconds"] == min(result["blocks"])


def test_the_table_shows_the_allocator_and_w1_page_faults():
    import run

    runs = {"W1": {"numpy": [{"seconds": 1e-3, "page_faults": 0.0}],
                   "tinygrad_np": [{"seconds": 1.1e-3, "page_faults": 2.0},
                                   {"seconds": 1.2e-3, "page_faults": 4.0}]}}
    table = run.summarize(runs, ["W1"], ["numpy", "tinygrad_np"])
    meta = {"date": "d", "cpu": "c", "python": "p", "numpy": "n", "blas": "b", "peers": "-",
            "command": "python benchmarks/run.py", "malloc": "MALLOC_X=1 in every worker"}
    text = run.markdown(table, ["numpy", "tinygrad_np"], meta)
    assert "Allocator: MALLOC_X=1 in every worker" in text
    assert "| W1 minor page faults per step | faults | 0 | 3 |  |" in text
    assert "1.1 (1.10x) | <= 1.2x met |" in text


# ---- the compiled column (issue 15): tg.compile's replays pass the same check
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tinygrad_np_compiled_matches_hand_written_numpy(dtype):
    import fw_tinygrad_np_compiled
    reference = bench_check.tiny_results(fw_numpy, dtype)
    got = bench_check.tiny_results(fw_tinygrad_np_compiled, dtype)
    assert set(got) == {"bce", "ce", "hinge", "chain"}
    assert bench_check.compare(reference, got, dtype) == []
