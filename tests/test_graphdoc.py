"""showmigrations --graph (issue 15, item 2): the revision graph of our tree as text, Graphviz dot and
Mermaid: one lane per component, cross-component dependencies and merges drawn, applied revisions marked.

Layers: pure (engine/graphdoc.py over the committed tree's graph) and call_command / a subprocess.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from support.revisions import load_graph, revision_id
from support.running import call, manage, ok

from memstack.engine.review.graphdoc import render_graph

LABELS = ("auth", "tenant", "project", "memory", "ontology", "memo", "task")
AUTH_FK = revision_id("auth", "0002")
TENANT_INITIAL = revision_id("tenant", "0001")
TASK_MERGE = revision_id("task", "0005")


def test_dot_has_one_cluster_per_component_and_graphviz_parses_it(project: Path) -> None:
    graph = load_graph(project)
    source = render_graph(graph, set(), "dot")
    for label in LABELS:
        assert f'subgraph "cluster_{label}"' in source
    assert f"r_{TENANT_INITIAL} -> r_{AUTH_FK} [style=dashed" in source  # cross-component dependency
    assert f"r_{TASK_MERGE} [" in source and "shape=diamond" in source  # the merge
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz; .ci/run installs it)")
    done = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_dot_marks_applied_revisions(project: Path) -> None:
    graph = load_graph(project)
    source = render_graph(graph, {AUTH_FK}, "dot")
    applied = [line for line in source.splitlines() if "fillcolor" in line]
    assert len(applied) == 1 and f"r_{AUTH_FK} " in applied[0]


def test_mermaid_lanes_edges_and_applied_class(project: Path) -> None:
    graph = load_graph(project)
    source = render_graph(graph, {AUTH_FK, TENANT_INITIAL}, "mermaid")
    lines = source.splitlines()
    assert lines[0] == "flowchart TB"
    assert [line.strip() for line in lines if line.strip().startswith("subgraph ")] == [
        f"subgraph {label}" for label in LABELS]
    assert lines.count("  end") == len(LABELS)
    assert f"  r_{TENANT_INITIAL} -. depends on .-> r_{AUTH_FK}" in lines
    assert f"  r_{revision_id('task', '0002')} --> r_{TASK_MERGE}" in lines
    assert any(line.strip().startswith(f"r_{TASK_MERGE}{{{{") for line in lines)  # merge as a hexagon
    assert f"  class r_{TENANT_INITIAL},r_{AUTH_FK} applied" in lines or \
        f"  class r_{AUTH_FK},r_{TENANT_INITIAL} applied" in lines


def test_text_lanes(project: Path) -> None:
    graph = load_graph(project)
    text = render_graph(graph, {AUTH_FK}, "text")
    assert "  [X] 0002_add_user_roles_fk  (after 0001_initial; depends on tenant 0001_initial)" in text
    assert "  [ ] 0005_merge_legacy_task_columns  (merge of 0002_add_progress, 0003_add_result, 0004_add_message)" \
        in text
    assert [line for line in text.splitlines() if line in LABELS] == list(LABELS)


@pytest.mark.parametrize("graph_format", ["text", "dot", "mermaid"])
def test_command_marks_what_the_database_holds(project: Path, migrated_sqlite_url: str,
                                               tmp_path: Path, graph_format: str) -> None:
    applied = call(project, migrated_sqlite_url, "showmigrations", graph=True, format=graph_format).out
    empty = call(project, f"sqlite:///{tmp_path / 'empty.db'}", "showmigrations", graph=True,
                 format=graph_format).out
    marker = {"text": "  [X] 0", "dot": "fillcolor", "mermaid": " applied"}[graph_format]
    assert marker in applied
    assert (marker not in empty) if graph_format != "mermaid" else ("class r_" not in empty)


def test_command_limits_lanes_to_named_components(project: Path, migrated_sqlite_url: str) -> None:
    text = call(project, migrated_sqlite_url, "showmigrations", "task", graph=True).out
    assert text.splitlines()[0] == "task" and "auth" not in text.splitlines()


def test_subprocess_dot_output(project: Path, migrated_sqlite_url: str) -> None:
    result = ok(manage(project, migrated_sqlite_url, "showmigrations", "--graph", "--format", "dot"))
    assert result.out.startswith("digraph revisions {")


def test_plain_showmigrations_is_unchanged(project: Path, migrated_sqlite_url: str) -> None:
    out = call(project, migrated_sqlite_url, "showmigrations", "task").out
    assert out.splitlines()[:2] == ["task", "  [X] 0001_initial"]
