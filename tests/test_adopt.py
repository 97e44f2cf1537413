"""``adopt``: databases built by MemStack's old code (``create_all`` before the four legacy columns,
then any subset of the four hand-written steps) end exactly like a freshly migrated database.

Every database here is real (SQLite files, PostgreSQL databases); nothing is mocked.
"""

from __future__ import annotations

import collections
import io
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from support.databases import execute, sqlite_url_for, temporary_database
from support.inspect import history_rows, snapshot, tables, version_rows
from support.legacy import (
    LEGACY_STEPS,
    build_legacy_database,
    insert_sample_rows,
    sample_rows_present,
    schema_signature,
)
from support.projects import add_alembic_table
from support.revisions import REV
from support.running import cli, shown

from memstack import call_command
from memstack.core.errors import MemstackError

#: revisions the old ``create_all`` already holds, whatever steps ran afterwards
BASE = {("auth", "0001_initial"), ("auth", "0002_add_user_roles_fk"), ("tenant", "0001_initial"),
        ("project", "0001_initial"), ("memory", "0001_initial"), ("ontology", "0001_initial"),
        ("memo", "0001_initial"), ("task", "0001_initial")}
#: legacy step -> the revision that stands for it
STEP_REVISION = {"task_id": ("memory", "0002_add_task_id"), "progress": ("task", "0002_add_progress"),
                 "result": ("task", "0003_add_result"), "message": ("task", "0004_add_message")}
MERGE = ("task", "0005_merge_legacy_task_columns")
HEADS = {REV[("auth", "0002_add_user_roles_fk")], REV[("memory", "0002_add_task_id")],
         REV[("ontology", "0001_initial")], REV[("memo", "0001_initial")], REV[MERGE]}

SUBSETS = [subset for size in range(len(LEGACY_STEPS) + 1) for subset in itertools.combinations(LEGACY_STEPS, size)]
assert len(SUBSETS) == 16


def expected_present(steps: tuple[str, ...] | list[str]) -> set[tuple[str, str]]:
    present = BASE | {STEP_REVISION[step] for step in steps}
    if {"progress", "result", "message"} <= set(steps):
        present.add(MERGE)
    return present


