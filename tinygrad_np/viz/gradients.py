"""Gradient flow: record per-op gradient norms, map norms to viridis colours, draw a legend."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np.autograd import HookHandle, register_walk_hook
from tinygrad_np._tensor import Tensor

# matplotlib's viridis at 17 evenly spaced points (perceptually uniform, colour-blind safe);
# linear interpolation between them is visually indistinguishable from the full table.
VIRIDIS = ("#440154", "#48186a", "#472d7b", "#424086", "#3b528b", "#33638d", "#2c728e",
           "#26828e", "#21918c", "#1fa088", "#28ae80", "#3fbc73", "#5ec962", "#84d44b",
           "#addc30", "#d8e219", "#fde725")
ZERO_COLOR = "#d9480f"   # border of a zero gradient (dead ReLU, saturated sigmoid)
BAD_FILL = "#ff6b6b"     # fill of a NaN/inf gradient
NO_GRAD_FILL = "#e0e0e0"  # fill of a node no gradient reached
# The legend's width in points: its longest line (37 characters) as Graphviz measures it in
# Helvetica, plus room for a wider font, e.g. DejaVu Sans, which SVG viewers use without it.
LEGEND_WIDTH = 300


def viridis(t: float) -> str:
    """The viridis colour at t in [0, 1] as '#rrggbb' (0: dark purple, 1: yellow)."""
    t = min(max(float(t), 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    lo, hi = VIRIDIS[i], VIRIDIS[i + 1]
    mix = [round(int(lo[k:k + 2], 16) * (i + 1 - t) + int(hi[k:k + 2], 16) * (t - i))
           for k in (1, 3, 5)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def norm(array: Any) -> float:
    """The L2 norm of a gradient (array or Tensor) as a Python float."""
    array = array.data if isinstance(array, Tensor) else np.asarray(array)
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64))))


def dead_units(out: np.ndarray) -> tuple[int, int]:
    """(dead, total) ReLU units: a unit is dead when it is 0 for every sample of the batch."""
    active = out > 0
    if active.ndim >= 2:
        active = active.any(axis=0)
    return int(active.size - np.count_nonzero(active)), int(active.size)


def constant_facts(a: Any) -> tuple:
    """(id, shape, value when it has one element, id of the array owning the memory of a
    view or None) of a constant input, for pictures (a buffer enters ops as a view)."""
    owner = a
    while isinstance(getattr(owner, "base", None), np.ndarray):
        owner = owner.base
    return (id(a), np.shape(a), np.asarray(a).item() if np.size(a) == 1 else None,
            id(owner) if owner is not a else None)


def _record(node: Any, grad_out: Any, grads_in: tuple) -> None:
    """Walk hook: keep the norm of the gradient reaching the op's output, and facts for pictures."""
    node.grad_norm = norm(grad_out)
    saved = node.saved
    if isinstance(node, ops.ReLU):
        node.dead_units = dead_units(np.asarray(saved[0]))
    # constant inputs lose their shapes when backward frees `saved`; keep them for the picture
    parents = node.parents
    node.constant_inputs = {i: constant_facts(a)
                            for i, (p, a) in enumerate(zip(parents, saved[1:], strict=False))
                            if p is None and isinstance(a, (np.ndarray, np.generic, float, int))}


class record_gradients:  # noqa: N801 (a context manager, like no_grad)
    """Keep, on each op, the norm of the gradient that reached its output during backward.

    The engine stores only leaf gradients; inside this block every op the
    backward walk visits gets `node.grad_norm`, so `draw_graph(..., show_grads=True)`
    can colour ops too (parameters are coloured from `.grad` either way).
    Costs nothing outside the block.

    >>> import tinygrad_np as tg
    >>> x = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> y = (x * 3).relu().sum()
    >>> with tg.viz.record_gradients():
    ...     y.backward()
    >>> y.grad_fn.grad_norm
    1.0
    """

    def __enter__(self) -> "record_gradients":
        self._hook: HookHandle = register_walk_hook(_record)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hook.remove()


class Scale:
    """A log-scale map from gradient norms to viridis colours, fitted to the norms drawn."""

    def __init__(self, norms: list[float | None]) -> None:
        logs = [math.log10(n) for n in norms if n is not None and 0 < n < math.inf]
        self.lo = min(logs) if logs else 0.0
        self.hi = max(logs) if logs else 0.0
        self.empty = not logs

    def position(self, value: float) -> float:
        """Where a positive norm sits on the scale, 0 (smallest drawn) to 1 (largest)."""
        if self.hi == self.lo:
            return 1.0
        return (math.log10(value) - self.lo) / (self.hi - self.lo)

    def style(self, value: float | None) -> tuple[dict[str, str], str, str]:
        """(node attributes, label line, css class) for one gradient norm."""
        if value is None:
            return {"fillcolor": NO_GRAD_FILL}, "no gradient", "no-grad"
        if not math.isfinite(value):
            return {"fillcolor": BAD_FILL}, f"|grad| {value}", "bad-grad"
        if value == 0:
            # NOTE: the caller adds "dashed" to the node's own style (rounded or not)
            return ({"fillcolor": "#ffffff", "color": ZERO_COLOR, "penwidth": "2.5"},
                    "|grad| 0  ZERO", "zero-grad")
        t = self.position(value)
        return ({"fillcolor": viridis(t), "fontcolor": "white" if t < 0.55 else "black"},
                f"|grad| {value:.2e}", "grad")

    def legend(self, ops_recorded: bool) -> str:
        """An HTML-like table label: the colour scale, the zero flag, and how to get op colours."""
        steps = 5 if self.hi > self.lo else 1
        width = f' width="{LEGEND_WIDTH // steps}"'
        if self.empty:
            rows = f'<tr><td{width}>no gradients yet:<br/>call backward() first</td></tr>'
        else:
            cells = []
            for k in range(steps):
                value = 10 ** (self.lo + (self.hi - self.lo) * k / max(steps - 1, 1))
                t = self.position(value)
                ink = "white" if t < 0.55 else "black"
                cells.append(f'<td bgcolor="{viridis(t)}"{width}><font color="{ink}">{value:.1e}'
                             "</font></td>")
            rows = "<tr>" + "".join(cells) + "</tr>"
            rows += (f'<tr><td colspan="{steps}" color="{ZERO_COLOR}"><font color="{ZERO_COLOR}">'
                     "orange border: ReLU units dead<br/>for the whole batch<br/>"
                     "dashed: gradient exactly 0<br/>(dead ReLU, saturated sigmoid)"
                     "</font></td></tr>")
        note = ("ops: norm of the gradient reaching<br/>each op's output" if ops_recorded else
                "ops not coloured: run backward inside<br/>"
                "<i>with tg.viz.record_gradients():</i>")
        return ('<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
                f'<tr><td colspan="{steps}"><b>gradient norm</b>, log scale<br/>'
                f'parameters: |.grad|</td></tr>{rows}<tr><td colspan="{steps}">{note}</td></tr>'
                '</table>>')
