"""DOT text for tg.viz: node styles, one drawn item, and the lines that write them."""
from __future__ import annotations

from typing import Any

OP = {"shape": "box", "style": "rounded,filled", "fillcolor": "#f2f2f2", "color": "#8c8c8c"}
PARAM = {"shape": "box", "style": "filled", "fillcolor": "#cfe2f3", "color": "#3d85c6",
         "penwidth": "1.5"}
CONST = {"shape": "box", "style": "dashed", "color": "#a6a6a6", "fontcolor": "#666666",
         "fontsize": "9"}
BOX = {"shape": "box3d", "style": "filled", "fillcolor": "#fff2cc", "color": "#bf9000"}
OUTPUT = {"color": "#38761d", "penwidth": "2.5"}
OUTPUT_FILL = "#d9ead3"
HIGHLIGHT = {"color": "#cc0000", "penwidth": "3.5", "fillcolor": "#f4cccc", "fontcolor": "black"}
CLUSTER = {"style": "rounded", "color": "#b7b7b7", "fontcolor": "#555555", "fontsize": "10",
           "labeljust": "l"}


class Item:
    """One drawn box: its DOT id, label lines, attributes, classes and enclosing cluster."""

    __slots__ = ("key", "lines", "attrs", "classes", "cluster", "own")

    def __init__(self, key: str, lines: list[str], attrs: dict, classes: list[str],
                 cluster: Any) -> None:
        self.key, self.lines, self.attrs, self.classes, self.cluster = (
            key, lines, attrs, classes, cluster)
        self.own = False  # attrs is a shared style until the first set()

    def set(self, **attrs: str) -> None:
        """Override attributes of this item only (copy-on-write of the shared style)."""
        if not self.own:
            self.attrs, self.own = dict(self.attrs), True
        self.attrs.update(attrs)


def escape(text: str) -> str:
    """Text for a quoted DOT string: backslashes and quotes escaped."""
    text = str(text)
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def attr_text(attrs: dict) -> str:
    return " ".join(f'{k}="{escape(v)}"' for k, v in attrs.items())


_STYLE_TEXT = {id(style): attr_text(style) for style in (OP, PARAM, CONST, BOX)}


def node_line(item: Item) -> str:
    label = "\\n".join(escape(line) for line in item.lines)
    style = attr_text(item.attrs) if item.own else _STYLE_TEXT[id(item.attrs)]
    return f'{item.key} [label="{label}" {style} class="{" ".join(item.classes)}"]\n'


def cluster_lines(entry: Any, by_cluster: dict, indent: str) -> list[str]:
    """A module's cluster with its items and its children's clusters (empty ones omitted)."""
    inner = [indent + "\t" + node_line(item) for item in by_cluster.get(entry, [])]
    for child in entry.children:
        inner.extend(cluster_lines(child, by_cluster, indent + "\t"))
    if not inner:
        return []
    attrs = {**CLUSTER, "label": entry.label(), "class": "module-cluster"}
    head = [f"{indent}subgraph {entry.key} {{\n"]
    head.append(f"{indent}\tgraph [{attr_text(attrs)}]\n")
    return head + inner + [f"{indent}}}\n"]
