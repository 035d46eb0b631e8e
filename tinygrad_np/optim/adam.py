"""Adam and AdamW with PyTorch's update rules (bias correction, amsgrad, L2 or decoupled decay)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_np.optim.optimizer import Optimizer
from tinygrad_np._tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and L2 weight decay added to the gradient.

    Per parameter, at step t (PyTorch's rule):
        g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)            # lerp, = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                    # amsgrad only; then v_max replaces v below
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - lr / (1 - beta1**t) * m / denom
    """

    state_keys = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    late_options = {"amsgrad": False}  # state dicts saved before amsgrad existed still load
    decoupled_weight_decay = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        name = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = tuple(float(b) for b in betas)
        for k, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid beta parameter at index {k}: {beta}; "
                                 "each beta must lie in [0, 1)")
        if not group["eps"] >= 0.0:
            raise ValueError(f"{name}: invalid eps={group['eps']!r}; it must be >= 0")
        group["amsgrad"] = bool(group["amsgrad"])

    def _required_state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return self.state_keys if group["amsgrad"] else self.state_keys[:3]

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        lr, weight_decay = group["lr"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data
        # NOTE: the same operation order as PyTorch's CPU kernels (lerp, addcmul, addcdiv),
        # so float64 trajectories agree with PyTorch's to within a few ulps (its kernels may fuse
        # multiply-adds, which NumPy cannot).
        weight = 1 - beta1
        if weight < 0.5:
            exp_avg += weight * (grad - exp_avg)
        else:
            exp_avg[...] = grad - (grad - exp_avg) * (1 - weight)
        exp_avg_sq *= beta2
        exp_avg_sq += ((1 - beta2) * grad) * grad
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5  # ** 0.5 as PyTorch, not math.sqrt
        step_size = lr / bias_correction1
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + group["eps"]
        p.data += (-step_size * exp_avg) / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's AdamW.

    The decay shrinks the parameter before the Adam update instead of entering the
    gradient (so it never reaches the moments):
        p = p * (1 - lr * weight_decay)
        then Adam's update without weight decay (amsgrad as in Adam).
    """

    decoupled_weight_decay = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
