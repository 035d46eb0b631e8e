"""einsum: NumPy's Einstein summation, and its gradient as einsums with rearranged subscripts.

`parse_subscripts` turns a user's subscripts (implicit output, '...', spaces) into an
explicit letters-only form such as 'ij,jk->ik', checked against the operands' shapes;
`Einsum` records that form. The gradient for operand k is the einsum of the output
gradient with every other operand, written to operand k's subscripts:
  - a label repeated in operand k ('ii->i', 'ii'): its gradient lies on a diagonal, so
    the second occurrence gets a fresh label tied to the first by an identity matrix;
  - a label of operand k found nowhere else ('ij->i'), or only with size 1 (broadcast):
    the gradient is constant along it, a vector of ones supplies it;
  - a size-1 axis of operand k that broadcast: the walk sums the gradient back to 1.
Under create_graph the same einsum runs on Tensors, so higher orders are einsums too.
"""
from __future__ import annotations

import functools
import math
import string
from collections import Counter
from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor
from tinygrad_np.function import Function, array_of

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # sorted as NumPy sorts labels
_OPTIMIZE_FROM = 2 ** 15  # product of all label sizes from which a contraction path pays


def contract(subscripts: str, operands: Any) -> np.ndarray:
    """numpy.einsum on explicit subscripts, with a contraction path for large products.

    NOTE: optimize=True costs ~12 us of path search; it pays from about 32**3 multiply-adds
    ('ij,jk->ik' at 3x3: 2.1 us plain, 14 us optimized; at 128x128: 582 us plain, 78 us
    optimized, which calls BLAS).
    """
    if len(operands) == 1:
        return np.einsum(subscripts, *operands)
    inputs = subscripts.split("->")[0].split(",")
    work = math.prod(_label_sizes(inputs, operands).values())
    return np.einsum(subscripts, *operands, optimize=work >= _OPTIMIZE_FROM)


def einsum(subscripts: str, *operands: Any) -> Any:
    """Explicit-subscripts einsum of arrays, or of Tensors (recorded): for backward rules."""
    if any(isinstance(x, Tensor) for x in operands):
        return Einsum.apply(*operands, subscripts=subscripts)
    return contract(subscripts, operands)


def _label_sizes(inputs: list, operands: Any) -> dict:
    """label -> its size (the largest: a size-1 axis broadcasts)."""
    sizes: dict[str, int] = {}
    for term, x in zip(inputs, operands):
        for c, n in zip(term, np.shape(array_of(x))):
            sizes[c] = max(n, sizes.get(c, n))
    return sizes


class Einsum(Function):
    """numpy.einsum on explicit letters-only subscripts ('ij,jk->ik'): what tg.einsum records."""

    keeps_output = False

    def forward(self, *operands, subscripts):
        inputs, self.output = subscripts.split("->")
        self.inputs = inputs.split(",")
        return contract(subscripts, operands)

    def backward(self, g):
        operands = self.saved[1:]
        return tuple(None if parent is None else self._operand_grad(g, k, operands)
                     for k, parent in enumerate(self.parents))

    def _operand_grad(self, g: Any, k: int, operands: tuple) -> Any:
        own = dict(zip(self.inputs[k], np.shape(array_of(operands[k]))))
        subs = [self.output] + [s for j, s in enumerate(self.inputs) if j != k]
        args = [g] + [x for j, x in enumerate(operands) if j != k]
        dtype = array_of(g).dtype
        fresh = (c for c in LETTERS if c not in own and c not in "".join(subs))
        target = ""
        for c in self.inputs[k]:
            if c in target:  # a repeated label: the gradient sits on the diagonal
                d = next(fresh)
                subs.append(c + d)
                args.append(np.eye(own[c], dtype=dtype))
                c = d
            target += c
        sizes = _label_sizes(subs, args)
        for c, n in own.items():
            if sizes.get(c, 0) < n:  # summed (or broadcast from size 1) in the forward:
                subs.append(c)       # the gradient is constant along it
                args.append(np.ones(n, dtype=dtype))
        return einsum(",".join(subs) + "->" + target, *args)


