"""The kept scratch build of ``makemigrations``/``check``: reused while nothing it was built from
changed, never trusted otherwise (edited, added or removed revisions, an edit that keeps size and
mtime, an imported helper module, a deleted or tampered cache, a replay that fails); on servers
replayed from the statements it sent, giving the same database; and the schema tracking after
each revision, on every backend."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from support.databases import connect, execute
from support.projects import set_components
from support.running import Output, call

from memstack.core.errors import MemstackError
from memstack.engine.generate import autodetect
from memstack.engine.generate.scratch import table_columns
from memstack.engine.generate.scratch_cache import CACHE_DIR

Builds = list[int]
MakeComponent = Callable[..., str]
TASK = Path("migrations") / "task"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    """One entry per scratch database actually built by applying revisions."""
    made: Builds = []
    real = autodetect.build_scratch

    def counting(*args: object, **kwargs: object) -> dict[str, str]:
        made.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(autodetect, "build_scratch", counting)
    return made


def _check(project: Path, url: str) -> Output:
    return call(project, url, "makemigrations", check=True)


def _entries(project: Path) -> list[Path]:
    return sorted((project / CACHE_DIR / "scratch").glob("*.db"))


def test_unchanged_tree_reuses_the_build(project: Path, sqlite_url: str, builds: Builds) -> None:
    assert "No changes detected" in _check(project, sqlite_url).err
    assert "No changes detected" in _check(project, sqlite_url).err
    assert len(builds) == 1
    assert len(_entries(project)) == 1
    assert (project / CACHE_DIR / ".gitignore").read_text().splitlines()[-1] == "*"  # never committed


def _edit(path: Path, old: str, new: str, *, keep_mtime: bool = False) -> None:
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("change", ["edit", "same_size_and_mtime", "remove", "new_statement", "new_revision"])
def test_changed_revisions_are_never_served_from_the_cache(project: Path, sqlite_url: str, builds: Builds,
                                                           change: str) -> None:
    _check(project, sqlite_url)
    target = project / TASK / "0004_add_message.py"
    if change == "edit":
        _edit(target, "'message'", "'status_message'")
    elif change == "same_size_and_mtime":  # a clock skew or a restored file cannot hide it
        size = target.stat().st_size
        _edit(target, "'message'", "'messagf'", keep_mtime=True)
        assert target.stat().st_size == size
    elif change == "remove":
        for name in ("0005_merge_legacy_task_columns.py", "0004_add_message.py", "0003_add_result.py"):
            (project / TASK / name).unlink()
    elif change == "new_revision":
        (project / TASK / "0006_add_extra.py").write_text(NEW_REVISION)
    else:
        head = project / TASK / "0005_merge_legacy_task_columns.py"
        _edit(head, "def upgrade() -> None:\n    pass", "def upgrade() -> None:\n    import sqlalchemy as sa\n"
              "    from alembic import op\n\n    op.add_column('task_logs', sa.Column('extra', sa.Integer()))")
    with pytest.raises(MemstackError, match="revision\\(s\\) missing"):
        _check(project, sqlite_url)
    assert len(builds) == 2


NEW_REVISION = '''"""A column no model declares."""
import sqlalchemy as sa
from alembic import op

revision = "c0ffee000006"
down_revision = "c7e7ea306d4c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("task_logs", sa.Column("extra", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("task_logs", "extra")
'''

HELPER_REVISION = '''"""A table whose second column's name comes from a helper module."""
import sqlalchemy as sa
from alembic import op

from {package}.columns import EXTRA

revision = "c0ffee000001"
down_revision = None
branch_labels = ("{package}",)
depends_on = None


