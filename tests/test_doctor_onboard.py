"""``doctor`` (a health report, each failing item with its fix) and ``onboard`` (from nothing to a
migrated, seeded database; a second run changes nothing). Real servers and files; nothing mocked."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from support.databases import DATABASE_PREFIX, drop_database, query, require_server
from support.inspect import history_rows, snapshot, version_rows
from support.projects import add_alembic_table
from support.revisions import REV, new_id, write_revision
from support.running import cli, migrate, subprocess_env

from memstack import call_command
from memstack.core.db import create_engine, database_exists
from memstack.core.errors import MemstackError
from memstack.core.settings import load_settings
from memstack.engine.run.lock import migration_lock
from memstack.onboarding import ensure_database, onboard

HEADS = {REV[("auth", "0002_add_user_roles_fk")], REV[("memory", "0002_add_task_id")],
         REV[("ontology", "0001_initial")], REV[("memo", "0001_initial")],
         REV[("task", "0005_merge_legacy_task_columns")]}
KINDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
         pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)]
HEALTHY_ITEMS = ["configuration", "driver", "server", "database", "revision files", "[tool.alembic]",
                 "unknown revisions", "pending revisions", "heads", "checksums", "failure marks", "lock",
                 "table locks"]




def doctor_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
                url: str) -> tuple[int, dict[str, Any]]:
    result = cli(capsys, monkeypatch, project, url, "doctor", "--json")
    return result.code, json.loads(result.out)


def failing(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["item"]: item for item in report["items"] if item["status"] == "error"}


@pytest.fixture
def healthy_project(project: Path) -> Path:
    add_alembic_table(project)  # the repository's pyproject.toml has [tool.alembic]; doctor checks it
    return project


# --------------------------------------------------------------------------- doctor: healthy


def test_doctor_on_a_healthy_database(healthy_project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(healthy_project, db_url)

    text = cli(capsys, monkeypatch, healthy_project, db_url, "doctor")
    assert text.code == 0, text
    lines = text.out.splitlines()
    assert lines and all(line.startswith("[ok  ] ") for line in lines), text
    healthy = HEALTHY_ITEMS + (["indexes"] if db_url.startswith("postgresql") else [])  # INVALID ones: none
    assert [line[7:].split(":")[0] for line in lines] == healthy
    assert "fix:" not in text.out

    code, report = doctor_json(capsys, monkeypatch, healthy_project, db_url)
    assert code == 0
    assert set(report) == {"ok", "items"}
    assert report["ok"] is True
    assert [item["item"] for item in report["items"]] == healthy
    for item in report["items"]:
        assert set(item) == {"item", "status", "detail", "fix"}
        assert item["status"] == "ok", item
        assert item["detail"]
    server = next(item for item in report["items"] if item["item"] == "server")
    assert server["detail"].startswith("reachable; ")


def test_doctor_names_the_lock_holder_as_a_warning(healthy_project: Path, sqlite_url: str,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(healthy_project, sqlite_url)
    engine = create_engine(sqlite_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            code, report = doctor_json(capsys, monkeypatch, healthy_project, sqlite_url)
    finally:
        engine.dispose()
    assert code == 0 and report["ok"] is True  # a warning is not an error
    lock = [item for item in report["items"] if item["item"] == "lock"]
    assert len(lock) == 1 and lock[0]["status"] == "warning"
    assert "held by" in lock[0]["detail"] and lock[0]["fix"]


# --------------------------------------------------------------------------- doctor: broken


def test_doctor_reports_a_pending_revision(healthy_project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(healthy_project, db_url)
    write_revision(healthy_project / "migrations" / "memo", "0002_extra", new_id(), REV[("memo", "0001_initial")],
                   upgrade='op.create_table("memo_extra", sa.Column("id", sa.Integer(), primary_key=True))',
                   downgrade='op.drop_table("memo_extra")')
    before = snapshot(db_url)

    code, report = doctor_json(capsys, monkeypatch, healthy_project, db_url)

    assert code == 1
    assert report["ok"] is False
    bad = failing(report)
    assert set(bad) == {"pending revisions"}
    assert "memo" in bad["pending revisions"]["detail"] and "0002_extra" in bad["pending revisions"]["detail"]
    assert "manage.py migrate" in bad["pending revisions"]["fix"]
    assert snapshot(db_url) == before  # doctor only looks

    text = cli(capsys, monkeypatch, healthy_project, db_url, "doctor")
    assert text.code == 1
    assert "[FAIL] pending revisions: memo: 1 pending revision(s): 0002_extra" in text.out
    assert "       fix: manage.py migrate" in text.out
    assert "doctor found 1 problem(s) that need action" in text.err


def test_doctor_reports_a_changed_applied_revision(healthy_project: Path, db_url: str,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(healthy_project, db_url)
    path = healthy_project / "migrations" / "memo" / "0001_initial.py"
    source = path.read_text(encoding="utf-8")
    assert source.count("def upgrade() -> None:\n") == 1
    path.write_text(source.replace("def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute('SELECT 1')\n"),
                    encoding="utf-8")

    code, report = doctor_json(capsys, monkeypatch, healthy_project, db_url)

    assert code == 1 and report["ok"] is False
    bad = failing(report)
    assert set(bad) == {"checksums"}
    assert "memo 0001_initial" in bad["checksums"]["detail"]
    assert "repair" in bad["checksums"]["fix"]


@pytest.mark.parametrize("kind", KINDS)
def test_doctor_reports_a_missing_database(healthy_project: Path, tmp_path: Path, kind: str,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if kind == "sqlite":
        name = str(tmp_path / "absent.db")
        url = f"sqlite:///{name}"
    else:
        name = DATABASE_PREFIX + secrets.token_hex(6)
        url = require_server(kind).url.set(database=name).render_as_string(hide_password=False)

    code, report = doctor_json(capsys, monkeypatch, healthy_project, url)

    assert code == 1 and report["ok"] is False
    bad = failing(report)
    assert set(bad) == {"database"}
    assert name in bad["database"]["detail"] and "does not exist" in bad["database"]["detail"]
    assert "onboard" in bad["database"]["fix"]
    assert not database_exists(url)  # doctor does not create it


@pytest.mark.parametrize("url", ["postgresql://x@127.0.0.1:1/db", "mysql://x:secret@127.0.0.1:1/db"],
                         ids=["postgres", "mariadb"])
def test_doctor_reports_an_unreachable_server(healthy_project: Path, url: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(capsys, monkeypatch, healthy_project, url, "doctor", "--json")

    assert result.code == 1, result
    report = json.loads(result.out)
    assert report["ok"] is False
    bad = failing(report)
    assert set(bad) == {"server"}
    assert "cannot reach the server" in bad["server"]["detail"]
    assert "start the database server" in bad["server"]["fix"]
    assert "secret" not in result.out + result.err
    assert "Traceback" not in result.err

    text = cli(capsys, monkeypatch, healthy_project, url, "doctor")
    assert text.code == 1
    assert "[FAIL] server: cannot reach the server" in text.out
    assert "fix: start the database server" in text.out


def test_doctor_reports_a_missing_driver(healthy_project: Path, postgres_url: str) -> None:
    # a Python without psycopg: the import is blocked in a child process (the database is real)
    script = ("import sys; sys.modules['psycopg'] = None\n"
              "from memstack.cli import main\n"
              "main(sys.argv[1:])")
    proc = subprocess.run([sys.executable, "-c", script, "--project-dir", str(healthy_project), "--database-url",
                           postgres_url, "doctor", "--json"], env=subprocess_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 1, proc.stderr
    bad = failing(json.loads(proc.stdout))
    assert set(bad) == {"driver"}
    assert "psycopg" in bad["driver"]["detail"] and "pip install" in bad["driver"]["fix"]


# --------------------------------------------------------------------------- onboard


@contextlib.contextmanager
def new_database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a database that does not exist yet (dropped afterwards when onboard created it)."""
    if kind == "sqlite":
        yield f"sqlite:///{(tmp_path / 'data' / 'new' / 'memstack.db').as_posix()}"
        return
    server = require_server(kind)
    url = server.url.set(database=DATABASE_PREFIX + secrets.token_hex(6)).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        drop_database(kind, url)



