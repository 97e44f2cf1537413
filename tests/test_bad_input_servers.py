"""The bad-input corpus, part 3: users the server refuses, read-only databases, Ctrl-C, and
``check``/``makemigrations`` for a user who may not create databases (``--scratch-url``).

Roles are created per test on the test servers and dropped afterwards. PostgreSQL on the test
machine trusts every local connection, so a wrong *password* cannot be refused there: the wrong
credential is a user that does not exist (MariaDB's wrong password is in ``test_bad_input.py``).
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.badinput import assert_clear_message, assert_unchanged, run_manage
from support.databases import execute, sqlite_url_for, temporary_database
from support.inspect import app_tables, history_rows, snapshot, tables
from support.projects import MANAGE_PY, add_alembic_table, make_project
from support.running import signals_as_a_terminal_sends_them, subprocess_env
from support.waiting import wait_for_file

MEMO_HEAD = "bc9a7cdd598c"
SLEEPING_REVISION = f'''
import os
import time

import sqlalchemy as sa
from alembic import op

revision = "5dee905dee90"
down_revision = "{MEMO_HEAD}"


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    started = os.environ["SLEEPING_REVISION_STARTED"]
    open(started + ".tmp", "w").close()
    os.replace(started + ".tmp", started)  # from here on, SIGINT lands inside this revision
    time.sleep(600)  # interrupted long before; the test never relies on its length


def downgrade():
    op.drop_table("half_done")
'''
PENDING_REVISION = f'revision = "a0a0a0a0a0a0"\ndown_revision = "{MEMO_HEAD}"\n\n\ndef upgrade():\n' \
                   '    from alembic import op\n    op.execute("CREATE TABLE pending_one (id INTEGER)")\n\n\n' \
                   'def downgrade():\n    pass\n'


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("servers") / "project")
    add_alembic_table(root)  # so check's only problem can be the one under test
    return root


@pytest.fixture(scope="module")
def migrated_postgres(project: Path) -> Iterator[str]:
    with temporary_database("postgres") as url:
        done = run_manage(project, ["--database-url", url, "migrate"])
        assert done.code == 0, done
        yield url


@contextlib.contextmanager
def postgres_role(admin_url: str, *options: str) -> Iterator[str]:
    """A LOGIN role (no other privilege unless ``options``); yields its name; dropped afterwards."""
    name = f"memstack_t_role_{secrets.token_hex(4)}"
    execute(admin_url, f'CREATE ROLE "{name}" LOGIN {" ".join(options)}')
    try:
        yield name
    finally:
        execute(admin_url, f'DROP OWNED BY "{name}"', f'DROP ROLE "{name}"')


def as_user(url: str, user: str) -> str:
    return make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


# --------------------------------------------------------------------------- refused users


@pytest.mark.postgres
def test_postgres_unknown_user(project: Path, migrated_postgres: str) -> None:
    before = snapshot(migrated_postgres)
    result = run_manage(project, ["--database-url", as_user(migrated_postgres, "nobody_here"), "migrate"])
    assert_clear_message(result, 1, 'role "nobody_here" does not exist')
    assert snapshot(migrated_postgres) == before


@pytest.mark.parametrize(("backend", "query", "says"), [
    pytest.param("postgres", "options=-c%20statement_timeout%3Dbogus", 'invalid value for parameter',
                 marks=pytest.mark.postgres, id="postgres"),
    pytest.param("mariadb", "init_command=SET%20no_such_variable%3D1", "Unknown system variable",
                 marks=pytest.mark.mariadb, id="mariadb")])
def test_a_setting_the_server_refuses_is_named_in_the_fix(project: Path, backend: str, query: str, says: str) -> None:
    """A connection option from the URL's query that the server refuses: the fix line points at the
    query, not at a server that is not running."""
    url = {"postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
           "mariadb": "mysql+pymysql://root@127.0.0.1:3306/mysql"}[backend]
    result = run_manage(project, ["--database-url", f"{url}?{query}", "showmigrations"])
    assert_clear_message(result, 1, says)
    assert "the server refused a setting that the URL's query" in result.err, result


@pytest.mark.postgres
@pytest.mark.parametrize("args", [("migrate",), ("showmigrations",), ("history",), ("check", "--database"),
                                  ("migrate", "memo", "zero", "--yes"), ("stamp", "memo", "zero"),
                                  ("doctor",)],
                         ids=" ".join)
def test_postgres_user_without_privileges(project: Path, migrated_postgres: str, args: tuple[str, ...]) -> None:
    """A LOGIN role with no privileges on the tables postgres migrated: one line naming the refusal."""
    before = snapshot(migrated_postgres)
    with postgres_role(migrated_postgres) as role:
        result = run_manage(project, ["--database-url", as_user(migrated_postgres, role), *args])
    assert_clear_message(result, 1, "refused the operation: permission denied for table")
    assert role in result.err  # which user was refused
    assert snapshot(migrated_postgres) == before


@pytest.mark.mariadb
def test_mariadb_user_without_privileges(project: Path, tmp_path: Path) -> None:
    with temporary_database("mariadb") as url:
        assert run_manage(project, ["--database-url", url, "migrate"]).code == 0
        before = snapshot(url)
        user = f"memstack_t_{secrets.token_hex(4)}"
        execute(url, f"CREATE USER '{user}'@'%'")
        try:
            result = run_manage(project, ["--database-url", as_user(url, user), "migrate"])
        finally:
            execute(url, f"DROP USER '{user}'@'%'")
        assert_clear_message(result, 1, "access denied")
        assert snapshot(url) == before


# --------------------------------------------------------------------------- read-only SQLite


@pytest.fixture
def pending_project(project: Path, tmp_path: Path) -> Path:
    """The project with one more memo revision, so migrate has something to write."""
    copy = tmp_path / "pending"
    shutil.copytree(project, copy)
    (copy / "migrations" / "memo" / "0002_pending.py").write_text(PENDING_REVISION)
    return copy


def migrated_sqlite(project: Path, folder: Path) -> str:
    url = sqlite_url_for(folder, "ro.db")
    assert run_manage(project, ["--database-url", url, "migrate"]).code == 0
    return url


def test_read_only_sqlite_uri(project: Path, pending_project: Path, tmp_path: Path) -> None:
    """As root, chmod 0444 does not stop writes; SQLite's own read-only mode does."""
    url = migrated_sqlite(project, tmp_path)
    before = snapshot(url)
    read_only = f"sqlite:///file:{make_url(url).database}?mode=ro&uri=true"
    result = run_manage(pending_project, ["--database-url", read_only, "migrate"])
    assert_clear_message(result, 1, "readonly database")
    assert "the database refused the write" in result.err
    assert snapshot(url) == before


