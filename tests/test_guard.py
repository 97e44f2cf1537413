"""The guard (engine/run/guard.py) against a real blocking session on PostgreSQL and MariaDB: the
ladder retries and goes through once the blocker ends, gives up naming it, writes every try to
history, never keeps the application waiting longer than a rung, and Ctrl-C between tries
leaves nothing queued on the server. Small ladders keep the tests fast."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from support.databases import backend_of, connect, query
from support.faults import reader_holding
from support.inspect import history_rows
from support.running import cli, manage, spawn_manage
from support.waiting import sessions_waiting_for_any_lock, wait_until

SERVERS = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]
SMALL_LADDER = {"MEMSTACK_DDL_LOCK_TIMEOUT": "0.3", "MEMSTACK_LOCK_RETRIES": "200",
                "MEMSTACK_LOCK_RETRY_MAX_WAIT": "120"}


def _retries(url: str) -> list[dict[str, object]]:
    return [r for r in history_rows(url) if r["event"] == "retry"]


def _note(row: dict[str, object]) -> dict[str, str]:
    return dict(part.split("=", 1) for part in str(row["note"]).split(" blocker_query=")[0].split())


class Prober:
    """The application: a short query on the table, again and again, each one timed."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with connect(self.url) as connection:
            while not self._stop.is_set():
                started = time.monotonic()
                connection.execute(text(f"SELECT count(*) FROM {self.table}")).scalar()
                connection.rollback()
                self.latencies.append(time.monotonic() - started)
                time.sleep(0.02)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive()


