"""A taken-over project under plain ``alembic`` and offline SQL (issue 22): its environment hook and
its baseline apply to ``alembic upgrade heads``, ``alembic upgrade heads --sql`` and ``migrate --sql``
as to ``migrate``, on SQLite, PostgreSQL and MariaDB.

The project (tests/support/public_project.py) has revisions that need its env.py set-up ("No
sql_connection parameter is established" without it) and a table created before its first
revision (declared here as the baseline ``shop.baseline:metadata``). Each build must equal what
plain Alembic builds from the original project (baseline by hand, then ``alembic upgrade head``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url
from support.databases import backend_of, sqlite_url_for, temporary_database
from support.inspect import version_rows
from support.preview import psql, sqlite3_cli
from support.projects import MANAGE_PY, add_alembic_config
from support.public_project import plain_alembic_build, schema_of, write_public_project
from support.running import alembic, run

ENTRY = '{package = "shop", label = "shop"}'


def _taken_over(project: Path, tmp_path: Path, url: str) -> tuple[Path, list[str]]:
    add_alembic_config(project)
    app = tmp_path / "app"
    ids = write_public_project(app, url)
    done = run([sys.executable, MANAGE_PY, "--project-dir", project, "--database-url", url, "takeover", "alembic.ini",
                "--component", "shop", "--package", "shop"], cwd=app, PYTHONPATH=str(app))
    assert done.returncode == 0, done.stderr
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert ENTRY in text
    pyproject.write_text(text.replace(ENTRY, '{package = "shop", label = "shop", baseline = "shop.baseline:metadata"}'))
    return app, ids


@contextmanager
def _another_database(url: str, tmp_path: Path, name: str) -> Iterator[str]:
    kind = backend_of(url)
    if kind == "sqlite":
        yield sqlite_url_for(tmp_path, f"{name}.db")
        return
    with temporary_database(kind) as other:
        yield other


def _reference_schema(app: Path, url: str, tmp_path: Path) -> dict[str, object]:
    with _another_database(url, tmp_path, "reference") as reference:
        plain_alembic_build(app, reference)
        return schema_of(reference)


def _run_script(url: str, script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "script.sql"
    path.write_text(script, encoding="utf-8")
    kind = backend_of(url)
    if kind == "sqlite":
        return sqlite3_cli(url, path)
    if kind == "postgres":
        return psql(url, path)
    parts = make_url(url)
    return subprocess.run(["mariadb", "-h", parts.host or "127.0.0.1", "-P", str(parts.port or 3306), "-u",
                           parts.username or "root", parts.database or ""], stdin=path.open(encoding="utf-8"),
                          capture_output=True, text=True, timeout=120, check=False)


def test_plain_alembic_upgrade_runs_the_hook_and_the_baseline(project: Path, tmp_path: Path, db_url: str) -> None:
    """The revision that reads database.connection() runs; customers comes from the baseline; no create_all."""
    app, ids = _taken_over(project, tmp_path, db_url)
    done = alembic(project, db_url, "upgrade", "heads", pythonpath=[app])
    assert done.code == 0, done.err
    assert "Traceback" not in done.err
    assert ids[-1] in version_rows(db_url)
    assert schema_of(db_url) == _reference_schema(app, db_url, tmp_path)


def test_plain_alembic_sql_script_builds_the_same_schema(project: Path, tmp_path: Path, db_url: str) -> None:
    """``alembic upgrade shop@head --sql``: the hook's set-up lets 0002 render (on the mock connection offline),
    the baseline is written first (CREATE TABLE IF NOT EXISTS); the script run by the database's own
    client builds what plain Alembic builds online."""
    app, ids = _taken_over(project, tmp_path, db_url)
    done = alembic(project, db_url, "upgrade", "shop@head", "--sql", pythonpath=[app])  # memstack's own
    # components rebuild SQLite tables in batch mode, which needs the live table: only shop here
    assert done.code == 0, done.err
    script = done.out
    assert "customers" in script.split("products")[0]  # the baseline comes before the first revision's table
    assert "IF NOT EXISTS" in script
    ran = _run_script(db_url, script, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ids[-1] in version_rows(db_url)
    assert schema_of(db_url) == _reference_schema(app, db_url, tmp_path)


def test_migrate_sql_script_builds_the_same_schema(project: Path, tmp_path: Path, db_url: str) -> None:
    """``manage.py migrate shop --sql`` (memstack's own offline script) with the hook and the baseline;
    sqlmigrate of the root shows the baseline too."""
    app, ids = _taken_over(project, tmp_path, db_url)
    base = [sys.executable, MANAGE_PY, "--project-dir", project, "--database-url", db_url]
    done = run([*base, "migrate", "shop", "--sql"], cwd=app, PYTHONPATH=str(app))
    assert done.returncode == 0, done.stderr
    ran = _run_script(db_url, done.stdout, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ids[-1] in version_rows(db_url)
    assert schema_of(db_url) == _reference_schema(app, db_url, tmp_path)
    shown = run([*base, "sqlmigrate", "shop", "0001"], cwd=app, PYTHONPATH=str(app))
    assert shown.returncode == 0 and "customers" in shown.stdout.split("products")[0], shown.stdout + shown.stderr
