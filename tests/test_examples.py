"""Every example end to end at --quick size: the reported thresholds, and valid PNG pictures;
their command lines: checked options with one-line errors, and no words a newcomer cannot know."""
from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from matplotlib.image import imread

import tinygrad_np as tg

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAMES = ("moons", "logic_and_sum", "nine_steps", "digits", "graph", "scipy_optimize")
NAMES += ("char_lm",)  # branch wt-rnnattn
NAMES += ("cnn_digits",)  # Beyond MLPs: conv layers
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@functools.lru_cache(maxsize=None)
def load_example(name: str) -> ModuleType:
    # as `python examples/NAME.py` does, so an example can import examples/_common.py
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def run_program(*args: str) -> subprocess.CompletedProcess:
    """`python examples/...` in a subprocess that imports this checkout's tinygrad_np."""
    env = {**os.environ, "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env=env)


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
        assert longest_blank_band(image) < 0.1, path  # no empty band across the picture


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


def test_moons_architecture_is_the_tutorials_list_of_dicts() -> None:
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
    assert result["sigmoid_output_mse_floor"] > 0.05  # what the tutorial's sigmoid output costs
    assert_pictures(result, tmp_path, expected=2)
    text = capsys.readouterr().out
    assert "sigmoid output could never exceed 1" in text
    assert "[0.96702984, 0.54723225] -> 1.51426209" in text  # the tutorial's own data


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


# --- char_lm (branch wt-rnnattn)
@pytest.mark.parametrize("model", ["gru", "lstm", "transformer"])
def test_char_lm(model: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = load_example("char_lm").main(["--quick", "--model", model, "--out", str(tmp_path)])
    # 25 steps learn the letter frequencies; the full-size runs beat the bigram (README)
    assert result["bigram_bits"] < result["valid_bits"] < result["uniform_bits"] - 1
    assert all(np.isfinite(result["history"]["valid_bits"]))
    assert all(text.startswith("The ") for text in result["samples"].values())
    assert_pictures(result, tmp_path, expected=2 if model == "transformer" else 1)
    assert "bits/char" in capsys.readouterr().out
# --- end char_lm


def test_cnn_digits(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_quick("cnn_digits", tmp_path)
    assert result["test_accuracy"] >= 0.95  # 3 epochs; the full 30 reach >= 98.5%
    assert_pictures(result, tmp_path, expected=2)
    assert "Conv2d(1, 16, kernel_size=(3, 3)" in capsys.readouterr().out


def test_scipy_optimize(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    result = run_quick("scipy_optimize", tmp_path)
    assert max(result["derivative_errors"].values()) < 1e-6  # vs SciPy's and by hand
    assert result["test_accuracy"]["L-BFGS-B, tg.func gradient"] >= 0.95
    for runs in result["runs"].values():
        by_differences, exact, newton = runs.values()
        assert exact.loss_evaluations < by_differences.loss_evaluations
        assert newton.hvp_evaluations > 0 and newton.gradient_norm < 1e-4
    for name, error in result["rosenbrock_error"].items():
        if "tg.func" in name:
            assert error < 1e-4, name
    assert_pictures(result, tmp_path, expected=1)
    text = capsys.readouterr().out
    assert "gradient vs scipy rosen_der" in text and "fewer)" in text


def test_moons_runs_as_a_program_and_a_bad_option_is_one_line() -> None:
    done = run_program(str(EXAMPLES / "moons.py"), "--epochs", "0")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "moons.py: error: argument --epochs: expected an integer >= 1, got '0' "
        "(see moons.py --help)"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs the Graphviz dot program")
def test_graph(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    readme_svg = tmp_path / "docs" / "graph.svg"  # its folder is created too
    assert load_example("graph").main(["--quick", "--out", str(tmp_path / "graph"),
                                       "--readme-svg", str(readme_svg)]) == 0
    written = sorted(p.name for p in (tmp_path / "graph").iterdir())
    assert written == [f"graph_{kind}.{fmt}" for kind in ("full", "grads", "layers")
                       for fmt in ("dot", "svg")]  # --quick: no PNG
    assert readme_svg.read_text().lstrip().startswith("<?xml")
    assert "|grad| per parameter: 0.weight" in capsys.readouterr().out


# ------------------------------------------------------------------ the command lines
# Values each option check must refuse, by the name of the check (examples/_common.py).
REFUSED = {
    "positive_int": ["0", "-3", "2.5", "ten"],
    "seed_int": ["-1", str(2 ** 32), "1.5"],
    "positive_float": ["0", "-1", "nan", "inf", "fast"],
    "non_negative_float": ["-1e-4", "nan"],
    "momentum_float": ["-0.1", "1", "1.5"],
    "formats_list": ["bmpx", "svg,nope", ","],
}


def checked_options(name: str) -> list[tuple[str, str]]:
    """(option, name of its check) for each option of the example that takes a value."""
    parser = load_example(name).build_parser()
    return [(action.option_strings[-1], getattr(action.type, "__name__", repr(action.type)))
            for action in parser._actions if action.type is not None]


def bad_option_cases() -> list:
    return [pytest.param(name, option, value, id=f"{name} {option} {value}")
            for name in NAMES for option, check in checked_options(name)
            for value in REFUSED.get(check, [])]


def assert_one_line_error(name: str, argv: list[str], option: str,
                          capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as info:
        load_example(name).main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before any work
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{name}.py: error: argument {option}: "), err
    return lines[0]


def test_every_option_that_takes_a_number_is_checked() -> None:
    for name in NAMES:
        for option, check in checked_options(name):
            assert check in REFUSED or check == "Path", (name, option, check)
        assert "--quick" in load_example(name).build_parser().format_help(), name


@pytest.mark.parametrize(("name", "option", "value"), bad_option_cases())
def test_a_bad_option_is_a_one_line_error(name: str, option: str, value: str,
                                         capsys: pytest.CaptureFixture) -> None:
    assert_one_line_error(name, [option, value], option, capsys)


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_out_folder_is_a_one_line_error(name: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("keep me")
    line = assert_one_line_error(name, ["--out", str(a_file)], "--out", capsys)
    assert "is not a folder" in line and a_file.read_text() == "keep me"
    line = assert_one_line_error(name, ["--out", str(a_file / "sub")], "--out", capsys)
    assert "cannot create the folder" in line


@pytest.mark.parametrize("name", NAMES)
def test_an_unwritable_out_folder_is_a_one_line_error(name: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    common = sys.modules["_common"]

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    # the probe a read-only folder fails (root writes anywhere, so chmod cannot show it)
    monkeypatch.setattr(common.tempfile, "NamedTemporaryFile", refuse)
    line = assert_one_line_error(name, ["--out", str(tmp_path)], "--out", capsys)
    assert line.endswith(f"cannot write in the folder '{tmp_path}': Permission denied "
                         f"(see {name}.py --help)")


def test_graph_readme_svg_must_be_a_file_name(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    out = ["--out", str(tmp_path / "graph")]
    assert_one_line_error("graph", [*out, "--readme-svg", str(tmp_path)], "--readme-svg", capsys)
    assert_one_line_error("graph", [*out, "--readme-svg", str(tmp_path / "graph.txt")],
                          "--readme-svg", capsys)
    a_file = tmp_path / "docs"
    a_file.write_text("")
    assert_one_line_error("graph", [*out, "--readme-svg", str(a_file / "graph.svg")],
                          "--readme-svg", capsys)


# ------------------------------------------------------------------ words a newcomer knows
JARGON = re.compile(r"seed[ _-]?0\d\d|retel|retold|the seeds?'|\bseeds? (?:text|tutorial)",
                    re.IGNORECASE)


@pytest.mark.parametrize("path", ["README.md", "benchmarks/README.md", "benchmarks/bench_data.py",
                                  *(f"examples/{name}.py" for name in NAMES)])
def test_no_project_jargon_in_what_users_read(path: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert JARGON.findall(text) == []


@pytest.mark.parametrize("name", NAMES)
def test_no_project_jargon_in_help(name: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        load_example(name).main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--quick" in text and "--out" in text and "--seed" in text
    assert JARGON.findall(text) == []


# ------------------------------------------------------------------ pictures
def test_gates_picture_has_a_class_legend_and_a_colorbar(tmp_path: Path) -> None:
    example = load_example("logic_and_sum")
    model = example.single_layer()
    figure = example.plot_gates([("OR", model, example.OR_Y, 4), ("XOR", model,
                                                                  example.XOR_Y, 2)],
                                tmp_path / "gates.png")
    texts = [t.get_text() for legend in figure.legends for t in legend.get_texts()]
    assert "truth 0" in texts and "truth 1" in texts
    colorbars = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 1 and "output" in colorbars[0].get_ylabel()


@pytest.mark.parametrize("mistakes", [0, 3, 14, 25])
def test_mistakes_picture_has_no_empty_band(tmp_path: Path, mistakes: int) -> None:
    example = load_example("digits")
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 16, size=(40, 8, 8))
    y_true = np.arange(40) % 10
    y_pred = y_true.copy()
    y_pred[:mistakes] = (y_pred[:mistakes] + 1) % 10
    path = tmp_path / "mistakes.png"
    figure = example.plot_mistakes(images, y_true, y_pred, path)
    if mistakes == 0:
        assert [t.get_text() for ax in figure.axes for t in ax.texts] == ["no mistakes"]
        return
    digits = [ax for ax in figure.axes if ax.images]
    assert len(digits) == min(mistakes, example.MISTAKES_SHOWN)
    def row(ax): return ax.get_subplotspec().rowspan.start
    assert {row(ax) for ax in digits} == {row(ax) for ax in figure.axes}  # no empty row
    assert longest_blank_band(imread(path)) < 0.1


def longest_blank_band(image: np.ndarray) -> float:
    """The tallest run of all-white pixel rows, as a fraction of the picture's height."""
    blank = (image[..., :3] > 0.98).all(axis=(1, 2))
    longest = run = 0
    for row in blank:
        run = run + 1 if row else 0
        longest = max(longest, run)
    return longest / len(blank)


@pytest.mark.parametrize("name", ["moons", "digits", "cnn_digits", "logic_and_sum",
                                  "nine_steps"])
def test_compile_gives_the_eager_results(name: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    """--compile trains to the same numbers as eager mode (the same seeds, 2 epochs)."""
    example = load_example(name)
    args = ["--epochs", "2", "--out", str(tmp_path)]
    eager = example.main(args)
    compiled = example.main(args + ["--compile"])
    assert "tg.compile:" in capsys.readouterr().out
    numbers = [key for key, value in eager.items() if isinstance(value, float)
               and key != "seconds"]
    assert numbers
    for key in numbers:
        assert compiled[key] == pytest.approx(eager[key], rel=1e-6), key


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_char_lm_compile_gives_the_eager_results(model: str, tmp_path: Path) -> None:
    """In fresh processes (its text is the docstrings of the modules Python has, which
    importing more modules in one process would change): the same validation figure."""
    runs = [run_program(str(ROOT / "examples" / "char_lm.py"), "--quick", "--model", model,
                        "--out", str(tmp_path), *flag) for flag in ([], ["--compile"])]
    assert all(run.returncode == 0 for run in runs), runs[-1].stderr[-500:]
    lines = [next(line for line in run.stdout.splitlines() if line.startswith("validation"))
             for run in runs]
    assert lines[1].startswith(lines[0].split(" after ")[0]) and "tg.compile:" in lines[1]
