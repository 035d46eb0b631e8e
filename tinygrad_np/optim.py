"""Optimizers: SGD and Adam with PyTorch's update rules, param groups and state dicts.

>>> import tinygrad_np as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> opt = tg.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w
Tensor([ 0.8, -1.6], requires_grad=True)

Updates are written into `p.data` in place, with no graph recorded; `p.grad`
is read, never modified. A parameter whose `.grad` is None is skipped.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable

import numpy as np

from tinygrad_np.function import number_array
from tinygrad_np.grad_mode import enable_grad
from tinygrad_np.versions import mark_modified
from tinygrad_np.nn.module import reset_grads
from tinygrad_np._tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]


def _python_value(value: Any) -> Any:
    """A hyperparameter as a Python value (weights files hand back 0-d or 1-d arrays)."""
    if isinstance(value, np.ndarray):
        return value.item() if value.ndim == 0 else tuple(v.item() for v in value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return tuple(_python_value(v) for v in value)
    return value


class Optimizer:
    """Base class: holds `param_groups` (lists of dicts, like PyTorch) and per-parameter `state`.

    Subclasses set `state_keys` (the arrays `state[p]` holds) and write `step`
    and `_check_hyperparameters`.
    """

    state_keys: tuple[str, ...] = ()

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__} takes an iterable of Tensors or of dicts, "
                            f"but got one Tensor of shape {params.shape}; wrap it in a list: "
                            "[tensor]")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass "
                             "model.parameters() of a model that has parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group `{"params": [...], "lr": ...}`; missing options come from the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        if not params:
            raise ValueError(f"{type(self).__name__} got a param group with no parameters")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but "
                                f"parameter {i} is a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__} can't optimize a non-leaf Tensor "
                                 f"(parameter {i}, shape {p.shape}, made by "
                                 f"{p.grad_fn.name}); optimize the leaf it was computed from")
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{type(self).__name__} param group has unknown option(s) "
                             f"{sorted(unknown)}; known: {sorted(self.defaults)}")
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("some parameters appear more than once (in one group or in "
                             "several); give each parameter to the optimizer once")
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError naming the option when a group's hyperparameter is invalid."""
        lr = group["lr"]
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not lr >= 0.0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate lr={lr!r}; "
                             "it must be a number >= 0")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay="
                             f"{group['weight_decay']!r}; it must be >= 0")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (default, like PyTorch) or to zeros."""
        reset_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns closure() if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        written: list[np.ndarray] = []
        try:
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if grad.shape != p.data.shape:
                        raise ValueError(f"{type(self).__name__}.step: a parameter of shape "
                                         f"{p.data.shape} has a gradient of shape {grad.shape}")
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = {}
                    self._update(p, grad, group, state)
                    written.append(p.data)
        finally:
            mark_modified(*written)  # graphs recorded before this step can't backward now
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__}._update is not written")

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: {"state": {index: {...}}, "param_groups": [{..., "params": [index]}]}.

        Parameters are numbered across groups in order. Arrays are copies, so the
        dict is a snapshot that later steps do not change.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: v for k, v in group.items() if k != "params"}
            groups.append({**packed, "params": [index[id(p)] for p in group["params"]]})
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: np.array(v) if isinstance(v, np.ndarray) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a `state_dict()`; everything is checked before anything is assigned."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{name}.load_state_dict expects a dict with keys 'state' and "
                             f"'param_groups' (from optimizer.state_dict()), got {keys}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state dict has {len(saved_groups)} "
                             f"param groups, this optimizer has {len(self.param_groups)}")
        new_groups = []
        index_to_param: dict[int, Tensor] = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            ids = [int(i) for i in np.asarray(saved.get("params", []), dtype=np.int64).ravel()]
            if len(ids) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: param group {g} has {len(ids)} "
                                 f"parameters in the state dict, {len(group['params'])} here")
            index_to_param.update(zip(ids, group["params"], strict=True))
            options = {k: _python_value(v) for k, v in saved.items() if k != "params"}
            if set(options) != set(self.defaults):
                raise ValueError(f"{name}.load_state_dict: param group {g} has options "
                                 f"{sorted(options)}, expected {sorted(self.defaults)}; was "
                                 "the state dict saved from a different optimizer?")
            new_group = {**options, "params": group["params"]}
            self._check_hyperparameters(new_group)
            new_groups.append(new_group)
        new_state = {}
        for key, saved in dict(state_dict["state"]).items():
            i = int(key)
            if i not in index_to_param:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but the "
                                 f"param groups only list {sorted(index_to_param)}")
            new_state[index_to_param[i]] = self._checked_state(i, index_to_param[i], saved)
        self.param_groups = new_groups
        self.state = new_state

    def _checked_state(self, i: int, p: Tensor, saved: dict[str, Any]) -> dict[str, Any]:
        """One parameter's saved state, validated and converted (arrays copied, p's dtype)."""
        name = type(self).__name__
        if set(saved) != set(self.state_keys):
            raise ValueError(f"{name}.load_state_dict: state of parameter {i} has keys "
                             f"{sorted(saved)}, expected {sorted(self.state_keys)}")
        state = {}
        for key, value in saved.items():
            if key == "step":
                state[key] = int(_python_value(value))
                continue
            array = np.asarray(value)
            if array.shape != p.data.shape:
                raise ValueError(f"{name}.load_state_dict: state '{key}' of parameter {i} has "
                                 f"shape {array.shape}, but the parameter has shape "
                                 f"{p.data.shape}")
            state[key] = np.array(array, dtype=p.data.dtype)
        return state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for g, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {g}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 decay.

    Per parameter, with g its gradient (PyTorch's rule):
        g = g + weight_decay * p
        b = g (first step)  or  b = momentum * b + (1 - dampening) * g
        g = g + momentum * b (nesterov)  or  g = b
        p = p - lr * g
    """

    state_keys = ("momentum_buffer",)

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        if not group["momentum"] >= 0.0:
            raise ValueError(f"SGD: invalid momentum={group['momentum']!r}; it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # NOTE: the first step copies the gradient: no dampening, as in PyTorch.
                buf = state["momentum_buffer"] = np.array(grad, dtype=p.data.dtype)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= number_array(lr, grad) * grad  # = lr * grad, without converting lr each time


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction and L2 weight decay added to the gradient.

    Per parameter, at step t (PyTorch's rule):
        g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)            # lerp, = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - lr / (1 - beta1**t) * m / denom
    """

    state_keys = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = tuple(float(b) for b in betas)
        for k, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: invalid beta parameter at index {k}: {beta}; "
                                 "each beta must lie in [0, 1)")
        if not group["eps"] >= 0.0:
            raise ValueError(f"Adam: invalid eps={group['eps']!r}; it must be >= 0")

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any],
                state: dict[str, Any]) -> None:
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
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
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        step_size = group["lr"] / bias_correction1
        denom = np.sqrt(exp_avg_sq) / bias_correction2_sqrt + group["eps"]
        p.data += (-step_size * exp_avg) / denom
