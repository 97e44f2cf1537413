"""``migrate --dry-run``: each step run for real in one transaction, reported, then rolled back
(an untouched database), a real error reported with everything rolled back, refused on MariaDB.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.databases import connect
from support.inspect import full_snapshot as snapshot
from support.inspect import table_names
from support.preview import own_component, plan_json, setup_state, step_keys
from support.revisions import new_id, write_revision
from support.running import call, cli, ok

# --------------------------------------------------------------------------- --dry-run

DRY_RUN_SCENARIOS = {
    "all-from-empty": ((), ()),
    "tenant-zero-cascades": ((("migrate",),), ("tenant", "zero")),
    "task-back-beside-merge": ((("migrate",),), ("task", "0002")),
    "memory-zero": ((("migrate",),), ("memory", "zero")),
}


@pytest.mark.parametrize("scenario", list(DRY_RUN_SCENARIOS))
def test_dry_run_reports_each_step_and_changes_nothing(project: Path, db_url_no_mariadb: str, scenario: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    start, args = DRY_RUN_SCENARIOS[scenario]
    setup_state(project, url, start)
    before = snapshot(url)
    planned = plan_json(capsys, monkeypatch, project, url, *args)

    human = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--dry-run"))
    assert snapshot(url) == before
    assert "warning:" in human.err and "table locks" in human.err
    lines = [line.strip() for line in human.err.splitlines() if line.strip().startswith(("Applying", "Unapplying"))]
    assert len(lines) == len(planned)
    for line, step in zip(lines, planned, strict=True):
        verb = "Applying" if step["direction"] == "up" else "Unapplying"
        assert re.fullmatch(rf"{verb} {step['component']} {step['name']} \.\.\. OK \(\d+ ms\)", line), line
    assert f"Dry run: {len(planned)} step(s) worked; everything was rolled back." in human.err

    as_json = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--dry-run", "--json"))
    report = json.loads(as_json.out)
    assert report["dry_run"] is True and report["error"] is None
    assert step_keys(report["steps"]) == step_keys(planned)
    for step in report["steps"]:
        assert step["success"] is True and step["error"] is None
        assert isinstance(step["duration_ms"], int) and step["duration_ms"] >= 0
    assert snapshot(url) == before
    # the real run then does just that
    done = json.loads(ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--yes", "--json")).out)
    assert step_keys(done) == step_keys(planned)


@pytest.mark.parametrize("failure", ["not-null-without-default", "upgrade-raises"])
def test_dry_run_reports_a_real_error_and_rolls_everything_back(project: Path, db_url_no_mariadb: str,
                                                                failure: str, make_component: Any,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, ids = own_component(make_component, project, [
        ('op.create_table("{label}_items", sa.Column("id", sa.Integer(), primary_key=True))',
         'op.drop_table("{label}_items")'),
    ])
    ok(cli(capsys, monkeypatch, project, url, "migrate", label))
    with connect(url) as connection:
        connection.execute(text(f"INSERT INTO {label}_items (id) VALUES (1), (2)"))
        connection.commit()
    folder = project / "migrations" / label
    second, third = new_id(), new_id()
    write_revision(folder, "0002_more", second, ids[0],
                   upgrade='op.create_table("{label}_more", sa.Column("id", sa.Integer(), primary_key=True))'
                   .replace("{label}", label), downgrade=f'op.drop_table("{label}_more")')
    if failure == "not-null-without-default":
        upgrade = f'op.add_column("{label}_items", sa.Column("required", sa.Integer(), nullable=False))'
        expected = ("NOT NULL", "null value", "contains null values")
    else:
        upgrade = 'raise RuntimeError("upgrade of step three exploded")'
        expected = ("upgrade of step three exploded",)
    write_revision(folder, "0003_breaks", third, second, upgrade=upgrade)
    before = snapshot(url)

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "--dry-run")
    assert result.code == 1, result
    assert "Traceback" not in result.err
    assert "step 2 failed" in result.err
    assert any(text_ in result.err for text_ in expected), result.err
    assert "rolled back" in result.err
    assert re.search(rf"Applying {label} 0002_more \.\.\. OK \(\d+ ms\)", result.err)
    assert f"Applying {label} 0003_breaks ... FAILED" in result.err
    assert snapshot(url) == before  # the working step 2 was rolled back as well; no history row
    assert f"{label}_more" not in table_names(url)

    report_run = cli(capsys, monkeypatch, project, url, "migrate", label, "--dry-run", "--json")
    assert report_run.code == 1
    report = json.loads(report_run.out)
    assert [(s["name"], s["success"]) for s in report["steps"]] == [("0002_more", True), ("0003_breaks", False)]
    assert report["error"] and any(text_ in report["error"] for text_ in expected)
    assert report["steps"][1]["error"] == report["error"]
    assert snapshot(url) == before


@pytest.mark.mariadb
def test_dry_run_is_refused_on_mariadb(project: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    empty = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "--dry-run")
    assert empty.code == 1
    assert "--plan" in empty.err and "--sql" in empty.err
    assert "transactional DDL" in empty.err
    assert table_names(mariadb_url, bookkeeping=True) == set()

    call(project, mariadb_url, "migrate", "memo")
    before = snapshot(mariadb_url)
    refused = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "memo", "zero", "--dry-run")
    assert refused.code == 1
    assert "--plan" in refused.err and "--sql" in refused.err
    assert snapshot(mariadb_url) == before
    # the alternatives it offers do work there
    assert [s["name"] for s in plan_json(capsys, monkeypatch, project, mariadb_url, "memo", "zero")] == \
        ["0001_initial"]
    script = ok(cli(capsys, monkeypatch, project, mariadb_url, "migrate", "memo", "zero", "--sql")).out
    assert "DROP TABLE memos" in script
    assert snapshot(mariadb_url) == before
