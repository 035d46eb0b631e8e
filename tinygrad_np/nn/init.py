"""Weight initialisers with PyTorch's formulas, in place on a tensor's data.

Every random initialiser draws from `generator` when given (an
`np.random.Generator`, or an int seed for a fresh one; `seed=` is the same),
else from the global generator that `tg.manual_seed` seeds, so a seeded run is
reproducible bit for bit. Samples are drawn in float64 and then cast to the
tensor's dtype.

>>> import numpy as np, tinygrad_np as tg
>>> w = tg.zeros(3, 4)
>>> _ = tg.nn.init.uniform_(w, -1.0, 1.0, generator=0)
>>> bool(np.all(np.abs(w.data) <= 1.0))
True
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_np._tensor import Tensor, default_generator

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
          "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 3.0 / 4.0}


def _array(t: Any, what: str) -> np.ndarray:
    """The ndarray an initialiser writes into (a Tensor's .data, or an ndarray itself)."""
    data = t.data if isinstance(t, Tensor) else t
    if not isinstance(data, np.ndarray):
        raise TypeError(f"{what} needs a Tensor or ndarray to fill in place, "
                        f"got {type(t).__name__}")
    return data


def _rng(generator: Any, seed: int | None, what: str) -> np.random.Generator:
    if generator is not None and seed is not None:
        raise ValueError(f"{what}: pass generator= or seed=, not both")
    chosen = generator if generator is not None else seed
    if chosen is None:
        return default_generator()
    if isinstance(chosen, np.random.Generator):
        return chosen
    if isinstance(chosen, (int, np.integer)):
        return np.random.default_rng(int(chosen))
    raise TypeError(f"{what}: generator must be an np.random.Generator or an int seed, "
                    f"got {type(chosen).__name__}")


def _fill_random(t: Any, what: str, draw: Any) -> Any:
    data = _array(t, what)
    if data.dtype.kind != "f":
        raise TypeError(f"{what} fills floating-point tensors only; this one holds "
                        f"{data.dtype} data of shape {data.shape}")
    data[...] = draw(data.shape)
    return t


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity in _GAINS:
        return _GAINS[nonlinearity]
    known = ", ".join(sorted([*_GAINS, "leaky_relu"]))
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}; known: {known}")


def calculate_fan_in_and_fan_out(t: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *kernel), as PyTorch computes them."""
    shape = _array(t, "calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a tensor of at least 2 dimensions, got "
                         f"shape {shape}; these initialisers are for weights, not biases")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(t: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def zeros_(t: Any) -> Any:
    """Fill with 0."""
    _array(t, "zeros_")[...] = 0
    return t


def ones_(t: Any) -> Any:
    """Fill with 1."""
    _array(t, "ones_")[...] = 1
    return t


def constant_(t: Any, value: float) -> Any:
    """Fill with one value."""
    _array(t, "constant_")[...] = value
    return t


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, generator: Any = None,
             seed: int | None = None) -> Any:
    """Fill with samples of U(a, b)."""
    rng = _rng(generator, seed, "uniform_")
    return _fill_random(t, "uniform_", lambda shape: rng.uniform(a, b, shape))


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None,
            seed: int | None = None) -> Any:
    """Fill with samples of N(mean, std**2)."""
    rng = _rng(generator, seed, "normal_")
    return _fill_random(t, "normal_", lambda shape: rng.normal(mean, std, shape))


def xavier_uniform_(t: Any, gain: float = 1.0, generator: Any = None,
                    seed: int | None = None) -> Any:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, generator, seed)


def xavier_normal_(t: Any, gain: float = 1.0, generator: Any = None,
                   seed: int | None = None) -> Any:
    """Glorot: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(t, 0.0, std, generator, seed)


def kaiming_uniform_(t: Any, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None,
                     seed: int | None = None) -> Any:
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan); `a` is leaky_relu's slope."""
    fan = _fan(t, mode)
    if fan == 0:
        return t  # an empty weight: nothing to fill (PyTorch warns and returns)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, generator, seed)


def kaiming_normal_(t: Any, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None,
                    seed: int | None = None) -> Any:
    """He: N(0, std**2) with std = gain / sqrt(fan)."""
    fan = _fan(t, mode)
    if fan == 0:
        return t
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(t, 0.0, std, generator, seed)
