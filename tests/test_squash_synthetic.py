"""squashmigrations on small synthetic components with cross-component dependencies: rewiring,
cycles refused by name, data revisions kept or elided, a squash squashed again, --cleanup."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from support.databases import sqlite_url_for
from support.inspect import version_rows
from support.projects import make_project, write_pyproject
from support.revisions import create_table, new_id, write_revision
from support.running import call, migrate, shown

from memstack.core.errors import MemstackError
from memstack.engine.tree.loader import parse_revision_file
from memstack.testing.snapshot import describe_difference, take_snapshot


def catalog(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        return take_snapshot(engine)
    finally:
        engine.dispose()


class Tree:
    """Two components of the test's own: ``a`` (A1..A4) and ``b`` (B1..B2, B1 depends on A2)."""

    def __init__(self, make_component: Callable[..., str], root: Path, *, a3_needs_b1: bool = False,
                 a2_body: str = "", a2_module: str = "") -> None:
        self.project = make_project(root, copy_folders=False)
        (self.project / "templates").symlink_to(Path(__file__).resolve().parents[1] / "templates")
        self.a, self.b = make_component({}, prefix="sqa"), make_component({}, prefix="sqb")
        write_pyproject(self.project, [self.a, self.b])
        self.ids: dict[str, str] = {}
        for name in ("A1", "A2", "A3", "A4", "B1", "B2"):
            self.ids[name] = new_id()
        self._a(1, None, create_table(f"{self.a}_t1"), f"op.drop_table('{self.a}_t1')")
        self._a(2, "A1", create_table(f"{self.a}_t2") + "\n" + a2_body.replace("{a}", self.a),
                f"op.drop_table('{self.a}_t2')",
                module=a2_module)
        self._a(3, "A2", f"op.add_column('{self.a}_t1', sa.Column('note', sa.String(20), nullable=True))",
                f"with op.batch_alter_table('{self.a}_t1') as batch:\n    batch.drop_column('note')",
                depends_on=self.ids["B1"] if a3_needs_b1 else None)
        self._a(4, "A3", f"op.create_index('ix_{self.a}_t2_id', '{self.a}_t2', ['id'])",
                f"op.drop_index('ix_{self.a}_t2_id', table_name='{self.a}_t2')")
        folder = self.project / "migrations" / self.b
        write_revision(folder, "0001_b1", self.ids["B1"], None, branch_labels=(self.b,), depends_on=self.ids["A2"],
                       upgrade=create_table(f"{self.b}_t1"), downgrade=f"op.drop_table('{self.b}_t1')")
        write_revision(folder, "0002_b2", self.ids["B2"], self.ids["B1"],
                       upgrade=create_table(f"{self.b}_t2"), downgrade=f"op.drop_table('{self.b}_t2')")

    def _a(self, number: int, down: str | None, upgrade: str, downgrade: str, *, module: str = "",
           depends_on: str | None = None) -> None:
        write_revision(self.project / "migrations" / self.a, f"{number:04d}_a{number}", self.ids[f"A{number}"],
                       self.ids[down] if down else None, branch_labels=(self.a,) if number == 1 else None,
                       upgrade=upgrade, downgrade=downgrade, module=module, depends_on=depends_on)

    def files(self, label: str) -> list[str]:
        return sorted(p.name for p in (self.project / "migrations" / label).glob("*.py"))

    def squash(self, *args: str, **options: Any) -> dict[str, Any]:
        return json.loads(call(self.project, None, "squashmigrations", self.a, *args, json=True, samples=4,
                               **options).out)


