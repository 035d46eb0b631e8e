"""The Optimizer base class: param groups, the step loop, state dicts in PyTorch's layout.

Updates are written into `p.data` in place, with no graph recorded; `p.grad`
is read, never modified. A parameter whose `.grad` is None is skipped.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from tinygrad_np.grad_mode import TRACING, current_mode, enable_grad, step_tracer
from tinygrad_np.versions import mark_modified
from tinygrad_np.nn.module import reset_grads
from tinygrad_np._tensor import Tensor

__all__ = ["Optimizer"]

# Options a learning-rate scheduler adds to param groups (as PyTorch's do): accepted in
# add_param_group and load_state_dict beside an optimizer's own.
SCHEDULER_OPTIONS = frozenset({"initial_lr", "max_lr", "min_lr", "max_momentum",
                               "base_momentum"})


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

    Subclasses set `state_keys` (every key `state[p]` may hold), write `_update`
    and `_check_hyperparameters`, and override `_required_state_keys` when the keys
    depend on the group's options. `late_options` are options added after state dicts
    were first saved: a saved group without one gets its default (PyTorch's setdefault).
    """

    state_keys: tuple[str, ...] = ()
    late_options: dict[str, Any] = {}

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
        unknown = set(param_group) - set(self.defaults) - {"params"} - SCHEDULER_OPTIONS
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
        # a scheduler owns the lr of a group with initial_lr: PyTorch's linear OneCycleLR
        # stepped to total_steps leaves it below 0, and such a checkpoint must still load
        if (not isinstance(lr, numbers.Real) or isinstance(lr, bool)
                or not (lr >= 0.0 or ("initial_lr" in group and math.isfinite(lr)))):
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
        if current_mode() & TRACING:  # tg.compile: one step of the plan, run at each replay
            tracer = step_tracer()
            if tracer is not None:
                if closure is not None:
                    raise TypeError("optimizer.step(closure) inside tg.compile: call the "
                                    "closure's body in the step instead")
                return tracer.call(self.step)
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
            for key, default in self.late_options.items():
                options.setdefault(key, default)
            if set(options) - SCHEDULER_OPTIONS != set(self.defaults):
                raise ValueError(f"{name}.load_state_dict: param group {g} has options "
                                 f"{sorted(options)}, expected {sorted(self.defaults)}; was "
                                 "the state dict saved from a different optimizer?")
            new_group = {**options, "params": group["params"]}
            self._check_hyperparameters(new_group)
            new_groups.append(new_group)
        group_of = {id(p): group for group in new_groups for p in group["params"]}
        new_state = {}
        for key, saved in dict(state_dict["state"]).items():
            i = int(key)
            if i not in index_to_param:
                raise ValueError(f"{name}.load_state_dict: state for parameter {i}, but the "
                                 f"param groups only list {sorted(index_to_param)}")
            p = index_to_param[i]
            new_state[p] = self._checked_state(i, p, saved, group_of[id(p)])
        self.param_groups = new_groups
        self.state = new_state

    def _required_state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The keys a parameter's (non-empty) state must hold under this group's options."""
        return self.state_keys

    def _checked_state(self, i: int, p: Tensor, saved: dict[str, Any],
                       group: dict[str, Any]) -> dict[str, Any]:
        """One parameter's saved state, validated and converted (arrays copied, p's dtype)."""
        name = type(self).__name__
        required = set(self._required_state_keys(group))
        if not required <= set(saved) <= set(self.state_keys):
            raise ValueError(f"{name}.load_state_dict: state of parameter {i} has keys "
                             f"{sorted(saved)}, expected {sorted(required)}")
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

