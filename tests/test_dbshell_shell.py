"""``dbshell`` (the database's own client) and ``shell`` (Python with the models loaded)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from support.running import main_exit, migrate, python_m_memstack

from memstack.cli import call_command
from memstack.cli.dbshell import ClientExit, require_client, shell_command
from memstack.core.errors import MemstackError

SECRET = "s3cr@t:/pw"  # characters that must be URL-encoded
ENCODED = "s3cr%40t%3A%2Fpw"
MODEL_CLASSES = ["User", "Role", "Permission", "RolePermission", "UserRole", "APIKey", "Tenant", "UserTenant",
                 "Project", "UserProject", "Memory", "EntityType", "EdgeType", "EdgeTypeMap", "Memo", "TaskLog"]


def which_all(name: str) -> str | None:
    return f"/usr/bin/{name}"


def which_none(name: str) -> str | None:
    return None




# --------------------------------------------------------------------------- shell_command


def test_postgres_command_and_environment() -> None:
    url = f"postgresql+psycopg://alice:{ENCODED}@db.example:6543/memstack?sslmode=require"
    argv, env = shell_command(url, environ={"HOME": "/home/alice"}, which=which_all)
    assert argv == ["psql", "--host", "db.example", "--port", "6543", "--username", "alice", "--dbname", "memstack"]
    assert env["PGPASSWORD"] == SECRET
    assert env["PGSSLMODE"] == "require"
    assert env["HOME"] == "/home/alice"  # the rest of the environment is passed on
    assert not any(SECRET in arg or ENCODED in arg for arg in argv)


def test_postgres_socket_without_password() -> None:
    argv, env = shell_command("postgresql+psycopg:///memstack?host=/var/run/postgresql", environ={},
                              which=which_all)
    assert argv == ["psql", "--host", "/var/run/postgresql", "--dbname", "memstack"]
    assert "PGPASSWORD" not in env


@pytest.mark.parametrize(("found", "program"), [({"mariadb", "mysql"}, "mariadb"), ({"mysql"}, "mysql"),
                                                (set(), "mariadb")])
def test_mariadb_command_and_environment(found: set[str], program: str) -> None:
    url = f"mysql+pymysql://bob:{ENCODED}@127.0.0.1:3307/memstack?charset=utf8mb4"
    argv, env = shell_command(url, environ={}, which=lambda name: f"/usr/bin/{name}" if name in found else None)
    assert argv == [program, "--host", "127.0.0.1", "--protocol", "TCP", "--port", "3307", "--user", "bob",
                    "--default-character-set", "utf8mb4", "memstack"]
    assert env == {"MYSQL_PWD": SECRET}
    assert not any(SECRET in arg or ENCODED in arg for arg in argv)


def test_mariadb_unix_socket() -> None:
    argv, env = shell_command("mysql+pymysql://root@localhost/memstack?unix_socket=/run/mysqld/mysqld.sock",
                              environ={}, which=which_all)
    assert argv == ["mariadb", "--socket", "/run/mysqld/mysqld.sock", "--user", "root", "memstack"]
    assert "MYSQL_PWD" not in env


def test_sqlite_command(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    argv, env = shell_command(f"sqlite:///{db}", environ={"A": "1"}, which=which_all, extra_args=["-readonly"])
    assert argv == ["sqlite3", str(db), "-readonly"]
    assert env == {"A": "1"}
    assert shell_command("sqlite://", environ={}, which=which_all)[0] == ["sqlite3"]


def test_extra_args_are_passed_on() -> None:
    argv, _env = shell_command("postgresql+psycopg://u@h/d", extra_args=["-c", "select 1"], environ={},
                               which=which_all)
    assert argv[-2:] == ["-c", "select 1"]


@pytest.mark.parametrize(("url", "names", "hint"), [
    ("postgresql+psycopg://u@h/d", "'psql'", "postgresql-client"),
    ("mysql+pymysql://u@h/d", "'mariadb' or 'mysql'", "mariadb-client"),
    ("sqlite:///x.db", "'sqlite3'", "sqlite3"),
])
def test_missing_client_is_named_with_how_to_install_it(url: str, names: str, hint: str) -> None:
    argv, _env = shell_command(url, environ={}, which=which_none)
    with pytest.raises(MemstackError) as excinfo:
        require_client(argv, url, which=which_none)
    assert excinfo.value.message == f"the database client {names} is not installed (not found on PATH)"
    assert hint in (excinfo.value.hint or "")


def test_client_exit_status() -> None:
    assert ClientExit("psql", 3).exit_code == 3
    assert ClientExit("psql", -9).exit_code == 1  # killed by a signal


# --------------------------------------------------------------------------- dbshell


def test_dbshell_missing_client_exits_1(project: Path, sqlite_url: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", sqlite_url, "dbshell")
    assert code == 1 and out == ""
    assert "error: the database client 'sqlite3' is not installed" in err
    assert "fix: install the SQLite shell" in err


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="sqlite3 is not installed")
def test_dbshell_runs_sqlite3(project: Path, migrated_sqlite_url: str) -> None:
    sqlite_url = migrated_sqlite_url
    done = python_m_memstack(project, sqlite_url, "dbshell", "--",
                             "select count(*) from sqlite_master where name = 'users'")
    assert done.code == 0, done.err
    assert done.out.strip() == "1"
    failed = python_m_memstack(project, sqlite_url, "dbshell", "--", "select nope")
    assert failed.code != 0  # the client's status
    assert "sqlite3 exited with status" in failed.err


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_dbshell_runs_psql(project: Path, migrated_postgres_url: str) -> None:
    done = python_m_memstack(project, migrated_postgres_url, "dbshell", "--", "-tAc", "select count(*) from users")
    assert done.code == 0, done.err
    assert done.out.strip() == "0"


@pytest.mark.mariadb
@pytest.mark.skipif(not (shutil.which("mariadb") or shutil.which("mysql")), reason="no MariaDB client")
def test_dbshell_runs_mariadb(project: Path, mariadb_url: str) -> None:
    migrate(project, mariadb_url)
    done = python_m_memstack(project, mariadb_url, "dbshell", "--", "-N", "-e", "select count(*) from users")
    assert done.code == 0, done.err
    assert done.out.strip() == "0"


# --------------------------------------------------------------------------- shell


def test_shell_c_queries_a_model(project: Path, migrated_db_url_no_mariadb: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    call_command("seed", project_dir=str(project), database_url=migrated_db_url_no_mariadb, stdout=io.StringIO(),
                 stderr=io.StringIO())
    code = "print(sorted(session.scalars(select(User.email))), session.scalar(select(func.count()).select_from(Role)))"
    status, out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", migrated_db_url_no_mariadb,
                                "shell", "-c", code)
    assert status == 0, err
    assert out.strip() == "['admin@memstack.ai', 'user@memstack.ai'] 2"


def test_shell_namespace(project: Path, migrated_sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    sqlite_url = migrated_sqlite_url
    code = ("names = sorted(k for k in globals() if not k.startswith('_')); print(' '.join(names)); "
            "print(engine.dialect.name, type(session).__name__, len(metadata.tables))")
    status, out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", sqlite_url,
                                "shell", "-c", code)
    assert status == 0, err
    names, info = out.strip().splitlines()
    for name in [*MODEL_CLASSES, "session", "engine", "metadata", "select", "func", "text"]:
        assert name in names.split(), name
    assert info.startswith("sqlite Session ")
    assert int(info.split()[-1]) >= 16


def test_shell_c_error_exits_1(project: Path, migrated_sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    sqlite_url = migrated_sqlite_url
    status, _out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", sqlite_url,
                                 "shell", "-c", "1 / 0")
    assert status == 1
    assert "ZeroDivisionError" in err and "Traceback" in err


def test_shell_reads_code_from_stdin(project: Path, migrated_sqlite_url: str) -> None:
    sqlite_url = migrated_sqlite_url
    done = python_m_memstack(project, sqlite_url, "shell", stdin="print(Memory.__tablename__, TaskLog.__tablename__)\n")
    assert done.code == 0, done.err
    assert done.out.strip() == "memories task_logs"


def test_shell_changes_are_not_committed_unless_asked(project: Path, migrated_sqlite_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    sqlite_url = migrated_sqlite_url
    add = ("import datetime; session.add(Role(name='{}', created_at=datetime.datetime.now(datetime.UTC))); "
           "session.flush(){}")
    for name, commit in (("dropped", ""), ("kept", "; session.commit()")):
        status, _out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", sqlite_url,
                                     "shell", "-c", add.format(name, commit))
        assert status == 0, err
    status, out, err = main_exit(capsys, "--project-dir", str(project), "--database-url", sqlite_url,
                                "shell", "-c", "print(sorted(session.scalars(select(Role.name))))")
    assert out.strip() == "['kept']"


@pytest.mark.parametrize("name", ["dbshell", "shell"])
def test_help_has_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = main_exit(capsys, name, "--help")
    assert status == 0 and "Example" in out


def test_commands_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = main_exit(capsys, "--help")
    assert status == 0
    for name in ("seed", "startcomponent", "dbshell", "shell"):
        assert name in out


def test_no_password_on_the_client_command_line_for_the_configured_url(project: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # the URL from settings (here MEMSTACK_DATABASE_URL) goes through shell_command unchanged
    from memstack.core.settings import load_settings

    monkeypatch.setenv("MEMSTACK_DATABASE_URL", f"postgres://carol:{ENCODED}@pg:5432/app")
    url = load_settings(project_dir=project).database_url
    argv, env = shell_command(url, which=which_all)
    assert env["PGPASSWORD"] == SECRET and os.environ.get("PGPASSWORD") != SECRET
    assert not any(SECRET in arg or ENCODED in arg for arg in argv)
