"""Output that says what happened: --fake and stamp record, they do not apply; showmigrations
shows what the database holds beyond this code (marked), with the right hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.inspect import columns
from support.projects import set_components
from support.revisions import REV, create_table, new_id, write_revision
from support.running import cli, json_of, migrate


def test_fake_says_recording(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
                             db_url: str) -> None:
    migrate(project, db_url, "task", "0001")
    faked = cli(capsys, monkeypatch, project, db_url, "migrate", "--fake", "task", "0002")
    assert faked.code == 0, faked
    assert "Recording task 0002_add_progress as applied (not run)" in faked.err
    assert "Applying" not in faked.err
    assert "progress" not in columns(db_url, "task_logs")


def test_stamp_says_recording_both_ways(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        project: Path, db_url: str) -> None:
    migrate(project, db_url, "task", "0001")
    stamped = cli(capsys, monkeypatch, project, db_url, "stamp", "task", "0003")
    assert stamped.code == 0, stamped
    assert "Recording task 0003_add_result as applied (not run)" in stamped.err
    assert "Applying" not in stamped.err
    assert "none of them run" in stamped.err
    refused = cli(capsys, monkeypatch, project, db_url, "stamp", "task", "0001")
    assert refused.code == 1, refused
    assert "the schema stays" in refused.err and "pass --yes" in refused.err
    back = cli(capsys, monkeypatch, project, db_url, "stamp", "task", "0001", "--yes")
    assert back.code == 0, back
    assert "Recording task 0003_add_result as unapplied (not run)" in back.err
    assert "Unapplying" not in back.err


def test_stamp_backwards_at_a_terminal(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                       project: Path, sqlite_url: str) -> None:
    migrate(project, sqlite_url, "memo")
    declined = cli(capsys, monkeypatch, project, sqlite_url, "stamp", "memo", "zero", terminal_input="n\n")
    assert declined.code == 1 and "Unapply these 1 revision(s)? [y/N]" in declined.err
    accepted = cli(capsys, monkeypatch, project, sqlite_url, "stamp", "memo", "zero", terminal_input="y\n")
    assert accepted.code == 0, accepted
    assert "Recording memo 0001_initial as unapplied (not run)" in accepted.err


def _newer_release(project: Path, url: str) -> str:
    """Apply a task revision this code does not have: a newer release deployed, then rolled back code."""
    rid = new_id()
    merge = REV[("task", "0005_merge_legacy_task_columns")]
    path = write_revision(project / "migrations" / "task", "0006_add_owner", rid, merge,
                          upgrade=create_table("task_owners"), downgrade="op.drop_table('task_owners')")
    migrate(project, url)
    path.unlink()
    return rid


def test_showmigrations_shows_a_database_that_is_ahead(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, project: Path,
                                                      db_url: str) -> None:
    rid = _newer_release(project, db_url)
    shown = cli(capsys, monkeypatch, project, db_url, "showmigrations", "task")
    assert shown.code == 0, shown
    assert "[X] 0005_merge_legacy_task_columns" in shown.out
    assert f"[?] 0006_add_owner  ({rid}; in the database, no file here)" in shown.out
    assert "the database is ahead of this code in task" in shown.err
    assert "removed" not in shown.err
    rows = json_of(cli(capsys, monkeypatch, project, db_url, "showmigrations", "--json"))
    foreign = [r for r in rows if r.get("in_code") is False]
    assert foreign == [{"component": "task", "revision": rid, "name": "0006_add_owner", "number": None,
                        "applied": True, "in_code": False, "why": "ahead"}]
    refused = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert refused.code == 1  # migrating is still refused; only listing shows


def test_showmigrations_shows_a_removed_component(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, project: Path, db_url: str,
                                                 make_component: object) -> None:
    label = make_component({}, prefix="gone")  # type: ignore[operator]
    write_revision(project / "migrations" / label, "0001_initial", new_id(), None,
                   upgrade=create_table(f"{label}_things"), downgrade=f"op.drop_table('{label}_things')",
                   branch_labels=(label,))
    set_components(project, label)
    migrate(project, db_url)
    set_components(project)
    shown = cli(capsys, monkeypatch, project, db_url, "showmigrations")
    assert shown.code == 0, shown
    assert f"{label} (not configured)" in shown.out
    assert "[?] 0001_initial" in shown.out.split(f"{label} (not configured)")[1]
    assert f"component {label!r} was removed from the configuration" in shown.err
    assert f"migrate --prune {label}" in shown.err
    assert "is ahead" not in shown.err
