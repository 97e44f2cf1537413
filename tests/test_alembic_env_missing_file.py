"""Plain ``alembic``'s read-only commands on a SQLite file that does not exist create no file:
they report an empty database (what the file would be), and a command that writes still makes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.inspect import version_rows
from support.projects import add_alembic_config
from support.running import alembic


@pytest.fixture
def alembic_project(project: Path) -> Path:
    add_alembic_config(project)
    return project


def _file(url: str) -> Path:
    return Path(make_url(url).database or "")


@pytest.mark.parametrize("args", [("current",), ("current", "-v"), ("history", "-i"), ("heads",), ("check",)],
                         ids=lambda args: " ".join(args))
def test_read_only_command_creates_no_file(alembic_project: Path, sqlite_url: str, args: tuple[str, ...]) -> None:
    assert not _file(sqlite_url).exists()
    result = alembic(alembic_project, sqlite_url, *args)
    assert "Traceback" not in result.err, result.err
    if args[0] == "check":  # an empty database is not up to date: said, not created
        assert result.code != 0 and "not up to date" in result.text, result.text  # (FAILED: is on stdout)
    else:
        assert result.code == 0, result.err
        if args[0] == "current":  # nothing applied: no revision listed
            assert "(head)" not in result.out and "Rev:" not in result.out, result.out
    assert not _file(sqlite_url).exists(), args
    assert not list(_file(sqlite_url).parent.glob("*.db*")), list(_file(sqlite_url).parent.iterdir())


def test_existing_file_is_still_read_and_upgrade_still_creates(alembic_project: Path, sqlite_url: str) -> None:
    upgraded = alembic(alembic_project, sqlite_url, "upgrade", "memo@head")
    assert upgraded.code == 0, upgraded.err
    assert _file(sqlite_url).is_file() and version_rows(sqlite_url)
    current = alembic(alembic_project, sqlite_url, "current")
    assert current.code == 0, current.err
    assert set(current.out.split()) & version_rows(sqlite_url), current.out
