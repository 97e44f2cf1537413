"""A step's fast path: its bookkeeping in one statement (PostgreSQL), asynchronous commits for
all but the last step (PostgreSQL), the lock probe skipped while its session is quiet, and the
rows written exactly as the one-by-one path writes them.

Real databases: SQLite files, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from support.databases import backend_of, connect
from support.inspect import applied_rows, as_run, history_rows, version_rows
from support.revisions import chain_component
from support.waiting import wait_until

from memstack.core.db import create_engine
from memstack.engine.errors import LockLost, MigrationFailed
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.records.recorder import Recorder, StepWrite, write_step
from memstack.engine.run import executor as executor_module
from memstack.engine.run import lock
from memstack.engine.workspace import Workspace


def _write(revision: str, gone: tuple[str, ...], added: tuple[str, ...], direction: str = "up") -> StepWrite:
    now = dt.datetime.now(dt.UTC)
    return StepWrite(revision=revision, component="comp", name="0001_x", direction=direction, event="apply",
                     started_at=now, finished_at=now, duration_ms=3, checksum="c" * 64 if direction == "up" else None,
                     gone=gone, added=added, clear_mark=True)


def _rows(url: str) -> set[str]:
    return version_rows(url)


@pytest.fixture
def bookkept(db_url: str) -> Iterator[str]:
    engine = create_engine(db_url, for_migrations=True)
    with engine.begin() as connection:
        Recorder(connection).ensure_version_table()
        Recorder(connection).ensure_bookkeeping()
    engine.dispose()
    yield db_url


def _apply(url: str, *writes: StepWrite) -> None:
    engine = create_engine(url, for_migrations=True)
    try:
        for write in writes:
            with engine.begin() as connection:
                write_step(connection, write)
    finally:
        engine.dispose()


def test_step_writes_move_rows_exactly_on_every_backend(bookkept: str) -> None:
    url = bookkept
    _apply(url, _write("a1", (), ("a1",)))
    assert _rows(url) == {"a1"}
    _apply(url, _write("a2", ("a1",), ("a2",)))  # one row replaced by another: an UPDATE
    assert _rows(url) == {"a2"}
    _apply(url, _write("b1", ("zz",), ("b1",)))  # the old row is not there: the new one is inserted
    assert _rows(url) == {"a2", "b1"}
    _apply(url, _write("m1", ("a2", "b1"), ("m1",)))  # a merge: two rows become one
    assert _rows(url) == {"m1"}
    _apply(url, _write("m1", ("m1",), ("a2", "b1"), direction="down"))  # and back
    assert _rows(url) == {"a2", "b1"}
    applied = applied_rows(url)
    assert set(applied) == {"a1", "a2", "b1"}  # m1's record went with its step down
    assert applied["a2"]["checksum"] == "c" * 64 and bool(applied["a2"]["verified"])
    history = history_rows(url)
    assert [(h["revision"], h["direction"]) for h in history] == [
        ("a1", "up"), ("a2", "up"), ("b1", "up"), ("m1", "up"), ("m1", "down")]
    assert all(h["source"] == "memstack" and bool(h["success"]) and h["duration_ms"] == 3 for h in history)


def test_a_step_up_again_replaces_its_applied_record(bookkept: str) -> None:
    url = bookkept
    _apply(url, _write("a1", (), ("a1",)))
    again = _write("a1", ("a1",), ("a1x",))
    _apply(url, dataclasses.replace(again, checksum="d" * 64))
    assert applied_rows(url)["a1"]["checksum"] == "d" * 64


# --------------------------------------------------------------------------- a run on PostgreSQL


def _capture(ws: Workspace) -> list[str]:
    seen: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(ws.engine, "before_cursor_execute", capture)
    return seen


@pytest.mark.postgres
def test_postgres_writes_a_step_at_once_and_only_the_last_commit_waits(project: Path, postgres_url: str,
                                                                      make_component: Any) -> None:
    chain = chain_component(make_component, project, 4, prefix="fast")
    with Workspace.load(project, database_url=postgres_url) as ws:
        seen = _capture(ws)
        results = migrate(ws, options=RunOptions())
    assert [r.step.revision.id for r in results] == chain.ids
    writes = [s for s in as_run(seen) if s.startswith("WITH ") and "memstack_history" in s]
    assert len(writes) == 4  # one bookkeeping statement per step
    assert not [s for s in seen if s.startswith("INSERT INTO memstack_history")]
    assert ["synchronous_commit" in s for s in writes] == [True, True, True, False]  # the last one waits
    assert version_rows(postgres_url) == {chain.ids[-1]}
    assert [h["revision"] for h in history_rows(postgres_url) if h["component"] == chain.label] == chain.ids
    assert all(applied_rows(postgres_url)[rid]["checksum"] for rid in chain.ids)


@pytest.mark.postgres
def test_a_run_stopped_early_makes_its_earlier_steps_durable(project: Path, postgres_url: str,
                                                            make_component: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    chain = chain_component(make_component, project, 3, prefix="durable")
    real = executor_module.lock.verify_held  # the executor calls it through the lock module

    def lose_before_third(engine: Any, *, before: str | None = None, completed: int = 0, total: int = 0) -> None:
        if completed == 2:
            raise LockLost("PostgreSQL", "gone", before=before, completed=completed, total=total)
        real(engine, before=before, completed=completed, total=total)

    monkeypatch.setattr(executor_module.lock, "verify_held", lose_before_third)
    with Workspace.load(project, database_url=postgres_url) as ws:
        seen = _capture(ws)
        with pytest.raises(LockLost):
            migrate(ws, options=RunOptions())
    seen = as_run(seen)
    writes = [i for i, s in enumerate(seen) if s.startswith("WITH ") and "memstack_history" in s]
    assert len(writes) == 2 and all("synchronous_commit" in seen[i] for i in writes)  # both committed lazily
    flushes = [i for i, s in enumerate(seen) if s.startswith("UPDATE memstack_meta")]
    assert flushes and flushes[0] > writes[-1]  # then a synchronous write flushed them before the error
    assert version_rows(postgres_url) == {chain.ids[1]}


@pytest.mark.postgres
def test_a_failing_step_after_lazy_commits_keeps_the_earlier_steps(project: Path, postgres_url: str,
                                                                   make_component: Any) -> None:
    chain = chain_component(make_component, project, 3, prefix="lazyfail",
                            bodies={3: 'op.execute("SELECT * FROM no_such_table")'})
    with Workspace.load(project, database_url=postgres_url) as ws, pytest.raises(MigrationFailed):
        migrate(ws, options=RunOptions())
    assert version_rows(postgres_url) == {chain.ids[1]}
    events = [(h["revision"], h["event"]) for h in history_rows(postgres_url) if h["component"] == chain.label]
    assert events == [(chain.ids[0], "apply"), (chain.ids[1], "apply"), (chain.ids[2], "failure")]


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)])
def synchronous_url(request: pytest.FixtureRequest) -> str:
    """SQLite and MariaDB, which commit every step synchronously (PostgreSQL: the test above)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=[pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
                        pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)])
