"""Every example end to end at --quick size: the reported thresholds, and valid PNG pictures."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from matplotlib.image import imread

import tinygrad_np as tg

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load_example(name: str) -> ModuleType:
    # as `python examples/NAME.py` does, so an example can import examples/_common.py
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_quick(name: str, out: Path) -> dict:
    return load_example(name).main(["--quick", "--out", str(out)])


def assert_pictures(result: dict, out: Path, expected: int) -> None:
    pictures = [Path(f) for f in result["files"] if f.endswith(".png")]
    assert len(pictures) == expected
    for path in pictures:
        assert path.parent == out and path.is_file()
        assert path.read_bytes()[:8] == PNG_MAGIC
        image = imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0.01  # something was drawn


def test_moons(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "moons" / "nested"  # --out is created if missing
    result = run_quick("moons", out)
    assert result["test_accuracy"] >= 0.95
    assert result["reloaded_test_accuracy"] == result["test_accuracy"]
    assert_pictures(result, out, expected=2)
    weights = tg.load(out / "moons_weights.npz")
    assert sorted(weights) == sorted(f"{i}.{p}" for i in (0, 2, 4, 6, 8)
                                     for p in ("weight", "bias"))
    assert weights["2.weight"].shape == (50, 25)
    text = capsys.readouterr().out
    assert "epoch   40/40" in text and "test" in text and "(same)" in text


def test_moons_architecture_is_the_seeds_list_of_dicts() -> None:
    moons = load_example("moons")
    model = tg.nn.Sequential.from_architecture(moons.NN_ARCHITECTURE)
    linears = [m for m in model if isinstance(m, tg.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (2, 25), (25, 50), (50, 50), (50, 25), (25, 1)]
    assert isinstance(model[-1], tg.nn.Sigmoid)


def test_logic_and_sum(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_quick("logic_and_sum", tmp_path)
    assert result["or_correct"] == 4
    np.testing.assert_array_equal(np.round(result["or_outputs"]), [0, 1, 1, 1])
    assert result["xor_single_layer_correct"] <= 3  # no line separates XOR
    assert result["xor_hidden_layer_correct"] == 4
    assert result["sum_test_mse"] < 1e-3
    assert result["sigmoid_output_mse_floor"] > 0.05  # what the seed's sigmoid output costs
    assert_pictures(result, tmp_path, expected=2)
    text = capsys.readouterr().out
    assert "sigmoid output could never exceed 1" in text
    assert "[0.96702984, 0.54723225] -> 1.51426209" in text  # the seed's own data


def test_nine_steps(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_quick("nine_steps", tmp_path)
    assert result["num_parameters"] == (2 + 1) * 32 + (32 + 1) * 32 + (32 + 1) * 3
    assert result["test_over_train"] < 1.5
    assert result["test_loss"] < 0.01
    assert all(rmse < 0.1 for rmse in result["test_rmse"].values())
    assert_pictures(result, tmp_path, expected=1)
    text = capsys.readouterr().out
    for n in range(1, 10):
        assert f"Step {n}." in text
    assert "7000 training points (70%), 3000 test points (30%)" in text


def test_digits(tmp_path: Path) -> None:
    result = run_quick("digits", tmp_path)
    assert result["test_accuracy"] >= 0.97
    assert_pictures(result, tmp_path, expected=3)


def test_moons_help_runs_as_a_program() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLES / "moons.py"), "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for flag in ("--out", "--quick", "--seed", "--epochs"):
        assert flag in done.stdout
