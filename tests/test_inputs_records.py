"""memstack's own tables holding unexpected values, as a surface (issue 24; strategies in
``support/strategies/records.py``): every read-only command reports the state or refuses by name, and
``migrate`` refuses (or finds nothing to do) without changing the database."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import example, given, reject
from hypothesis import strategies as st
from support.inputs import assert_clean_outcome, run_inprocess
from support.inspect import full_snapshot
from support.projects import make_project
from support.strategies.records import corruptions

COMMANDS = st.sampled_from([("showmigrations",), ("history",), ("migrate",), ("check", "--database"), ("doctor",),
                            ("tag", "--list"), ("migrate", "--plan"), ("showmigrations", "--json")])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("inputs-records")
    return make_project(root / "project"), _migrated_sqlite_template, root / "inputs.db"


@given(statement=corruptions(), command=COMMANDS)
@example(statement="UPDATE memstack_applied SET applied_at = 'not a date'", command=("history",))
@example(statement="UPDATE memstack_history SET started_at = 'not a date'", command=("history",))
@example(statement="UPDATE memstack_meta SET value = 'x' WHERE key = 'schema_version'", command=("migrate",))
@example(statement="INSERT INTO memstack_tags (name, created_at, state) VALUES ('t', '2026-12-07 10:00:00', '[1]')",
         command=("tag", "--list"))  # found (long profile): unexpected AttributeError ('list' has no 'items')
@example(statement="UPDATE memstack_history SET event = X'00ff'", command=("history",))  # found (CI, long profile)
@example(statement="UPDATE alembic_version SET version_num = X'00ff'", command=("showmigrations",))
@example(statement="UPDATE memstack_applied SET checksum = 7", command=("migrate",))
def test_corrupted_bookkeeping(world: tuple[Path, Path, Path], statement: str, command: tuple[str, ...]) -> None:
    project, template, database = world
    shutil.copyfile(template, database)
    try:
        with contextlib.closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(statement)
    except sqlite3.Error:  # the table's own constraints refuse this value: not an input memstack can meet
        reject()
    url = f"sqlite:///{database}"
    before = full_snapshot(url)
    result = run_inprocess(project, ["--database-url", url, *command])
    assert_no_lock_left(database, result)
    assert_clean_outcome(result, ("memstack_", "alembic_version", "revision", "row", "version", "database",
                                  "record", "mark", "tag", "schema", "history", "checksum", "problem", "component",
                                  "applied", "unknown", "changed"))
    if command[0] != "migrate" or result.code:
        assert full_snapshot(url) == before, result


def assert_no_lock_left(database: Path, result: object) -> None:
    """Whatever the command said, it holds nothing on the file afterwards (in an application that
    called it, a lock left behind would make the application's next write wait and fail)."""
    probe = sqlite3.connect(database, timeout=0)
    try:
        probe.execute("BEGIN EXCLUSIVE")
        probe.rollback()
    except sqlite3.OperationalError as exc:
        raise AssertionError(f"the command left the database locked ({exc}): {result}") from exc
    finally:
        probe.close()


@pytest.mark.parametrize(("statement", "command"), [
    ("UPDATE memstack_applied SET applied_at = '[]'", ("check", "--database")),
    ("UPDATE memstack_applied SET applied_at = 'not a date'", ("showmigrations",)),
    ("UPDATE memstack_history SET started_at = 'not a date'", ("history",)),
    ("INSERT INTO memstack_tags (name, created_at, state) VALUES ('t', 'not a date', '{}')", ("tag", "--list")),
])
def test_a_record_that_does_not_convert_leaves_no_lock(world: tuple[Path, Path, Path], statement: str,
                                                        command: tuple[str, ...]) -> None:
    """Found by the property above (its filter health check, on a loaded machine): a value that failed to
    convert stopped the fetch half-way, and SQLite kept the half-read statement's shared lock for as
    long as the error lived; every later write to the file then waited and failed."""
    project, template, database = world
    shutil.copyfile(template, database)
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(statement)
    result = run_inprocess(project, ["--database-url", f"sqlite:///{database}", *command])
    assert result.code == 1 and "memstack_" in result.out + result.err, result  # (check lists on stdout)
    assert_no_lock_left(database, result)
