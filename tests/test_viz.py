"""tg.viz: graph pictures checked by reading their DOT source (tests/dot_parser.py)."""
import gc
import re
import time
import xml.etree.ElementTree as ET

from pathlib import Path

import graphviz
import numpy as np
import pytest
from dot_parser import parse
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from tinygrad_np import autograd, nn
from tinygrad_np.testing.strategies import arrays
from tinygrad_np.viz import gradients

VIRIDIS_LOW, VIRIDIS_HIGH = gradients.VIRIDIS[0], gradients.VIRIDIS[-1]


def drawn(*args, **kwargs):
    return parse(tg.viz.draw_graph(*args, **kwargs).source)


def by_label(dot, text):
    """The node ids whose label has a line equal to `text`."""
    return [n for n in dot.nodes if text in dot.label(n)]


def one(dot, text):
    found = by_label(dot, text)
    assert len(found) == 1, (text, found)
    return found[0]


def edge_set(dot):
    return {(a, b) for a, b, _ in dot.edges}


def mlp(*sizes):
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# ------------------------------------------------------------------ structure
def test_small_graph_has_one_node_per_op_and_leaf_and_data_flow_edges():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    out = (x * w).sum() + x
    dot = drawn(out, {"x": x, "w": w})
    assert len(dot.nodes) == 3 + 2  # Mul, Sum, Add + x, w
    nx, nw = one(dot, "x"), one(dot, "w")
    mul, s, add = one(dot, "MulBackward"), one(dot, "SumBackward"), one(dot, "AddBackward")
    assert edge_set(dot) == {(nx, mul), (nw, mul), (mul, s), (s, add), (nx, add)}
    assert dot.label(mul) == ["MulBackward", "(3,) float32"]
    assert dot.label(s) == ["SumBackward", "scalar float32"]
    assert dot.label(nx) == ["x", "(3,) float32"]
    assert dot.classes(nx) == {"param"} and dot.classes(mul) == {"op"}
    assert dot.classes(add) == {"op", "output"} and "output" in dot.label(add)


def test_shared_subexpressions_are_drawn_once():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    out = (h + h.exp()).sum()
    dot = drawn(out)
    assert len(dot.nodes) == 4 + 1  # Mul, Exp, Add, Sum + x
    mul = one(dot, "MulBackward")
    assert {b for a, b in edge_set(dot) if a == mul} == {one(dot, "ExpBackward"),
                                                           one(dot, "AddBackward")}
    # x * x: one edge from x, labelled with how often the op reads it
    (edge,) = [attrs for a, b, attrs in dot.edges if b == mul]
    assert edge["label"] == "×2"


OPS = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b,
       "tanh": lambda a, b: a.tanh(), "exp": lambda a, b: (a * 0.1).exp()}


@st.composite
def expression_dags(draw):
    """A random DAG of binary/unary ops over 1-3 leaves: (steps, number of leaves)."""
    n_leaves = draw(st.integers(1, 3))
    steps = draw(st.lists(st.tuples(st.sampled_from(sorted(OPS)),
                                    st.integers(0, 50), st.integers(0, 50)),
                          min_size=1, max_size=12))
    return steps, n_leaves


@given(expression_dags(), arrays((2,)))
def test_random_dags_draw_every_reachable_node_exactly_once(dag, values):
    steps, n_leaves = dag
    leaves = [tg.tensor(values * (i + 1), requires_grad=True) for i in range(n_leaves)]
    pool = list(leaves)
    for op, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(OPS[op](a, b))
    root = pool[-1]
    ops, reached, stack = set(), set(), [root.grad_fn]  # the reference count, by hand
    while stack:
        node = stack.pop()
        if node is None or id(node) in ops:
            continue
        ops.add(id(node))
        for p in node.parents:
            if isinstance(p, tg.Tensor):
                reached.add(id(p))
            elif p is not None:
                stack.append(p)
    dot = drawn(root, constants=False)
    assert len(dot.of_class("op")) == len(ops)
    assert len(dot.of_class("param")) == len(reached)
    assert len(dot.nodes) == len(ops) + len(reached)
    assert all(a in dot.nodes and b in dot.nodes for a, b in edge_set(dot))