def test_read_only_sqlite_file_immutable(project: Path, pending_project: Path, tmp_path: Path) -> None:
    """``chattr +i`` makes the file read-only even for root (where the filesystem supports it)."""
    url = migrated_sqlite(project, tmp_path)
    path = Path(make_url(url).database or "")
    before = snapshot(url)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False,
                                                        capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE and ext4/xfs/btrfs)")
    try:
        result = run_manage(pending_project, ["--database-url", url, "migrate"])
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    assert_clear_message(result, 1, "readonly database")
    assert snapshot(url) == before


# --------------------------------------------------------------------------- Ctrl-C


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_interrupted_migrate(backend: str, project: Path, tmp_path: Path) -> None:
    """SIGINT mid-revision: the revision rolled back, the interruption in history, exit 130."""
    sleeping = tmp_path / "sleeping"
    shutil.copytree(project, sleeping)
    (sleeping / "migrations" / "memo" / "0002_sleeps.py").write_text(SLEEPING_REVISION)
    database = temporary_database("postgres") if backend == "postgres" else \
        contextlib.nullcontext(sqlite_url_for(tmp_path))
    with database as url:
        assert run_manage(project, ["--database-url", url, "migrate"]).code == 0
        before = snapshot(url)
        started = tmp_path / "started"
        process = subprocess.Popen([sys.executable, str(MANAGE_PY), "--project-dir", str(sleeping),
                                    "--database-url", url, "migrate"], stdin=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                   env=subprocess_env(None, SLEEPING_REVISION_STARTED=str(started)),
                                   preexec_fn=signals_as_a_terminal_sends_them)
        # the revision's own file says it runs (the step line ends only when the step does)
        wait_for_file(started, what="the sleeping revision to start", proc=process)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=120)
        assert process.returncode == 130, err
        assert "Traceback" not in err and "Interrupted." in err, err
        assert "half_done" not in tables(url)  # rolled back
        assert_unchanged(before, snapshot(url), failure_recorded=True)
        last = history_rows(url)[-1]
        assert (last["revision"], last["event"], bool(last["success"])) == ("5dee905dee90", "failure", False)
        assert "interrupted" in last["error"]


