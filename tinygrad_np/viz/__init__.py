"""Graph pictures: `draw_graph`, `save_graph`, gradient-flow colours, module clusters.

>>> import tinygrad_np as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> g = tg.viz.draw_graph((x * x).sum(), {"x": x})   # a graphviz.Digraph; needs no `dot`
>>> g.source.count("->")
2
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import graphviz

from tinygrad_np.viz.gradients import record_gradients
from tinygrad_np.viz.graph import draw_graph
from tinygrad_np.viz.render import GraphvizNotFound, ModelGraph, save


def save_graph(root: Any, path: str | os.PathLike, **kwargs: Any) -> Path:
    """draw_graph(root, **kwargs) written to `path`; the suffix picks the format.

    `root` may also be a graph draw_graph already made. .dot/.gv write the DOT
    source (no Graphviz program needed); .svg, .png, .pdf (any Graphviz format)
    render through `dot` and raise GraphvizNotFound, with install instructions,
    when it is missing. Returns the path written.
    """
    if isinstance(root, graphviz.Digraph):
        if kwargs:
            raise TypeError(f"save_graph got a finished graph and drawing options "
                            f"{sorted(kwargs)}; pass the options to draw_graph instead")
        return save(root, path)
    return save(draw_graph(root, **kwargs), path)


__all__ = ["draw_graph", "save_graph", "record_gradients", "GraphvizNotFound", "ModelGraph"]