def test_several_roots_in_one_picture_share_their_common_part():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x.tanh()
    a, b = h.sum(), (h * 2).sum()
    a.name = "a"
    dot = drawn([a, b], constants=False)
    assert len(dot.nodes) == 1 + 4  # x + Tanh, Sum, Mul, Sum
    assert len(by_label(dot, "TanhBackward")) == 1
    assert {n for n in dot.of_class("output")} == set(by_label(dot, "SumBackward"))
    assert len(by_label(dot, "output: a")) == 1 and len(by_label(dot, "output")) == 1


def test_constants_are_dashed_boxes_named_and_drawn_once_per_array():
    w = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    data = tg.tensor([[0.5, 0.5], [1.0, -1.0]])
    out = ((data @ w) * 3 + data).sum()
    dot = drawn(out, {"w": w, "data": data})
    consts = dot.of_class("const")
    assert len(consts) == 2  # `data` (read twice, drawn once) and the literal 3
    named = one(dot, "data")
    assert dot.label(named) == ["data", "(2, 2)"]
    assert "dashed" in dot.nodes[named]["style"]
    assert {b for a, b in edge_set(dot) if a == named} == {one(dot, "MatMulBackward"),
                                                            one(dot, "AddBackward")}
    assert dot.label(one(dot, "3")) == ["3"]
    assert len(drawn(out, constants=False).of_class("const")) == 0


def test_names_come_from_tensor_names_modules_and_dicts_and_dtypes_show():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3, dtype=np.float64))
    x = tg.tensor(np.ones((4, 2)))
    hidden = model(x)
    loss = hidden.sum()
    loss.name = "loss"
    dot = drawn(loss, [model, {"x": x, "hidden": hidden}])
    assert dot.label(one(dot, "0.weight")) == ["0.weight", "(3, 2) float64"]
    assert dot.label(one(dot, "0.bias")) == ["0.bias", "(3,) float64"]
    assert dot.label(one(dot, "hidden")) == ["hidden", "LinearBackward", "(4, 3) float64"]
    assert dot.label(one(dot, "x")) == ["x", "(4, 2)"]
    assert "output: loss" in dot.label(one(dot, "SumBackward"))
    leaf = tg.tensor([1.0], requires_grad=True)
    leaf.name = "bias_term"
    assert by_label(drawn(leaf * 2), "bias_term")


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = mlp(2, 3, 1)

    def forward(self, x):
        return self.enc(x)


def test_without_params_parameters_are_named_from_the_live_model_that_holds_them():
    tg.manual_seed(0)
    model = _Encoder()
    with pytest.raises(tg.anomaly.AnomalyError) as info, np.errstate(invalid="ignore"):
        with tg.detect_anomaly():
            (model(tg.ones(4, 2)) - 100).log().sum()  # log of a negative number: NaN
    dot = drawn(info.value.tensor)  # the anomaly picture: no params given
    params = [dot.label(n)[0] for n in dot.nodes if "param" in dot.classes(n)]
    assert sorted(params) == ["enc.0.bias", "enc.0.weight", "enc.2.bias", "enc.2.weight"]
    # the same names as model.named_parameters(), whichever module was built first
    inner = nn.Linear(2, 2)
    outer = nn.Sequential(inner)
    dot = drawn(outer(tg.ones(1, 2)).sum())
    assert {"0.weight", "0.bias"} <= {dot.label(n)[0] for n in dot.nodes}


def test_a_leaf_label_is_the_given_name_then_tensor_name_then_model_name_then_leaf():
    tg.manual_seed(0)
    model = mlp(2, 1)
    model[0].bias.name = "my_bias"               # a tensor's own name beats its place in a model
    free = tg.tensor([1.0], requires_grad=True)  # held by no model, no name
    loose = nn.Parameter([2.0])                  # a Parameter outside any model
    out = (model(tg.ones(3, 2)) * free * loose).sum()
    dot = drawn(out)
    assert {"0.weight", "my_bias", "leaf"} <= {dot.label(n)[0] for n in dot.nodes}
    given = drawn(out, {"w": model[0].weight, "b": model[0].bias, "f": free})
    names = {given.label(n)[0] for n in given.nodes if "param" in given.classes(n)}
    assert names == {"w", "b", "f", "leaf"}
    del model
    gc.collect()  # a dead model names nothing
    dot = drawn(out)
    assert "0.weight" not in {dot.label(n)[0] for n in dot.nodes}