def server_url(request: pytest.FixtureRequest) -> str:
    """The backends whose lock is held by a server session (SQLite's is a file)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_sqlite_and_mariadb_commit_every_step_synchronously(project: Path, synchronous_url: str,
                                                            make_component: Any) -> None:
    db_url = synchronous_url
    chain = chain_component(make_component, project, 2, prefix="sync")
    with Workspace.load(project, database_url=db_url) as ws:
        seen = _capture(ws)
        migrate(ws, options=RunOptions())
    assert not [s for s in seen if "synchronous_commit" in s]
    assert version_rows(db_url) == {chain.ids[-1]}


# --------------------------------------------------------------------------- the quiet lock probe


class _Asked:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str | None:
        self.count += 1
        return None


def test_a_quiet_lock_session_is_not_asked_again_within_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(lock.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(lock, "_nothing_arrived", lambda _connection: True)
    asked = _Asked()
    probe = lock._quiet_probe(None, asked)  # type: ignore[arg-type]
    clock[0] += 0.5
    assert probe() is None and asked.count == 0
    clock[0] += lock.REPROBE_SECONDS  # quiet, but too long ago: a silent network drop says nothing
    assert probe() is None and asked.count == 1
    clock[0] += 0.1
    assert probe() is None and asked.count == 1


def test_a_lock_session_that_received_anything_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lock, "_nothing_arrived", lambda _connection: False)
    asked = _Asked()
    probe = lock._quiet_probe(None, asked)  # type: ignore[arg-type]
    probe()
    probe()
    assert asked.count == 2


def test_an_ended_lock_session_is_seen_on_its_socket(server_url: str) -> None:
    db_url = server_url
    engine = create_engine(db_url)
    try:
        with engine.connect() as holder, connect(db_url) as admin:
            holder.exec_driver_sql("SELECT 1").scalar()
            assert lock._nothing_arrived(holder)  # an idle session: nothing to read
            if backend_of(db_url) == "postgres":
                pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                assert admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)}, 60000)").scalar()
            else:
                conn_id = holder.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
                admin.exec_driver_sql(f"KILL {int(conn_id)}")
            # the server's goodbye arrives on the socket (at once when idle; the deadline is for failures)
            wait_until(lambda: not lock._nothing_arrived(holder), what="the ended session's goodbye on its socket")
            holder.invalidate()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the fixed cost


def test_a_first_migrate_without_models_never_imports_the_orm(project: Path, db_url: str,
                                                              make_component: Any) -> None:
    """Components without models: ``sqlalchemy.orm`` (about 50 ms) stays unimported, from empty too."""
    chain = chain_component(make_component, project, 2, prefix="noorm")
    script = ("import sys\nfrom memstack.cli import main\ntry:\n"
              f"    main(['--project-dir', {str(project)!r}, '--database-url', {db_url!r}, 'migrate', '-v', '0'])\n"
              "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
              "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy.orm')), file=sys.stderr)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(chain.packages_dir), *sys.path])}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True,
                          env=env)
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr
    assert version_rows(db_url) == {chain.ids[-1]}
