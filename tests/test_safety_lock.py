"""The migration lock, with real processes: 16 concurrent runs, waiting and timing out with the
holder named, no lock when nothing is pending, and ``--ddl-lock-timeout`` on table locks."""

from __future__ import annotations

import collections
import os
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from support.databases import backend_of, connect, query
from support.inspect import history_rows, snapshot, version_rows
from support.projects import add_alembic_table
from support.revisions import REV
from support.running import alembic, cli, manage, manage_argv, spawn_manage, subprocess_env
from support.waiting import sessions_waiting_for_table, wait_until

from memstack.core.db import create_engine
from memstack.engine.run.lock import migration_lock, mysql_lock_name

HEADS = {REV[("auth", "0002_add_user_roles_fk")], REV[("memory", "0002_add_task_id")],
         REV[("ontology", "0001_initial")], REV[("memo", "0001_initial")],
         REV[("task", "0005_merge_legacy_task_columns")]}


@pytest.mark.slow_faults
def test_sixteen_processes_apply_each_revision_exactly_once(project: Path, db_url: str) -> None:
    # half name the database with options, half through the environment; all start at once and
    # queue for the lock as long as the loaded machine needs (the default 60 s is not the subject)
    procs = []
    for index in range(16):
        if index % 2:
            argv = manage_argv(project, "migrate", "--lock-timeout", "200", url=db_url)
            env = subprocess_env()
        else:
            argv = manage_argv(project, "migrate")
            env = subprocess_env(db_url, MEMSTACK_LOCK_TIMEOUT="200")
        procs.append(subprocess.Popen(argv, cwd=project, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out}\n{err}"

    applies = collections.Counter((r["component"], r["name"]) for r in history_rows(db_url) if r["event"] == "apply")
    assert applies == collections.Counter(set(REV)), applies  # every revision, each exactly once
    assert {r["event"] for r in history_rows(db_url)} == {"apply"}
    assert all(r["success"] for r in history_rows(db_url))
    assert version_rows(db_url) == HEADS
    # the step lines, over all processes, also name every revision once
    lines = [line.split()[1:3] for _, err in outputs for line in err.splitlines() if "Applying" in line]
    assert sorted(map(tuple, lines)) == sorted(REV)


def _holder_ids(url: str) -> list[str]:
    """What identifies the test process as the lock holder, per backend."""
    kind = backend_of(url)
    if kind == "sqlite":
        return [f"process {os.getpid()}"]
    if kind == "postgres":
        # this database's advisory locks only (other sessions on the server may hold their own)
        pids = query(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                     "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        return [f"pid {row['pid']}" for row in pids]
    with connect(url) as connection:
        name = mysql_lock_name(connection.engine.url.database or "")
        conn_id = connection.execute(text("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
    return [f"connection {conn_id}"]


def test_lock_taken_waits_names_the_holder_then_fails(project: Path, db_url: str) -> None:
    engine = create_engine(db_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            before = snapshot(db_url)
            holder = _holder_ids(db_url)
            assert len(holder) == 1
            started = time.monotonic()
            result = manage(project, db_url, "migrate", "--lock-timeout", "1")
            elapsed = time.monotonic() - started
            assert snapshot(db_url) == before  # nothing was done
    finally:
        engine.dispose()

    assert result.code == 1, result
    assert elapsed >= 1, elapsed
    assert "Waiting up to 1 s for the migration lock, held by" in result.err
    assert "could not take the migration lock" in result.err
    assert "within 1 s" in result.err
    assert holder[0] in result.err, (holder, result.err)
    assert "--lock-timeout" in result.err  # the fix
    assert "Traceback" not in result.err

    # once the lock is free the same command works
    assert manage(project, db_url, "migrate", "--lock-timeout", "1").code == 0
    assert len(history_rows(db_url)) == len(REV)


def test_plain_alembic_upgrade_takes_the_same_lock(project: Path, db_url: str) -> None:
    add_alembic_table(project)
    engine = create_engine(db_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            before = snapshot(db_url)
            blocked = alembic(project, db_url, "upgrade", "heads", MEMSTACK_LOCK_TIMEOUT="1")
            assert snapshot(db_url) == before
    finally:
        engine.dispose()
    assert blocked.code != 0, blocked
    assert "could not take the migration lock" in blocked.text  # Alembic prints its FAILED: line on stdout
    assert alembic(project, db_url, "upgrade", "heads").code == 0
    assert len(history_rows(db_url)) == len(REV)


def test_nothing_pending_takes_no_lock(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0
    engine = create_engine(db_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            for args in (("migrate",), ("migrate", "memory"), ("migrate", "task", "0005"),
                         ("migrate", "memo", "head")):
                result = cli(capsys, monkeypatch, project, db_url, *args, "--lock-timeout", "0")
                assert result.code == 0, (args, result)
                assert "No migrations to apply" in result.err
                assert "Waiting" not in result.err
            # with something to do, the same call does need the lock and fails at once (within 0 s)
            busy = cli(capsys, monkeypatch, project, db_url, "migrate", "memory", "0001", "--lock-timeout", "0",
                       "--yes")
            assert busy.code == 1, busy
            assert "could not take the migration lock" in busy.err and "within 0 s" in busy.err
    finally:
        engine.dispose()
    assert len(history_rows(db_url)) == len(REV)


def _hold_task_logs(url: str, connection) -> None:
    if backend_of(url) == "postgres":
        connection.execute(text("LOCK TABLE task_logs IN ACCESS EXCLUSIVE MODE"))
    else:  # an open transaction that read the table holds its metadata lock until it ends
        connection.execute(text("SELECT * FROM task_logs"))


@pytest.mark.parametrize("kind", [pytest.param("postgres", marks=pytest.mark.postgres),
                                  pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_ddl_lock_timeout_fails_fast_behind_a_table_lock(project: Path, kind: str, request: pytest.FixtureRequest,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with connect(url) as blocker:
        blocker.begin()
        _hold_task_logs(url, blocker)
        # one try under a 1 s lock timeout, then it fails naming the blocker
        result = manage(project, url, "migrate", "task", "0002", "--ddl-lock-timeout", "1", "--lock-retries", "0",
                        timeout=240)
        # nothing of the step ran (the guard says so): no failure mark, on MariaDB either
        assert not [r for r in history_rows(url) if r["event"] == "retry"]
        # with the defaults the same migration retries on the guard's ladder until the lock is free
        waiting = spawn_manage(project, url, "migrate", "task", "0002")
        wait_until(lambda: sessions_waiting_for_table(url, "task_logs"), proc=waiting,
                   what="the run without --ddl-lock-timeout to queue behind the table lock")
        assert waiting.poll() is None, waiting.communicate()
        blocker.rollback()
    _, err = waiting.communicate(timeout=240)

    assert result.code == 1, result
    assert "step 1 of 1 failed: task 0002_add_progress" in result.err
    assert "gave up waiting for table locks after 1 attempt(s)" in result.err and "blocked by pid" in result.err
    failure = [r for r in history_rows(url) if r["event"] == "failure"]
    assert [(r["component"], r["name"]) for r in failure] == [("task", "0002_add_progress")]
    # the queued run went through once the lock was released
    assert waiting.returncode == 0, err
    assert "Applying task 0002_add_progress" in err
    assert [r["name"] for r in history_rows(url) if r["event"] == "apply" and r["component"] == "task"] == \
        ["0001_initial", "0002_add_progress"]


def test_ddl_lock_timeout_without_contention_just_works(project: Path, db_url: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(capsys, monkeypatch, project, db_url, "migrate", "memory", "--ddl-lock-timeout", "5")
    assert result.code == 0, result
    if backend_of(db_url) != "mariadb":
        atomic = cli(capsys, monkeypatch, project, db_url, "migrate", "--atomic", "--ddl-lock-timeout", "5")
        assert atomic.code == 0, atomic
    else:
        assert cli(capsys, monkeypatch, project, db_url, "migrate", "--ddl-lock-timeout", "0.5").code == 0
    assert len([r for r in history_rows(db_url) if r["event"] == "apply"]) == len(REV)
