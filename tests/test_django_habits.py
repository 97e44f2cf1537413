"""The habits Django users bring (issue 24, point 3): a data migration from ``makemigrations --empty``,
a failing revision's code named by file and line, ``--name``, ``showmigrations --plan``, the
unmigrated-changes warning of ``migrate`` and Alembic's post-write hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.revisions import revision_files, ruff_check
from support.running import call, cli

DATA_STEP = 'op.execute(sa.text("UPDATE memos SET id = id"))'


def _fill_upgrade(path: Path, body: str) -> None:
    """The author's edit of an empty revision: ``body`` in place of the upgrade's ``pass``."""
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("def upgrade() -> None:", 1)
    _upgrade, rest = tail.split("\n\n\ndef downgrade", 1)
    path.write_text(f"{head}def upgrade() -> None:\n    {body}\n\n\ndef downgrade{rest}", encoding="utf-8")


# --------------------------------------------------------------------------- makemigrations --empty


def test_an_empty_revision_imports_op_and_sa_and_passes_ruff(project: Path) -> None:
    call(project, "sqlite://", "makemigrations", "memo", empty=True, message="backfill titles")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8")
    assert "import sqlalchemy as sa" in text and "from alembic import op" in text
    assert ruff_check([path]).returncode == 0, ruff_check([path]).stdout


def test_a_data_migration_written_into_an_empty_revision_runs(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate", yes=True)
    call(project, db_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, DATA_STEP)
    done = call(project, db_url, "migrate", yes=True)
    assert ("Applying", "memo", path.stem) in done.steps()


def test_a_missing_import_names_the_file_line_and_the_line_to_add(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8").replace("from alembic import op  # noqa: F401\n", "")
    path.write_text(text, encoding="utf-8")
    _fill_upgrade(path, DATA_STEP)
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if DATA_STEP in text)
    error, fix = [line for line in err.splitlines() if line.startswith(("error:", "  fix:"))]
    assert f"NameError: name 'op' is not defined (in {path}:{line})" in error
    assert f"add 'from alembic import op' at the top of {path}" in fix
    assert "Traceback" not in err and "unexpected" not in err


def test_any_other_failure_of_the_revision_code_names_file_and_line(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, "sa.no_such_function()")
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    assert f"AttributeError: module 'sqlalchemy' has no attribute 'no_such_function' (in {path}:" in err
    assert f"fix the code at {path}:" in err


def test_a_database_error_names_no_code_location(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, 'op.execute(sa.text("UPDATE no_such_table SET x = 1"))')
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1 and "no such table" in err
    assert f"(in {path}" not in err  # the data's fault, not the code's: the usual wording
