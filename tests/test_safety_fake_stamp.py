"""``migrate --fake``, ``stamp`` (forwards and backwards) and ``repair`` of unverified checksums:
state recorded without running anything, with their own history events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.databases import execute
from support.inspect import app_tables, applied_rows, history_rows, marks, snapshot, tables, version_rows
from support.projects import add_alembic_table
from support.revisions import REV, chain_component
from support.running import alembic, cli, history_json


def _events(rows: list[dict]) -> list[tuple[str, str, str, str]]:
    return [(r["event"], r["component"], r["name"], r["direction"]) for r in rows]


def test_fake_forwards_and_backwards(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    faked = cli(capsys, monkeypatch, project, db_url, "migrate", "--fake", "memo", "--json")
    assert faked.code == 0, faked
    assert [(r["component"], r["name"], r["event"], r["direction"]) for r in json.loads(faked.out)] == \
        [("auth", "0001_initial", "fake", "up"), ("memo", "0001_initial", "fake", "up")]
    assert app_tables(db_url) == set()  # nothing ran
    assert version_rows(db_url) == {REV[("memo", "0001_initial")]}
    assert set(applied_rows(db_url)) == {REV[("auth", "0001_initial")], REV[("memo", "0001_initial")]}

    back = cli(capsys, monkeypatch, project, db_url, "migrate", "--fake", "memo", "zero", "--yes")
    assert back.code == 0, back
    assert version_rows(db_url) == {REV[("auth", "0001_initial")]}
    assert set(applied_rows(db_url)) == {REV[("auth", "0001_initial")]}
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "--fake", "auth", "zero", "--yes").code == 0

    rows = history_json(capsys, monkeypatch, project, db_url)
    assert _events(rows) == [("fake", "auth", "0001_initial", "up"), ("fake", "memo", "0001_initial", "up"),
                             ("fake", "memo", "0001_initial", "down"), ("fake", "auth", "0001_initial", "down")]
    assert all(r["success"] for r in rows)
    assert version_rows(db_url) == set()
    assert app_tables(db_url) == set()

    # and the real thing still works from there
    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0
    assert {"users", "memos", "task_logs"} <= app_tables(db_url)


def test_stamp_forwards_and_backwards(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    forwards = cli(capsys, monkeypatch, project, db_url, "stamp", "memory", "0002")
    assert forwards.code == 0, forwards
    assert "Stamped 5 revision(s)" in forwards.err
    assert app_tables(db_url) == set()  # nothing ran
    assert _events(history_json(capsys, monkeypatch, project, db_url)) == [
        ("stamp", "auth", "0001_initial", "up"), ("stamp", "tenant", "0001_initial", "up"),
        ("stamp", "project", "0001_initial", "up"), ("stamp", "memory", "0001_initial", "up"),
        ("stamp", "memory", "0002_add_task_id", "up")]
    assert version_rows(db_url) == {REV[("memory", "0002_add_task_id")]}

    backwards = cli(capsys, monkeypatch, project, db_url, "stamp", "memory", "0001", "--yes")
    assert backwards.code == 0, backwards
    last = history_json(capsys, monkeypatch, project, db_url, "--limit", "1")
    assert _events(last) == [("stamp", "memory", "0002_add_task_id", "down")]
    assert version_rows(db_url) == {REV[("memory", "0001_initial")]}

    again = cli(capsys, monkeypatch, project, db_url, "stamp", "memory", "0001")
    assert again.code == 0 and "Nothing to stamp" in again.err

    # backwards needs confirmation, like migrate (across components too)
    before = snapshot(db_url)
    refused = cli(capsys, monkeypatch, project, db_url, "stamp", "tenant", "zero")
    assert refused.code == 1, refused
    assert "project 0001_initial" in refused.err and "memory 0001_initial" in refused.err
    assert "--yes" in refused.err
    assert snapshot(db_url) == before
    assert cli(capsys, monkeypatch, project, db_url, "stamp", "tenant", "zero", "--yes").code == 0
    assert _events(history_json(capsys, monkeypatch, project, db_url, "--limit", "3")) == [
        ("stamp", "memory", "0001_initial", "down"), ("stamp", "project", "0001_initial", "down"),
        ("stamp", "tenant", "0001_initial", "down")]
    assert version_rows(db_url) == {REV[("auth", "0001_initial")]}
    assert cli(capsys, monkeypatch, project, db_url, "stamp", "auth", "zero", "--yes").code == 0
    assert version_rows(db_url) == set()
    assert applied_rows(db_url) == {}

    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0
    assert len([r for r in history_rows(db_url) if r["event"] == "apply"]) == len(REV)


def test_stamp_records_a_schema_made_by_hand(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "task", "0001", "--yes").code == 0
    execute(db_url, "ALTER TABLE task_logs ADD progress INTEGER")  # someone did 0002's column by hand
    assert cli(capsys, monkeypatch, project, db_url, "stamp", "task", "0002").code == 0
    # 0002 is not run again (its ALTER would fail on the existing column): only its index is missing now
    result = cli(capsys, monkeypatch, project, db_url, "migrate", "task", "0003", "--yes")
    assert result.code == 0, result
    assert [line.split()[1:3] for line in result.err.splitlines() if "Applying" in line] == \
        [["task", "0003_add_result"]]


FAILING = 'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")'


@pytest.mark.mariadb
def test_fake_resolves_only_the_marks_it_covers(project: Path, mariadb_url: str, make_component,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = mariadb_url
    other = chain_component(make_component, project, 1, prefix="other")
    chain = chain_component(make_component, project, 3, prefix="marked", bodies={2: FAILING},
                            components=[other.package])
    failed = cli(capsys, monkeypatch, project, url, "migrate", chain.label)
    assert failed.code == 1, failed
    assert [(m["revision"], m["state"]) for m in marks(url)] == [(chain.ids[1], "failed")]

    # faking something else does not get past the mark
    before = snapshot(url)
    refused = cli(capsys, monkeypatch, project, url, "migrate", "--fake", other.label)
    assert refused.code == 1, refused
    assert f"revision {chain.label} 0002_step2 (up) failed" in refused.err
    assert snapshot(url) == before

    # faking the marked revision (its table was created before the failure) clears the mark
    faked = cli(capsys, monkeypatch, project, url, "migrate", "--fake", chain.label, "0002_step2")
    assert faked.code == 0, faked
    assert marks(url) == []
    assert history_rows(url)[-1]["event"] == "fake"
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0
    assert {chain.table(3), other.table(1)} <= tables(url)


def test_repair_verifies_checksums_of_revisions_applied_without_one(
        project: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    add_alembic_table(project)
    stamped = alembic(project, db_url, "stamp", "heads")
    assert stamped.code == 0, stamped
    # Alembic stamps straight to the heads; env.py keeps memstack_applied exact: every revision the
    # version rows imply gets an (unverified) record, not only the heads
    assert {row["revision"] for row in applied_rows(db_url).values()} == set(REV.values())
    assert all(not row["verified"] for row in applied_rows(db_url).values())
    assert {r["event"] for r in history_rows(db_url)} == {"stamp"}

    # nothing is destructive here: no confirmation needed
    repaired = cli(capsys, monkeypatch, project, db_url, "repair")
    assert repaired.code == 0, repaired
    assert f"recorded checksums of {len(REV)} revision(s) applied without one" in repaired.err
    assert all(row["verified"] and len(row["checksum"]) == 64 for row in applied_rows(db_url).values())
    assert "Nothing to repair" in cli(capsys, monkeypatch, project, db_url, "repair").err
