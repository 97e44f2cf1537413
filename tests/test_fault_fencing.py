"""A migration lock that cannot be lost silently (issue 20, point 3).

The lock session is ended while a step runs and a second migrator waits: the first run's
step is rolled back at its fence (before its commit), the second waits for that step to end
before it reads the state, and every revision runs once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool
from support.databases import execute, query
from support.inspect import as_run, version_rows
from support.migrators import Migrator, wait_until
from support.revisions import chain_component
from support.running import cli

from memstack.engine.run.fencing import barrier_key
from memstack.engine.run.lock import _advisory_key

GATE = 424242  # an advisory key the test holds; the long step waits on it (a real event, no sleep)

#: step 1 counts its runs, then waits for the test to open the gate
COUNTED_LONG_STEP = "\n".join([
    'op.execute("INSERT INTO fence_runs VALUES (1)")',
    f'op.execute("SELECT pg_advisory_xact_lock({GATE})")',
])


@contextmanager
def gate_closed(url: str) -> Iterator[Connection]:
    """Hold the gate in an open transaction (an idle *session* timeout cannot end it)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": GATE})
            yield connection
            with suppress(Exception):  # the server may be gone (a crash test)
                connection.rollback()
    finally:
        engine.dispose()


def _waiting_on_gate(url: str) -> bool:
    return bool(query(url, "SELECT 1 AS x FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                           "AND objid = :k", k=GATE))


def _lock_pid(url: str) -> int | None:
    database = make_url(url).database
    found = query(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                       "AND ((classid::bigint << 32) | (objid::bigint & 4294967295)) = :k",
                  k=_advisory_key(database))
    return int(found[0]["pid"]) if found else None


def _barrier_busy(url: str) -> bool:
    database = make_url(url).database
    return bool(query(url, "SELECT 1 AS x FROM pg_locks WHERE locktype = 'advisory' AND granted "
                           "AND ((classid::bigint << 32) | (objid::bigint & 4294967295)) = :k",
                      k=barrier_key(database)))


@pytest.mark.postgres
def test_a_lock_session_ended_mid_step_runs_no_revision_twice(project: Path, postgres_url: str,
                                                              make_component) -> None:
    execute(postgres_url, "CREATE TABLE fence_runs (n integer)")
    chain = chain_component(make_component, project, 2, prefix="fence", bodies={1: COUNTED_LONG_STEP})
    # the long step is modelled as a wait on the test's gate (a lock): the guard's ladder would turn that wait
    # into retries that free the step barrier between tries, so both runs go without it (test_guard covers it)
    unguarded = {"MEMSTACK_DISABLE_GUARD": "1"}
    with gate_closed(postgres_url) as gate, \
            Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir], **unguarded) as first:
        wait_until(lambda: _waiting_on_gate(postgres_url), 60, "step 1 of the first run to wait on the gate",
                   detail=lambda: first.err)
        first_lock = _lock_pid(postgres_url)
        assert first_lock is not None and _barrier_busy(postgres_url)  # the running step holds the barrier
        with Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir], **unguarded) as second:
            second.wait_for_err("Waiting up to")  # queued behind the first run's lock
            execute(postgres_url, "SELECT pg_terminate_backend(:p, 5000)", params={"p": first_lock})
            # the second takes the lock, then waits for the first run's step, which may still commit
            second.wait_for_err("a step of a migration that lost its lock is still running")
            assert query(postgres_url, "SELECT count(*) AS n FROM fence_runs")[0]["n"] == 0  # nothing committed
            gate.rollback()  # open the gate: the first run's step reaches its fence
            one = first.finish()
            two = second.finish()
    assert one.code == 1, one
    assert "lost the migration lock on PostgreSQL during step 1 of 2" in one.err, one.err
    assert "was ended by the server" in one.err
    assert "was rolled back before its commit and is not recorded" in one.err
    assert "Traceback" not in one.err
    assert two.code == 0, two
    assert query(postgres_url, "SELECT count(*) AS n FROM fence_runs")[0]["n"] == 1  # step 1 committed once
    assert version_rows(postgres_url) == {chain.ids[1]}
    applies = query(postgres_url, "SELECT revision, event FROM memstack_history WHERE revision = :r ORDER BY id",
                    r=chain.ids[0])
    # the second run's guard may wait on the first run's step barrier (its lock-timeout ladder's "retry" rows)
    assert [row["event"] for row in applies if row["event"] != "retry"] == ["failure", "apply"], applies


@pytest.mark.postgres
def test_an_idle_session_timeout_on_the_database_does_not_end_the_lock_session(
        project: Path, postgres_url: str, make_component) -> None:
    database = make_url(postgres_url).database
    execute(postgres_url, "CREATE TABLE fence_runs (n integer)")
    execute(postgres_url, f"ALTER DATABASE \"{database}\" SET idle_session_timeout = '300ms'")
    chain = chain_component(make_component, project, 2, prefix="idle", bodies={1: COUNTED_LONG_STEP})
    with gate_closed(postgres_url) as gate, \
            Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir]) as run:
        wait_until(lambda: _waiting_on_gate(postgres_url), 60, "step 1 to wait on the gate", detail=lambda: run.err)
        lock = _lock_pid(postgres_url)
        # the lock session has been idle for well over the timeout (read from the server, not slept)
        wait_until(lambda: bool(query(postgres_url, "SELECT 1 AS x FROM pg_stat_activity WHERE pid = :p AND "
                                                    "state = 'idle' AND now() - state_change > interval '1 s'",
                                      p=lock)), 30, "the lock session to sit idle past the timeout")
        assert _lock_pid(postgres_url) == lock
        gate.rollback()
        result = run.finish()
    assert result.code == 0, result
    assert version_rows(postgres_url) == {chain.ids[1]}
    assert query(postgres_url, "SELECT count(*) AS n FROM fence_runs")[0]["n"] == 1


@pytest.mark.postgres
def test_the_fence_rides_on_each_steps_bookkeeping_statement(project: Path, postgres_url: str, make_component,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """No round trip of its own: each step's one bookkeeping statement also asks whether the lock is held."""
    chain = chain_component(make_component, project, 3, prefix="carried")
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        done = cli(capsys, monkeypatch, project, postgres_url, "migrate")
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert done.code == 0, done
    fences = [s for s in as_run(sent) if "pg_stat_get_activity" in s]
    assert len(fences) == len(chain.ids) and all(s.startswith("WITH ") for s in fences), fences
    assert version_rows(postgres_url) == {chain.ids[-1]}
