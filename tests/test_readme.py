"""Every ```python block of README.md runs as it stands, each in a fresh process.

A block runs in an empty temporary folder (the files it writes land there) with
MPLBACKEND=Agg and this checkout's tinygrad_np; a block that defines `test_*`
functions (a property test, meant for pytest) has each of them called after it ran.
A block fenced ```python excerpt is a part of a package file (ops.py, tensor.py,
tests/test_ops.py), not a program, and is only compiled. Blocks added to the README
later are picked up by themselves; a failure names the block's heading and line.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PYTHON = {"python", "py", "python3"}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
TEST_FUNCTION = re.compile(r"^def (test_\w+)\(", re.MULTILINE)

# Runs a block saved as a file, then calls the test functions it defines (hypothesis
# properties run with a small example count, as the test suite's default profile does).
RUNNER = """
import runpy, sys
if sys.argv[2:]:
    from hypothesis import settings
    settings.register_profile("readme", max_examples=15, deadline=None)
    settings.load_profile("readme")
namespace = runpy.run_path(sys.argv[1], run_name="__main__")
for name in sys.argv[2:]:
    namespace[name]()
    print(f"{name}() passed")
"""


@dataclass
class Block:
    """One fenced code block: where it starts, under which heading, its info string and code."""

    line: int          # the line of the opening fence, counted from 1
    heading: str
    language: str
    excerpt: bool
    code: str


def readme_blocks(text: str) -> list[Block]:
    """Every fenced block of a Markdown text (indented ones too, their indent removed)."""
    blocks, heading, open_block = [], "top", None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if open_block is None:
            if match:
                info = match["info"].split()
                open_block = (number, match["indent"], match["fence"], info, [])
            elif line.startswith("#"):
                heading = line.lstrip("#").strip()
        elif match and match["fence"].startswith(open_block[2]) and not match["info"].strip():
            start, _, _, info, lines = open_block
            blocks.append(Block(start, heading, info[0].lower() if info else "",
                                "excerpt" in info[1:], textwrap.dedent("\n".join(lines))))
            open_block = None
        else:
            indent = open_block[1]
            open_block[4].append(line[len(indent):] if line.startswith(indent) else line)
    assert open_block is None, f"README.md line {open_block[0]}: a code block is never closed"
    return blocks


def python_blocks() -> list[Block]:
    return [b for b in readme_blocks(README.read_text(encoding="utf-8")) if b.language in PYTHON]


def block_id(block: Block) -> str:
    return re.sub(r"[^\w.+-]+", "-", block.heading).strip("-") + f"-line{block.line}"


def as_file(block: Block) -> str:
    """The code with blank lines in front, so a traceback's line numbers are README.md's."""
    return "\n" * block.line + block.code + "\n"


@pytest.mark.parametrize("block", python_blocks(), ids=block_id)
def test_readme_python_block_runs_as_it_stands(block: Block, tmp_path: Path) -> None:
    where = f"README.md line {block.line} (under '{block.heading}')"
    if block.excerpt:
        compile(as_file(block), f"README.md:{block.line}", "exec")  # a part of a file: must parse
        return
    script = tmp_path / f"readme_line_{block.line}.py"
    script.write_text(as_file(block), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    tests = TEST_FUNCTION.findall(block.code)
    done = subprocess.run([sys.executable, "-c", RUNNER, str(script), *tests], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode and "GraphvizNotFound" in done.stderr and shutil.which("dot") is None:
        pytest.skip("the block renders a picture and the Graphviz dot program is missing")
    assert done.returncode == 0, (f"{where} failed (its line numbers are README.md's):\n"
                                  f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    for name in tests:
        assert f"{name}() passed" in done.stdout


def test_the_readme_has_python_blocks_and_property_tests_say_how_to_run_them() -> None:
    blocks = python_blocks()
    assert len([b for b in blocks if not b.excerpt]) >= 6
    for block in blocks:
        if "@given" in block.code:
            comments = [line for line in block.code.splitlines() if line.lstrip().startswith("#")]
            assert any("pytest" in c for c in comments), (
                f"README.md line {block.line}: a property test should say, in a comment, "
                "to run it with pytest")


def test_the_block_reader_handles_indented_fences_headings_and_excerpts() -> None:
    text = ("# Top\n```python\nprint(1)\n```\n## Two\n1. step\n\n   ```python excerpt\n"
            "   x = 1\n   ```\n```bash\nls\n```\n")
    blocks = readme_blocks(text)
    assert [(b.line, b.heading, b.language, b.excerpt, b.code) for b in blocks] == [
        (2, "Top", "python", False, "print(1)"), (8, "Two", "python", True, "x = 1"),
        (11, "Two", "bash", False, "ls")]
