"""Which module created which node: the module tree, its forward spans, and collapsing.

`Module.__call__` records `_forward_span = (start, end)`; the nodes whose `seq`
lies strictly between were created inside that call, nested calls included.
Sibling spans never overlap, so the deepest module owning a node is found by
one binary search per level.

A module may also mark parts of its own forward: a list `_sub_spans` of
`(label, start, end)` (stamps as above) that it sets in `forward`. Each becomes a
cluster inside the module's, nested by containment -- the recurrent layers mark each
layer and each time step, so an unrolled sequence collapses to one box per step
(`collapse=` counts these levels like module levels).
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Any

from tinygrad_np.nn.module import live_modules


class ModuleEntry:
    """One module of the tree: where it sits, what it is called, how it is drawn."""

    def __init__(self, name: str, path: str, module: Any, depth: int,
                 parent: ModuleEntry | None) -> None:
        self.name, self.path, self.module = name, path, module
        self.depth, self.parent = depth, parent
        self.span = getattr(module, "_forward_span", None)
        self.children: list[ModuleEntry] = []
        self.starts: list[int] = []
        self.collapsed = False
        self.box: ModuleEntry | None = None  # the collapsed ancestor that absorbs this module
        self.key = "cluster_" + ("".join(c if c.isalnum() else "_" for c in path) or "root")

    def label(self) -> str:
        """'0: Linear(2→25)': the attribute name, then a short description of the module."""
        kind = type(self.module).__name__
        m = self.module
        if hasattr(m, "in_features") and hasattr(m, "out_features"):
            kind += f"({m.in_features}→{m.out_features})"
        elif hasattr(m, "in_channels") and hasattr(m, "kernel_size"):  # Conv2d(1→16, 3x3)
            kind += f"({m.in_channels}→{m.out_channels}, {'x'.join(map(str, m.kernel_size))})"
        else:
            extra = m.extra_repr() if hasattr(m, "extra_repr") else ""
            kind += f"({extra})" if extra and len(extra) <= 24 else ""
        return f"{self.name}: {kind}" if self.name else kind

    def num_parameters(self) -> int:
        """Scalar weights of the module and its descendants."""
        return sum(int(p.size) for p in self.module.parameters())


class SpanEntry(ModuleEntry):
    """A part of a module's forward that the module marked itself (a layer, a time step)."""

    def __init__(self, text: str, path: str, module: Any, depth: int, parent: ModuleEntry,
                 span: tuple[int, int]) -> None:
        super().__init__(text, path, module, depth, parent)
        self.span = span

    def label(self) -> str:
        return self.name

    def num_parameters(self) -> int:
        return 0  # the weights belong to the module, shared by all its steps


def _span_entries(entry: ModuleEntry) -> list[ModuleEntry]:
    """The entries of `entry.module._sub_spans`, nested by containment under `entry`."""
    spans = getattr(entry.module, "__dict__", {}).get("_sub_spans")
    if not spans or entry.span is None:
        return []
    made: list[ModuleEntry] = []
    open_: list[ModuleEntry] = [entry]  # the chain of spans containing the current one
    for i, (text, start, end) in enumerate(sorted(spans, key=lambda s: (s[1], -s[2]))):
        while len(open_) > 1 and not start < open_[-1].span[1]:
            open_.pop()
        parent = open_[-1]
        kid = SpanEntry(text, f"{entry.path}.{i}~", entry.module, parent.depth + 1, parent,
                        (start, end))
        parent.children.append(kid)
        made.append(kid)
        open_.append(kid)
    return made


def module_tree(model: Any, collapse: bool | int) -> tuple[ModuleEntry, dict[str, ModuleEntry]]:
    """The model's modules as entries (root first) and {dotted path: entry}."""
    depth_limit = 1 if collapse is True else int(collapse or 0)
    root = ModuleEntry("", "", model, 0, None)
    by_path = {"": root}
    stack = [root]
    spans: list[ModuleEntry] = []
    while stack:
        entry = stack.pop()
        for name, child in entry.module.named_children():
            path = f"{entry.path}.{name}" if entry.path else name
            kid = ModuleEntry(name, path, child, entry.depth + 1, entry)
            entry.children.append(kid)
            by_path[path] = kid
            stack.append(kid)
        spans.extend(_span_entries(entry))
    for entry in [*by_path.values(), *spans]:
        entry.children = [c for c in entry.children if c.span is not None]
        entry.children.sort(key=lambda c: c.span[0])
        entry.starts = [c.span[0] for c in entry.children]
    for entry in [*by_path.values(), *spans]:
        if depth_limit and entry.depth > 0:
            entry.collapsed = entry.depth == depth_limit or (
                entry.depth < depth_limit and not entry.children)
        up: ModuleEntry | None = entry
        while up is not None and up.depth > 0:
            if up.collapsed:
                entry.box = up  # keep climbing: the outermost collapsed ancestor wins
            up = up.parent
    return root, by_path


def owner(root: ModuleEntry, seq: int) -> ModuleEntry | None:
    """The deepest module whose forward created the node with this seq (None: outside)."""
    if root.span is not None and not root.span[0] < seq < root.span[1]:
        return None
    entry = root
    while entry.children:
        i = bisect_right(entry.starts, seq) - 1
        if i < 0:
            break
        kid = entry.children[i]
        if not seq < kid.span[1]:
            break
        entry = kid
    return entry


def parameter_owners(model: Any, by_path: dict[str, ModuleEntry]) -> dict[int, ModuleEntry]:
    """{id(parameter): the module that registered it}, from the dotted names."""
    owners = {}
    for name, param in model.named_parameters():
        owners[id(param)] = by_path.get(name.rpartition(".")[0], by_path[""])
    return owners


def live_parameter_names() -> dict[int, str]:
    """{id(parameter): dotted name} in every live model (a module no other live module holds)."""
    return _live_names("named_parameters", lambda t: id(t))


def buffer_owners(model: Any, by_path: dict[str, ModuleEntry]) -> dict[int, ModuleEntry]:
    """{id(buffer's array): the module that registered the buffer}."""
    return {id(buffer.data): by_path.get(name.rpartition(".")[0], by_path[""])
            for name, buffer in model.named_buffers()}


def live_buffer_names() -> dict[int, str]:
    """{id(buffer's array): dotted name} in every live model (buffers enter ops as arrays)."""
    return _live_names("named_buffers", lambda t: id(t.data))


def _live_names(method: str, key: Any) -> dict[int, str]:
    alive = live_modules()
    held = {id(child) for module in alive for child in module.children()}
    names: dict[int, str] = {}
    for model in alive:
        if id(model) not in held:
            for name, t in getattr(model, method)():
                names.setdefault(key(t), name)
    return names