def test_shapes_survive_backward_freeing_the_graph():
    x = tg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    y = (x @ np.ones((4, 2), np.float32)).relu().sum()
    y.backward()
    assert y.grad_fn.saved is None
    dot = drawn(y)
    assert dot.label(one(dot, "MatMulBackward"))[1] == "(3, 2) float32"
    assert dot.label(one(dot, "ReLUBackward"))[1] == "(3, 2) float32"


def test_every_label_is_the_same_after_backward_as_before():
    # a shared node (reached twice, through the walk's queue), a float64 branch, a matmul
    x = tg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    h = (x @ np.ones((4, 2), np.float32)).tanh()
    wide = h.astype(np.float64) * np.arange(2.0)
    y = (h.exp().sum() + wide.sum() + (h * 2).mean(axis=0).sum()).relu()
    before = drawn(y)
    y.backward()
    after = drawn(y)
    def op_labels(dot):  # constants' boxes need record_gradients after backward
        return sorted(tuple(dot.label(n)) for n in dot.nodes if "Backward" in dot.label(n)[0])
    labels = op_labels(before)
    assert len(labels) == 13 and labels == op_labels(after)
    assert ("CastBackward", "(3, 2) float64") in labels
    assert ("TanhBackward", "(3, 2) float32") in labels


# ------------------------------------------------------------------ clusters
def test_module_clusters_hold_their_ops_and_parameters():
    tg.manual_seed(0)
    model = mlp(2, 3, 1)  # Linear, ReLU, Linear
    loss = model(tg.ones(5, 2)).sigmoid().sum()
    dot = drawn(loss, model)
    labels = {c.attrs["label"]: c for c in dot.clusters.values()}
    assert set(labels) == {"0: Linear(2→3)", "1: ReLU", "2: Linear(3→1)"}
    first = labels["0: Linear(2→3)"].nodes
    assert {one(dot, "0.weight"), one(dot, "0.bias")} <= first
    assert {dot.label(n)[0] for n in first if "op" in dot.classes(n)} == {"LinearBackward"}
    assert {dot.label(n)[0] for n in labels["1: ReLU"].nodes} == {"ReLUBackward"}
    assert {one(dot, "2.weight"), one(dot, "2.bias")} <= labels["2: Linear(3→1)"].nodes
    # ops after the model (the loss) stay outside every cluster
    for name in ("SigmoidBackward", "SumBackward"):
        assert dot.node_cluster[one(dot, name)] is None


def test_nested_modules_give_nested_clusters():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.Tanh()), nn.Linear(3, 1))
    dot = drawn(model(tg.ones(4, 2)).sum(), model)
    labels = {c.attrs["label"]: c for c in dot.clusters.values()}
    outer, inner = labels["0: Sequential"], labels["0: Linear(2→3)"]
    assert inner.parent == outer.name
    assert labels["1: Tanh"].parent == outer.name
    assert inner.nodes < outer.nodes
    tanh = one(dot, "TanhBackward")
    assert dot.node_cluster[tanh] == labels["1: Tanh"].name and tanh in outer.nodes
    assert labels["1: Linear(3→1)"].parent is None


def test_collapse_draws_each_layer_as_one_box_with_its_parameter_count():
    tg.manual_seed(0)
    model = mlp(2, 4, 1)
    x = tg.ones(5, 2)
    loss = model(x).sigmoid().sum()
    dot = drawn(loss, [model, {"x": x}], collapse=True)
    boxes = dot.of_class("module")
    assert [dot.label(b)[0] for b in boxes] == ["0: Linear(2→4)", "1: ReLU", "2: Linear(4→1)"]
    assert dot.label(boxes[0]) == ["0: Linear(2→4)", "(5, 4) float32", "12 params"]
    assert dot.label(boxes[2])[1:] == ["(5, 1) float32", "5 params"]
    assert not dot.of_class("param") and not dot.clusters
    assert len(dot.nodes) == 3 + 2 + 1  # boxes, Sigmoid and Sum, the input x
    b0, b1, b2 = boxes
    assert {(b0, b1), (b1, b2), (b2, one(dot, "SigmoidBackward"))} <= edge_set(dot)
    assert (one(dot, "x"), b0) in edge_set(dot)


