"""Containers: ModuleList and ModuleDict (hold modules, no forward of their own), and
Flatten (reshapes a batch of feature maps into rows)."""
from __future__ import annotations

import operator
from typing import Any, Iterable, Iterator, Mapping

from tinygrad_np.nn.module import Module
from tinygrad_np._tensor import Tensor, flattened_shape


def _as_module(value: Any, where: str) -> Module:
    if not isinstance(value, Module):
        raise TypeError(f"{where} holds Modules, got {type(value).__name__} "
                        "(write tg.nn.ReLU(), not tg.nn.ReLU)")
    return value


class ModuleList(Module):
    """A list of modules whose parameters are registered, named "0", "1", ... like PyTorch's.

    Supports append, extend, insert, indexing (negative too), slicing (a new
    ModuleList), assignment, deletion, len, iteration, `+` and `+=`. It has no
    forward: call its modules from your own.

    >>> import tinygrad_np as tg
    >>> layers = tg.nn.ModuleList([tg.nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), [name for name, _ in layers.named_parameters()][:3]
    (3, ['0.weight', '0.bias', '1.weight'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: Any) -> int:
        """An int index checked (and made non-negative) against the length."""
        i = operator.index(index)
        if not -len(self) <= i < len(self):
            raise IndexError(f"ModuleList index {index} out of range for {len(self)} modules")
        return i % len(self)

    def _renumber(self, modules: list[Module]) -> None:
        for name in list(self._modules):
            self._forget(name)
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.add_module(str(self._index(index)), _as_module(module, "ModuleList"))

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self, *other])

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; returns self."""
        self.add_module(str(len(self)), _as_module(module, "ModuleList.append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append each module of an iterable; returns self."""
        if not hasattr(modules, "__iter__"):
            raise TypeError("ModuleList.extend needs an iterable of Modules, got "
                            f"{type(modules).__name__}; use append for one module")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert a module before position index (list.insert's rule); renumbers the rest."""
        modules = list(self._modules.values())
        modules.insert(operator.index(index), _as_module(module, "ModuleList.insert"))
        self._renumber(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward: iterate over it in your "
                                  "module's forward (for layer in self.layers: x = layer(x)), "
                                  "or use tg.nn.Sequential")


class ModuleDict(Module):
    """A dict of modules (keys are their names), registered and kept in insertion order.

    Supports `d[key]`, assignment, `del`, `in`, len, iteration over keys, keys, values,
    items, update, pop and clear. Keys must be str without '.', and may not shadow
    Module attributes (e.g. "train").

    >>> import tinygrad_np as tg
    >>> heads = tg.nn.ModuleDict({"score": tg.nn.Linear(4, 1), "act": tg.nn.ReLU()})
    >>> list(heads), [name for name, _ in heads.named_parameters()]
    (['score', 'act'], ['score.weight', 'score.bias'])
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, _as_module(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        self[key]  # noqa: B018 (the KeyError with the known keys)
        self._forget(key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._modules)

    def values(self) -> list[Module]:
        """The modules, in insertion order."""
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        """(key, module) pairs, in insertion order."""
        return list(self._modules.items())

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add or replace modules from a mapping or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update needs a mapping or (key, module) pairs, "
                                f"got an element {pair!r}")
            self[pair[0]] = pair[1]

    def pop(self, key: str) -> Module:
        """Remove a module and return it."""
        module = self[key]
        self._forget(key)
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            self._forget(key)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward: call its modules from your "
                                  "module's forward (self.heads['score'](x))")


class Flatten(Module):
    """Merge the axes start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.

    >>> import tinygrad_np as tg
    >>> tg.nn.Flatten()(tg.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        op = f"Flatten({self.extra_repr()})"
        return x.reshape(flattened_shape(x.shape, self.start_dim, self.end_dim, op))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