# --------------------------------------------------------------------------- scratch databases


@pytest.mark.postgres
def test_check_without_createdb(project: Path, migrated_postgres: str) -> None:
    with postgres_role(migrated_postgres, "NOCREATEDB") as role:
        result = run_manage(project, ["--database-url", as_user(migrated_postgres, role), "check"])
    assert_clear_message(result, 1, "cannot create a scratch database", listed=True)
    assert "--scratch-url" in result.out and "fix the failing revision" not in result.out


@pytest.mark.postgres
def test_makemigrations_without_createdb(project: Path, migrated_postgres: str) -> None:
    with postgres_role(migrated_postgres, "NOCREATEDB") as role:
        result = run_manage(project, ["--database-url", as_user(migrated_postgres, role), "makemigrations", "--check"])
    assert_clear_message(result, 1, "permission denied to create database")
    assert "--scratch-url" in result.err and "MEMSTACK_SCRATCH_URL" in result.err


@contextlib.contextmanager
def owned_scratch(admin_url: str, role: str) -> Iterator[str]:
    """An empty database owned by ``role`` (made by an administrator, as the README says)."""
    with temporary_database("postgres") as scratch:
        execute(admin_url, f'ALTER DATABASE "{make_url(scratch).database}" OWNER TO "{role}"')
        yield as_user(scratch, role)


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["option", "environment", "configuration"])
def test_scratch_url_without_createdb(how: str, project: Path, migrated_postgres: str, tmp_path: Path) -> None:
    """An existing empty database serves instead, and is left empty again."""
    with postgres_role(migrated_postgres, "NOCREATEDB") as role, owned_scratch(migrated_postgres, role) as scratch:
        target = project
        argv, env = ["--database-url", as_user(migrated_postgres, role), "check"], {}
        if how == "option":
            argv += ["--scratch-url", scratch]
        elif how == "environment":
            argv[2:] = ["makemigrations", "--check"]
            env = {"MEMSTACK_SCRATCH_URL": scratch}
        else:
            target = tmp_path / "configured"
            shutil.copytree(project, target)
            pyproject = target / "pyproject.toml"
            pyproject.write_text(pyproject.read_text().replace(
                "[tool.memstack]\n", f'[tool.memstack]\nscratch_url = "{scratch}"\n', 1))
        result = run_manage(target, argv, env)
        assert result.code == 0, result
        assert app_tables(scratch) == set() and tables(scratch) == set()


@pytest.mark.postgres
def test_scratch_url_not_empty(project: Path, migrated_postgres: str) -> None:
    before = snapshot(migrated_postgres)
    result = run_manage(project, ["--database-url", migrated_postgres, "check", "--scratch-url", migrated_postgres])
    assert_clear_message(result, 1, "is not empty", listed=True)
    assert snapshot(migrated_postgres) == before


@pytest.mark.postgres
def test_scratch_url_of_another_kind(project: Path, migrated_postgres: str, tmp_path: Path) -> None:
    result = run_manage(project, ["--database-url", migrated_postgres, "makemigrations", "--check",
                                  "--scratch-url", sqlite_url_for(tmp_path)])
    assert_clear_message(result, 1, "is sqlite, but the database is postgresql")


def test_scratch_url_empty(project: Path, tmp_path: Path) -> None:
    result = run_manage(project, ["--database-url", sqlite_url_for(tmp_path), "check", "--scratch-url", ""])
    assert_clear_message(result, 2, "--scratch-url")