def test_collapse_depth_keeps_outer_clusters_and_boxes_inner_modules():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), nn.Linear(3, 1))
    loss = model(tg.ones(4, 2)).sum()
    top = drawn(loss, model, collapse=1)
    assert [top.label(b)[0] for b in top.of_class("module")] == ["0: Sequential",
                                                                  "1: Linear(3→1)"]
    assert top.label(top.of_class("module")[0])[2] == "9 params"
    deep = drawn(loss, model, collapse=2)
    (outer,) = deep.clusters.values()
    assert outer.attrs["label"] == "0: Sequential"
    assert {deep.label(n)[0] for n in outer.nodes} == {"0: Linear(2→3)", "1: ReLU"}
    assert deep.node_cluster[one(deep, "1: Linear(3→1)")] is None
    with pytest.raises(ValueError, match="needs the model"):
        tg.viz.draw_graph(loss, collapse=True)


# ------------------------------------------------------------------ gradients
def test_parameter_colours_follow_gradient_norms_on_the_viridis_scale():
    small = tg.tensor([1.0, 1.0], requires_grad=True)
    middle = tg.tensor([1.0, 1.0], requires_grad=True)
    large = tg.tensor([1.0, 1.0], requires_grad=True)
    loss = (small * 0.001 + middle * 0.1 + large * 10.0).sum()
    loss.backward()
    dot = drawn(loss, {"small": small, "middle": middle, "large": large}, show_grads=True)
    fill = {name: dot.nodes[one(dot, name)]["fillcolor"] for name in ("small", "middle", "large")}
    assert fill["small"] == VIRIDIS_LOW and fill["large"] == VIRIDIS_HIGH
    assert fill["middle"] == gradients.viridis(0.5)  # 0.1 sits halfway on the log scale
    assert "|grad| 1.41e+01" in dot.label(one(dot, "large"))
    legend = dot.nodes["legend"]["label"]
    assert "gradient norm" in legend and "record_gradients" in legend  # ops were not recorded
    assert all("grad" not in dot.classes(n) for n in dot.of_class("op"))


def test_recorded_op_gradients_colour_ops_and_match_the_true_norms():
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = (x * 3).tanh().sum()
    with tg.viz.record_gradients():
        y.backward()
    assert tg.viz.gradients._record not in autograd._walk_hooks
    mul = y.grad_fn.parents[0].parents[0]
    t = np.tanh(3 * np.arange(1.0, 5.0))
    assert y.grad_fn.grad_norm == pytest.approx(1.0)
    assert mul.grad_norm == pytest.approx(np.linalg.norm(1 - t * t), rel=1e-5)
    dot = drawn(y, {"x": x}, show_grads=True)
    norms = {n: float(re.search(r"\|grad\| (\S+)", " ".join(dot.label(n))).group(1))
             for n in dot.nodes if "grad" in dot.classes(n)}
    assert len(norms) == 4  # x and the three ops
    biggest, smallest = max(norms, key=norms.get), min(norms, key=norms.get)
    assert dot.nodes[biggest]["fillcolor"] == VIRIDIS_HIGH
    assert dot.nodes[smallest]["fillcolor"] == VIRIDIS_LOW
    assert "ops: norm of the gradient reaching" in dot.nodes["legend"]["label"]


def test_zero_gradients_are_flagged_dead_relu_and_saturated_sigmoid():
    dead = tg.tensor([[-1.0, 2.0], [-3.0, 1.0]], requires_grad=True)
    w = tg.tensor([100.0], requires_grad=True)  # sigmoid(100) == 1 in float32: gradient 0
    live = tg.tensor([0.5], requires_grad=True)
    loss = ((dead * 1).relu()[:, 0].sum() + (w * 1.0).sigmoid().sum() + (live * live).sum())
    with tg.viz.record_gradients():
        loss.backward()
    assert np.all(w.grad.data == 0) and np.all(dead.grad.data[:, 0] == 0)
    dot = drawn(loss, {"dead": dead, "w": w, "live": live}, show_grads=True)
    assert "zero-grad" in dot.classes(one(dot, "w"))
    assert "dashed" in dot.nodes[one(dot, "w")]["style"]
    assert dot.nodes[one(dot, "w")]["color"] == gradients.ZERO_COLOR
    assert "|grad| 0  ZERO" in dot.label(one(dot, "w"))
    assert "zero-grad" not in dot.classes(one(dot, "live"))
    relu = one(dot, "ReLUBackward")
    assert "dead units 1/2" in dot.label(relu) and "dead-units" in dot.classes(relu)
    # an op's colour is the gradient arriving at its output: the sigmoid still gets one,
    # the op feeding it gets exactly zero back
    sigmoid = one(dot, "SigmoidBackward")
    (feeding,) = [a for a, b in edge_set(dot) if b == sigmoid]
    assert "zero-grad" in dot.classes(feeding) and "zero-grad" not in dot.classes(sigmoid)