# ------------------------------------------------------------------- parsing
def parse_subscripts(subscripts: Any, shapes: list) -> str:
    """NumPy's einsum subscripts -> explicit letters-only ones ('...' and the implicit
    output spelled out), checked against the operands' shapes."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum({subscripts!r}): subscripts must be a string such as "
                        "'ij,jk->ik'")
    return _parse(subscripts, tuple(map(tuple, shapes)))


# NOTE: cached: parsing and checking cost ~4x a small contraction (95 us against 24 us for
# np.einsum's 'ij,jk->ik' of 8x16 and 16x4, measured side by side on a busy machine)
@functools.lru_cache(maxsize=1024)
def _parse(subscripts: str, shapes: tuple) -> str:
    where = f"einsum({subscripts!r}) with operand shapes {', '.join(map(str, shapes)) or 'none'}"
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise ValueError(f"{where}: write at most one '->', followed by the output's labels")
    inputs_text, arrow, output_text = text.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"{where}: the subscripts have {len(inputs)} comma-separated terms "
                         f"for {len(shapes)} operands; write one term per operand")
    terms = [_split_term(term, where, f"operand {i}") for i, term in enumerate(inputs)]
    ellipsis_dims = []
    for i, ((left, right, has_ellipsis), shape) in enumerate(zip(terms, shapes)):
        rest = len(shape) - len(left) - len(right)
        if rest < 0 or (rest and not has_ellipsis):
            raise ValueError(f"{where}: operand {i} has {len(shape)} axes but its term "
                             f"{inputs[i]!r} labels {len(left) + len(right)}; write one letter "
                             "per axis, or '...' for the axes you do not name")
        ellipsis_dims.append(rest)
    free = [c for c in LETTERS if c not in inputs_text]
    n_ellipsis = max(ellipsis_dims, default=0)
    if n_ellipsis > len(free):
        raise ValueError(f"{where}: '...' stands for {n_ellipsis} axes, more than the "
                         f"{len(free)} letters the subscripts leave unused")
    ellipsis = "".join(free[:n_ellipsis])
    explicit = [left + ellipsis[n_ellipsis - n:] + right
                for (left, right, _), n in zip(terms, ellipsis_dims)]
    if arrow:
        left, right, has_ellipsis = _split_term(output_text, where, "the output")
        if n_ellipsis and not has_ellipsis:
            raise ValueError(f"{where}: the operands' '...' stands for {n_ellipsis} axes, "
                             "which the output must keep: write '...' in the output too")
        for c in left + right:
            if c not in inputs_text:
                raise ValueError(f"{where}: output label {c!r} appears in no operand")
            if (left + right).count(c) > 1:
                raise ValueError(f"{where}: output label {c!r} appears twice; an output "
                                 "label names one axis")
        output = left + (ellipsis if has_ellipsis else "") + right
    else:  # NumPy's implicit output: '...', then the labels used once, sorted
        counts = Counter(c for left, right, _ in terms for c in left + right)
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    _check_sizes(explicit, shapes, ellipsis, where)
    return ",".join(explicit) + "->" + output


def _split_term(term: str, where: str, what: str) -> tuple[str, str, bool]:
    """A term -> (labels before '...', labels after it, whether it has '...')."""
    left, dots, right = term.partition("...")
    for c in left + right:
        if c == ".":
            raise ValueError(f"{where}: {what} has a '.' that is not part of one '...'")
        if c not in LETTERS:
            raise ValueError(f"{where}: invalid subscript {c!r} in {what}; labels are the "
                             "letters a-z and A-Z (and '...' for unnamed axes)")
    return left, right, bool(dots)


def _check_sizes(explicit: list, shapes: list, ellipsis: str, where: str) -> None:
    """One size per label: equal within an operand (a diagonal), else equal or 1 (broadcast)."""
    seen: dict[str, tuple[int, int]] = {}  # label -> (size, operand) of its first size != 1
    for i, (term, shape) in enumerate(zip(explicit, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            name = "a '...' axis" if c in ellipsis else f"label {c!r}"
            if own.setdefault(c, n) != n:
                raise ValueError(f"{where}: {name} is repeated in operand {i} on axes of sizes "
                                 f"{own[c]} and {n}; a repeated label takes a diagonal, which "
                                 "needs equal sizes")
            if n == 1:
                continue
            size, j = seen.setdefault(c, (n, i))
            if size != n:
                raise ValueError(f"{where}: {name} has size {size} in operand {j} but {n} in "
                                 f"operand {i}; the sizes of a label must match (or be 1, "
                                 "which broadcasts)")
