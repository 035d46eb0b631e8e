"""Layers: Linear, Sequential (with `from_architecture`) and the activation modules."""
from __future__ import annotations

import math
from typing import Any, Iterator, Sequence

import numpy as np

from tinygrad_np import ops
from tinygrad_np.nn import functional as F
from tinygrad_np.nn import init
from tinygrad_np.nn.module import Module, Parameter
from tinygrad_np._tensor import Tensor, get_default_dtype
from tinygrad_np._spellings import axis_args


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features), PyTorch's default init.

    Weight and bias are drawn from U(-1/sqrt(in_features), 1/sqrt(in_features))
    (kaiming_uniform_ with a=sqrt(5)), weight first, from `generator` or the global
    generator that `tg.manual_seed` seeds. dtype defaults to `tg.get_default_dtype()`.

    >>> import tinygrad_np as tg
    >>> _ = tg.manual_seed(0)
    >>> tg.nn.Linear(2, 3)(tg.zeros(5, 2)).shape
    (5, 3)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None, generator: Any = None) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
                raise ValueError(f"Linear: {what} must be a non-negative int, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        rng = init._rng(generator, None, "Linear")
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=rng)
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype))
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=rng)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        shape = x.shape if isinstance(x, Tensor) else np.shape(x)
        if not shape or shape[-1] != self.in_features:
            raise ValueError(f"Linear({self.extra_repr()}) got an input of shape {shape}: its "
                             f"last dimension must be in_features={self.in_features}")
        return ops.Linear.apply(x, self.weight, self.bias)  # F.linear, checked above

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Identity(Module):
    """Returns its input unchanged (the "linear" activation); any constructor arguments
    are ignored, as in PyTorch (a placeholder where a layer may go)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class _AlongAxis(Module):
    """An activation taken along one axis (default: the last)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis_args(axis, dim, False, None, type(self).__name__, -1)[0]

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """Softmax along `axis` (default: the last)."""

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.axis)


class LogSoftmax(_AlongAxis):
    """log(softmax(x)) along `axis`, computed stably."""

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)


# names accepted by Sequential.from_architecture (compared with ==, never `is`)
ACTIVATIONS: dict[Any, type[Module] | None] = {
    "relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax,
    "log_softmax": LogSoftmax, "linear": None, "none": None, None: None,
}


class Sequential(Module):
    """Modules applied one after another; children are named "0", "1", ...

    Indexable (`model[0]`, `model[-1]`, a slice gives a Sequential keeping the
    names), iterable and sized.

    >>> import tinygrad_np as tg
    >>> model = tg.nn.Sequential(tg.nn.Linear(2, 4), tg.nn.ReLU(), tg.nn.Linear(4, 1))
    >>> len(model), [name for name, _ in model.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(module).__name__}, "
                                "not a Module (write tg.nn.ReLU(), not tg.nn.ReLU)")
            self.add_module(str(i), module)

    def append(self, module: Module) -> Sequential:
        """Add a module at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append needs a Module, got {type(module).__name__}")
        index = len(self._modules)
        while str(index) in self._modules:  # a slice keeps its names: seq[1:3] has "1", "2"
            index += 1
        self.add_module(str(index), module)
        return self

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            part = Sequential()
            for name, module in items[index]:
                part.add_module(name, module)
            return part
        if not isinstance(index, (int, np.integer)) or not -len(items) <= index < len(items):
            raise IndexError(f"Sequential index {index!r} out of range for {len(items)} modules")
        return items[index][1]

    @classmethod
    def from_architecture(cls, architecture: Sequence[dict], dtype: Any = None) -> Sequential:
        """Build Linear + activation pairs from a list of layer dicts (examples/moons.py's layout).

        Each dict: {"input_dim": int, "output_dim": int, "activation": name}, names
        "relu", "sigmoid", "tanh", "softmax", "log_softmax", or "linear"/"none"/None
        for no activation. Each input_dim must equal the previous output_dim.

        >>> arch = [{"input_dim": 2, "output_dim": 4, "activation": "relu"},
        ...         {"input_dim": 4, "output_dim": 1, "activation": "sigmoid"}]
        >>> Sequential.from_architecture(arch)[-1]
        Sigmoid()
        """
        known = ", ".join(repr(k) for k in ACTIVATIONS)
        layers: list[Module] = []
        previous_out = None
        if len(architecture) == 0:
            raise ValueError("from_architecture: the architecture list is empty")
        for i, spec in enumerate(architecture):
            if not isinstance(spec, dict):
                raise TypeError(f"from_architecture: layer {i} is a {type(spec).__name__}, "
                                "expected a dict with input_dim, output_dim, activation")
            missing = [k for k in ("input_dim", "output_dim") if k not in spec]
            extra = sorted(set(spec) - {"input_dim", "output_dim", "activation"})
            if missing or extra:
                raise ValueError(f"from_architecture: layer {i} {spec} "
                                 + (f"lacks {missing}" if missing else f"has unknown keys {extra}")
                                 + "; each layer needs input_dim, output_dim (and activation)")
            n_in, n_out = spec["input_dim"], spec["output_dim"]
            if previous_out is not None and n_in != previous_out:
                raise ValueError(f"from_architecture: layer {i} has input_dim={n_in}, but layer "
                                 f"{i - 1} has output_dim={previous_out}; they must be equal")
            activation = spec.get("activation")
            name = activation.lower() if isinstance(activation, str) else activation
            if not isinstance(name, (str, type(None))) or name not in ACTIVATIONS:
                raise ValueError(f"from_architecture: layer {i} has unknown activation "
                                 f"{activation!r}; known activations: {known}")
            layers.append(Linear(n_in, n_out, dtype=dtype))
            if ACTIVATIONS[name] is not None:
                layers.append(ACTIVATIONS[name]())
            previous_out = n_out
        return cls(*layers)