def test_collapsed_layers_are_coloured_by_their_parameter_gradients():
    tg.manual_seed(0)
    model = mlp(2, 4, 1)
    loss = model(tg.ones(3, 2)).sum()
    loss.backward()
    dot = drawn(loss, model, collapse=True, show_grads=True)
    first, relu, last = dot.of_class("module")
    total = np.sqrt(sum(np.sum(p.grad.data ** 2) for p in model[0].parameters()))
    assert f"|grad| {total:.2e} (params)" in dot.label(first)
    assert "grad" in dot.classes(first) and "grad" in dot.classes(last)
    assert "grad" not in dot.classes(relu)  # no parameters, op norms not recorded


# ------------------------------------------------------------------ highlight, options
def test_highlight_marks_the_given_node_in_red():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = h.sum()
    dot = drawn(y, highlight=h)
    exp = one(dot, "ExpBackward")
    assert "highlight" in dot.classes(exp) and dot.nodes[exp]["color"] == "#cc0000"
    assert dot.of_class("highlight") == [exp]
    assert drawn(y, highlight=[x]).of_class("highlight") == [one(dot, "leaf")]


def test_bad_arguments_get_clear_errors():
    y = tg.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(ValueError, match="rankdir"):
        tg.viz.draw_graph(y, rankdir="sideways")
    with pytest.raises(TypeError, match="params must be a Module"):
        tg.viz.draw_graph(y, params=[1, 2])
    with pytest.raises(TypeError, match="draws Tensors"):
        tg.viz.draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="suffix"):
        tg.viz.save_graph(y, "graph.unknownformat")
    with pytest.raises(TypeError, match="finished graph"):
        tg.viz.save_graph(tg.viz.draw_graph(y), "g.dot", collapse=True)


def test_rankdir_and_title_reach_the_graph_attributes():
    y = tg.tensor([1.0], requires_grad=True) * 2
    source = tg.viz.draw_graph(y, rankdir="LR", title="my model").source
    assert re.search(r"rankdir=LR", source) and 'label="my model"' in source


def test_a_100000_node_chain_draws_without_recursion():
    x = tg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    graph = tg.viz.draw_graph(y, constants=False)
    source = graph.source
    print(f"100,000-op chain drawn in {time.perf_counter() - start:.2f} s")
    assert len(re.findall(r"^\top\d+ \[", source, flags=re.M)) == 100_000
    assert len(re.findall(r"^\tt\d+ \[", source, flags=re.M)) == 1
    assert source.count(" -> ") == 100_000


# ------------------------------------------------------------------ rendering
def _net_graph():
    tg.manual_seed(0)
    model = mlp(2, 3, 1)
    loss = model(tg.ones(4, 2)).sum()
    return tg.viz.draw_graph(loss, model), loss, model


