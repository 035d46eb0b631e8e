"""draw_graph: the recorded graph as a graphviz.Digraph that explains the model."""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinygrad_np import ops
from tinygrad_np.function import Function, output_spec
from tinygrad_np._tensor import Tensor
from tinygrad_np.viz import dot, gradients, modules
from tinygrad_np.viz.render import ModelGraph


def draw_graph(root: Any, params: Any = None, *, collapse: bool | int = False,
               show_grads: bool = False, highlight: Any = None, rankdir: str = "TB",
               constants: bool = True, title: str | None = None) -> ModelGraph:
    """The graph that computed `root` as a `graphviz.Digraph` (no Graphviz program needed).

    root: a Tensor, a graph node, or a list of them (several outputs in one picture).
    params: a Module (parameter and buffer names, and one cluster per submodule), a
        {name: tensor} dict (names for parameters, inputs or intermediate results),
        or a list of both. A leaf not named there shows its own `.name`, else, for
        a Parameter, its dotted name in the live model that holds it ("0.weight"),
        else "leaf". A buffer an op reads (BatchNorm's "1.running_mean" in eval mode)
        is drawn as a constant named the same way.
    collapse: True (or a depth) draws each module at that depth as one box with
        its output shape and parameter count; needs a Module in `params`. Clusters
        come from each module's most recent call (`Module._forward_span`).
    show_grads: colour parameters by the norm of their `.grad`, and ops by the norm
        of the gradient that reached their output during backward -- recorded only
        when backward ran inside `with tg.viz.record_gradients():` (the legend says
        so otherwise). Viridis log scale (largest norm: yellow) with a legend; exact
        zeros get a dashed orange border, dead ReLU units an orange one.
    highlight: nodes or tensors to mark in red; ops flagged by `tg.detect_anomaly()`
        are marked automatically.
    constants: draw the inputs that need no gradient (data, literals) as dashed boxes.
    rankdir, title: Graphviz layout direction ("TB", "LR", ...) and a caption.

    >>> import tinygrad_np as tg
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> g = tg.viz.draw_graph((w * 3).sum(), {"w": w})
    >>> "MulBackward" in g.source and "SumBackward" in g.source
    True
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    names, data_names, model = _names(params)
    if collapse and model is None:
        raise ValueError("collapse= groups ops by module, so it needs the model: "
                         "draw_graph(loss, model, collapse=True)")
    drawing = _Drawing(names, data_names, model, collapse, show_grads, constants)
    drawing.build(_roots(root), _highlighted(highlight))
    graph = ModelGraph(name="tinygrad_np", graph_attr={
        "rankdir": rankdir, "ranksep": "0.3", "nodesep": "0.25", "fontname": "Helvetica",
        **({"label": title, "labelloc": "t", "fontsize": "14"} if title else {})},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.08,0.04"},
        edge_attr={"color": "#666666", "arrowsize": "0.7"})
    graph.body.extend(drawing.lines())
    return graph


def _roots(root: Any) -> list:
    roots = list(root) if isinstance(root, (list, tuple)) else [root]
    for r in roots:
        if not isinstance(r, (Tensor, Function)):
            raise TypeError(f"draw_graph draws Tensors or graph nodes, got {type(r).__name__}")
    return roots


def _highlighted(highlight: Any) -> set[int]:
    items = highlight if isinstance(highlight, (list, tuple, set)) else [highlight]
    return {id(h.grad_fn or h) if isinstance(h, Tensor) else id(h)
            for h in items if h is not None}


def _names(params: Any) -> tuple[dict[int, str], dict[int, str], Any]:
    """({id(leaf or node): name}, {id(array): name} for constants, the first Module)."""
    names: dict[int, str] = {}
    data_names: dict[int, str] = {}
    model = None
    sources = params if isinstance(params, (list, tuple)) else [params]
    for source in sources:
        if source is None:
            continue
        if hasattr(source, "named_parameters"):
            model = model or source
            pairs = list(source.named_parameters())
            pairs += list(getattr(source, "named_buffers", list)())
        elif isinstance(source, dict):
            pairs = list(source.items())
        else:
            raise TypeError(f"params must be a Module, a {{name: tensor}} dict, or a list of "
                            f"them; got {type(source).__name__}")
        for name, t in pairs:
            if isinstance(t, Tensor) and (t.grad_fn is not None or t.requires_grad):
                names.setdefault(id(t.grad_fn or t), str(name))
            elif isinstance(t, (Tensor, np.ndarray)):
                data_names.setdefault(id(getattr(t, "data", t)), str(name))
            elif isinstance(t, Function):
                names.setdefault(id(t), str(name))
    return names, data_names, model


@functools.lru_cache(maxsize=1024)
def _spec(shape: Any, dtype: Any) -> str:
    if shape is None:
        return "shape unknown"
    return ("scalar" if shape == () else str(tuple(shape))) + (f" {dtype}" if dtype else "")


def _node_spec(node: Function) -> str:
    return _spec(*output_spec(node))


def _constant_input(node: Function, i: int) -> tuple[Any, Any, Any, bool]:
    """(id of the array, shape, value when one element, id of the array a view looks into
    or None, arrays still alive) of input i."""
    saved = node.saved
    if saved is not None:
        return (*gradients.constant_facts(saved[i + 1]), True)
    recorded = getattr(node, "constant_inputs", None) or {}
    if i in recorded:
        return (*recorded[i], False)
    return None, None, None, None, False


def _owner(a: np.ndarray) -> np.ndarray:
    """The array whose memory the view `a` looks into."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


