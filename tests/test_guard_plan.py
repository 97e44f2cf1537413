"""The guard's ladder for a whole plan in one transaction (``migrate --atomic``, ``--dry-run``), against a
real blocking session on PostgreSQL (MariaDB has neither mode: its DDL commits itself): a lock timeout
rolls the whole plan back and starts it again from its first step, said in the output (and in history
for ``--atomic``; a rehearsal leaves nothing behind); it goes through once the blocker ends and gives
up naming it when it does not."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest
from support.databases import query
from support.faults import reader_holding
from support.inspect import history_rows
from support.running import cli, manage, spawn_manage
from support.waiting import sessions_waiting_for_any_lock, wait_until

SMALL_LADDER = {"MEMSTACK_DDL_LOCK_TIMEOUT": "0.3", "MEMSTACK_LOCK_RETRIES": "200",
                "MEMSTACK_LOCK_RETRY_MAX_WAIT": "120"}
RESTARTED = "the whole plan rolled back and starts again from its first step"


def _retries(url: str) -> list[dict[str, object]]:
    return [r for r in history_rows(url) if r["event"] == "retry"]


class Lines:
    """A child's stderr, read as it comes (the rehearsal's restarts are only in its output)."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def text(self) -> str:
        self._thread.join(timeout=60)
        return "".join(self.lines)


@pytest.mark.postgres
def test_atomic_plan_restarts_from_its_first_step_until_the_blocker_ends(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        running = spawn_manage(project, url, "migrate", "task", "--atomic", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 3, timeout=120, what="three restarts", proc=running)
        reader.release()
        _out, err = running.communicate(timeout=120)
    assert running.returncode == 0, err
    notes = [str(r["note"]) for r in _retries(url)]
    assert all(n.startswith("restart=whole_plan attempt=") for n in notes), notes
    assert all(f"blocker_pid={reader.pid}" in n for n in notes[:3]), notes
    assert RESTARTED in err
    applied = [r["name"] for r in history_rows(url) if r["event"] == "apply"]
    assert "0002_add_progress" in applied and applied.count("0002_add_progress") == 1  # each step recorded once
    assert not sessions_waiting_for_any_lock(url)


@pytest.mark.postgres
def test_atomic_plan_gives_up_naming_the_blocker(project: Path, postgres_url: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        result = manage(project, url, "migrate", "task", "--atomic", MEMSTACK_DDL_LOCK_TIMEOUT="0.2",
                        MEMSTACK_LOCK_RETRIES="2", timeout=120)
    assert result.code == 1, result
    assert f"pid {reader.pid}" in result.err and "after 3 attempt(s)" in result.err, result.err
    assert result.err.count(RESTARTED) == 2, result.err
    assert len(_retries(url)) == 2
    assert [r["event"] for r in history_rows(url)][-1] == "failure"
    assert [r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")]  # 0001 kept
    assert manage(project, url, "migrate", "task").code == 0  # nothing of the plan stayed: the next run goes


@pytest.mark.postgres
def test_rehearsal_restarts_until_the_blocker_ends_and_leaves_nothing(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    before = history_rows(url)
    with reader_holding(url, "task_logs") as reader:
        running = spawn_manage(project, url, "migrate", "task", "--dry-run", **SMALL_LADDER)
        err = Lines(running.stderr)
        wait_until(lambda: err.count(RESTARTED) >= 2, timeout=120, what="two restarts", proc=running)
        reader.release()
        running.wait(timeout=120)
    text = err.text()
    assert running.returncode == 0, text
    assert f"blocker_pid={reader.pid}" in text
    assert history_rows(url) == before  # a rehearsal writes nothing, its retries neither


@pytest.mark.postgres
def test_rehearsal_gives_up_naming_the_blocker(project: Path, postgres_url: str,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        result = manage(project, url, "migrate", "task", "--dry-run", MEMSTACK_DDL_LOCK_TIMEOUT="0.2",
                        MEMSTACK_LOCK_RETRIES="1", timeout=120)
    assert result.code == 1, result
    assert f"pid {reader.pid}" in result.err and "after 2 attempt(s)" in result.err, result.err
    assert result.err.count(RESTARTED) == 1, result.err
    assert _retries(url) == []


@pytest.mark.postgres
def test_sigint_between_whole_plan_tries_exits_130_with_nothing_queued(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs"):
        running = spawn_manage(project, url, "migrate", "task", "--atomic", **SMALL_LADDER)
        wait_until(lambda: len(_retries(url)) >= 2, timeout=120, what="two restarts", proc=running)
        running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=60)
        assert running.returncode == 130, err
        wait_until(lambda: not sessions_waiting_for_any_lock(url), timeout=30,
                   what="no lock request left on the server")
    assert [r["event"] for r in history_rows(url)][-1] == "failure"


@pytest.mark.postgres
def test_rehearsal_lock_report_keeps_only_the_try_that_went_through(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    with reader_holding(url, "task_logs") as reader:
        running = spawn_manage(project, url, "migrate", "task", "--dry-run", "--locks", "--json", **SMALL_LADDER)
        err = Lines(running.stderr)
        wait_until(lambda: err.count(RESTARTED) >= 2, timeout=120, what="two restarts", proc=running)
        reader.release()
        out = running.stdout.read() if running.stdout is not None else ""
        running.wait(timeout=120)
    assert running.returncode == 0, err.text()
    statements = [(item["revision"], item["statement"]) for item in json.loads(out)["locks"]]
    assert statements and len(statements) == len(set(statements)), statements  # each statement once
