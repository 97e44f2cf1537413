"""memstack's own tables holding unexpected values, as a surface (issue 24; strategies in
``support/strategies/records.py``): every read-only command reports the state or refuses by name, and
``migrate`` refuses (or finds nothing to do) without changing the database."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, reject, settings
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
# SQLite's own constraints refuse many corruptions (reject()): some seeds draw few that pass (CI, loaded)
@settings(suppress_health_check=[HealthCheck.filter_too_much])
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
        with sqlite3.connect(database) as connection:
            connection.execute(statement)
    except sqlite3.Error:  # the table's own constraints refuse this value: not an input memstack can meet
        reject()
    url = f"sqlite:///{database}"
    before = full_snapshot(url)
    result = run_inprocess(project, ["--database-url", url, *command])
    assert_clean_outcome(result, ("memstack_", "alembic_version", "revision", "row", "version", "database",
                                  "record", "mark", "tag", "schema", "history", "checksum", "problem", "component",
                                  "applied", "unknown", "changed"))
    if command[0] != "migrate" or result.code:
        assert full_snapshot(url) == before, result
