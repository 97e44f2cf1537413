"""memstack's own tables and ``history``: one row per event, failures after their rollback,
runs of the plain ``alembic`` command recorded too."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support.databases import query
from support.inspect import BOOKKEEPING_TABLES, HISTORY_KEYS, app_tables, history_rows, tables, version_rows
from support.projects import add_alembic_table
from support.revisions import REV, chain_component
from support.running import alembic, cli, history_json

from memstack.engine.records.recorder import BOOKKEEPING_SCHEMA_VERSION

ALL = set(REV)


def test_bookkeeping_tables_created_on_first_use_and_owned_by_no_component(
        project: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert tables(db_url) == set()
    result = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert result.code == 0, result

    assert BOOKKEEPING_TABLES <= tables(db_url)
    assert query(db_url, "SELECT value FROM memstack_meta WHERE "
                 + ("`key`" if db_url.startswith("mysql") else '"key"') + " = 'schema_version'") == [
        {"value": str(BOOKKEEPING_SCHEMA_VERSION)}]

    # no component claims them
    listed = json.loads(cli(capsys, monkeypatch, project, db_url, "components", "--json").out)
    owned = {t for component in listed for t in component["tables"]}
    assert not {t for t in owned if t.startswith("memstack_") or t == "alembic_version"}

    # makemigrations sees no change with them present, and warns about none of them
    check = cli(capsys, monkeypatch, project, db_url, "makemigrations", "--check")
    assert check.code == 0, check
    assert "memstack_" not in check.text
    assert "alembic_version" not in check.text
    assert "No changes detected" in check.err

    # and check --database (models compared, database looked at) is clean too
    add_alembic_table(project)
    clean = cli(capsys, monkeypatch, project, db_url, "check", "--database", "--json")
    assert clean.code == 0, clean
    assert json.loads(clean.out) == {"ok": True, "problems": []}


def test_history_one_row_per_event_newest_last(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "memory").code == 0
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "memory", "0001", "--yes").code == 0
    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0

    rows = history_json(capsys, monkeypatch, project, db_url)
    events = [(r["event"], r["component"], r["name"]) for r in rows]
    # migrate memory: 5 applies; back to 0001: 1 unapply; migrate: the other 9 (memory 0002 again)
    assert len(events) == 5 + 1 + 9
    assert events[:5] == [("apply", "auth", "0001_initial"), ("apply", "tenant", "0001_initial"),
                          ("apply", "project", "0001_initial"), ("apply", "memory", "0001_initial"),
                          ("apply", "memory", "0002_add_task_id")]
    assert events[5] == ("unapply", "memory", "0002_add_task_id")
    assert sorted(events[6:]) == sorted([("apply", c, n) for c, n in ALL - {
        ("auth", "0001_initial"), ("tenant", "0001_initial"), ("project", "0001_initial"),
        ("memory", "0001_initial")}])
    assert events[-1] == ("apply", "task", "0005_merge_legacy_task_columns")

    # newest last: started_at never goes backwards
    times = [dt.datetime.fromisoformat(r["started_at"]) for r in rows]
    assert times == sorted(times)

    for row in rows:
        assert HISTORY_KEYS <= set(row), sorted(HISTORY_KEYS - set(row))
        assert row["revision"] == REV[(row["component"], row["name"])]
        assert row["number"] == int(row["name"][:4])
        assert row["direction"] == ("up" if row["event"] == "apply" else "down")
        assert row["success"] is True
        assert isinstance(row["duration_ms"], int) and row["duration_ms"] >= 0
        assert row["started_at"].endswith(("Z", "+00:00"))
        assert dt.datetime.fromisoformat(row["started_at"]).utcoffset() == dt.timedelta(0)
        assert row["user"] and row["host"]
        if row["direction"] == "up":
            assert len(row["checksum"]) == 64 and int(row["checksum"], 16) >= 0
        assert row["source"] == "memstack"

    # the rows in the table are the same events
    assert len(history_rows(db_url)) == len(rows)


def test_history_component_limit_and_human_output(project: Path, sqlite_url: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    empty = cli(capsys, monkeypatch, project, sqlite_url, "history")
    assert empty.code == 0
    assert "No history recorded yet" in empty.err
    assert history_json(capsys, monkeypatch, project, sqlite_url) == []

    assert cli(capsys, monkeypatch, project, sqlite_url, "migrate").code == 0
    assert cli(capsys, monkeypatch, project, sqlite_url, "migrate", "task", "0001", "--yes").code == 0
    everything = history_json(capsys, monkeypatch, project, sqlite_url)

    task = history_json(capsys, monkeypatch, project, sqlite_url, "task")
    assert {r["component"] for r in task} == {"task"}
    assert task == [r for r in everything if r["component"] == "task"]
    assert [r["event"] for r in task] == ["apply"] * 5 + ["unapply"] * 4

    last_two = history_json(capsys, monkeypatch, project, sqlite_url, "--limit", "2")
    assert last_two == everything[-2:]
    last_task = history_json(capsys, monkeypatch, project, sqlite_url, "task", "--limit", "3")
    assert last_task == task[-3:]
    assert history_json(capsys, monkeypatch, project, sqlite_url, "memo", "--limit", "50") == \
        [r for r in everything if r["component"] == "memo"]

    human = cli(capsys, monkeypatch, project, sqlite_url, "history", "task", "--limit", "2")
    assert human.code == 0
    lines = human.out.splitlines()
    assert len(lines) == 2
    for line, row in zip(lines, task[-2:], strict=True):
        assert row["started_at"] in line
        assert "unapply" in line and f"task {row['name']}" in line and " ms" in line
        assert f"{row['user']}@{row['host']}" in line

    assert cli(capsys, monkeypatch, project, sqlite_url, "history", "--limit", "0").code == 2


FAILING = 'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")'


def test_failed_step_recorded_after_its_rollback(project: Path, db_url: str, make_component,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    chain = chain_component(make_component, project, 2, bodies={2: FAILING})
    result = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert result.code == 1

    rows = history_json(capsys, monkeypatch, project, db_url)
    assert [(r["event"], r["name"], r["success"]) for r in rows] == [
        ("apply", chain.names[0], True), ("failure", chain.names[1], False)]
    failure = rows[-1]
    assert HISTORY_KEYS <= set(failure)
    assert failure["component"] == chain.label
    assert failure["revision"] == chain.ids[1]
    assert failure["direction"] == "up"
    assert "no_such_table_here" in failure["error"]
    assert isinstance(failure["duration_ms"], int)
    # the failure row outlived the rollback of its step
    if not db_url.startswith("mysql"):
        assert chain.table(2) not in tables(db_url)
    assert version_rows(db_url) == {chain.ids[0]}

    human = cli(capsys, monkeypatch, project, db_url, "history")
    assert "FAILED" in human.out
    assert "no_such_table_here" in human.out


def test_plain_alembic_upgrade_is_recorded(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    add_alembic_table(project)
    result = alembic(project, db_url, "upgrade", "heads")
    assert result.code == 0, result
    assert {"users", "task_logs", "memos"} <= app_tables(db_url)

    rows = history_json(capsys, monkeypatch, project, db_url)
    assert sorted((r["component"], r["name"]) for r in rows) == sorted(ALL)  # one row per revision
    for row in rows:
        assert row["source"] == "alembic"
        assert row["event"] == "apply"
        assert row["success"] is True
        assert row["revision"] == REV[(row["component"], row["name"])]
        assert len(row["checksum"]) == 64
        assert dt.datetime.fromisoformat(row["started_at"]).utcoffset() == dt.timedelta(0)
    human = cli(capsys, monkeypatch, project, db_url, "history", "--limit", "1")
    assert "(via alembic)" in human.out

    # memstack sees the same state, with verified checksums
    again = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert again.code == 0, again
    assert "No migrations to apply" in again.err
    check = cli(capsys, monkeypatch, project, db_url, "check", "--database", "--json")
    assert check.code == 0, check
    assert json.loads(check.out)["problems"] == []

    # a plain downgrade is recorded as well
    down = alembic(project, db_url, "-x", "yes=1", "downgrade", "memory@" + REV[("memory", "0001_initial")])
    assert down.code == 0, down
    last = history_json(capsys, monkeypatch, project, db_url, "--limit", "1")[0]
    assert (last["event"], last["component"], last["name"], last["direction"], last["source"]) == \
        ("unapply", "memory", "0002_add_task_id", "down", "alembic")
