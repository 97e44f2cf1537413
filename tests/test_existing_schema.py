"""Item 6 of issue 11: a ``create_all`` database given to ``migrate`` is recognised before the
first statement, with ``adopt`` as the fix, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.inspect import table_names, version_rows
from support.legacy import build_legacy_database
from support.running import run_main

from memstack.engine.errors import EngineError, UnrecordedSchema


def test_unrecorded_schema_is_a_domain_error_without_cli_words() -> None:
    error = UnrecordedSchema(["users", "tenants"])
    assert isinstance(error, EngineError)
    assert error.tables == ["tenants", "users"]
    assert "manage.py" not in str(error)
    assert "no revision is recorded" in error.message


def test_migrate_on_a_create_all_database_points_at_adopt(project: Path, db_url: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    build_legacy_database(db_url)
    before = table_names(db_url, bookkeeping=True)

    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", db_url, "migrate")
    assert result.code == 1
    assert "tables exist but no revision is recorded" in result.err
    assert "manage.py adopt" in result.err
    assert "already exists" not in result.err
    assert "Applying" not in result.err
    # nothing was run or recorded: no version table, no bookkeeping tables
    assert table_names(db_url, bookkeeping=True) == before


def test_migrate_of_an_unrelated_component_on_a_fresh_database_still_works(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "migrate", "task")
    assert result.code == 0, result.err
    assert "task_logs" in table_names(sqlite_url)
    assert version_rows(sqlite_url)


def test_fake_on_a_create_all_database_is_not_refused(project: Path, sqlite_url: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Recording revisions as applied without running them is how such a database may be taken over."""
    build_legacy_database(sqlite_url)
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "migrate", "task", "0001", "--fake")
    assert result.code == 0, result.err
    assert version_rows(sqlite_url)
