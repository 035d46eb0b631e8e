"""How low can a Python autograd go? `python benchmarks/floor.py`

A minimal engine with tinygrad_np's structure -- one node object and one tensor
object per recorded op, the parent in a slot, saved arrays in a tuple, a
backward walk that follows the chain, the same arithmetic (constants as 0-d
arrays, tanh' as g - g*y*y) -- and none of its features: no anomaly mode, hooks,
create_graph, broadcasting, in-place checks, error messages or shapes kept for
pictures. It runs W3's loop (and W4's long chain) beside tinygrad_np and
hand-written NumPy in this one process, pinned to one core, so the three share
the machine's state. What it shows: the part of tinygrad_np's cost that any
engine of Python objects pays anyway. In-process times run lower than the
harness's fresh processes; compare ratios within this script's output only.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import fw_numpy  # noqa: E402
import fw_tinygrad_np  # noqa: E402
from bench_data import CHAIN_ADD, CHAIN_MUL  # noqa: E402

_new = object.__new__


class T:
    __slots__ = ("data", "grad_fn", "requires_grad")


class Node:
    __slots__ = ("parent", "saved")  # one parent slot, no tuple: every op here has one input


def _record(cls: type, out: np.ndarray, parent: object, saved: tuple) -> T:
    t = _new(T)
    t.data = out
    node = None
    if parent is not None:
        node = _new(cls)
        node.parent, node.saved = parent, saved
    t.grad_fn, t.requires_grad = node, node is not None
    return t


def _parent(t: T) -> object:
    return (t.grad_fn or t) if t.requires_grad else None


class Mul(Node):
    def backward(self, g: np.ndarray) -> np.ndarray: return g * self.saved[1]


class Add(Node):
    def backward(self, g: np.ndarray) -> np.ndarray: return g


class Tanh(Node):
    def backward(self, g: np.ndarray) -> np.ndarray:
        y = self.saved[0]
        return g - g * y * y  # tinygrad_np's formula


def mul(a: T, c: np.ndarray) -> T: return _record(Mul, a.data * c, _parent(a), (None, c))
def add(a: T, c: np.ndarray) -> T: return _record(Add, a.data + c, _parent(a), ())


def tanh(a: T) -> T:
    out = np.tanh(a.data)
    return _record(Tanh, out, _parent(a), (out,))


def minimal_chain(x0: np.ndarray, iterations: int) -> np.ndarray:
    x = _new(T)
    x.data, x.grad_fn, x.requires_grad = x0, None, True
    y = x
    # the constants as 0-d arrays of x's dtype, as tinygrad_np passes Python numbers to NumPy
    c_mul, c_add = np.array(CHAIN_MUL, x0.dtype), np.array(CHAIN_ADD, x0.dtype)
    for _ in range(iterations):
        y = tanh(add(mul(y, c_mul), c_add))
    node, g = y.grad_fn, np.ones_like(x0)
    while node is not None:  # a chain: each node has one parent
        g = node.backward(g)
        node.saved = None
        parent = node.parent
        node = parent if isinstance(parent, Node) else None
    return g


def tinygrad_chain(x0: np.ndarray, iterations: int) -> np.ndarray:
    return fw_tinygrad_np.chain(x0, iterations)()[1]  # the harness's own W3 code


def numpy_chain(x0: np.ndarray, iterations: int) -> np.ndarray:
    return fw_numpy.chain(x0, iterations)()[1]


ENGINES = {"NumPy by hand": numpy_chain, "minimal engine": minimal_chain,
           "tinygrad_np": tinygrad_chain}


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    x0 = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    engines = ENGINES
    reference = numpy_chain(x0, 50)
    for name, run in engines.items():
        np.testing.assert_allclose(run(x0, 50), reference, rtol=1e-4, err_msg=name)
    best = dict.fromkeys(engines, float("inf"))
    for _ in range(10):  # interleaved, best of each
        for name, run in engines.items():
            seconds = min(timeit.repeat(lambda run=run: run(x0, 1000), number=3, repeat=3,
                                        setup="gc.enable()")) / 3  # GC on, as in the harness
            best[name] = min(best[name], seconds / 3000 * 1e6)
    print("W3 loop, us per recorded op (best of 30 runs, this process, GC on):")
    for name, us in best.items():
        print(f"  {name:15s} {us:6.2f}  ({us / best['NumPy by hand']:.2f}x)")
    print("W4 chain (100,002 ops) once in a fresh process, seconds (best of 3):")
    for name in engines:
        runs = [subprocess.run([sys.executable, __file__, "--w4", name], capture_output=True,
                               text=True, check=True).stdout for _ in range(3)]
        print(f"  {name:15s} {min(float(r) for r in runs):.3f}")


def w4(name: str) -> None:
    """One cold W4 pass in this (fresh) process; prints its seconds."""
    x0 = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    ENGINES[name](x0, 100)
    start = time.perf_counter()
    ENGINES[name](x0, 33_334)
    print(time.perf_counter() - start)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--w4"]:
        w4(sys.argv[2])
    else:
        main()
