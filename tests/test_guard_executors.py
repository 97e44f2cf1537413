"""Which executors run under the guard (engine/run/guard.py), against a real blocking session.

Guarded: whatever runs revisions on a database others use. The pytest plugin's ``MigrationRunner``
(data-migration checks, a project's own migration tests) goes through ``migrate()``: a blocker
makes it retry, then fail naming it. Not guarded, by design (memstack/engine/generate/scratch.py):
scratch builds (``makemigrations``, ``check``, the plugin's step-by-step checks), whose database
nothing else uses; a blocker on the project's database does not reach them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.faults import reader_holding
from support.inspect import history_rows
from support.running import cli

from memstack.engine.run import guard as guard_module

SERVERS = [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]


@pytest.mark.parametrize("kind", SERVERS)
def test_plugin_runner_retries_then_names_the_blocker(project: Path, kind: str, request: pytest.FixtureRequest,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from memstack.core.errors import MemstackError
    from memstack.engine.workspace import Workspace
    from memstack.testing.runner import MigrationRunner

    url = request.getfixturevalue(f"{kind}_url")
    monkeypatch.setenv("MEMSTACK_DDL_LOCK_TIMEOUT", "0.2")
    monkeypatch.setenv("MEMSTACK_LOCK_RETRIES", "2")
    ws = Workspace.load(project, url)
    try:
        runner = MigrationRunner(ws)
        runner.migrate("task", "0001")
        with reader_holding(url, "task_logs") as reader, pytest.raises(MemstackError) as failed:
            runner.migrate("task")
    finally:
        ws.close()
    assert "gave up waiting for table locks after 3 attempt(s)" in str(failed.value), failed.value
    assert f"pid {reader.pid}" in str(failed.value)
    assert [r["event"] for r in history_rows(url)].count("retry") == 2


@pytest.mark.postgres
def test_scratch_builds_run_unguarded_and_a_blocker_elsewhere_does_not_reach_them(
        project: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_url
    assert cli(capsys, monkeypatch, project, url, "migrate", "task", "0001").code == 0
    built: list[tuple[str, bool]] = []  # (database, guard active) of every executor the command makes
    real_init = guard_module.Guard.__init__

    def noting(self: guard_module.Guard, engine: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, engine, *args, **kwargs)
        built.append((str(engine.url.database), self.active))

    monkeypatch.setattr(guard_module.Guard, "__init__", noting)
    with reader_holding(url, "task_logs"):
        result = cli(capsys, monkeypatch, project, url, "makemigrations", "--check")
    assert result.code == 0, result
    scratch = [active for database, active in built if database.startswith("memstack_scratch")]
    assert scratch and not any(scratch), built  # the scratch build ran, without the guard
    assert [r for r in history_rows(url) if r["event"] == "retry"] == []


@pytest.mark.postgres
def test_plugin_step_checks_build_unguarded_executors(project: Path, postgres_url: str) -> None:
    from memstack.engine.workspace import Workspace
    from memstack.testing.checks import _executor

    ws = Workspace.load(project, postgres_url)
    try:
        assert ws.settings.guard.enabled  # the guard is on for this project's runs ...
        assert not _executor(ws).guard.active  # ... not for the checks' scratch databases (generate/scratch.py)
    finally:
        ws.close()