def test_rendering_with_dot_gives_valid_svg_with_every_node():
    graph, _, _ = _net_graph()
    assert isinstance(graph, graphviz.Digraph)
    svg = graph.pipe(format="svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    ns = {"svg": "http://www.w3.org/2000/svg"}
    groups = root.findall(".//svg:g", ns)
    nodes = [g for g in groups if g.get("class", "").split()[:1] == ["node"]]
    clusters = [g for g in groups if g.get("class", "").split()[:1] == ["cluster"]]
    dot = parse(graph.source)
    assert len(nodes) == len(dot.nodes) and len(clusters) == len(dot.clusters) == 3
    titles = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "0: Linear(2→3)" in titles and "0.weight" in titles
    assert graph._repr_mimebundle_()["image/svg+xml"].lstrip().startswith("<?xml")


def test_save_graph_picks_the_format_from_the_suffix(tmp_path):
    graph, loss, model = _net_graph()
    svg = tg.viz.save_graph(loss, tmp_path / "net.svg", params=model)
    png = tg.viz.save_graph(graph, tmp_path / "net.png")
    pdf = tg.viz.save_graph(graph, tmp_path / "net.pdf")
    src = tg.viz.save_graph(loss, tmp_path / "net.dot", params=model, collapse=True)
    ET.parse(svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert len(parse(src.read_text()).of_class("module")) == 3
    rendered = graph.render(tmp_path / "rendered", format="svg", cleanup=True)
    ET.parse(rendered)


def test_without_dot_rendering_says_how_to_install_graphviz(tmp_path, monkeypatch):
    graph, loss, model = _net_graph()
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` anywhere
    with pytest.raises(tg.viz.GraphvizNotFound) as info:
        graph.pipe(format="svg")
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz",
                 "conda install -c conda-forge graphviz", "winget install graphviz",
                 "choco install graphviz", "save_graph(root, \"graph.dot\")"):
        assert hint in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)  # old except clauses still work
    with pytest.raises(tg.viz.GraphvizNotFound, match="apt-get install graphviz"):
        tg.viz.save_graph(loss, tmp_path / "net.svg", params=model)
    with pytest.raises(tg.viz.GraphvizNotFound):
        graph.render(tmp_path / "net", format="png")
    with pytest.raises(tg.viz.GraphvizNotFound):
        graph._repr_mimebundle_()  # what Jupyter calls
    # drawing and the DOT source need no program
    assert tg.viz.draw_graph(loss, model).source.startswith("digraph")
    path = tg.viz.save_graph(loss, tmp_path / "net.dot", params=model)
    assert "0.weight" in path.read_text()


# The mean advance of a wide sans-serif (DejaVu Sans, what viewers without Helvetica use, is
# ~0.52 em on the legend's text), with a margin: text this wide must still fit in its box.
EM_PER_CHARACTER = 0.6
SVG = "{http://www.w3.org/2000/svg}"
README_SVG = Path(__file__).resolve().parent.parent / "docs" / "graph.svg"


def legend_overflows(svg: bytes | str) -> list[str]:
    """The legend's text lines that would run past the legend's box in a wide font."""
    root = ET.fromstring(svg)
    legend = next(g for g in root.iter(SVG + "g") if "legend" in g.get("class", "").split())
    xs = [float(point.split(",")[0]) for polygon in legend.iter(SVG + "polygon")
          for point in polygon.get("points").split()]
    left, right = min(xs), max(xs)
    overflows = []
    for text in legend.iter(SVG + "text"):
        width = EM_PER_CHARACTER * float(text.get("font-size")) * len(text.text or "")
        x = float(text.get("x"))
        start = {"start": x, "middle": x - width / 2, "end": x - width}[text.get("text-anchor")]
        if start < left or start + width > right:
            overflows.append(f"{text.text!r}: {start:.0f}..{start + width:.0f} "
                             f"outside {left:.0f}..{right:.0f}")
    return overflows


@pytest.mark.parametrize("case", ["ops recorded", "ops not recorded", "one value", "no grads"])
def test_the_gradient_legend_text_stays_inside_its_box_in_svg(case):
    tg.manual_seed(0)
    model = mlp(2, 3, 1)
    loss = model(tg.ones(4, 2)).sigmoid().sum()
    if case == "ops recorded":
        with tg.viz.record_gradients():
            loss.backward()
    elif case in ("ops not recorded", "one value"):
        loss.backward()
    root = loss if case != "one value" else (model[0].bias * 2).sum()
    svg = tg.viz.draw_graph(root, model, show_grads=True).pipe(format="svg")
    assert legend_overflows(svg) == []


def test_the_readme_picture_is_a_gradient_flow_whose_legend_fits():
    svg = README_SVG.read_text(encoding="utf-8")
    assert legend_overflows(svg) == []
    assert "0.weight" in svg and "|grad|" in svg and "0: Linear(2→4)" in svg
