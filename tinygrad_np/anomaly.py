"""Anomaly mode: find the first op whose forward output or backward gradient is NaN/inf."""
from __future__ import annotations

import traceback
from typing import Any

import numpy as np

from tinygrad_np import autograd


class AnomalyError(RuntimeError):
    """Raised under detect_anomaly() by the first op that produces NaN or inf."""


def _where(node: Any) -> str:
    frames = getattr(node, "created_at", None)
    if not frames:
        return "  (creation site unknown: the op was recorded outside detect_anomaly())"
    return "".join(traceback.format_list(frames)).rstrip()


def _bad(array: Any) -> str | None:
    array = getattr(array, "data", array)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    if np.isnan(array).any():
        return "NaN"
    if np.isinf(array).any():
        return "inf"
    return None


def check_forward(node: Any, out: np.ndarray, inputs: list) -> None:
    """Record where the op was created; raise if its output holds NaN/inf."""
    node.created_at = [f for f in traceback.extract_stack()
                       if "/tinygrad_np/" not in f.filename.replace("\\", "/")]
    kind = _bad(out)
    if kind:
        shapes = ", ".join(str(np.shape(a)) for a in inputs)
        node.anomaly = f"forward output holds {kind}"
        raise AnomalyError(f"{type(node).__name__} produced {kind} in its forward output "
                           f"(input shapes {shapes}). It was created at:\n{_where(node)}")


def check_backward(node: Any, grad_out: Any, grads_in: tuple) -> None:
    """Raise if the op's backward returned a NaN/inf gradient."""
    for i, g in enumerate(grads_in):
        kind = _bad(g)
        if kind:
            shapes = ", ".join(str(np.shape(a)) for a in node.saved[1:])
            node.anomaly = f"backward gradient for input {i} holds {kind}"
            raise AnomalyError(f"{node.name} returned {kind} in the gradient of input {i} "
                               f"(input shapes {shapes}). The op was created at:\n{_where(node)}")


class detect_anomaly:  # noqa: N801 (PyTorch's name)
    """`with tg.detect_anomaly():` -- check every op's output and gradient for NaN/inf."""

    def __enter__(self) -> "detect_anomaly":
        self._previous = autograd._anomaly_enabled
        autograd._anomaly_enabled = True
        autograd._walk_hooks.append(check_backward)
        return self

    def __exit__(self, *exc: Any) -> None:
        autograd._anomaly_enabled = self._previous
        autograd._walk_hooks.remove(check_backward)
