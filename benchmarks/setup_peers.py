"""Build the peers' virtualenv benchmarks/.peers: `python benchmarks/setup_peers.py`.

It holds PyTorch, MyGrad, HIPS autograd and micrograd (requirements-peers.txt) and
tinygrad_np itself, installed editable from this checkout, so every framework runs on
the same Python and the same NumPy. Equivalent commands:

    python -m venv benchmarks/.peers
    benchmarks/.peers/bin/pip install -r benchmarks/requirements-peers.txt
    benchmarks/.peers/bin/pip install -e .
"""
from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    target = HERE / ".peers"
    python = target / "bin" / "python"
    if not python.exists():
        print(f"creating {target}", flush=True)
        venv.create(target, with_pip=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(HERE / "requirements-peers.txt")], check=True)
    subprocess.run([*pip, "-e", str(HERE.parent)], check=True)
    subprocess.run([str(python), "-c", "import torch, mygrad, autograd, micrograd, tinygrad_np; "
                    "print('peers ready: torch', torch.__version__, '| mygrad', "
                    "mygrad.__version__)"], check=True)


if __name__ == "__main__":
    sys.exit(main())