def test_dependents_are_rewired_and_every_database_reaches_the_same_schema(make_component: Callable[..., str],
                                                                           tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project")
    urls = {name: sqlite_url_for(tmp_path, f"{name}.db") for name in ("old", "fresh", "A1", "A2", "A3", "B1")}
    migrate(tree.project, urls["old"])
    expected = catalog(urls["old"])
    for number in ("A1", "A2", "A3"):
        migrate(tree.project, urls[number], tree.a, number[1])
    migrate(tree.project, urls["B1"], tree.b, "0001")  # A1, A2 and B1
    report = tree.squash("0003")
    squash = report["squashes"][0]
    assert squash["replaces"] == [f"{tree.a} 0001_a1", f"{tree.a} 0002_a2", f"{tree.a} 0003_a3"]
    assert all(p["agrees"] for p in report["proof"])

    from memstack.engine.workspace import Workspace

    graph = Workspace.load(project_dir=tree.project).loaded_tree.graph
    assert graph.get(tree.ids["B1"]).depends_on == (squash["revision"],)  # B1 needed A2: now the squash
    assert graph.get(tree.ids["A4"]).down_revisions == (squash["revision"],)

    steps = migrate(tree.project, urls["fresh"]).steps()
    assert [s[2] for s in steps if s[1] == tree.a] == [squash["name"], "0004_a4"]
    for name, url in urls.items():
        if name not in ("old", "fresh"):
            migrate(tree.project, url)
        assert describe_difference(expected, catalog(url)) == [], name
        assert all(shown(tree.project, url).values()), name


def test_a_cycle_is_refused_by_name_with_the_largest_end_that_works(make_component: Callable[..., str],
                                                                     tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project", a3_needs_b1=True)
    before = tree.files(tree.a)
    with pytest.raises(MemstackError) as refused:
        call(tree.project, None, "squashmigrations", tree.a, "0004")
    message = str(refused.value.message)
    assert "dependency cycle" in message and f"{tree.b} 0001_b1" in message
    assert f"squash up to {tree.a} 0002_a2" in str(refused.value.hint)
    assert tree.files(tree.a) == before
    tree.squash("0002")  # the offered END works


def test_a_data_revision_is_kept_between_squashes(make_component: Callable[..., str], tmp_path: Path) -> None:
    body = "op.execute(\"INSERT INTO {a}_t1 (id) VALUES (1)\")"
    tree = Tree(make_component, tmp_path / "project", a2_body=body)
    report = tree.squash("0004")
    assert list(report["kept_data_revisions"]) == [f"{tree.a} 0002_a2"]
    assert [s["replaces"] for s in report["squashes"]] == [[f"{tree.a} 0003_a3", f"{tree.a} 0004_a4"]]
    url = sqlite_url_for(tmp_path)
    steps = [s[2] for s in migrate(tree.project, url).steps() if s[1] == tree.a]
    assert steps == ["0001_a1", "0002_a2", report["squashes"][0]["name"]]


def test_an_elidable_data_revision_is_squashed_away(make_component: Callable[..., str], tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project", a2_body="op.execute(\"UPDATE {a}_t1 SET id = id\")",
                a2_module="elidable = True  # a backfill new databases do not need\n")
    report = tree.squash("0004")
    assert report["elided"] == [f"{tree.a} 0002_a2"]
    assert len(report["squashes"]) == 1 and len(report["squashes"][0]["replaces"]) == 4


def test_a_squash_is_squashed_again_and_cleaned_up(make_component: Callable[..., str], tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project")
    behind, past = sqlite_url_for(tmp_path, "behind.db"), sqlite_url_for(tmp_path, "past.db")
    migrate(tree.project, behind, tree.a, "0002")
    migrate(tree.project, past)
    expected = catalog(past)
    first = tree.squash("0003")["squashes"][0]
    second = tree.squash("0004")["squashes"][0]
    assert second["replaces"] == [f"{tree.a} {first['name']}", f"{tree.a} 0004_a4"]
    fresh = sqlite_url_for(tmp_path, "fresh.db")
    assert [s[2] for s in migrate(tree.project, fresh).steps() if s[1] == tree.a] == [second["name"]]

    with pytest.raises(MemstackError, match="not past") as refused:
        call(tree.project, None, "squashmigrations", tree.a, cleanup=True, database_url=(behind, past))
    assert "behind.db" in refused.value.message and "past.db" not in refused.value.message
    migrate(tree.project, behind)
    call(tree.project, None, "squashmigrations", tree.a, cleanup=True, database_url=(behind, past, fresh))
    assert tree.files(tree.a) == [f"{second['name']}.py"]
    squash_file = tree.project / "migrations" / tree.a / f"{second['name']}.py"
    assert parse_revision_file(squash_file).replaces == ()
    assert tree.ids["A4"] not in version_rows(past)
    for url in (behind, past, fresh):
        assert migrate(tree.project, url).steps() == []
        assert describe_difference(expected, catalog(url)) == []
    again = sqlite_url_for(tmp_path, "again.db")
    migrate(tree.project, again)
    assert describe_difference(expected, catalog(again)) == []
