"""The revision graph as a picture: Graphviz dot, Mermaid, or plain text.

One lane per component (a dot cluster, a Mermaid subgraph, a text block), down_revision edges
inside a lane, cross-component ``depends_on`` edges dashed between lanes, merge revisions drawn
as such, applied revisions filled. Pure: the caller passes the graph and the applied ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from memstack.engine.tree.graph import MigrationGraph, Revision

GRAPH_FORMATS = ("text", "dot", "mermaid")


def _lanes(graph: MigrationGraph, components: Sequence[str]) -> list[tuple[str, list[Revision]]]:
    labels = list(components) or list(dict.fromkeys(r.component for r in graph.revisions.values()))
    return [(label, graph.sorted_revisions(graph.of_component(label))) for label in labels]


def _node(rev: Revision) -> str:
    return f"r_{rev.id}"


def _edges(graph: MigrationGraph, shown: set[str]) -> list[tuple[Revision, Revision, bool]]:
    """(parent, child, cross_component) for every edge between shown revisions."""
    found = []
    for rid in sorted(shown):
        child = graph.get(rid)
        for parent_id in child.parents:
            if parent_id in shown:
                found.append((graph.get(parent_id), child, parent_id in child.depends_on))
    return found


def render_dot(graph: MigrationGraph, applied: Iterable[str], components: Sequence[str] = ()) -> str:
    done = set(applied)
    lines = ["digraph revisions {", '  graph [rankdir=TB, fontname="Helvetica", label="Revision graph"];',
             '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
             '  edge [color="#555555", fontname="Helvetica", fontsize=9];']
    shown: set[str] = set()
    for label, revisions in _lanes(graph, components):
        lines += [f'  subgraph "cluster_{label}" {{', f'    label="{label}"; style=rounded; color="#4a6fa5";']
        for rev in revisions:
            shown.add(rev.id)
            attrs = [f'label="{rev.name}\\n{rev.id}{" (merge)" if rev.is_merge else ""}"']
            if rev.is_merge:
                attrs.append("shape=diamond")
            attrs.append('style="rounded,filled", fillcolor="#b7e1a1"' if rev.id in done else 'style="rounded"')
            lines.append(f"    {_node(rev)} [{', '.join(attrs)}];")
        lines.append("  }")
    for parent, child, cross in _edges(graph, shown):
        style = ' [style=dashed, color="#b03a2e", label="depends on"]' if cross else ""
        lines.append(f"  {_node(parent)} -> {_node(child)}{style};")
    lines.append('  legend [shape=note, label="filled: applied\\ndiamond: merge\\ndashed: depends on"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_mermaid(graph: MigrationGraph, applied: Iterable[str], components: Sequence[str] = ()) -> str:
    done = set(applied)
    lines = ["flowchart TB"]
    shown: set[str] = set()
    for label, revisions in _lanes(graph, components):
        lines.append(f"  subgraph {label}")
        for rev in revisions:
            shown.add(rev.id)
            text = f"{rev.name}<br/>{rev.id}{' merge' if rev.is_merge else ''}"
            lines.append(f'    {_node(rev)}{{{{"{text}"}}}}' if rev.is_merge else f'    {_node(rev)}["{text}"]')
        lines.append("  end")
    for parent, child, cross in _edges(graph, shown):
        lines.append(f"  {_node(parent)} {'-. depends on .->' if cross else '-->'} {_node(child)}")
    applied_nodes = [_node(graph.get(rid)) for rid in sorted(shown & done)]
    lines.append("  classDef applied fill:#b7e1a1,stroke:#3c763d")
    if applied_nodes:
        lines.append(f"  class {','.join(applied_nodes)} applied")
    return "\n".join(lines) + "\n"


def render_text(graph: MigrationGraph, applied: Iterable[str], components: Sequence[str] = ()) -> str:
    """One block per component: each revision with [X]/[ ], what it builds on, merges and dependencies."""
    done = set(applied)
    lines = []
    for label, revisions in _lanes(graph, components):
        lines.append(f"{label}")
        for rev in revisions:
            mark = "[X]" if rev.id in done else "[ ]"
            notes = []
            if rev.is_merge:
                notes.append("merge of " + ", ".join(graph.get(p).name for p in rev.down_revisions if p in graph))
            elif rev.down_revisions:
                notes.append("after " + ", ".join(graph.get(p).name for p in rev.down_revisions if p in graph))
            deps = [graph.get(d).label if d in graph else d for d in rev.depends_on]
            if deps:
                notes.append("depends on " + ", ".join(deps))
            lines.append(f"  {mark} {rev.name}" + (f"  ({'; '.join(notes)})" if notes else ""))
        lines.append("")
    lines.append("[X] applied  [ ] pending")
    return "\n".join(lines) + "\n"


def render_graph(graph: MigrationGraph, applied: Iterable[str], output_format: str,
                 components: Sequence[str] = ()) -> str:
    renderers = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid}
    return renderers[output_format](graph, applied, components)