def upgrade() -> None:
    op.create_table("cache_notes", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column(EXTRA, sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_table("cache_notes")
'''

HELPER_MODELS = '''
from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base


class CacheNote(Base):
    __tablename__ = "cache_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note: Mapped[int | None] = mapped_column(Integer, nullable=True)
'''


OPTIONAL_IMPORT = """try:
    from {package}.extra import EXTRA
except ImportError:
    from {package}.columns import EXTRA
"""


@pytest.mark.parametrize("change", ["edited", "appeared"])
def test_an_imported_helper_module_that_changed_is_rebuilt(project: Path, sqlite_url: str, builds: Builds,
                                                           make_component: MakeComponent, change: str) -> None:
    package = make_component({"models.py": HELPER_MODELS, "columns.py": 'EXTRA = "note"\n'}, prefix="notes")
    set_components(project, package)
    folder = project / "migrations" / package
    folder.mkdir(parents=True)
    revision = HELPER_REVISION.format(package=package)
    if change == "appeared":  # a module that did not exist when the build was kept, and then does
        revision = revision.replace(f"from {package}.columns import EXTRA\n", OPTIONAL_IMPORT.format(package=package))
    (folder / "0001_initial.py").write_text(revision)
    _check(project, sqlite_url)
    _check(project, sqlite_url)
    assert len(builds) == 1

    helper = Path(sys.modules[f"{package}.columns"].__file__ or "")
    if change == "edited":
        helper.write_text('EXTRA = "memo"\n')  # outside the project folder, as installed-in-place code is
        sys.modules.pop(f"{package}.columns")  # this process imported it already; a new one would read it anew
        # (and so must this one: the same size written within the same second would pass its .pyc's check)
        shutil.rmtree(helper.parent / "__pycache__", ignore_errors=True)
    else:
        helper.with_name("extra.py").write_text('EXTRA = "memo"\n')
        importlib.invalidate_caches()  # as a new process would see the new file
    with pytest.raises(MemstackError, match="revision\\(s\\) missing"):
        _check(project, sqlite_url)
    assert len(builds) == 2


@pytest.mark.parametrize("damage", ["deleted", "garbage", "another_database", "garbage_facts"])
def test_a_missing_or_tampered_cache_is_not_trusted(project: Path, sqlite_url: str, builds: Builds,
                                                    tmp_path: Path, damage: str) -> None:
    _check(project, sqlite_url)
    [database] = _entries(project)
    if damage == "deleted":
        shutil.rmtree(project / CACHE_DIR)
    elif damage == "garbage":
        database.write_bytes(b"not a database")
    elif damage == "another_database":
        shutil.copyfile(database, tmp_path / "copy.db")
        with sqlite3.connect(tmp_path / "copy.db") as other:
            other.execute("CREATE TABLE intruder (id INTEGER)")
        shutil.copyfile(tmp_path / "copy.db", database)
    else:
        database.with_suffix(".json").write_text("{")
    result = _check(project, sqlite_url)
    assert "No changes detected" in result.err
    assert "intruder" not in result.err  # the tampered copy was never compared
    assert len(builds) == 2


SERVERS = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]


@pytest.mark.parametrize("server", SERVERS)
def test_server_builds_are_replayed_and_never_when_stale(project: Path, builds: Builds, server: str,
                                                         request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{server}_url")
    assert "No changes detected" in _check(project, url).err
    assert "No changes detected" in _check(project, url).err
    assert len(builds) == 1
    [entry] = (project / CACHE_DIR / "scratch").glob("*.json")
    assert "statements" in json.loads(entry.read_text()) and not _entries(project)  # no .db for a server

    _edit(project / TASK / "0004_add_message.py", "'message'", "'messagf'", keep_mtime=True)
    with pytest.raises(MemstackError, match="revision\\(s\\) missing"):
        _check(project, url)
    assert len(builds) == 2


@pytest.mark.parametrize("server", SERVERS)
def test_a_replay_that_fails_is_never_trusted(project: Path, builds: Builds, server: str,
                                              request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{server}_url")
    _check(project, url)
    [entry] = (project / CACHE_DIR / "scratch").glob("*.json")
    facts = json.loads(entry.read_text())
    facts["statements"] = [*facts["statements"][:5], ["SELECT no_such_function()", [], False]]
    entry.write_text(json.dumps(facts))
    assert "No changes detected" in _check(project, url).err  # built afresh on a new database
    assert len(builds) == 2


@pytest.mark.parametrize("server", SERVERS)
def test_a_replayed_database_is_the_built_one(project: Path, server: str, request: pytest.FixtureRequest) -> None:
    from memstack.engine.generate.references import Creators
    from memstack.engine.generate.scratch_cache import scratch_state
    from memstack.engine.workspace import Workspace

    url = request.getfixturevalue(f"{server}_url")
    seen: list[tuple[dict[str, Any], dict[str, str], Creators]] = []
    built: list[int] = []
    with Workspace.load(project, database_url=url) as ws:
        plan = autodetect.scratch_plan(ws)
        for _ in range(2):
            creators = Creators()

            def build(engine: Any, creators: Creators = creators) -> dict[str, str]:
                built.append(1)
                return autodetect.build_scratch(ws, engine, creators, plan)

            with scratch_state(ws, plan, creators, build) as (engine, owners):
                seen.append((_schema(engine), owners, creators))
    assert len(built) == 1  # the second one was replayed
    (first, first_owners, first_creators), (second, second_owners, second_creators) = seen
    assert second == first and len(first) > 5
    assert second_owners == first_owners
    assert second_creators == first_creators


def _schema(engine: Any) -> dict[str, Any]:
    """Everything a comparison looks at, table by table."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        return {table: (
            [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in inspector.get_columns(table)],
            inspector.get_pk_constraint(table), sorted(map(repr, inspector.get_foreign_keys(table))),
            sorted(map(repr, inspector.get_indexes(table))), sorted(map(repr, inspector.get_unique_constraints(table))),
        ) for table in inspector.get_table_names()}


def test_a_given_scratch_url_is_never_cached(project: Path, sqlite_url: str, tmp_path: Path, builds: Builds) -> None:
    scratch = f"sqlite:///{tmp_path / 'given.db'}"
    for _ in range(2):
        call(project, sqlite_url, "makemigrations", check=True, scratch_url=scratch)
    assert len(builds) == 2
    assert not (project / CACHE_DIR).exists()


def test_table_columns_lists_what_the_inspector_lists(db_url: str) -> None:
    statements = ["CREATE TABLE first_table (a INTEGER, b INTEGER)", "CREATE TABLE second_table (c INTEGER)",
                  "CREATE VIEW some_view AS SELECT a FROM first_table"]
    if db_url.startswith("postgresql"):
        statements.append("CREATE TABLE no_columns ()")
    if db_url.startswith("sqlite"):
        statements.append("CREATE TABLE counted (id INTEGER PRIMARY KEY AUTOINCREMENT)")  # makes sqlite_sequence
        statements.append("INSERT INTO counted DEFAULT VALUES")
    execute(db_url, *statements)
    with connect(db_url) as connection:
        inspector = inspect(connection)
        expected = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
        assert table_columns(connection) == expected
    assert expected["first_table"] == {"a", "b"} and "some_view" not in expected


def test_scratch_build_tracks_what_reflecting_everything_after_each_revision_sees(project: Path,
                                                                                   db_url: str) -> None:
    """The build re-reads only what changed; the per-step full reflection it replaced is the reference."""
    from memstack.core.components import is_bookkeeping_table
    from memstack.engine.generate.references import Creators
    from memstack.engine.generate.scratch import scratch_engine
    from memstack.engine.run.executor import Executor
    from memstack.engine.tree.graph import Step
    from memstack.engine.workspace import Workspace

    with Workspace.load(project, database_url=db_url) as ws:
        plan = autodetect.scratch_plan(ws)
        creators = Creators()
        with scratch_engine(ws.settings.database_url) as engine:
            owners = autodetect.build_scratch(ws, engine, creators, plan)

        expected_owners: dict[str, str] = {}
        expected = Creators()
        seen: set[str] = set()
        seen_columns: set[tuple[str, str]] = set()

        def reflect_everything(event: str, step: Step, _result: object) -> None:
            nonlocal seen, seen_columns
            if event != "done":
                return
            with engine.connect() as connection:
                inspector = inspect(connection)
                now = {t for t in inspector.get_table_names() if not is_bookkeeping_table(t)}
                columns = {(t, c["name"]) for t in now for c in inspector.get_columns(t)}
            for table in now - seen:
                expected_owners[table] = step.revision.component
                expected.tables[table] = step.revision.id
            for table in seen - now:
                expected_owners.pop(table)
            for key in columns - seen_columns:
                expected.columns[key] = step.revision.id
            seen, seen_columns = now, columns

        with scratch_engine(ws.settings.database_url) as engine:
            Executor(engine, ws.tree, reflect_everything, record=False).run(plan, set())
    assert owners == expected_owners
    assert creators.tables == expected.tables
    assert creators.columns == expected.columns
    assert len(plan) > 10 and len(creators.columns) > len(creators.tables) > 5
