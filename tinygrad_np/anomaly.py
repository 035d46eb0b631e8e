"""Anomaly mode: find the first op whose forward output or backward gradient is NaN/inf.

Off by default: an op tests its thread's mode, one value (`grad_mode`). Inside
`with tg.detect_anomaly():` every op in that thread also records where the user's
code created it, runs with NumPy's warnings silenced (the error is the message),
and checks its output; a walk hook checks every gradient an op returns during a
backward in that thread. The error carries the offending node, so
`tg.viz.draw_graph` can show it.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import numpy as np

from tinygrad_np import grad_mode
from tinygrad_np.autograd import HookHandle, register_walk_hook
from tinygrad_np.function import array_of, make_tensor, output_spec, parent_slots
from tinygrad_np.versions import next_seq

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SHOWN_FRAMES = 6

# What usually makes an op produce NaN/inf, and the usual fix.
_HINTS = {
    "Log": "log(x) is NaN for x < 0 and -inf at x = 0: keep the input positive, "
           "e.g. x.clip(1e-7, None).log(), or use a fused loss such as BCEWithLogitsLoss",
    "Sqrt": "sqrt(x) is NaN for x < 0, and its derivative 1/(2*sqrt(x)) is inf at x = 0: "
            "add a small epsilon, e.g. (x + 1e-12).sqrt()",
    "Div": "division by zero gives inf (0/0 gives NaN): add an epsilon to the denominator",
    "Pow": "a negative base with a fractional exponent gives NaN; a zero base with a "
           "negative exponent gives inf",
    "Exp": "exp overflows to inf above ~88 (float32) or ~709 (float64): subtract the max "
           "first (logsumexp/softmax do this)",
}


class AnomalyError(RuntimeError):
    """Raised under detect_anomaly() by the first op that produces NaN or inf.

    Attributes: `node` (the op; `tg.viz.draw_graph(root, highlight=err.node)`),
    `phase` ("forward" or "backward"), `kind` ("NaN" or "inf"), and for the
    forward phase `tensor`, the bad output, so `draw_graph(err.tensor)` shows the
    graph leading to it.
    """

    def __init__(self, message: str, node: Any, phase: str, kind: str,
                 tensor: Any = None) -> None:
        super().__init__(message)
        self.node, self.phase, self.kind, self.tensor = node, phase, kind, tensor


def _user_frames() -> list[traceback.FrameSummary]:
    """The current stack without tinygrad_np's own frames (the user's code only)."""
    # NOTE: lookup_lines=False defers reading source lines until a message needs them
    stack = traceback.StackSummary.extract(traceback.walk_stack(sys._getframe(1)),
                                           lookup_lines=False)
    return [f for f in reversed(stack) if not f.filename.startswith(_PACKAGE_DIR)]


def creation_site(node: Any) -> str:
    """'file:line in function' of the user's code that created the node, or why it is unknown."""
    frames = getattr(node, "created_at", None)
    if not frames:
        return "unknown (the op was recorded outside detect_anomaly())"
    f = frames[-1]
    return f"{f.filename}:{f.lineno} in {f.name}"


def _where(node: Any) -> str:
    frames = getattr(node, "created_at", None)
    if not frames:
        return f"  created at: {creation_site(node)}"
    trace = "".join(traceback.format_list(frames[-_SHOWN_FRAMES:])).rstrip()
    return (f"  created at: {creation_site(node)}\n"
            f"  traceback of the creation (most recent call last):\n{trace}")


def _bad(array: Any) -> str | None:
    """'NaN' or 'inf' when a floating array holds one, else None."""
    array = array_of(array)  # gradients are Tensors under create_graph
    if isinstance(array, (np.generic, float, complex)):  # backward may return numpy scalars
        array = np.asarray(array)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    if np.isnan(array).any():
        return "NaN"
    if np.isinf(array).any():
        return "inf"
    return None


def _shapes(arrays: Any) -> str:
    return ", ".join(str(np.shape(array_of(a))) for a in arrays) or "none"


def _input_shapes(node: Any) -> str:
    """The inputs' shapes; an input the op did not keep has its output's shape."""
    out, *inputs = node.saved[:1 + len(node.parents)]
    return _shapes(out if a is None else a for a in inputs)


def _hint(node: Any) -> str:
    hint = _HINTS.get(type(node).__name__)
    return f"\n  hint: {hint}" if hint else ""


def check_forward(node: Any, out: np.ndarray, inputs: list, parents: list) -> None:
    """Record where the op was created; raise AnomalyError if its output holds NaN/inf."""
    node.created_at = _user_frames()
    kind = _bad(out)
    if not kind:
        return
    # wire the node into the graph so the picture can show it and what led to it
    node.parent0, node.parent1 = parent_slots(tuple(parents))
    node.saved, node.seq = (out, *inputs), next_seq()
    node.anomaly = f"forward output holds {kind}"
    tensor = make_tensor(out, node)
    bad_inputs = [i for i, a in enumerate(inputs) if _bad(a)]
    cause = (f"its input {bad_inputs[0]} already held {_bad(inputs[bad_inputs[0]])} "
             "(bad data, or an op outside detect_anomaly())" if bad_inputs else
             "its inputs were finite, so this op made it")
    raise AnomalyError(
        f"{type(node).__name__} produced {kind} in its forward output; {cause}.\n"
        f"  op: {node.name}, input shapes {_shapes(inputs)}, output shape {out.shape}\n"
        f"{_where(node)}{_hint(node)}\n"
        "  see it: tg.viz.draw_graph(err.tensor) draws the graph up to this op, highlighted",
        node, "forward", kind, tensor)


def check_backward(node: Any, grad_out: Any, grads_in: tuple) -> None:
    """Walk hook: raise AnomalyError if the op's backward returned a NaN/inf gradient
    (in a thread that is in anomaly mode)."""
    if not grad_mode.is_anomaly_enabled():
        return
    for i, g in enumerate(grads_in):
        kind = _bad(g)
        if not kind:
            continue
        incoming = _bad(grad_out)
        cause = (f"the gradient flowing into it already held {incoming} (the grad= passed "
                 "to backward?)" if incoming else
                 "the gradient flowing into it was finite, so this op's derivative made it")
        node.anomaly = f"backward gradient for input {i} holds {kind}"
        raise AnomalyError(
            f"{node.name} returned {kind} in the gradient of its input {i}; {cause}.\n"
            f"  op: {node.name}, input shapes {_input_shapes(node)}, "
            f"output shape {output_spec(node)[0]}\n"
            f"{_where(node)}{_hint(node)}\n"
            "  see it: tg.viz.draw_graph(loss, highlight=err.node) marks this op in red",
            node, "backward", kind)


class detect_anomaly:  # noqa: N801 (PyTorch's name)
    """`with tg.detect_anomaly():` -- the first op making NaN/inf raises AnomalyError.

    Checks every op's forward output and every gradient its backward returns,
    and keeps each op's creation traceback (only in this mode: off, it costs one
    flag test per op). For example, `x.log()` on a negative `x` inside the block
    raises "Log produced NaN in its forward output; ..." with the file and line.
    """

    def __enter__(self) -> "detect_anomaly":
        self._token = grad_mode.enter_mode(grad_mode.current_mode() | grad_mode.ANOMALY)
        self._hook: HookHandle = register_walk_hook(check_backward)
        return self

    def __exit__(self, *exc: Any) -> None:
        grad_mode.exit_mode(self._token)
        self._hook.remove()
