"""One clock for nodes and in-place writes: PyTorch's version counters, paid for only by writes.

Every recorded node is stamped with `next_seq()`, and so is every in-place write
to an array (`mark_modified`). The walk refuses a node stamped before a write to
an array it saved: its gradient would be computed from the new values. Nodes
newer than the last write anywhere skip the check (`last_write()`).
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np

_clock = itertools.count()
next_seq = _clock.__next__  # a fresh stamp: nodes recorded later have larger `seq`

# array owner id -> (stamp of its last in-place write, weakref to the owner)
_writes: dict[int, tuple[int, weakref.ref]] = {}
_last_write = -1


def last_write() -> int:
    """The stamp of the latest in-place write anywhere (-1 before any)."""
    return _last_write


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns the memory a view looks at."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def mark_modified(*arrays: np.ndarray) -> None:
    """Record in-place writes to `arrays`, so graphs that saved them refuse to backward."""
    global _last_write
    seq = _last_write = next_seq()
    for array in arrays:
        owner = _owner(array)
        key = id(owner)
        known = _writes.get(key)
        if known is not None and known[1]() is owner:
            # an optimizer writes every parameter every step: reuse its weakref (~1.5% of W5)
            _writes[key] = (seq, known[1])
        else:
            _writes[key] = (seq, weakref.ref(owner, lambda _, key=key: _writes.pop(key, None)))


def check_unmodified(node: Any, saved: tuple) -> None:
    """Raise if an array the node saved was written in place after the node was recorded."""
    for i, array in enumerate(saved):
        if isinstance(array, np.ndarray):
            change = _writes.get(id(_owner(array)))
            if change is not None and change[0] > node.seq:
                what = ("its output" if i == 0 else f"its input {i - 1}"
                        if i <= len(node.parents) else "an array it saved")
                raise RuntimeError(
                    f"an array needed to backward through {node.name} ({what}, shape "
                    f"{array.shape}) was modified by an in-place operation after the op was "
                    "recorded, so its gradient would be wrong. Do the update out of place "
                    "(t = t + 1), or after backward(); optimizer.step() belongs after backward.")
