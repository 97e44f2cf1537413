"""Bounded waiting on the network (issue 20, point 2), with real faults.

* a server that accepts and never answers: ``migrate`` and the start-up call fail within
  ``connect_timeout`` with one line;
* a network that goes silent in the middle of a step (a proxy the test silences): the client
  fails within its bound, and the server ends the session idle in transaction, releasing the
  ACCESS EXCLUSIVE lock the step held;
* the per-session server bounds are really set, on PostgreSQL and MariaDB; SQLite has none;
* a long statement on a healthy server is never mistaken for silence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from support.faults import TcpProxy, postgres_locks_on, silent_server
from support.projects import make_project, write_package, write_pyproject
from support.revisions import new_id, write_revision
from support.running import manage, spawn_manage

import memstack
from memstack.core.db import create_engine
from memstack.core.network import session_settings
from memstack.core.networksettings import NetworkSettings
from memstack.engine.run.crash import CONFIRM_SECONDS

#: short bounds, so the faults resolve in seconds
FAST = {"MEMSTACK_CONNECT_TIMEOUT": "2", "MEMSTACK_TCP_KEEPALIVES": "1,1,3", "MEMSTACK_TCP_USER_TIMEOUT": "3",
        "MEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT": "2"}
#: what a Python process takes to start and load memstack, on a busy machine
STARTUP_ALLOWANCE = 8.0
#: FAST's heartbeat bound: a statement running 1 s is asked about; 3 unanswered 1 s intervals end it
SILENCE_BOUND = 1 + 1 * 3
#: room for a busy test machine (the suite runs on shared, loaded cores)
SLACK = 6.0


def _one_clear_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), err
    assert all(line.startswith("  ") for line in lines[1:]), err  # at most an indented "fix:" line after it
    return lines[0]


# --------------------------------------------------------------------------- a server that never answers


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_migrate_against_a_server_that_never_answers_fails_within_connect_timeout(project: Path, scheme: str) -> None:
    with silent_server() as (host, port):
        started = time.monotonic()
        result = manage(project, f"{scheme}://app@{host}:{port}/memstack", "migrate", "--yes", timeout=60, **FAST)
        took = time.monotonic() - started
    assert result.code == 1, result
    line = _one_clear_line(result.err)
    assert f"{host}:{port}/memstack" in line, line
    assert "timeout" in line.lower() or "timed out" in line.lower(), line
    assert took < 2 + STARTUP_ALLOWANCE, f"took {took:.1f} s"


def test_startup_call_against_a_server_that_never_answers_raises_within_connect_timeout(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_CONNECT_TIMEOUT", "2")
    with silent_server() as (host, port):
        started = time.monotonic()
        with pytest.raises(memstack.MemstackError) as raised:
            memstack.migrate_on_startup(f"postgresql://app@{host}:{port}/memstack", project_dir=project)
        took = time.monotonic() - started
    assert "connection timeout expired" in str(raised.value) and "connect_timeout" in str(raised.value)
    assert took < 2 + 2.5, f"took {took:.1f} s (one connect attempt, not two)"


# --------------------------------------------------------------------------- a network that goes silent mid-step


def _slow_project(root: Path, sleep: float) -> tuple[Path, Path, str]:
    """A project with one component: 0001 creates ``slow_t``, 0002 alters it and then sleeps."""
    packages = root / "packages"
    package = f"slow_{new_id()}"
    write_package(packages, package, {})
    project = root / "project"
    write_pyproject(project, [package])
    folder = project / "migrations" / package
    first, second = new_id(), new_id()
    write_revision(folder, "0001_table", first, None, branch_labels=(package,),
                   upgrade='op.create_table("slow_t", sa.Column("id", sa.Integer(), primary_key=True))',
                   downgrade='op.drop_table("slow_t")')
    write_revision(folder, "0002_slow", second, first,
                   upgrade=f'op.add_column("slow_t", sa.Column("extra", sa.Integer()))\n'
                           f'op.execute("SELECT pg_sleep({sleep})")',
                   downgrade='op.drop_column("slow_t", "extra")')
    return project, packages, package


def _active_sleep(url: str, database: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND state = 'active' "
                "AND query LIKE 'SELECT pg_sleep%'"), {"d": database}).scalar())
    finally:
        engine.dispose()


def _advisory_holders(url: str, database: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = :d"), {"d": database}).scalar() or 0)
    finally:
        engine.dispose()


@pytest.mark.slow_faults
@pytest.mark.postgres
def test_silent_network_mid_step_fails_the_client_and_the_server_releases_the_table(
        tmp_path: Path, postgres_url: str) -> None:
    sleep = 4.0
    project, packages, label = _slow_project(tmp_path, sleep)
    parsed = make_url(postgres_url)
    database = parsed.database or ""
    first = manage(project, postgres_url, "migrate", label, "0001", "--yes", pythonpath=[packages])
    assert first.code == 0, first  # directly; 0002 then runs through the proxy

    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as proxy:
        process = spawn_manage(project, proxy.url_for(postgres_url), "migrate", "--yes", pythonpath=[packages], **FAST)
        try:
            deadline = time.monotonic() + 60
            while not _active_sleep(postgres_url, database):  # the ALTER ran; the step is in its long statement
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the step never started"
                time.sleep(0.05)
            held = postgres_locks_on(postgres_url, "slow_t", database)
            assert any(mode == "AccessExclusiveLock" for _, mode, _ in held), held
            proxy.silence()
            silenced = time.monotonic()

            client_failed = server_released = None
            while (client_failed is None or server_released is None) and time.monotonic() - silenced < 40:
                if client_failed is None and process.poll() is not None:
                    client_failed = time.monotonic() - silenced
                if server_released is None and not postgres_locks_on(postgres_url, "slow_t", database):
                    server_released = time.monotonic() - silenced
                time.sleep(0.05)
            out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        print(f"silent network mid-step: client failed after {client_failed} s, "
              f"server released ACCESS EXCLUSIVE after {server_released} s")

        # the client: within the heartbeat's bound plus the connect_timeout (2 s) of what it tries after
        # (recording the failure)
        # (recording the failure), and the read-back of what the server kept (run/crash.py's CONFIRM_SECONDS)
        assert client_failed is not None and client_failed < SILENCE_BOUND + 2 + CONFIRM_SECONDS + SLACK, (
            client_failed, err)
        assert process.returncode == 1, (out, err)
        assert "Traceback" not in err, err
        assert "the database server stopped answering" in err, err
        # the server: what was left of the statement, then idle_in_transaction_timeout (2 s) ends it
        assert server_released is not None and server_released < sleep + 2 + SLACK, server_released

        # the lock session idles outside any transaction, kept alive by memstack's pings; with memstack
        # silent, the server ends it by idle_session_timeout (PostgreSQL 14+) and the advisory lock goes
        if _server_version(postgres_url) >= 140000:
            lock_released = _wait_until(lambda: not _advisory_holders(postgres_url, database), 20)
            print(f"... and the migration lock's advisory lock after {lock_released - silenced:.1f} s")
            # idle_session_timeout (the same bound) after the client's last ping, itself within the bound
            assert lock_released - silenced < 2 * SILENCE_BOUND + CONFIRM_SECONDS + SLACK
    _wait_until(lambda: not _advisory_holders(postgres_url, database), 15)  # older servers: the proxy's end
    after = manage(project, postgres_url, "migrate", "--yes", pythonpath=[packages], **FAST)
    assert after.code == 0, after  # nothing half-done stayed behind: the step runs again, whole


def _wait_until(predicate: Callable[[], bool], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return time.monotonic()


def _server_version(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SHOW server_version_num")).scalar() or 0)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the bounds are really set


@pytest.mark.postgres
def test_an_idle_lock_session_is_kept_alive_and_ended_only_without_memstack(postgres_url: str) -> None:
    if _server_version(postgres_url) < 140000:
        pytest.skip("idle_session_timeout is PostgreSQL 14+")
    network = NetworkSettings(keepalives_idle=1, keepalives_interval=1, keepalives_count=1)  # bound 2 s
    engine = create_engine(postgres_url, for_migrations=True, network=network)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock_session:
            assert lock_session.execute(text("SELECT pg_try_advisory_lock(42)")).scalar() is True
            time.sleep(4.5)  # twice the bound: alive only because memstack pings it
            assert lock_session.execute(text("SHOW idle_session_timeout")).scalar() == "2s"
            assert lock_session.execute(text("SELECT pg_advisory_unlock(42)")).scalar() is True
        with engine.connect() as step_session:  # back in the pool: no idle bound left on it
            assert step_session.execute(text("SHOW idle_session_timeout")).scalar() == "0"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_migration_sessions_carry_the_server_bounds(postgres_url: str) -> None:
    network = NetworkSettings(idle_in_transaction_timeout=7, tcp_user_timeout=9, keepalives_idle=11,
                              keepalives_interval=4, keepalives_count=2)
    engine = create_engine(postgres_url, for_migrations=True, network=network)
    try:
        with engine.connect() as connection:
            shown = {name: connection.execute(text(f"SELECT current_setting('{name}')")).scalar()
                     for name in ("idle_in_transaction_session_timeout", "tcp_keepalives_idle",
                                  "tcp_keepalives_count")}
            version = int(connection.execute(text("SHOW server_version_num")).scalar() or 0)
            connection.rollback()
            assert shown == {"idle_in_transaction_session_timeout": "7s", "tcp_keepalives_idle": "11",
                             "tcp_keepalives_count": "2"}
            if version >= 140000:
                assert connection.execute(text("SHOW client_connection_check_interval")).scalar() == "4s"
                assert connection.execute(text("SHOW idle_session_timeout")).scalar() == "0"
            connection.rollback()
        # plain engines (dbshell, onboarding) keep the server's own session settings
        plain = create_engine(postgres_url, network=network)
        with plain.connect() as connection:
            assert connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() != "7s"
        plain.dispose()
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_rolled_back_first_transaction_keeps_the_bounds(postgres_url: str) -> None:
    """The bounds are set outside any transaction: rolling back the first one does not undo them."""
    engine = create_engine(postgres_url, for_migrations=True, network=NetworkSettings(idle_in_transaction_timeout=5))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            connection.rollback()
            assert connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "5s"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_idle_in_transaction_ends_a_forgotten_step_session(postgres_url: str) -> None:
    engine = create_engine(postgres_url, for_migrations=True, network=NetworkSettings(idle_in_transaction_timeout=1))
    try:
        with engine.connect() as connection:
            connection.execute(text("CREATE TABLE forgotten (id int)"))
            time.sleep(2.5)  # a client that stopped talking in the middle of its transaction
            with pytest.raises(DBAPIError, match=r"idle-in-transaction timeout"):
                connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_long_statement_on_a_healthy_server_is_not_silence(postgres_url: str) -> None:
    # (5 s for each answer: a busy test machine can take a second or two to open the asking session)
    network = NetworkSettings(keepalives_idle=1, keepalives_interval=1, keepalives_count=5)
    engine = create_engine(postgres_url, for_migrations=True, network=network)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(4)"))  # asked about 3 times meanwhile; answered each
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_mariadb_migration_sessions_carry_the_server_bounds(mariadb_url: str) -> None:
    network = NetworkSettings(idle_in_transaction_timeout=7, tcp_user_timeout=9)
    engine = create_engine(mariadb_url, for_migrations=True, network=network)
    try:
        with engine.connect() as connection:
            row = connection.execute(text("SELECT @@session.wait_timeout, @@session.net_read_timeout, "
                                          "@@session.net_write_timeout, VERSION()")).one()
            assert tuple(row[:3]) == (28800, 9, 9)
            if "mariadb" in str(row[3]).lower():
                assert connection.execute(text("SELECT @@session.idle_transaction_timeout")).scalar() == 7
    finally:
        engine.dispose()


def test_sqlite_has_no_network_bounds_and_migrates_with_them_set(tmp_path: Path, sqlite_url: str) -> None:
    assert session_settings("sqlite") == {}
    project = make_project(tmp_path / "project")
    result = manage(project, sqlite_url, "migrate", "--yes", **FAST)
    assert result.code == 0, result


def test_session_settings_follow_the_server_version() -> None:
    network = NetworkSettings()
    assert "client_connection_check_interval" not in session_settings("postgresql", 130000, network)
    assert "tcp_user_timeout" not in session_settings("postgresql", 110000, network)
    assert session_settings("postgresql", 160000, network)["client_connection_check_interval"] == "5000"
    assert session_settings("postgresql", 160000, network, idle_in_transaction_timeout=600)[
        "idle_in_transaction_session_timeout"] == "600000"  # the per-revision override's hook
    assert "idle_transaction_timeout" not in session_settings("mysql", "8.0.36", network)
    assert session_settings("mysql", "5.5.5-10.11.6-MariaDB", network)["idle_transaction_timeout"] == "60"


# --------------------------------------------------------------------------- a revision's own idle bound


@pytest.mark.postgres
@pytest.mark.parametrize("override", [False, True])
def test_a_data_migration_computing_between_statements_raises_its_own_idle_bound(
        tmp_path: Path, postgres_url: str, override: bool) -> None:
    """The server ends a step idle in its transaction past ``idle_in_transaction_timeout`` (1 s here);
    a revision that computes for longer between statements declares its own bound in ``guard``."""
    packages = tmp_path / "packages"
    package = f"idle_{new_id()}"
    write_package(packages, package, {})
    project = tmp_path / "project"
    write_pyproject(project, [package])
    write_revision(project / "migrations" / package, "0001_compute", new_id(), None, branch_labels=(package,),
                   upgrade='op.create_table("computed", sa.Column("id", sa.Integer(), primary_key=True))\n'
                           'import time\ntime.sleep(3)  # computing, idle in the step\'s transaction\n'
                           'op.execute("INSERT INTO computed (id) VALUES (1)")',
                   downgrade='op.drop_table("computed")',
                   module='guard = {"idle_in_transaction_timeout": 600}\n' if override else "")
    result = manage(project, postgres_url, "migrate", pythonpath=[packages], MEMSTACK_IDLE_IN_TRANSACTION_TIMEOUT="1")
    with create_engine(postgres_url).connect() as connection:
        tables = set(connection.execute(text("SELECT tablename FROM pg_tables WHERE tablename = 'computed'")).scalars())
    if override:
        assert result.code == 0, result
        assert tables == {"computed"}
    else:
        assert result.code == 1, result
        assert "idle" in result.err.lower() and "Traceback" not in result.err, result.err
        assert tables == set()  # the server ended the transaction: nothing of the step stayed