def seeded_users(url: str) -> set[str]:
    return {row["email"] for row in query(url, "SELECT email FROM users")}


@pytest.mark.parametrize("kind", KINDS)
def test_onboard_library_from_nothing_then_again(project: Path, tmp_path: Path, kind: str) -> None:
    with new_database_url(kind, tmp_path) as url:
        assert not database_exists(url)
        settings = load_settings(project_dir=project, database_url=url)

        first = onboard(settings)

        assert first.created_database is True
        assert database_exists(url)
        assert len(first.applied) == len(REV)
        assert version_rows(url) == HEADS
        assert first.seed is not None and first.seed.created
        assert set(first.seed.passwords) == {"admin@memstack.ai", "user@memstack.ai"}  # generated, shown once
        assert first.seed.api_key and first.seed.api_key.startswith("ms_sk_")
        assert seeded_users(url) == {"admin@memstack.ai", "user@memstack.ai"}
        history = history_rows(url)

        second = onboard(settings)

        assert second.created_database is False
        assert second.applied == []
        assert second.seed is not None and second.seed.created == [] and not second.seed.changed
        assert second.seed.passwords == {} and second.seed.api_key is None
        assert history_rows(url) == history  # no new history rows
        assert len(query(url, "SELECT id FROM api_keys")) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_onboard_command_from_nothing_then_again(project: Path, tmp_path: Path, kind: str) -> None:
    with new_database_url(kind, tmp_path) as url:
        out, err = io.StringIO(), io.StringIO()
        call_command("onboard", database_url=url, project_dir=str(project), stdout=out, stderr=err)

        assert "Created the database." in err.getvalue()
        assert f"Applied {len(REV)} revision(s)." in err.getvalue()
        assert "Created: 12 permissions, 2 roles" in err.getvalue()
        assert "admin@memstack.ai password: " in out.getvalue()
        assert "admin@memstack.ai API key: ms_sk_" in out.getvalue()
        assert version_rows(url) == HEADS
        history = history_rows(url)
        users = query(url, "SELECT id, email, password_hash FROM users ORDER BY email")

        out, err = io.StringIO(), io.StringIO()
        call_command("onboard", database_url=url, project_dir=str(project), stdout=out, stderr=err)

        assert "The database exists." in err.getvalue()
        assert "Schema is up to date." in err.getvalue()
        assert "Nothing to do: MemStack's start-up data is already present." in err.getvalue()
        assert out.getvalue() == ""  # no secrets the second time
        assert history_rows(url) == history
        assert query(url, "SELECT id, email, password_hash FROM users ORDER BY email") == users


