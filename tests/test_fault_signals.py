"""SIGTERM and SIGINT cancel what memstack runs on the server before it exits (issue 20, point 5).

``migrate`` is blocked on a table a reader holds (its ALTER queued behind the reader, every
later query on the table queued behind the ALTER), or on the migration lock; the signal must
leave nothing queued on the server, and the exit status says which signal it was.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.databases import backend_of, query
from support.faults import reader_holding
from support.inspect import marks, tables
from support.migrators import Migrator, wait_until
from support.revisions import chain_component, new_id, write_revision
from support.running import manage

from memstack.core.db import create_engine
from memstack.engine.run.lock import migration_lock

ADD_COLUMN = 'op.add_column("{label}_t1", sa.Column("extra", sa.Integer()))'
EXIT = {signal.SIGTERM: 143, signal.SIGINT: 130}
SAID = {signal.SIGTERM: "Terminated (SIGTERM).", signal.SIGINT: "Interrupted."}


def _waiting_on(url: str, table: str) -> list[dict[str, object]]:
    return query(url, "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                      "LEFT JOIN pg_stat_activity a ON a.pid = l.pid WHERE c.relname = :t AND NOT l.granted",
                 t=table)


def _memstack_sessions(url: str) -> list[dict[str, object]]:
    database = make_url(url).database
    return query(url, "SELECT pid, state, wait_event_type FROM pg_stat_activity "
                      "WHERE datname = :d AND application_name = 'memstack'", d=database)


def _pids(url: str) -> set[object]:
    return {s["pid"] for s in _memstack_sessions(url)}


@pytest.mark.postgres
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_cancels_the_alter_queued_behind_a_reader(project: Path, postgres_url: str, make_component,
                                                            signal_number: int) -> None:
    chain = chain_component(make_component, project, 2, prefix="sig", bodies={2: ADD_COLUMN})
    table = f"{chain.label}_t1"
    first = manage(project, postgres_url, "migrate", chain.label, chain.names[0], pythonpath=[chain.packages_dir])
    assert first.code == 0, first
    with reader_holding(postgres_url, table), \
            Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir]) as run:
        wait_until(lambda: bool(_waiting_on(postgres_url, table)), 60, "the ALTER to queue behind the reader",
                   detail=lambda: run.err)
        run.send(signal_number)
        result = run.finish()
        # the reader still holds the table: only a cancelled statement leaves the queue
        wait_until(lambda: not _waiting_on(postgres_url, table) and not _memstack_sessions(postgres_url), 10,
                   "memstack's sessions to leave the server",
                   detail=lambda: f"{_waiting_on(postgres_url, table)} {_memstack_sessions(postgres_url)}")
    assert result.code == EXIT[signal_number], f"exit {result.code}; signals: {run.signals_before}\n{result.err}"
    assert SAID[signal_number] in result.err
    assert "Traceback" not in result.err
    failures = query(postgres_url, "SELECT error FROM memstack_history WHERE event = 'failure' AND revision = :r",
                     r=chain.ids[1])
    assert [row["error"] for row in failures] == [
        "terminated (SIGTERM)" if signal_number == signal.SIGTERM else "interrupted (Ctrl-C / SIGINT)"]
    again = manage(project, postgres_url, "migrate", pythonpath=[chain.packages_dir])  # nothing half-done
    assert again.code == 0, again


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_signal_during_the_migration_lock_wait(project: Path, db_url: str, make_component,
                                                 signal_number: int) -> None:
    chain = chain_component(make_component, project, 1, prefix="sigw")
    holder = create_engine(db_url, for_migrations=True)
    try:
        with migration_lock(holder, 0):  # another migration holds the lock
            holding = _pids(db_url) if backend_of(db_url) == "postgres" else set()
            with Migrator(project, db_url, "migrate", pythonpath=[chain.packages_dir]) as run:
                run.wait_for_err("Waiting up to")
                run.send(signal_number)
                result = run.finish()
            if backend_of(db_url) == "postgres":  # only the holder's session stays
                wait_until(lambda: _pids(db_url) == holding, 10, "memstack's sessions to leave the server",
                           detail=lambda: str(_memstack_sessions(db_url)))
    finally:
        holder.dispose()
    assert result.code == EXIT[signal_number], result
    assert SAID[signal_number] in result.err
    assert chain.table(1) not in tables(db_url)


@pytest.mark.mariadb
def test_sigterm_on_mariadb_leaves_no_alter_waiting_and_no_mark(project: Path, mariadb_url: str,
                                                                 make_component) -> None:
    chain = chain_component(make_component, project, 1, prefix="sigm")
    write_revision(chain.folder, chain.names[0] + "_extra", new_id(), chain.ids[0],
                   upgrade=ADD_COLUMN.replace("{label}", chain.label))
    assert manage(project, mariadb_url, "migrate", chain.label, chain.names[0],
                  pythonpath=[chain.packages_dir]).code == 0
    database = make_url(mariadb_url).database

    def altering() -> list[dict[str, object]]:
        return query(mariadb_url, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = :d "
                                  "AND INFO LIKE 'ALTER TABLE%'", d=database)

    with reader_holding(mariadb_url, f"{chain.label}_t1"), \
            Migrator(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir]) as run:
        wait_until(lambda: bool(altering()), 60, "the ALTER to wait for the reader", detail=lambda: run.err)
        run.send(signal.SIGTERM)
        result = run.finish()
        wait_until(lambda: not altering(), 10, "the ALTER to leave the server", detail=lambda: str(altering()))
    assert result.code == 143, result
    assert marks(mariadb_url) == []  # nothing of the step took effect: the next migrate just runs it
    assert manage(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir]).code == 0
