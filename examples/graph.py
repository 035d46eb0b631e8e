"""See the graph: three pictures of the moons network (2-25-50-50-25-1, ReLU, sigmoid).

The network of examples/moons.py (the NumPy moons tutorial's network) is built from its
list of layer dicts, run on a few make_moons points with binary cross-entropy, and
drawn three ways with tg.viz:

  graph_full     every op, grouped in one cluster per layer ("0: Linear(2→25)"),
                 parameters named "0.weight", "0.bias", ..., inputs x and y;
  graph_layers   the same graph with each layer collapsed to one box that shows
                 its output shape and parameter count;
  graph_grads    after one backward: parameters coloured by the norm of their
                 .grad and ops by the gradient that flowed through them (recorded
                 with tg.viz.record_gradients()), on a viridis log scale; dead
                 ReLU units and exact-zero gradients are flagged in orange.

Each picture is written as SVG and PNG (rendered by the Graphviz `dot` program)
and as DOT source; --quick writes SVG only (no PNG), for tests and smoke checks.
--readme-svg also writes the picture the README embeds (docs/graph.svg): the
same drawing for a 2-4-1 cut of the network, small enough to read.

    python examples/graph.py --out runs/graph
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import graphviz
import numpy as np
from sklearn.datasets import make_moons

import tinygrad_np as tg
from _common import ExampleParser, positive_int, prepare_out_dir, seed_int  # examples/_common.py

NN_ARCHITECTURE = [  # the moons network of examples/moons.py
    {"input_dim": 2, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 50, "activation": "relu"},
    {"input_dim": 50, "output_dim": 25, "activation": "relu"},
    {"input_dim": 25, "output_dim": 1, "activation": "sigmoid"},
]


def formats_list(text: str) -> list[str]:
    """argparse type: comma-separated Graphviz output formats, e.g. 'svg,png'."""
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    unknown = [f for f in formats if f not in graphviz.FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)} is not a Graphviz format "
                                         "(svg, png, pdf, ...)")
    if not formats:
        raise argparse.ArgumentTypeError(f"expected formats such as 'svg,png', got {text!r}")
    return formats


def build_parser() -> ExampleParser:
    """The command line: every option, its check and its default."""
    parser = ExampleParser(
        __file__, "Draw the moons network (2-25-50-50-25-1): full graph, per-layer graph, and "
        "gradient flow.")
    parser.add_argument("--out", type=Path, default=Path("runs/graph"),
                        help="folder for the pictures (created if missing)")
    parser.add_argument("--points", type=positive_int, default=8,
                        help="make_moons points in the batch")
    parser.add_argument("--seed", type=seed_int, default=0, help="seeds the initial weights")
    parser.add_argument("--formats", type=formats_list, default="svg,png",
                        help="comma-separated output formats besides .dot")
    parser.add_argument("--readme-svg", type=Path, default=None,
                        help="also write the per-layer gradient-flow picture here "
                             "(the README's docs/graph.svg)")
    parser.add_argument("--quick", action="store_true",
                        help="SVG only, no PNG (a short run for tests and smoke checks)")
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The checked options; --out (and --readme-svg's folder) writable, else a one-line error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.readme_svg is not None:
        if args.readme_svg.is_dir():
            parser.error(f"argument --readme-svg: '{args.readme_svg}' is a folder; "
                         "give a file name such as docs/graph.svg")
        if args.readme_svg.suffix.lstrip(".").lower() not in graphviz.FORMATS:
            parser.error(f"argument --readme-svg: cannot tell the format of "
                         f"'{args.readme_svg}'; end it in .svg")
        problem = prepare_out_dir(args.readme_svg.parent)
        if problem:
            parser.error(f"argument --readme-svg: {problem}")
    return args


def readme_picture(x: tg.Tensor, y: tg.Tensor) -> tg.viz.ModelGraph:
    """The README's picture: a 2-4-1 cut of the network, every op, after one backward."""
    small = tg.nn.Sequential.from_architecture(
        [NN_ARCHITECTURE[0] | {"output_dim": 4}, NN_ARCHITECTURE[-1] | {"input_dim": 4}])
    loss = tg.nn.BCELoss()(small(x), y)
    loss.name = "loss"
    with tg.viz.record_gradients():
        loss.backward()
    return tg.viz.draw_graph(loss, [small, {"x": x}], show_grads=True)


def main(argv: list[str] | None = None) -> int:
    """Build, draw and write the pictures; returns the exit status (1: no Graphviz `dot`)."""
    args = parse_args(argv)
    tg.manual_seed(args.seed)
    model = tg.nn.Sequential.from_architecture(NN_ARCHITECTURE)
    points, labels = make_moons(n_samples=args.points, noise=0.2, random_state=100)
    x = tg.tensor(points.astype(np.float32))
    y = tg.tensor(labels.reshape(-1, 1).astype(np.float32))
    loss = tg.nn.BCELoss()(model(x), y)
    loss.name = "loss"
    names = [model, {"x": x, "y": y}]

    pictures = {
        "graph_full": tg.viz.draw_graph(loss, names, title="moons network: every op"),
        "graph_layers": tg.viz.draw_graph(loss, names, collapse=True,
                                          title="moons network: one box per layer"),
    }
    with tg.viz.record_gradients():  # keeps each op's gradient norm for the picture
        loss.backward()
    pictures["graph_grads"] = tg.viz.draw_graph(
        loss, names, show_grads=True, title="gradient flow after one backward")

    formats = ["svg"] if args.quick else args.formats
    try:
        for stem, graph in pictures.items():
            for fmt in ["dot", *formats]:
                path = tg.viz.save_graph(graph, args.out / f"{stem}.{fmt}")
                print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KB)")
        if args.readme_svg is not None:
            path = tg.viz.save_graph(readme_picture(x, y), args.readme_svg)
            print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KB)")
    except tg.viz.GraphvizNotFound as error:
        print(error, file=sys.stderr)
        return 1
    grads = {name: float(np.linalg.norm(p.grad.data)) for name, p in model.named_parameters()}
    print(f"loss {loss.item():.4f}; |grad| per parameter: "
          + ", ".join(f"{name} {g:.2e}" for name, g in grads.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