@pytest.mark.parametrize("kind", KINDS)
def test_onboard_no_seed_only_creates_and_migrates(project: Path, tmp_path: Path, kind: str) -> None:
    with new_database_url(kind, tmp_path) as url:
        out, err = io.StringIO(), io.StringIO()
        call_command("onboard", no_seed=True, database_url=url, project_dir=str(project), stdout=out, stderr=err)

        assert "Created the database." in err.getvalue()
        assert version_rows(url) == HEADS
        assert seeded_users(url) == set()
        assert query(url, "SELECT id FROM permissions") == []
        assert "password" not in out.getvalue() and "API key" not in out.getvalue()

        result = onboard(load_settings(project_dir=project, database_url=url), seed=False)
        assert result.created_database is False and result.applied == [] and result.seed is None


def test_onboard_takes_passwords_from_the_environment(project: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import bcrypt

    monkeypatch.setenv("MEMSTACK_ADMIN_PASSWORD", "admin-from-env")
    with new_database_url("sqlite", tmp_path) as url:
        out, err = io.StringIO(), io.StringIO()
        call_command("onboard", database_url=url, project_dir=str(project), stdout=out, stderr=err)
        assert "admin@memstack.ai: password from MEMSTACK_ADMIN_PASSWORD." in err.getvalue()
        assert "admin-from-env" not in out.getvalue() + err.getvalue()
        assert "admin@memstack.ai password:" not in out.getvalue()
        assert "user@memstack.ai password: " in out.getvalue()
        stored = query(url, "SELECT password_hash FROM users WHERE email = 'admin@memstack.ai'")[0]["password_hash"]
        assert bcrypt.checkpw(b"admin-from-env", stored.encode())


def test_onboard_refuses_a_database_it_cannot_reach(project: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(capsys, monkeypatch, project, "postgresql://x:secret@127.0.0.1:1/db", "onboard")
    assert result.code == 1, result
    assert "secret" not in result.out + result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("kind", [pytest.param("postgres", marks=pytest.mark.postgres),
                                  pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_onboard_server_url_without_database_name_is_refused(kind: str) -> None:
    server = require_server(kind)
    url = server.url
    # (URL.set(database=None) would keep the database: build the URL without one)
    bare = URL.create(url.drivername, url.username, url.password, url.host, url.port)
    assert bare.database is None
    # ensure_database is what onboard runs before anything else; called alone, a regression here
    # cannot migrate the server's maintenance database (libpq would pick the user's name as database)
    with pytest.raises(MemstackError, match="names no database"):
        ensure_database(bare.render_as_string(hide_password=False))
