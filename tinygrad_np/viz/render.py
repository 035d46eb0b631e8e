"""Rendering through the Graphviz `dot` program, with an install hint when it is missing."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Iterator

import graphviz

INSTALL_HINT = """\
Rendering needs the Graphviz `dot` program, which was not found on PATH
(`pip install graphviz` installs only the Python wrapper, not the program). Install it:
  Debian/Ubuntu:  sudo apt-get install graphviz
  macOS:          brew install graphviz
  conda:          conda install -c conda-forge graphviz
  Windows:        winget install graphviz   (or: choco install graphviz),
                  then open a new terminal so its bin folder is on PATH
The DOT source needs no program: `graph.source`, or save_graph(root, "graph.dot")."""


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Rendering was asked for, but the Graphviz `dot` program is not installed."""

    def __init__(self, detail: str = "") -> None:
        note = f"\n(graphviz said: {detail})" if detail else ""
        RuntimeError.__init__(self, INSTALL_HINT + note)


@contextlib.contextmanager
def explain_missing_dot() -> Iterator[None]:
    """Turn graphviz's ExecutableNotFound into GraphvizNotFound, which says how to install."""
    try:
        yield
    except graphviz.ExecutableNotFound as error:
        if isinstance(error, GraphvizNotFound):
            raise
        raise GraphvizNotFound(str(error)) from error


class ModelGraph(graphviz.Digraph):
    """A `graphviz.Digraph` whose render/pipe (and Jupyter display) explain a missing `dot`."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        """Render to bytes (or str with encoding=) through `dot`; see graphviz.Digraph.pipe."""
        with explain_missing_dot():
            return super().pipe(*args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Write the source and render it to a file; see graphviz.Digraph.render."""
        with explain_missing_dot():
            return super().render(*args, **kwargs)


def save(graph: graphviz.Digraph, path: str | os.PathLike) -> Path:
    """Write `graph` to `path` in the format its suffix names (.svg .png .pdf .dot ...)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt in ("dot", "gv"):
        path.write_text(graph.source, encoding="utf-8")
        return path
    if fmt not in graphviz.FORMATS:
        raise ValueError(f"save_graph cannot tell the format from the file name {str(path)!r}: "
                         "use a suffix such as .svg, .png, .pdf or .dot")
    with explain_missing_dot():
        data = graph.pipe(format=fmt)
    path.write_bytes(data)
    return path
