"""Plain ``alembic upgrade heads`` through memstack's env.py runs under the guard (memstack/alembic_guard.py),
against a real blocking session on PostgreSQL and MariaDB: it retries on the ladder and goes through once
the blocker ends (PostgreSQL: the revision again from a savepoint; MariaDB: the statement in place), and
gives up naming the blocker when it does not; every try is in history."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from support.faults import reader_holding
from support.inspect import history_rows
from support.projects import REPO_ROOT, add_alembic_table
from support.running import VENV_BIN, alembic, cli, signals_as_a_terminal_sends_them, subprocess_env
from support.waiting import sessions_waiting_for_any_lock, wait_until

SERVERS = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]
SMALL_LADDER = {"MEMSTACK_DDL_LOCK_TIMEOUT": "0.3", "MEMSTACK_LOCK_RETRIES": "200",
                "MEMSTACK_LOCK_RETRY_MAX_WAIT": "120"}


def _retries(url: str) -> list[dict[str, object]]:
    return [r for r in history_rows(url) if r["event"] == "retry"]


def _spawn_alembic(project: Path, url: str, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([str(VENV_BIN / "alembic"), *args], cwd=project,
                            env=subprocess_env(url, [REPO_ROOT, project], **env),  # this checkout's memstack
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=signals_as_a_terminal_sends_them)


def _ready(project: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    add_alembic_table(project)
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0


@pytest.mark.parametrize("kind", SERVERS)
def test_plain_alembic_upgrade_retries_until_the_blocker_ends(project: Path, kind: str,
                                                              request: pytest.FixtureRequest,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    _ready(project, url, capsys, monkeypatch)
    with reader_holding(url, "task_logs") as reader:
        running = _spawn_alembic(project, url, "upgrade", "heads", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 3, timeout=120, what="three retries", proc=running)
        reader.release()
        _out, err = running.communicate(timeout=120)
    assert running.returncode == 0, err
    assert "lock busy, trying again" in err, err
    notes = [str(r["note"]) for r in _retries(url)]
    assert all(f"blocker_pid={reader.pid}" in n for n in notes[:3]), notes
    applied = [r["name"] for r in history_rows(url) if r["event"] == "apply"]
    assert applied.count("0002_add_progress") == 1
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0  # nothing left to do, nothing marked


@pytest.mark.parametrize("kind", SERVERS)
def test_plain_alembic_upgrade_gives_up_naming_the_blocker(project: Path, kind: str, request: pytest.FixtureRequest,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    _ready(project, url, capsys, monkeypatch)
    with reader_holding(url, "task_logs") as reader:
        result = alembic(project, url, "upgrade", "heads", pythonpath=[REPO_ROOT, project],
                         MEMSTACK_DDL_LOCK_TIMEOUT="0.2", MEMSTACK_LOCK_RETRIES="2")
    assert result.code != 0, result  # Alembic's own failure: "FAILED: ..." on stdout, exit 255
    said = result.out + result.err
    assert "gave up waiting for table locks after 3 attempt(s)" in said, result
    assert f"blocked by pid {reader.pid}" in said, result
    assert len(_retries(url)) == 2
    assert [r["event"] for r in history_rows(url)][-1] == "failure"


@pytest.mark.parametrize("kind", SERVERS)
def test_sigint_between_plain_alembic_tries_leaves_nothing_queued(project: Path, kind: str,
                                                                  request: pytest.FixtureRequest,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    _ready(project, url, capsys, monkeypatch)
    with reader_holding(url, "task_logs"):
        running = _spawn_alembic(project, url, "upgrade", "heads", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 2, timeout=120, what="two retries", proc=running)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode != 0, err

        def nothing_waits() -> bool:
            return not sessions_waiting_for_any_lock(url)
        wait_until(nothing_waits, timeout=30, what="no lock request left on the server")