class _Drawing:
    """Collects the items, clusters and edges of one picture, then writes DOT lines."""

    def __init__(self, names: dict, data_names: dict, model: Any, collapse: bool | int,
                 show_grads: bool, constants: bool) -> None:
        self.names, self.data_names, self.show_grads, self.constants = (
            names, data_names, show_grads, constants)
        self.items: dict[str, dot.Item] = {}
        self.sources: dict[str, Any] = {}  # key -> the node, leaf or ModuleEntry it draws
        self.edges: dict[tuple[str, str], int] = {}
        self.node_key: dict[int, str] = {}
        self.leaf_key: dict[int, str | None] = {}
        self.constant_key: dict[int, str] = {}
        self.box_members: dict[str, list[Function]] = {}
        self.box_exit: dict[str, Function] = {}
        self.tree: modules.ModuleEntry | None = None
        self.param_owner: dict[int, modules.ModuleEntry] = {}
        self.legend: str | None = None  # the gradient legend's HTML label (show_grads)
        self.live_names: dict[int, str] | None = None  # parameter names from live models
        self.buffer_owner: dict[int, modules.ModuleEntry] = {}  # id(buffer array) -> module
        self.live_buffers: dict[int, str] | None = None  # buffer names from live models
        if model is not None:
            self.tree, by_path = modules.module_tree(model, collapse)
            self.param_owner = modules.parameter_owners(model, by_path)
            self.buffer_owner = modules.buffer_owners(model, by_path)

    def build(self, roots: list, highlighted: set[int]) -> None:
        """Walk back from the roots (iteratively, each node once), then style the items."""
        seen: dict[int, Function] = {}
        stack = [r.grad_fn if isinstance(r, Tensor) else r for r in roots]
        stack = [n for n in stack if n is not None]
        seen.update((id(n), n) for n in stack)
        while stack:
            for p in stack.pop().parents:
                if p is not None and not isinstance(p, Tensor) and id(p) not in seen:
                    seen[id(p)] = p
                    stack.append(p)
        for node in sorted(seen.values(), key=lambda n: n.seq):
            self._add_op(node)
        outputs: dict[str | None, str | None] = {}
        for i, r in enumerate(roots):
            if isinstance(r, Tensor) and r.grad_fn is None:
                key = self._leaf(r) if r.requires_grad else self._root_constant(r, i)
            else:
                key = self.node_key[id(r.grad_fn if isinstance(r, Tensor) else r)]
                if key.startswith("box"):
                    self.box_exit[key] = r.grad_fn if isinstance(r, Tensor) else r
            outputs.setdefault(key, r.name if isinstance(r, Tensor) else None)
        for key, members in self.box_members.items():
            exit_node = self.box_exit.get(key, members[-1])
            self.items[key].lines.insert(1, _node_spec(exit_node))
        if self.show_grads:
            self._colour()
        for key, name in outputs.items():
            if key is not None:
                self._mark_output(self.items[key], name)
        for node in seen.values():
            anomaly = getattr(node, "anomaly", None)
            if id(node) in highlighted or anomaly:
                self._highlight(self.items[self.node_key[id(node)]], anomaly)
        for leaf_id, key in self.leaf_key.items():
            if leaf_id in highlighted and key is not None:
                self._highlight(self.items[key], None)

    # ------------------------------------------------------------ items
    def _place(self, node: Function) -> tuple[Any, Any]:
        """(the cluster the node is drawn in, the collapsed module box that absorbs it)."""
        entry = modules.owner(self.tree, node.seq) if self.tree is not None else None
        if entry is None or entry.depth == 0:
            return None, None
        if entry.box is not None:
            parent = entry.box.parent
            return (parent if parent is not None and parent.depth > 0 else None), entry.box
        return entry, None

    def _add_op(self, node: Function) -> None:
        cluster, box = self._place(node)
        key = f"op{node.seq}" if box is None else "box" + box.key[len("cluster"):]
        self.node_key[id(node)] = key
        sources = []  # inputs first, so the DOT text reads in forward order
        for i, parent in enumerate(node.parents):
            if parent is None:
                sources.append(self._constant(node, i, cluster, box is not None))
            elif isinstance(parent, Tensor):
                sources.append(self._leaf(parent))
            else:
                sources.append(self.node_key[id(parent)])
                if sources[-1] != key and sources[-1].startswith("box"):
                    self.box_exit[sources[-1]] = parent  # the last node leaving a box: its output
        if box is not None:
            if key not in self.items:
                count = box.num_parameters()
                self._add(key, [box.label()] + ([f"{count:,} params"] if count else []), dot.BOX,
                          "module", cluster, box)
                self.box_members[key] = []
            self.box_members[key].append(node)
        else:
            name = self.names.get(id(node))
            lines = ([name] if name else []) + [node.name, _node_spec(node)]
            item = self._add(key, lines, dot.OP, "op", cluster, node)
            where = getattr(node, "created_at", None)
            if where:  # kept by tg.detect_anomaly()
                item.set(tooltip=f"created at {where[-1].filename}:{where[-1].lineno}")
        for source in sources:
            if source is not None and source != key:
                self.edges[(source, key)] = self.edges.get((source, key), 0) + 1

    def _add(self, key: str, lines: list[str], style: dict, kind: str, cluster: Any,
             source: Any) -> dot.Item:
        item = self.items[key] = dot.Item(key, lines, style, [kind], cluster)
        self.sources[key] = source
        return item

    def _leaf(self, leaf: Tensor) -> str | None:
        """The item of a leaf that requires grad (None when a collapsed module absorbs it)."""
        if id(leaf) in self.leaf_key:
            return self.leaf_key[id(leaf)]
        entry = self.param_owner.get(id(leaf))
        if entry is not None and entry.box is not None:
            self.leaf_key[id(leaf)] = None
            return None
        key = f"t{len(self.leaf_key)}"
        name = self.names.get(id(leaf)) or leaf.name or self._model_name(leaf) or "leaf"
        cluster = entry if entry is not None and entry.depth > 0 else None
        item = self._add(key, [name, _spec(leaf.shape, leaf.dtype)], dot.PARAM, "param", cluster,
                         leaf)
        item.set(tooltip=f"{name}: {leaf.shape} {leaf.dtype}, requires grad")
        self.leaf_key[id(leaf)] = key
        return key

    def _model_name(self, leaf: Tensor) -> str | None:
        """A parameter's dotted name in the live model that holds it (found once per picture)."""
        if self.live_names is None:
            self.live_names = modules.live_parameter_names()
        return self.live_names.get(id(leaf))

    def _constant(self, node: Function, i: int, cluster: Any, absorbed: bool) -> str | None:
        """The item of a constant input; one array (or one named tensor) is drawn once."""
        if not self.constants:
            return None
        array_id, shape, value, owner_id, alive = _constant_input(node, i)
        name = self.data_names.get(array_id) or self.data_names.get(owner_id)
        buffer_entry = self.buffer_owner.get(array_id) or self.buffer_owner.get(owner_id)
        if name is None and array_id is not None:
            name = self._buffer_name(array_id, owner_id)
        if buffer_entry is not None and buffer_entry.box is not None:
            return None  # a buffer of a collapsed module is part of its box, as its parameters
        big = shape is not None and math.prod(shape) > 1
        if absorbed and not (name or big):
            return None  # a literal inside a collapsed module is part of the box
        if name or (alive and big):  # one array: one box, however many ops read it
            # a slice of a larger array (the step t of an unrolled sequence) is that array
            whole = owner_id if owner_id is not None and big else array_id
            key = self.constant_key.setdefault(whole, f"c{len(self.constant_key)}")
            if whole != array_id and alive:
                shape = _owner(node.saved[i + 1]).shape  # the box is the whole array
        else:
            key = f"c{node.seq}_{i}"
        if key in self.items:
            return key
        if name or big:
            # data (inputs, targets) usually comes from outside the module; a buffer does not
            cluster = buffer_entry if buffer_entry is not None and buffer_entry.depth else None
            lines = [name or "const", _spec(shape, None)]
        elif value is not None:
            lines = [f"{value:.4g}" if isinstance(value, (int, float)) else str(value)]
        else:
            lines = ["const"]
        self._add(key, lines, dot.CONST, "const", cluster, None)
        return key

    def _buffer_name(self, array_id: int, owner_id: int | None) -> str | None:
        """A buffer's dotted name in the live model that holds it (found once per picture)."""
        if self.live_buffers is None:
            self.live_buffers = modules.live_buffer_names()
        return self.live_buffers.get(array_id) or self.live_buffers.get(owner_id)

    def _root_constant(self, t: Tensor, i: int) -> str:
        name = self.data_names.get(id(t.data)) or t.name or "const"
        self._add(f"root{i}", [name, _spec(t.shape, t.dtype)], dot.CONST, "const", None, None)
        return f"root{i}"

    # ------------------------------------------------------------ styling
    def _grad_value(self, key: str, source: Any) -> tuple[bool, float | None, str]:
        """(draw a gradient colour?, the norm, a note) for one item."""
        if isinstance(source, Tensor):
            return True, None if source.grad is None else gradients.norm(source.grad), ""
        if isinstance(source, Function):
            return hasattr(source, "grad_norm"), getattr(source, "grad_norm", None), ""
        params = list(source.module.parameters())  # a collapsed module
        if params:
            grads = [p.grad for p in params if p.grad is not None]
            total = math.sqrt(sum(gradients.norm(g) ** 2 for g in grads)) if grads else None
            return True, total, " (params)"
        exit_node = self.box_exit.get(key, self.box_members[key][-1])
        return hasattr(exit_node, "grad_norm"), getattr(exit_node, "grad_norm", None), ""

    def _colour(self) -> None:
        """Fill items by gradient norm on one log scale fitted to the picture; add the legend."""
        values = {}
        for key, source in self.sources.items():
            if source is not None:
                drawn, value, note = self._grad_value(key, source)
                if drawn:
                    values[key] = (value, note)
        scale = gradients.Scale([v for v, _ in values.values()])
        for key, (value, note) in values.items():
            item = self.items[key]
            attrs, line, css = scale.style(value)
            item.set(**attrs)
            item.lines.append(line + note)
            item.classes.append(css)
            if css == "zero-grad":
                item.set(style=item.attrs["style"] + ",dashed")
        for key, source in self.sources.items():
            members = self.box_members.get(key, [source])
            dead = [getattr(n, "dead_units", None) or self._dead_now(n) for n in members]
            dead = [d for d in dead if d is not None]
            if dead:
                self._mark_dead(self.items[key], sum(d[0] for d in dead), sum(d[1] for d in dead))
        self.legend = scale.legend(any(hasattr(s, "grad_norm") for s in self.sources.values()))

    @staticmethod
    def _dead_now(node: Any) -> tuple[int, int] | None:
        if isinstance(node, ops.ReLU) and node.saved is not None:
            return gradients.dead_units(np.asarray(node.saved[0]))
        return None

    @staticmethod
    def _mark_dead(item: dot.Item, dead: int, total: int) -> None:
        item.lines.append(f"dead units {dead}/{total}")
        if dead and "zero-grad" not in item.classes:
            item.set(color=gradients.ZERO_COLOR, penwidth="2.5")
            item.classes.append("dead-units")

    def _mark_output(self, item: dot.Item, name: str | None) -> None:
        item.set(**dot.OUTPUT)
        if not self.show_grads or item.attrs.get("fillcolor") in (None, dot.OP["fillcolor"]):
            item.set(fillcolor=dot.OUTPUT_FILL,
                     style=item.attrs.get("style", "filled").replace("dashed", "filled"))
        item.lines.append(f"output: {name}" if name else "output")
        item.classes.append("output")

    @staticmethod
    def _highlight(item: dot.Item, anomaly: str | None) -> None:
        item.set(**dot.HIGHLIGHT)
        if "filled" not in item.attrs.get("style", ""):
            item.set(style="filled")
        if anomaly:
            item.lines.append(f"ANOMALY: {anomaly}")
        item.classes.append("highlight")

    # ------------------------------------------------------------ DOT text
    def lines(self) -> list[str]:
        """The DOT body: top-level items, nested module clusters, edges, the legend."""
        by_cluster: dict[Any, list[dot.Item]] = {}
        for item in self.items.values():
            by_cluster.setdefault(item.cluster, []).append(item)
        out = ["\t" + dot.node_line(item) for item in by_cluster.get(None, [])]
        if self.tree is not None:
            for child in self.tree.children:
                out.extend(dot.cluster_lines(child, by_cluster, "\t"))
        for (a, b), count in self.edges.items():
            out.append(f"\t{a} -> {b}" + (f' [label="×{count}"]' if count > 1 else "") + "\n")
        if self.legend:
            out.append(f"\tlegend [shape=plaintext class=legend label={self.legend}]\n")
        return out