@pytest.mark.parametrize("kind", SERVERS)
def test_ladder_goes_through_once_the_blocker_ends(project: Path, kind: str, request: pytest.FixtureRequest,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        with Prober(url, "task_logs") as prober:
            running = spawn_manage(project, url, "migrate", "task", "0002", **SMALL_LADDER)
            wait_until(lambda: len(_retries(url)) >= 3, timeout=120, what="three retries", proc=running)
            reader.release()
            _out, err = running.communicate(timeout=120)
            time.sleep(0.1)  # the prober's query after the migration
    assert running.returncode == 0, err
    retries = _retries(url)
    notes = [_note(r) for r in retries]
    attempts = [int(n["attempt"]) for n in notes]
    # each statement has its own ladder (MariaDB retries in place; its zero-wait first rungs may also
    # meet the prober's own short metadata locks on a later statement): runs of 1, 2, 3, ...
    assert attempts[0] == 1 and all(b in (a + 1, 1) for a, b in itertools.pairwise(attempts)), attempts
    if kind == "postgres":
        assert attempts == list(range(1, len(notes) + 1))
    assert all(n["blocker_pid"] == str(reader.pid) for n in notes[:3]), notes
    # MariaDB's waits are whole seconds: rungs under 1 s are zero-wait tries there, never 1 s ones
    assert all(int(n["lock_timeout_ms"]) == 0 if kind == "mariadb" else int(n["lock_timeout_ms"]) <= 300
               for n in notes), notes
    assert all(r["success"] is False or r["success"] == 0 for r in retries)
    applied = [r["name"] for r in history_rows(url) if r["event"] == "apply"]
    assert applied[-1] == "0002_add_progress"
    # the application never waited longer than a rung lets it (MariaDB's shortest wait is 1 s)
    assert prober.latencies and max(prober.latencies) < 2.0, max(prober.latencies)
    assert "lock busy" in err or "retry" in err


@pytest.mark.parametrize("kind", SERVERS)
def test_ladder_gives_up_naming_the_blocker(project: Path, kind: str, request: pytest.FixtureRequest,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        started = time.monotonic()
        result = manage(project, url, "migrate", "task", "0002", MEMSTACK_DDL_LOCK_TIMEOUT="0.2",
                        MEMSTACK_LOCK_RETRIES="2", timeout=120)
        elapsed = time.monotonic() - started
    assert result.code == 1, result
    assert f"pid {reader.pid}" in result.err, result.err
    assert "gave up waiting for table locks after 3 attempt(s)" in result.err
    assert elapsed < 30
    assert len(_retries(url)) == 2
    assert [r["event"] for r in history_rows(url)][-1] == "failure"
    # no failure mark left behind: the ALTER never ran, so the next run just goes
    assert manage(project, url, "migrate", "task", "0002").code == 0


@pytest.mark.postgres
def test_refuse_policy_names_blockers_before_waiting(project: Path, postgres_url: str,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        started = time.monotonic()
        result = manage(project, url, "migrate", "task", "0002", "--blocker-policy", "refuse")
        elapsed = time.monotonic() - started
    assert result.code == 1, result
    assert f"pid {reader.pid}" in result.err and "AccessShareLock on task_logs" in result.err, result.err
    assert elapsed < 20
    assert _retries(url) == []


@pytest.mark.parametrize("kind", SERVERS)
def test_sigint_between_tries_exits_130_with_nothing_queued(project: Path, kind: str, request: pytest.FixtureRequest,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        running = spawn_manage(project, url, "migrate", "task", "0002", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 2, timeout=120, what="two retries", proc=running)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode == 130, err

        def nothing_waits() -> bool:
            return not sessions_waiting_for_any_lock(url)
        wait_until(nothing_waits, timeout=30, what="no lock request left on the server")
        if kind == "postgres":
            sessions = query(url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'memstack' "
                                  "AND datname = current_database() AND pid NOT IN (pg_backend_pid(), :reader)",
                             reader=reader.pid)
            assert sessions == [], sessions
    assert [r["event"] for r in history_rows(url)][-1] == "failure"  # the interruption is recorded


@pytest.mark.parametrize("kind", SERVERS)
def test_sigint_while_a_try_waits_on_the_server_exits_130_with_nothing_queued(
        project: Path, kind: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    waiting = ("SELECT pid FROM pg_locks WHERE NOT granted AND database = "
               "(SELECT oid FROM pg_database WHERE datname = current_database())" if kind == "postgres" else
               "SELECT id FROM information_schema.processlist WHERE state LIKE 'Waiting for%lock%' AND db = DATABASE()")
    with reader_holding(url, "task_logs"):  # rungs of up to 3 s: MariaDB's from 1.5 s on wait 1-3 s
        running = spawn_manage(project, url, "migrate", "task", "0002", MEMSTACK_DDL_LOCK_TIMEOUT="3",
                               MEMSTACK_LOCK_RETRIES="200", MEMSTACK_LOCK_RETRY_MAX_WAIT="120")
        wait_until(lambda: query(url, waiting), timeout=120, what="a try waiting on the server", proc=running,
                   interval=0.01)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode == 130, err
        wait_until(lambda: not query(url, waiting), timeout=30, what="no lock request left on the server")
    assert [r["event"] for r in history_rows(url)][-1] == "failure"  # the interruption is recorded


@pytest.mark.postgres
def test_concurrent_index_that_timed_out_is_dropped_then_retried(project: Path, postgres_url: str,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from support.revisions import new_id, write_revision

    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task").code == 0
    head = query(url, "SELECT version_num FROM alembic_version")
    task_head = [r["version_num"] for r in head]
    folder = project / "migrations" / "task"
    down = next(v for v in task_head if (folder / "0005_merge_legacy_task_columns.py").read_text().count(v))
    write_revision(folder, "0006_concurrent_index", new_id(), down, module="atomic = False\n", upgrade="""
with op.get_context().autocommit_block():
    op.create_index("ix_task_logs_guarded", "task_logs", ["id"], postgresql_concurrently=True)
""")
    with connect(url) as writer:  # a writer in an open transaction: CREATE INDEX CONCURRENTLY waits for it
        writer.begin()
        writer.execute(text("LOCK TABLE task_logs IN ROW EXCLUSIVE MODE"))
        running = spawn_manage(project, url, "migrate", "task", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 2, timeout=120, what="two retries", proc=running)
        invalid = query(url, "SELECT count(*) AS n FROM pg_index WHERE NOT indisvalid")
        assert invalid[0]["n"] <= 1  # at most the try in progress
        writer.rollback()
    _, err = running.communicate(timeout=120)
    assert running.returncode == 0, err
    rows = query(url, "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                      "WHERE c.relname = 'ix_task_logs_guarded'")
    assert rows == [{"indisvalid": True}]


@pytest.mark.mariadb
def test_mariadb_resumes_at_the_statement_that_timed_out(project: Path, mariadb_url: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from support.revisions import new_id, write_revision

    url = mariadb_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task").code == 0
    folder = project / "migrations" / "task"
    head = [r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")]
    down = next(v for v in head if (folder / "0005_merge_legacy_task_columns.py").read_text().count(v))
    write_revision(folder, "0006_two_tables", new_id(), down, upgrade="""
op.create_table("guard_first", sa.Column("id", sa.Integer(), primary_key=True))
op.add_column("task_logs", sa.Column("guarded", sa.Integer(), nullable=True))
""")
    with reader_holding(url, "task_logs") as reader:
        running = spawn_manage(project, url, "migrate", "task", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 2, timeout=120, what="two retries", proc=running)
        reader.release()
        _, err = running.communicate(timeout=120)
    assert running.returncode == 0, err  # CREATE TABLE guard_first ran once (a second run would fail)
    assert "guarded" in {r["COLUMN_NAME"] if "COLUMN_NAME" in r else r["column_name"]
                         for r in query(url, "SELECT column_name FROM information_schema.columns "
                                             "WHERE table_schema = DATABASE() AND table_name = 'task_logs'")}
    assert backend_of(url) == "mariadb"


# --------------------------------------------------------------------------- the ladder and the settings


def test_ladder_starts_short_stays_under_the_cap_and_is_bounded() -> None:
    import random

    from memstack.core.guardsettings import GuardSettings
    from memstack.engine.run.ladder import ladder

    rungs = ladder(GuardSettings(), random.Random(1))
    assert rungs[0].lock_timeout == 0.1 and rungs[0].sleep == 0
    assert {r.lock_timeout for r in rungs[:10]} == {0.1} < {r.lock_timeout for r in rungs}  # short tries first
    assert max(r.lock_timeout for r in rungs) == 1.0  # no rung waits longer than ddl_lock_timeout
    assert all(a.lock_timeout <= b.lock_timeout for a, b in itertools.pairwise(rungs))
    assert max(r.sleep for r in rungs) <= 1.0
    assert sum(r.sleep + r.lock_timeout for r in rungs) <= 60
    assert len(rungs) == 31
    short = ladder(GuardSettings(lock_retries=100, lock_retry_max_wait=5), random.Random(1))
    assert sum(r.sleep + r.lock_timeout for r in short) <= 5 and len(short) < 100
    assert len(ladder(GuardSettings(lock_retries=0))) == 1
    assert [r.lock_timeout for r in ladder(GuardSettings(ddl_lock_timeout=0))] == [0]  # no timeout, no retries


def test_mariadb_rungs_under_a_second_do_not_wait() -> None:
    import random

    from memstack.core.guardsettings import GuardSettings
    from memstack.engine.run.ladder import ladder, server_wait, timeout_sql

    waits = [server_wait("mariadb", r.lock_timeout) for r in ladder(GuardSettings(), random.Random(1))]
    assert waits[:15] == [0.0] * 15 and set(waits[15:]) == {1.0}  # 0.1 .. 0.76 s: no wait; the 1 s cap: 1 s
    assert server_wait("postgresql", 0.15) == 0.15 and server_wait("mariadb", 2.5) == 2.0
    assert timeout_sql("mariadb", 0.5, 10, local=False).startswith(  # type: ignore[union-attr]
        "SET SESSION lock_wait_timeout = 0, innodb_lock_wait_timeout = 0,")
    assert "lock_wait_timeout = 31536000" in str(timeout_sql("mariadb", 0, 10, local=False))  # 0: no timeout
    from memstack.engine.run.ladder import after_late_refusal

    rungs = ladder(GuardSettings(), random.Random(1))
    after_late_refusal("mariadb", rungs, 0, 20)  # refused at once: the next zero-wait tries stay
    assert len(rungs) == 31
    after_late_refusal("mariadb", rungs, 1, 4000)  # refused after copying the table: the waiting rungs next
    assert [server_wait("mariadb", r.lock_timeout) for r in rungs[:3]] == [0.0, 0.0, 1.0] and len(rungs) == 18


def test_settings_chain_flags_and_kill_switch(tmp_path: Path) -> None:
    from memstack.core.errors import ConfigurationError
    from memstack.core.guardsettings import guard_settings

    sources: dict[str, str] = {}
    settings = guard_settings({"MEMSTACK_LOCK_RETRIES": "3"}, {"lock_retries": 9, "blocker_policy": "Refuse",
                                                               "statement_timeout": 10}, sources)
    assert (settings.lock_retries, settings.blocker_policy, settings.statement_timeout) == (3, "refuse", 10.0)
    assert sources["lock_retries"] == "MEMSTACK_LOCK_RETRIES" and sources["ddl_lock_timeout"] == "default"
    assert settings.enabled and not settings.explicit_lock_timeout
    assert not guard_settings({"MEMSTACK_DISABLE_GUARD": "1"}, {}).enabled
    assert guard_settings({"MEMSTACK_DISABLE_GUARD": "0"}, {}).enabled
    flagged = settings.overridden({"ddl_lock_timeout": 2.5}, "the command line")
    assert flagged.ddl_lock_timeout == 2.5 and flagged.explicit_lock_timeout
    for bad in ({"lock_retries": 1.5}, {"blocker_policy": "sometimes"}, {"ddl_lock_timeout": -1},
                {"statement_timeout": True}, {"lock_timeout": 1}):
        with pytest.raises(ConfigurationError):
            settings.overridden(bad, "test")


def test_revision_guard_marker_is_read_checked_and_cached(tmp_path: Path) -> None:
    from support.revisions import new_id, write_revision

    from memstack.core.errors import ConfigurationError
    from memstack.engine.tree import index
    from memstack.engine.tree.loader import parse_revision_file, read_headers

    folder = tmp_path / "revisions"
    path = write_revision(folder, "0001_slow", new_id(), None,
                          module="guard = {'ddl_lock_timeout': 5, 'lock_retries': 0}\n")
    assert parse_revision_file(path).guard == (("ddl_lock_timeout", 5), ("lock_retries", 0))
    assert read_headers(folder)[0].guard == (("ddl_lock_timeout", 5), ("lock_retries", 0))
    assert read_headers(folder)[0].guard == (("ddl_lock_timeout", 5), ("lock_retries", 0))  # from the index
    assert index.INDEX_FORMAT == 7  # (squashes' fields joined the index at 6, the installed-tree summary at 7)
    bad = write_revision(folder, "0002_bad", new_id(), None, module="guard = {'lock_timout': 5}\n")
    with pytest.raises(ConfigurationError, match="unknown key"):
        parse_revision_file(bad)


def test_statements_are_read_for_their_tables_and_lock_modes() -> None:
    from memstack.engine.run.blockers import concurrent_index_name, fingerprint, locked_tables

    assert locked_tables("ALTER TABLE task_logs ADD COLUMN x int") == [("task_logs", "AccessExclusiveLock")]
    assert locked_tables('ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES "B" (id) NOT VALID') == [
        ("a", "AccessExclusiveLock"), ('"B"', "ShareRowExclusiveLock")]
    assert locked_tables("ALTER TABLE a VALIDATE CONSTRAINT f") == [("a", "ShareUpdateExclusiveLock")]
    assert locked_tables("CREATE INDEX ix ON a (b)") == [("a", "ShareLock")]
    assert locked_tables("CREATE INDEX CONCURRENTLY ix ON a (b)") == [("a", "ShareUpdateExclusiveLock")]
    assert concurrent_index_name("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix ON a (b)") == "ix"
    assert locked_tables("ALTER TABLE `t` ADD COLUMN x INT") == [("`t`", "AccessExclusiveLock")]
    assert locked_tables("UPDATE a SET b = 1") == [] and locked_tables("LOCK TABLE a IN ACCESS SHARE MODE") == []
    assert fingerprint("SELECT * FROM t WHERE a = 'x' AND b = 12")[1] == "SELECT * FROM t WHERE a = ? AND b = ?"


@pytest.mark.parametrize("kind", SERVERS)
def test_doctor_names_who_holds_the_tables_pending_revisions_need(project: Path, kind: str,
                                                                  request: pytest.FixtureRequest,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0

    def item() -> dict[str, str]:
        result = cli(capsys, monkeypatch, project, url, "doctor", "--json")
        return next(i for i in json.loads(result.out)["items"] if i["item"] == "table locks")

    assert item()["status"] == "ok"
    with reader_holding(url, "task_logs") as reader:
        # MariaDB serves INNODB_TRX from a cache refreshed at most every 0.1 s: the reader shows up within it
        held = wait_until(lambda: (found := item())["status"] == "warning" and found, 10,
                          "doctor to name the reader")
    assert held["status"] == "warning", held
    assert f"pid {reader.pid}" in held["detail"] and "task_logs" in held["detail"]


@pytest.mark.postgres
def test_wait_policy_waits_for_the_blocker_then_goes_and_gives_up_past_its_bound(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        bounded = manage(project, url, "migrate", "task", "0002", "--blocker-policy", "wait",
                         "--lock-retry-max-wait", "1")
        assert bounded.code == 1, bounded
        assert "still there after" in bounded.err and f"pid {reader.pid}" in bounded.err
        running = spawn_manage(project, url, "migrate", "task", "0002", "--blocker-policy", "wait")

        def polling() -> bool:  # the pre-flight reads pg_locks while it waits (nothing queued on the table)
            return bool(query(url, "SELECT pid FROM pg_stat_activity WHERE application_name = 'memstack' "
                                   "AND query LIKE '%pg_locks%' AND pid <> pg_backend_pid()"))
        wait_until(polling, timeout=60, what="the pre-flight waiting", proc=running)
        assert not sessions_waiting_for_any_lock(url)
        reader.release()
        _, err = running.communicate(timeout=120)
    assert running.returncode == 0, err
    assert _retries(url) == []
