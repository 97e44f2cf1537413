"""The bad-input corpus: every bad input gets one clear message, an honest exit status, and
changes nothing.

Each case runs the real ``manage.py`` in a subprocess and asserts the exit status (1 for an
error or refusal, 2 for a usage error), a message naming the problem and its fix (``error:``
and ``fix:`` lines; click's ``Error:`` line for usage errors), no traceback and no catch-all
"unexpected" error, and an unchanged database (schema and bookkeeping rows compared); see
``support/badinput.py``. This file holds URLs, options and names; broken revision trees and
components are in ``test_bad_input_trees.py``, privileges, Ctrl-C and scratch databases in
``test_bad_input_servers.py``.
A case that does not pass yet is marked ``xfail(strict=True)`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.badinput import assert_clear_message, run_manage
from support.databases import temporary_database
from support.inspect import snapshot

# --------------------------------------------------------------------------- harness


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # a phrase of the message that names the problem
    url: str | None = "{db}"  # {db}: the migrated SQLite database of the test; None: no --database-url
    env: dict[str, str] = field(default_factory=dict)
    creates_nothing: str | None = None  # a path that must not exist afterwards


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A project (a copy of the checkout's layout) and a SQLite database migrated to the heads."""
    from support.projects import make_project

    root = tmp_path_factory.mktemp("corpus")
    project = make_project(root / "project")
    url = f"sqlite:///{root / 'corpus.db'}"
    done = run_manage(project, ["--database-url", url, "migrate"], {})
    assert done.code == 0, done
    return project, url


def check_case(migrated: tuple[Path, str], case: Case, tmp_path: Path) -> None:
    project, db = migrated
    before = snapshot(db)
    argv = list(case.args)
    if case.url is not None:
        argv = ["--database-url", case.url.format(db=db, tmp=tmp_path), *argv]
    result = run_manage(project, argv, {k: v.format(db=db, tmp=tmp_path) for k, v in case.env.items()})
    assert_clear_message(result, case.code, case.says)
    assert snapshot(db) == before
    if case.creates_nothing:
        assert not Path(case.creates_nothing.format(tmp=tmp_path)).exists(), result
    assert not (project / "memstack.db").exists(), "fell back to the default database"


# --------------------------------------------------------------------------- cases without a server

CASES: dict[str, Case] = {
    # URLs
    "empty --database-url": Case(("migrate",), 1, "--database-url is empty", url=""),
    "blank --database-url": Case(("showmigrations",), 1, "--database-url is empty", url="   "),
    "URL without a scheme": Case(("migrate",), 1, "is not a database URL", url="postgres@localhost/memstack"),
    "unknown driver": Case(("migrate",), 1, "unsupported database URL scheme", url="oracle://u@h/db"),
    "postgres URL without a database": Case(("showmigrations",), 1, "names no database",
                                            url="postgresql://postgres@127.0.0.1:5432"),
    "postgres URL ending in a slash": Case(("migrate",), 1, "names no database",
                                           url="postgresql://postgres@127.0.0.1:5432/"),
    "mariadb URL without a database": Case(("migrate",), 1, "names no database", url="mysql://root@127.0.0.1:3306"),
    "missing driver package": Case(("showmigrations",), 1, "driver 'pymysql'", url="mysql://root@127.0.0.1/x",
                                   env={"PYTHONPATH": "{tmp}/shadow"}),
    "refused connection": Case(("migrate",), 1, "connection refused", url="postgresql://postgres@127.0.0.1:1/x"),
    # numeric options
    "--lock-timeout nan": Case(("migrate", "--lock-timeout", "nan"), 2, "not a finite number"),
    "--lock-timeout inf": Case(("migrate", "--lock-timeout", "inf"), 2, "not a finite number"),
    "--lock-timeout -1": Case(("migrate", "--lock-timeout", "-1"), 2, "not a finite number"),
    "--lock-timeout abc": Case(("migrate", "--lock-timeout", "abc"), 2, "not a number"),
    "--ddl-lock-timeout nan": Case(("migrate", "--ddl-lock-timeout", "nan"), 2, "not a finite number"),
    "stamp --lock-timeout nan": Case(("stamp", "memo", "zero", "--lock-timeout", "NaN"), 2, "not a finite number"),
    "MEMSTACK_LOCK_TIMEOUT=nan": Case(("migrate",), 1, "finite number", env={"MEMSTACK_LOCK_TIMEOUT": "nan"}),
    "MEMSTACK_LOCK_TIMEOUT=inf": Case(("migrate",), 1, "finite number", env={"MEMSTACK_LOCK_TIMEOUT": "inf"}),
    "MEMSTACK_LOCK_TIMEOUT=-5": Case(("migrate",), 1, "finite number", env={"MEMSTACK_LOCK_TIMEOUT": "-5"}),
    "--verbosity 9": Case(("migrate", "-v", "9"), 2, "verbosity"),
    # names
    "unknown command": Case(("migrat",), 2, "unknown command"),
    "unknown component": Case(("migrate", "nosuch"), 1, "nosuch"),
    "unknown target": Case(("migrate", "memo", "0099"), 1, "0099"),
    "ambiguous target": Case(("migrate", "task", "e"), 1, "e414d0c673f0"),
    "sqlmigrate zero": Case(("sqlmigrate", "memo", "zero"), 1, "one revision"),
    # a mistyped SQLite path: read-only commands must not create the file
    "mistyped SQLite path, showmigrations": Case(("showmigrations",), 0, "", url="sqlite:///{tmp}/typo.db",
                                                 creates_nothing="{tmp}/typo.db"),
    "mistyped SQLite path, migrate --plan": Case(("migrate", "--plan"), 0, "", url="sqlite:///{tmp}/typo.db",
                                                 creates_nothing="{tmp}/typo.db"),
}

