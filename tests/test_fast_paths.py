"""The fast paths are caches, and a cache never gives a wrong answer.

The no-op digest (engine/records/status.py) must be used when nothing changed (the graph is not
even built) and must be distrusted after an edited file, a branch switch, a deleted row,
another process's work or a hand-made change. Version rows kept step by step
(engine/run/steps.py) must always equal the full computation. SQLite and PostgreSQL.
"""

from __future__ import annotations

import ast
import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.databases import execute, query
from support.inspect import version_rows
from support.revisions import new_id, write_revision

import memstack
from memstack.core.errors import MemstackError
from memstack.engine import workspace
from memstack.engine.migrate import migrate
from memstack.engine.records.status import read_status
from memstack.engine.run.steps import VersionRows
from memstack.engine.tree import index, loader
from memstack.engine.tree.graph import MigrationGraph, Revision
from memstack.engine.workspace import Workspace


@pytest.fixture
def graph_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often a workspace built its graph (the fast path must not)."""
    calls: list[int] = []
    real = workspace.load_tree

    def counting(*args: object, **kwargs: object) -> loader.LoadedTree:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(workspace, "load_tree", counting)
    return calls


def memo_folder(project: Path) -> Path:
    return project / "migrations" / "memo"


def add_memo_revision(project: Path, name: str = "0099_extra") -> str:
    folder = memo_folder(project)
    head = [parsed for parsed in loader.read_headers(folder)]
    down = {h.revision for h in head} - {d for h in head for d in h.down_revision}
    rid = new_id()
    write_revision(folder, name, rid, sorted(down)[0], upgrade='op.create_table("fast_extra", '
                   'sa.Column("id", sa.Integer(), primary_key=True))', downgrade='op.drop_table("fast_extra")')
    return rid


def test_noop_start_does_not_build_the_graph(project: Path, db_url_no_mariadb: str, graph_builds: list[int]) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    assert query(url, "SELECT value FROM memstack_meta WHERE key = 'noop_fingerprint'")
    graph_builds.clear()
    result = memstack.migrate_on_startup(url, project_dir=project)
    assert not result.changed and not result.pending
    with Workspace.load(project_dir=project, database_url=url) as ws:
        assert migrate(ws) == []
    assert graph_builds == []


#: what a no-op ``manage.py migrate`` never imports: it reads the database's status (one query) and stops
NOOP_NEVER_IMPORTS = ("alembic", "getpass", "jinja2", "memstack.cli.reporting", "memstack.engine.migrate",
                      "memstack.engine.run", "memstack.engine.tree.graph", "memstack.engine.tree.loader",
                      "memstack.engine.tree.planner")


def test_noop_migrate_imports_only_the_status_read(project: Path, db_url_no_mariadb: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    # files written this second are read again (the index's racy window): trusted at once here, as later in life
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)
    memstack.migrate_on_startup(url, project_dir=project)
    script = ("import sys\nfrom memstack.engine.tree import index\nindex.RACY_WINDOW_NS = -10**12\n"
              "from memstack.cli import main\ntry:\n"
              f"    main(['--project-dir', {str(project)!r}, '--database-url', {url!r}, 'migrate'])\n"
              "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
              "print(sorted(sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert "No migrations to apply." in done.stdout + done.stderr
    modules = ast.literal_eval(done.stderr.strip().splitlines()[-1])
    assert "memstack.engine.records.status" in modules
    assert [m for m in modules if m.startswith(NOOP_NEVER_IMPORTS)] == []


def test_edited_applied_file_is_caught(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    path = next(memo_folder(project).glob("0001_*.py"))
    path.write_text(path.read_text() + "\n\nEXTRA_CODE = 1\n")
    with pytest.raises(MemstackError, match="0001_initial"):
        memstack.migrate_on_startup(url, project_dir=project)
    with Workspace.load(project_dir=project, database_url=url) as ws, pytest.raises(MemstackError):
        migrate(ws)


def test_switched_branch_applies_the_new_revision(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    rid = add_memo_revision(project)
    result = memstack.migrate_on_startup(url, project_dir=project)
    assert [label.split()[-1] for label in result.applied] == ["0099_extra"]
    assert rid in version_rows(url)


def test_deleted_row_falls_back_to_the_full_path(project: Path, db_url_no_mariadb: str,
                                                  graph_builds: list[int]) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    execute(url, "DELETE FROM memstack_meta WHERE key = 'noop_fingerprint'")
    graph_builds.clear()
    memstack.migrate_on_startup(url, project_dir=project)
    assert graph_builds == [1]
    assert query(url, "SELECT value FROM memstack_meta WHERE key = 'noop_fingerprint'")  # written again


def test_another_process_applied_a_revision(project: Path, tmp_path: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    newer = tmp_path / "newer"
    shutil.copytree(project, newer)
    rid = add_memo_revision(newer)
    memstack.migrate_on_startup(url, project_dir=newer)  # the newer release, in another process
    result = memstack.migrate_on_startup(url, project_dir=project)
    assert result.ahead == [rid]


@pytest.mark.parametrize("change", [
    "DELETE FROM alembic_version",  # plain alembic downgrade base, or a hand edit
    "UPDATE memstack_applied SET checksum = 'x'",
    "UPDATE memstack_applied SET verified = 0",
])
def test_hand_made_changes_are_caught(project: Path, sqlite_url: str, change: str,
                                      graph_builds: list[int]) -> None:
    memstack.migrate_on_startup(sqlite_url, project_dir=project)
    execute(sqlite_url, change)
    graph_builds.clear()
    with Workspace.load(project_dir=project, database_url=sqlite_url) as ws:
        assert not read_status(ws, trust_digest=True).digest_current
    try:
        memstack.migrate_on_startup(sqlite_url, project_dir=project)
    except MemstackError:
        pass
    assert graph_builds  # the full path ran and said what it says


def test_failure_mark_is_caught(project: Path, sqlite_url: str) -> None:
    memstack.migrate_on_startup(sqlite_url, project_dir=project)
    execute(sqlite_url, "INSERT INTO memstack_marks (revision, component, name, direction, state, started_at, pid) "
            "VALUES ('x', 'memo', '0001_initial', 'up', 'failed', '2026-01-01 00:00:00', 1)")
    with pytest.raises(MemstackError):
        memstack.migrate_on_startup(sqlite_url, project_dir=project)


def test_no_fingerprint_on_a_fresh_or_partial_database(project: Path, sqlite_url: str) -> None:
    with Workspace.load(project_dir=project, database_url=sqlite_url) as ws:
        assert not read_status(ws, trust_digest=True).digest_current  # the file does not even exist
        migrate(ws, "memo")  # one component only: not "everything applied"
        assert not read_status(ws, trust_digest=True).digest_current
    assert not query(sqlite_url, "SELECT value FROM memstack_meta WHERE key = 'noop_fingerprint'")


def test_index_keeps_atomic_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)
    folder = tmp_path / "c"
    write_revision(folder, "0001_x", "a" * 12, None, branch_labels=("c",), module="atomic = False")
    for _ in range(2):  # parsed, then from the index
        (header,) = loader.read_headers(folder)
        assert header.atomic is False


# --------------------------------------------------------------------------- version rows, pure


def diamond() -> MigrationGraph:
    """a <- b, a <- c, (b, c) <- d, d <- e; x <- y in another component, y depends on b."""
    graph = MigrationGraph(component_order=["one", "two"])
    for rid, downs, deps, component in [("a", (), (), "one"), ("b", ("a",), (), "one"), ("c", ("a",), (), "one"),
                                        ("d", ("b", "c"), (), "one"), ("e", ("d",), (), "one"),
                                        ("x", (), (), "two"), ("y", ("x",), ("b",), "two")]:
        graph.add(Revision(id=rid, component=component, name=f"0001_{rid}", down_revisions=downs, depends_on=deps))
    return graph


def test_version_rows_match_the_full_computation_step_by_step() -> None:
    graph = diamond()
    order = graph.toposort(set(graph.revisions))
    rows = VersionRows(graph, set())
    applied: set[str] = set()
    for rid in order:  # every revision up, then every one down again
        gone, added = rows.move(rid, "up")
        old = graph.rows_for(applied)
        applied.add(rid)
        assert rows.rows == graph.rows_for(applied)
        assert (gone, added) == (old - rows.rows, rows.rows - old)
    for rid in reversed(order):
        rows.move(rid, "down")
        applied.discard(rid)
        assert rows.rows == graph.rows_for(applied)


@pytest.mark.parametrize("start", [set(s) for n in range(4) for s in itertools.combinations("abcdexy", n)])
def test_version_rows_from_any_set_even_not_closed(start: set[str]) -> None:
    graph = diamond()
    rows = VersionRows(graph, start)
    assert rows.rows == graph.rows_for(start)
    applied = set(start)
    for rid in "abcdexy":
        direction = "down" if rid in applied else "up"
        rows.move(rid, direction)
        applied = applied - {rid} if direction == "down" else applied | {rid}
        assert rows.rows == graph.rows_for(applied)
