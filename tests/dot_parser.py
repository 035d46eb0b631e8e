"""A small DOT reader for the tests: nodes, edges and (nested) clusters of a graph's source.

It reads the subset of DOT that graphviz.Digraph and tg.viz write: statements
`id [attrs]`, `a -> b [attrs]`, `graph|node|edge [attrs]`, `key=value`, and
`subgraph name { ... }`, with quoted strings, HTML-like labels and comments.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r'''
    (?P<space>\s+|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<arrow>->)
  | (?P<symbol>[{}\[\]=;,])
  | (?P<html><)
  | (?P<id>[^\s{}\[\]=;,"<>]+)
''', re.VERBOSE)


@dataclass
class Cluster:
    name: str
    attrs: dict = field(default_factory=dict)
    parent: str | None = None
    nodes: set = field(default_factory=set)  # every node inside, nested clusters included


@dataclass
class Dot:
    nodes: dict = field(default_factory=dict)         # id -> attrs (label lines split on \n)
    edges: list = field(default_factory=list)         # (tail, head, attrs)
    clusters: dict = field(default_factory=dict)      # name -> Cluster
    node_cluster: dict = field(default_factory=dict)  # id -> innermost cluster name or None

    def classes(self, node: str) -> set:
        return set(self.nodes[node].get("class", "").split())

    def label(self, node: str) -> list[str]:
        return self.nodes[node].get("label", node).split("\n")

    def of_class(self, css: str) -> list[str]:
        return [n for n in self.nodes if css in self.classes(n)]


def _tokens(text: str) -> list[str]:
    out, i = [], 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        if m is None:
            raise ValueError(f"cannot read DOT at {text[i:i + 40]!r}")
        kind = m.lastgroup
        if kind == "html":  # <...> with nested angle brackets
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(text[i:j])
            i = j
            continue
        if kind != "space":
            out.append(m.group())
        i = m.end()
    return out


def _value(token: str) -> str:
    if token.startswith('"'):
        body = token[1:-1]
        return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), body)
    return token


def parse(source: str) -> Dot:
    """Read DOT source into nodes, edges and clusters."""
    tokens = _tokens(source)
    dot = Dot()
    pos = 0

    def attr_list() -> dict:
        nonlocal pos
        attrs = {}
        while pos < len(tokens) and tokens[pos] == "[":
            pos += 1
            while tokens[pos] != "]":
                key = tokens[pos]
                assert tokens[pos + 1] == "=", tokens[pos:pos + 3]
                attrs[key] = _value(tokens[pos + 2])
                pos += 3
                if tokens[pos] in (",", ";"):
                    pos += 1
            pos += 1
        return attrs

    def body(stack: list[str]) -> None:
        nonlocal pos
        assert tokens[pos] == "{"
        pos += 1
        while tokens[pos] != "}":
            tok = tokens[pos]
            if tok == ";":
                pos += 1
            elif tok == "subgraph":
                pos += 1
                name = tokens[pos] if tokens[pos] != "{" else f"_anon{pos}"
                if tokens[pos] != "{":
                    pos += 1
                dot.clusters[name] = Cluster(name, parent=stack[-1] if stack else None)
                body(stack + [name])
            elif tok in ("graph", "node", "edge"):
                pos += 1
                attrs = attr_list()
                if tok == "graph" and stack:
                    dot.clusters[stack[-1]].attrs.update(attrs)
            elif tokens[pos + 1] == "=":
                if stack:
                    dot.clusters[stack[-1]].attrs[tok] = _value(tokens[pos + 2])
                pos += 3
            elif tokens[pos + 1] == "->":
                tail, head = _value(tok), _value(tokens[pos + 2])
                pos += 3
                dot.edges.append((tail, head, attr_list()))
            else:
                node = _value(tok)
                pos += 1
                attrs = attr_list()
                if node not in dot.nodes:
                    dot.node_cluster[node] = stack[-1] if stack else None
                    for name in stack:
                        dot.clusters[name].nodes.add(node)
                dot.nodes.setdefault(node, {}).update(attrs)
        pos += 1

    while tokens[pos] != "{":
        pos += 1
    body([])
    return dot