#: cases known not to pass yet, with why
KNOWN_FAILURES: dict[str, str] = {}
CASES |= {
    "mistyped SQLite path, history": Case(("history",), 0, "", url="sqlite:///{tmp}/typo.db",
                                          creates_nothing="{tmp}/typo.db"),
    "mistyped SQLite path, check --database": Case(("check", "--database"), 0, "", url="sqlite:///{tmp}/typo.db",
                                                   creates_nothing="{tmp}/typo.db"),
    "mistyped SQLite path, doctor": Case(("doctor",), 0, "", url="sqlite:///{tmp}/typo.db",
                                         creates_nothing="{tmp}/typo.db"),
}


def _params() -> list[object]:
    return [pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[name], strict=True))
            if name in KNOWN_FAILURES else name for name in CASES]


@pytest.mark.parametrize("name", _params())
def test_bad_input(name: str, migrated: tuple[Path, str], tmp_path: Path) -> None:
    case = CASES[name]
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "pymysql.py").write_text('raise ModuleNotFoundError("No module named \'pymysql\'", name="pymysql")\n')
    if case.code == 0:  # not (necessarily) an error: "changes nothing" and "creates nothing" are checked
        project, db = migrated
        before = snapshot(db)
        url = (case.url or "").format(db=db, tmp=tmp_path)
        result = run_manage(project, ["--database-url", url, *case.args], {})
        assert result.code in (0, 1) and "Traceback" not in result.err, result
        assert snapshot(db) == before
        assert case.creates_nothing and not Path(case.creates_nothing.format(tmp=tmp_path)).exists()
        return
    check_case(migrated, case, tmp_path)


def test_broken_configuration_file(migrated: tuple[Path, str], tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "pyproject.toml").write_text("[tool.memstack]\ncomponents = [\n")
    result = run_manage(project, ["showmigrations"], {})
    assert_clear_message(result, 1, "is not valid TOML")


# --------------------------------------------------------------------------- cases with a server


@pytest.mark.postgres
def test_postgres_database_that_does_not_exist(migrated: tuple[Path, str], tmp_path: Path) -> None:
    with temporary_database("postgres") as url:
        missing = url.rsplit("/", 1)[0] + "/memstack_t_does_not_exist"
        check_case(migrated, Case(("migrate",), 1, "does not exist", url=missing), tmp_path)


@pytest.mark.mariadb
def test_mariadb_wrong_credentials(migrated: tuple[Path, str], tmp_path: Path) -> None:
    with temporary_database("mariadb") as url:
        wrong = url.replace("root@", "root:not-the-password@")
        check_case(migrated, Case(("migrate",), 1, "access denied", url=wrong), tmp_path)