def adopt(project: Path, url: str, **options: Any) -> tuple[str, str]:
    """``call_command("adopt", yes=True)``; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("adopt", yes=True, database_url=url, project_dir=str(project), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def backend(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


_FRESH: dict[str, dict[str, Any]] = {}

def fresh_signature(kind: str, project: Path, tmp_path: Path) -> dict[str, Any]:
    """The schema of a database built by ``migrate`` from nothing (built once per backend)."""
    if kind not in _FRESH:
        def build(url: str) -> None:
            call_command("migrate", database_url=url, project_dir=str(project), stdout=io.StringIO(),
                         stderr=io.StringIO())
            _FRESH[kind] = {"schema": schema_signature(url), "rows": version_rows(url)}

        if kind == "sqlite":
            build(sqlite_url_for(tmp_path, "fresh.db"))
        else:
            with temporary_database(kind) as url:
                build(url)
    return _FRESH[kind]


def assert_like_fresh(adopted: dict[str, Any], fresh: dict[str, Any], report: str) -> None:
    """Same tables, columns, names of constraints and indexes; a column may differ in its type or
    SQL default only where the adoption reported that variant."""
    assert set(adopted) == set(fresh)
    for table, shape in fresh.items():
        mine = adopted[table]
        for key in ("primary_key", "foreign_keys", "indexes", "uniques"):
            assert mine[key] == shape[key], (table, key)
        assert set(mine["columns"]) == set(shape["columns"]), table
        for column, (type_, nullable, default) in shape["columns"].items():
            my_type, my_nullable, my_default = mine["columns"][column]
            assert my_nullable == nullable, (table, column)
            if my_type != type_:
                assert f"column {table}.{column} is {my_type} where a fresh database has {type_}" in report, \
                    (table, column, my_type, type_)
            if my_default != default:
                assert default is None, (table, column, my_default, default)
                assert f"column {table}.{column} carries an SQL DEFAULT" in report, (table, column)


# --------------------------------------------------------------------------- every state of the field


@pytest.mark.parametrize("steps", SUBSETS, ids=lambda s: "+".join(s) or "none")
def test_every_legacy_state_ends_like_a_fresh_database(project: Path, db_url_no_mariadb: str, tmp_path: Path,
                                                       steps: tuple[str, ...]) -> None:
    url = db_url_no_mariadb
    kind = backend(url)
    build_legacy_database(url, steps)
    insert_sample_rows(url)

    out, err = adopt(project, url)
    report = out + err

    fresh = fresh_signature(kind, project, tmp_path)
    assert_like_fresh(schema_signature(url), fresh["schema"], report)
    # version state: the same rows as a fresh database, and showmigrations has everything applied
    assert version_rows(url) == fresh["rows"] == HEADS
    assert all(shown(project, url).values())
    assert len(shown(project, url)) == len(REV)
    # the data is kept
    assert sample_rows_present(url) == {"users": True, "tenants": True, "projects": True, "memories": True}

    # history: "adopt" for what was there, "apply" for the rest, each revision once
    present = expected_present(steps)
    events = collections.Counter((r["event"], r["component"], r["name"]) for r in history_rows(url))
    assert events == collections.Counter({("adopt", *key): 1 for key in present}
                                         | {("apply", *key): 1 for key in set(REV) - present})
    assert all(r["success"] for r in history_rows(url))
    for key in sorted(present):
        assert f"  - {key[0]} {key[1]}" in err
    if set(REV) - present:
        assert "Then applies: " in err

    # the variants of the old steps are reported
    if "progress" in steps:
        assert "column task_logs.progress carries an SQL DEFAULT" in err
    else:
        assert "SQL DEFAULT" not in err
    if "result" in steps and kind == "postgres":
        assert "column task_logs.result is JSONB where a fresh database has JSON (compatible)" in err
    if "task_id" in steps:
        assert "column memories.task_id is VARCHAR(255) where a fresh database has VARCHAR" in err


def test_adopted_database_then_passes_check_and_migrates_nothing(project: Path, sqlite_url: str) -> None:
    add_alembic_table(project)  # what the repository's pyproject.toml has; check --database wants it
    build_legacy_database(sqlite_url, ["task_id", "result"])
    adopt(project, sqlite_url)

    out = io.StringIO()
    call_command("check", database=True, json=True, database_url=sqlite_url, project_dir=str(project), stdout=out,
                 stderr=io.StringIO())
    report = json.loads(out.getvalue())
    assert report["ok"] is True, report
    # adopted revisions were applied without a recorded checksum: shown as unverified, nothing else
    assert {p["kind"] for p in report["problems"]} == {"unverified_checksum"}
    assert len(report["problems"]) == len(expected_present(["task_id", "result"]))

    before = history_rows(sqlite_url)
    call_command("migrate", database_url=sqlite_url, project_dir=str(project), stdout=io.StringIO(),
                 stderr=io.StringIO())
    assert history_rows(sqlite_url) == before


# --------------------------------------------------------------------------- the earlier Alembic attempt


def test_database_stamped_001_is_adopted_and_the_foreign_row_replaced(project: Path, db_url_no_mariadb: str,
                                                                       tmp_path: Path) -> None:
    url = db_url_no_mariadb
    build_legacy_database(url, ["task_id", "progress"], stamp="001")
    insert_sample_rows(url)
    assert version_rows(url) == {"001"}

    out, err = adopt(project, url)

    assert "Will replace version row '001', which no revision file provides" in err
    assert version_rows(url) == HEADS
    assert all(shown(project, url).values())
    assert_like_fresh(schema_signature(url), fresh_signature(backend(url), project, tmp_path)["schema"], out + err)
    assert sample_rows_present(url) == {"users": True, "tenants": True, "projects": True, "memories": True}
    adopted = {(r["component"], r["name"]) for r in history_rows(url) if r["event"] == "adopt"}
    assert adopted == expected_present(["task_id", "progress"])


# --------------------------------------------------------------------------- half-present and foreign objects


def test_missing_index_of_a_present_revision_is_created(project: Path, db_url_no_mariadb: str,
                                                        tmp_path: Path) -> None:
    url = db_url_no_mariadb
    build_legacy_database(url, ["progress"])
    execute(url, "DROP INDEX idx_task_logs_progress")  # the separate SQL script never ran here

    out, err = adopt(project, url)

    assert "Will create the missing index idx_task_logs_progress on task_logs (progress)" in err
    assert_like_fresh(schema_signature(url), fresh_signature(backend(url), project, tmp_path)["schema"], out + err)
    adopted = {(r["component"], r["name"]) for r in history_rows(url) if r["event"] == "adopt"}
    assert ("task", "0002_add_progress") in adopted


def test_table_of_no_component_is_left_alone_with_a_warning(project: Path, sqlite_url: str) -> None:
    build_legacy_database(sqlite_url, list(LEGACY_STEPS))
    execute(sqlite_url, "CREATE TABLE audit_trail (id INTEGER PRIMARY KEY, note VARCHAR(20))",
            "INSERT INTO audit_trail (id, note) VALUES (1, 'mine')")

    _, err = adopt(project, sqlite_url)

    assert "warning: table 'audit_trail' belongs to no component; left as it is" in err
    assert "audit_trail" in tables(sqlite_url)
    assert version_rows(sqlite_url) == HEADS


# --------------------------------------------------------------------------- refusals


def _task_id_as_integer(url: str) -> None:
    build_legacy_database(url, [])
    execute(url, "ALTER TABLE memories ADD COLUMN task_id INTEGER NULL")


def _without_tenants(url: str) -> None:
    """Later tables (projects, user_roles, ...) exist, the tenant tables they build on do not."""
    build_legacy_database(url, ["task_id"])
    cascade = " CASCADE" if url.startswith("postgres") else ""
    execute(url, "DROP TABLE user_tenants", f"DROP TABLE tenants{cascade}")


REFUSALS = {
    "incompatible_type": (_task_id_as_integer,
                          ["column memories.task_id is INTEGER in the database, but the migrations make it VARCHAR"]),
    "table_missing_in_the_middle": (_without_tenants,
                                    ["project 0001_initial is present but what it builds on is not: "
                                     "tenant 0001_initial"]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_database_matching_no_state_is_refused_and_left_unchanged(
        project: Path, db_url_no_mariadb: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    url = db_url_no_mariadb
    build, differences = REFUSALS[case]
    build(url)
    if case == "incompatible_type":
        insert_sample_rows(url)
    before = snapshot(url)
    schema_before = schema_signature(url)

    result = cli(capsys, monkeypatch, project, url, "adopt", "--yes")

    assert result.code == 1, result
    assert "the database matches no state of the migration graph; nothing was changed" in result.err
    for difference in differences:
        assert difference in result.err, result
    assert "fix: " in result.err
    assert snapshot(url) == before
    assert schema_signature(url) == schema_before
    assert "alembic_version" not in tables(url)
    assert not {t for t in tables(url) if t.startswith("memstack_")}


def test_already_migrated_database_is_refused(project: Path, db_url_no_mariadb: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    call_command("migrate", database_url=url, project_dir=str(project), stdout=io.StringIO(), stderr=io.StringIO())
    before = snapshot(url)

    result = cli(capsys, monkeypatch, project, url, "adopt", "--yes")

    assert result.code == 1, result
    assert "already managed by memstack/Alembic" in result.err
    assert "there is nothing to adopt" in result.err
    assert "manage.py migrate" in result.err
    assert snapshot(url) == before
    with pytest.raises(MemstackError, match="already managed"):
        adopt(project, url)


def test_empty_database_has_nothing_to_adopt(project: Path, db_url_no_mariadb: str,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    execute(url, "CREATE TABLE placeholder (id INTEGER PRIMARY KEY)")  # make the SQLite file exist, too
    execute(url, "DROP TABLE placeholder")

    result = cli(capsys, monkeypatch, project, url, "adopt", "--yes")

    assert result.code == 1, result
    assert "holds none of MemStack's tables; there is nothing to adopt" in result.err
    assert "Then applies" not in result.err  # no plan is shown for a database there is nothing to adopt in
    assert tables(url) == set()


def test_without_yes_and_without_a_terminal_it_refuses(project: Path, db_url_no_mariadb: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    build_legacy_database(url, ["task_id", "progress", "result", "message"])
    before = snapshot(url)

    result = cli(capsys, monkeypatch, project, url, "adopt")

    assert result.code == 1, result
    assert "--yes" in result.err
    assert snapshot(url) == before
    assert "alembic_version" not in tables(url)
    assert not {t for t in tables(url) if t.startswith("memstack_")}


def test_sqlite_created_at_default_matches_the_old_schema(project: Path, sqlite_url: str, tmp_path: Path) -> None:
    """Regression: the revisions once spelled the default sa.text('now()'), which SQLite does not know."""
    old = sqlite_url_for(tmp_path, "old.db")
    build_legacy_database(old, [])
    call_command("migrate", database_url=sqlite_url, project_dir=str(project), stdout=io.StringIO(),
                 stderr=io.StringIO())
    assert schema_signature(sqlite_url)["users"]["columns"]["created_at"] == \
        schema_signature(old)["users"]["columns"]["created_at"]
    execute(sqlite_url, "INSERT INTO users (id, email) VALUES ('u-2', 'new@example.com')")  # the default fills it
