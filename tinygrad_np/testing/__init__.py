"""Gradient checks against central finite differences, for our tests and for yours.

>>> import numpy as np
>>> import tinygrad_np as tg
>>> from tinygrad_np.testing import gradcheck, gradgradcheck
>>> x = tg.tensor(np.linspace(-1.0, 1.0, 5), requires_grad=True)   # float64
>>> gradcheck(lambda x: (x.tanh() * x).sum(), [x])
True
>>> gradgradcheck(lambda x: (x.tanh() * x).sum(), [x])
True

The hypothesis strategies live in `tinygrad_np.testing.strategies` (importing
that module needs hypothesis; this one does not).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_np.autograd import grad
from tinygrad_np.grad_mode import enable_grad
from tinygrad_np._tensor import Tensor

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def _as_inputs(inputs: Any) -> tuple:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _check_inputs(inputs: tuple, what: str) -> None:
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise TypeError(
                f"{what}: input {i} (shape {x.shape}) requires grad but has dtype {x.dtype}; "
                "finite differences need float64 -- create it with dtype=np.float64 or "
                "x.detach().astype(np.float64).requires_grad_()")
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError(f"{what}: no input requires grad, so there is nothing to check; "
                         "pass at least one Tensor with requires_grad=True")


def _outputs(result: Any) -> tuple:
    """fn's result as a tuple of Tensors (None entries, e.g. unused gradients, dropped)."""
    result = result if isinstance(result, (tuple, list)) else (result,)
    outs = []
    for r in result:
        if r is None:
            continue
        if not isinstance(r, Tensor):
            raise TypeError(f"the checked function must return Tensors, got {type(r).__name__}")
        outs.append(r)
    return tuple(outs)


class _Projection:
    """A fixed random weighting w_k of the outputs: L = sum_k sum(w_k * out_k).

    One backward of L gives v^T J for the random vector v, which a wrong Jacobian
    entry changes with probability one; the weights are drawn once per output
    shape, so every evaluation of L uses the same ones.
    """

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.weights: list[np.ndarray] = []

    def weights_for(self, outs: tuple) -> list[np.ndarray]:
        for k, out in enumerate(outs):
            if k == len(self.weights) and len(outs) == 1 and out.size == 1:
                self.weights.append(np.ones(out.shape))  # a scalar function: report plain values
            elif k == len(self.weights):
                self.weights.append(self.rng.uniform(0.5, 1.5, size=out.shape)
                                    * self.rng.choice([-1.0, 1.0], size=out.shape))
            elif self.weights[k].shape != out.shape:
                raise ValueError(f"the checked function's output {k} changed shape from "
                                 f"{self.weights[k].shape} to {out.shape} between calls")
        return self.weights[:len(outs)]

    @property
    def note(self) -> str:
        """How to read a reported value: plain, or an entry of v^T J."""
        if len(self.weights) == 1 and self.weights[0].size == 1 and self.weights[0].flat[0] == 1:
            return ""
        return (" The outputs are weighted by fixed random numbers, so the values are "
                "entries of v^T J.")

    def value(self, outs: tuple) -> float:
        """L as a plain float (for the finite differences)."""
        return float(sum(np.sum(w * o.data.astype(np.float64))
                         for w, o in zip(self.weights_for(outs), outs, strict=True)))

    def tensor(self, outs: tuple) -> Tensor | None:
        """L as a graph-connected Tensor (None when no output depends on the inputs)."""
        terms = [(o * w).sum() for w, o in zip(self.weights_for(outs), outs, strict=True)
                 if o.requires_grad and o.dtype.kind == "f"]
        if not terms:
            return None
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def _element(shape: tuple, flat: int) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Tensor] | Tensor, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check fn's analytic gradients against central finite differences in float64.

    `fn(*inputs)` returns a Tensor or a tuple of Tensors; it always runs with
    grad mode on (so fn may differentiate inside, as gradgradcheck's does).
    Every input with requires_grad=True must be float64. An element passes when
    |analytic - numeric| <= atol + rtol * |numeric|. Returns True, or raises
    GradcheckError naming the input, the element and both values (returns
    False instead when raise_exception=False).

    >>> import numpy as np, tinygrad_np as tg
    >>> x = tg.tensor([0.5, 2.0], dtype=np.float64, requires_grad=True)
    >>> gradcheck(lambda x: x.log() * x, [x])
    True
    """
    inputs = _as_inputs(inputs)
    _check_inputs(inputs, "gradcheck")
    # the inputs as fresh leaves, so perturbing them never touches the caller's tensors
    leaves = tuple(Tensor(x.data.copy(), requires_grad=x.requires_grad)
                   if isinstance(x, Tensor) else x for x in inputs)
    checked = [i for i, x in enumerate(leaves) if isinstance(x, Tensor) and x.requires_grad]
    projection = _Projection()

    def evaluate() -> Any:
        with enable_grad():
            return fn(*leaves)

    with enable_grad():
        total = projection.tensor(_outputs(fn(*leaves)))
        if total is None:
            analytic = [None] * len(checked)
        else:
            analytic = list(grad(total, [leaves[i] for i in checked], allow_unused=True))

    for i, g in zip(checked, analytic, strict=True):
        x = leaves[i]
        if g is None:
            g_array = np.zeros(x.shape)
        else:
            if g.shape != x.shape:
                return _fail(f"gradcheck: the analytic gradient of input {i} has shape "
                             f"{g.shape}, but the input has shape {x.shape}", raise_exception)
            g_array = g.data.astype(np.float64)
        flat = x.data.reshape(-1)  # a view: writing it perturbs x in place
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = projection.value(_outputs(evaluate()))
            flat[j] = original - eps
            minus = projection.value(_outputs(evaluate()))
            flat[j] = original
            numeric = (plus - minus) / (2 * eps)
            analytic_j = float(g_array.reshape(-1)[j])
            if not abs(analytic_j - numeric) <= atol + rtol * abs(numeric):
                element = _element(x.shape, j)
                return _fail(
                    f"gradcheck failed for input {i} (shape {x.shape}) at element {element}: "
                    f"analytic gradient {analytic_j!r} vs numeric {numeric!r} (difference "
                    f"{abs(analytic_j - numeric):.3g}, allowed atol + rtol*|numeric| = "
                    f"{atol + rtol * abs(numeric):.3g})." + projection.note, raise_exception)
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Tensor] | Tensor, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of x -> tg.grad(weighted fn(x), x, create_graph=True).

    The outputs are weighted by a fixed random vector v, so this checks the
    derivative of v^T J (Hessian-vector products for a scalar fn). A failure
    names the input and element of the *gradient function's* Jacobian.

    >>> import numpy as np, tinygrad_np as tg
    >>> x = tg.tensor([0.5, 2.0], dtype=np.float64, requires_grad=True)
    >>> gradgradcheck(lambda x: (x * x * x).sum(), [x])
    True
    """
    inputs = _as_inputs(inputs)
    _check_inputs(inputs, "gradgradcheck")
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    projection = _Projection(seed=1)

    def first_derivatives(*xs: Any) -> tuple:
        with enable_grad():
            total = projection.tensor(_outputs(fn(*xs)))
            if total is None:
                return ()
            return grad(total, [xs[i] for i in checked], create_graph=True, allow_unused=True)

    return gradcheck(first_derivatives, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
