"""What plain Alembic reads from a squashed folder WITHOUT memstack's env.py (``alembic heads``,
``branches``, ``history``): one head and one base per component in every shape, while the replaced
files stay. Read here through Alembic's own ``ScriptDirectory`` (what ``alembic heads`` calls, in
this process); ``test_squash_alembic.py`` runs the real ``alembic`` command."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from support.databases import sqlite_url_for
from support.projects import make_project
from support.revisions import create_table, new_id, write_revision
from support.running import call, cli, migrate
from test_squash_synthetic import Tree

from memstack.engine.tree.loader import parse_revision_file
from memstack.engine.workspace import Workspace


def plain_alembic(project: Path, labels: list[str]) -> ScriptDirectory:
    """The folder as ``alembic heads`` reads it: files imported as written, no env.py."""
    folder = project / "migrations"
    return ScriptDirectory(str(folder), version_locations=[str(folder / label) for label in labels])


def heads_and_bases(project: Path, label: str, labels: list[str]) -> tuple[list[str], list[str]]:
    """The heads and bases Alembic finds among ``label``'s files."""
    script = plain_alembic(project, labels)
    mine = {parse_revision_file(p).revision for p in (project / "migrations" / label).glob("[0-9]*.py")}
    heads = [h for h in script.get_heads() if h in mine]
    bases = [b for b in script.get_bases() if b in mine]
    assert len(list(script.walk_revisions())) > 0  # the whole map reads: no cycle, no missing revision
    return heads, bases


def memstack_heads(project: Path, label: str) -> list[str]:
    return [r.id for r in Workspace.load(project_dir=project).loaded_tree.graph.heads(label)]


def test_revisions_after_the_range_and_a_squash_of_a_squash(make_component: Callable[..., str],
                                                            tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project")
    labels = [tree.a, tree.b]
    first = tree.squash("0002")["squashes"][0]  # A3 and A4 follow the range and still name A2
    assert heads_and_bases(tree.project, tree.a, labels) == ([first["revision"]], [tree.ids["A1"]])
    assert memstack_heads(tree.project, tree.a) == [tree.ids["A4"]]  # memstack's own view is unchanged
    second = tree.squash("0003")["squashes"][0]  # the squash, A3: the inner squash must not stay a head
    assert heads_and_bases(tree.project, tree.a, labels) == ([second["revision"]], [tree.ids["A1"]])

    # a revision written after the squash builds on memstack's head (A4): the squashes move after it
    a5 = new_id()
    write_revision(tree.project / "migrations" / tree.a, "0005_a5", a5, tree.ids["A4"],
                   upgrade=create_table(f"{tree.a}_t5"), downgrade=f"op.drop_table('{tree.a}_t5')")
    assert heads_and_bases(tree.project, tree.a, labels)[0] == [second["revision"]]
    url = sqlite_url_for(tmp_path)
    migrate(tree.project, url)
    call(tree.project, None, "squashmigrations", tree.a, cleanup=True, database_url=(url,))
    heads, bases = heads_and_bases(tree.project, tree.a, labels)
    assert heads == [a5] and bases == [second["revision"]]
    assert "alembic_placement" not in (tree.project / "migrations" / tree.a / f"{second['name']}.py").read_text()


def test_a_kept_data_revision_between_squashes(make_component: Callable[..., str], tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project")
    a5, a6 = new_id(), new_id()
    folder = tree.project / "migrations" / tree.a
    write_revision(folder, "0005_a5", a5, tree.ids["A4"], upgrade=f"op.execute(\"INSERT INTO {tree.a}_t1 (id) "
                   "VALUES (5)\")", downgrade="pass")
    write_revision(folder, "0006_a6", a6, a5, upgrade=create_table(f"{tree.a}_t6"),
                   downgrade=f"op.drop_table('{tree.a}_t6')")
    report = json.loads(call(tree.project, None, "squashmigrations", tree.a, "0006", json=True, samples=2).out)
    assert [len(s["replaces"]) for s in report["squashes"]] == [4]  # A1..A4, A5 kept, A6 alone stays
    heads, bases = heads_and_bases(tree.project, tree.a, [tree.a, tree.b])
    assert heads == [report["squashes"][0]["revision"]] and bases == [tree.ids["A1"]]


def test_the_memstack_tree_squashed_part_way(tmp_path: Path) -> None:
    """task 0001..0002 of MemStack's tree: 0003 and 0004 still name 0001, 0005 names 0002."""
    project = make_project(tmp_path / "project")
    labels = [p.name for p in sorted((project / "migrations").iterdir()) if p.is_dir() and p.name != "__pycache__"]
    before = plain_alembic(project, labels).get_heads()
    call(project, None, "squashmigrations", "task", "0001", "0002", samples=0)
    after = plain_alembic(project, labels).get_heads()
    assert len(after) == len(before)
    heads, bases = heads_and_bases(project, "task", labels)
    assert len(heads) == 1 and len(bases) == 1


def test_check_warns_about_a_squash_plain_alembic_reads_as_a_second_head(make_component: Callable[..., str],
                                                                         tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A squash whose down_revision is a literal (by hand, or by an older memstack) beside revisions that
    followed its range: ``manage.py check`` says so, with the line to write."""
    tree = Tree(make_component, tmp_path / "project")
    first = tree.squash("0002")["squashes"][0]

    def warnings() -> list[dict[str, str]]:
        report = json.loads(cli(capsys, monkeypatch, tree.project, None, "check", "--json").out)
        return [p for p in report["problems"] if p["kind"] == "alembic_heads"]

    assert warnings() == []
    path = tree.project / "migrations" / tree.a / f"{first['name']}.py"
    text = path.read_text()
    path.write_text(text.replace("alembic_down_revision(__file__)", repr(tree.ids["A2"])))
    assert len(heads_and_bases(tree.project, tree.a, [tree.a, tree.b])[0]) == 2  # what the warning is about
    found = warnings()
    assert len(found) == 1 and found[0]["severity"] == "warning" and "2 heads" in found[0]["message"]
    assert "alembic_down_revision(__file__)" in found[0]["fix"] and "--cleanup" in found[0]["fix"]
