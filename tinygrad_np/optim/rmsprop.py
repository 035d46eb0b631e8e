"""RMSprop with PyTorch's update rule (centered variant, momentum, L2 weight decay)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_np.optim.optimizer import Optimizer
from tinygrad_np._tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), in PyTorch's order of operations.

    Per parameter (eps is added outside the square root, as in PyTorch):
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = a + (1 - alpha) * (g - a)            # centered only: the mean gradient (lerp)
        avg = sqrt(v - a * a) + eps  (centered)  or  sqrt(v) + eps
        b = momentum * b + g / avg;  p = p - lr * b     (momentum > 0)
        p = p - lr * g / avg                             (momentum = 0)
    """

    state_keys = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                                  "centered": centered, "weight_decay": weight_decay})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        for option in ("eps", "momentum", "alpha"):
            if not group[option] >= 0.0:
                raise ValueError(f"RMSprop: invalid {option}={group[option]!r}; it must be >= 0")
        group["centered"] = bool(group["centered"])

    def _required_state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + ("momentum_buffer",) * (group["momentum"] > 0)
                + ("grad_avg",) * group["centered"])

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data)
        # buffers an option switched on later needs start at zero, as they would have
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += ((1 - alpha) * grad) * grad
        if group["centered"]:
            grad_avg, weight = state["grad_avg"], 1 - alpha
            if weight < 0.5:  # PyTorch's lerp, as in Adam
                grad_avg += weight * (grad - grad_avg)
            else:
                grad_avg[...] = grad - (grad - grad_avg) * (1 - weight)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p.data += -group["lr"] * buf
        else:
            p.data += (-group["lr"] * grad) / avg
