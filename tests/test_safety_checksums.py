"""Checksums of applied revisions: code edits are refused, comments and formatting are not,
``repair`` records the new checksum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.databases import execute
from support.inspect import applied_rows, history_rows, snapshot
from support.revisions import REV
from support.running import cli

from memstack.engine.tree.loader import checksum_file, checksum_source

MEMORY_1 = REV[("memory", "0001_initial")]


def _edit_code(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    edited = source.replace("def downgrade() -> None:\n", "def downgrade() -> None:\n    op.execute('SELECT 1')\n", 1)
    assert edited != source
    path.write_text(edited, encoding="utf-8")


def test_edited_applied_revision_is_refused_until_repair(project: Path, db_url: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "memory", "0001", "--yes").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    recorded = applied_rows(db_url)[MEMORY_1]["checksum"]
    assert recorded == checksum_file(path)
    _edit_code(path)
    current = checksum_file(path)
    assert current != recorded

    before = snapshot(db_url)
    refused = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert refused.code == 1, refused
    assert "applied revision memory 0001_initial was changed after it was applied" in refused.err
    assert str(path) in refused.err
    assert current[:12] in refused.err and recorded[:12] in refused.err
    assert "repair" in refused.err  # the fix
    assert "Applying" not in refused.err
    assert snapshot(db_url) == before

    # repair asks first: without a terminal and without --yes it refuses
    declined = cli(capsys, monkeypatch, project, db_url, "repair")
    assert declined.code == 1, declined
    assert "--yes" in declined.err
    assert snapshot(db_url) == before

    repaired = cli(capsys, monkeypatch, project, db_url, "repair", "--yes")
    assert repaired.code == 0, repaired
    assert f"recorded new checksum of memory 0001_initial: {current[:12]}... (was {recorded[:12]}...)" in repaired.err
    assert applied_rows(db_url)[MEMORY_1]["checksum"] == current
    event = history_rows(db_url)[-1]
    assert (event["event"], event["component"], event["name"], event["checksum"]) == \
        ("repair", "memory", "0001_initial", current)
    assert recorded in (event.get("note") or event.get("error") or "")  # the old checksum is kept in the event
    repair_json = json.loads(cli(capsys, monkeypatch, project, db_url, "history", "--json", "--limit", "1").out)[0]
    assert repair_json["event"] == "repair" and repair_json["success"] is True

    nothing = cli(capsys, monkeypatch, project, db_url, "repair", "--yes")
    assert nothing.code == 0 and "Nothing to repair" in nothing.err

    again = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert again.code == 0, again
    assert len([r for r in history_rows(db_url) if r["event"] == "apply"]) == len(REV)


COSMETIC = {
    "comments": lambda s: "# a comment at the top\n" + s.replace("def upgrade() -> None:\n",
                                                                "def upgrade() -> None:  # why\n    # step one\n", 1),
    "blank_lines_and_trailing_spaces": lambda s: s.replace("\n\n", "\n\n\n").replace(")\n", ")   \n"),
    "docstrings": lambda s: s.replace('"""', '"""Reworded. ', 1).replace(
        "def downgrade() -> None:\n", 'def downgrade() -> None:\n    """Undo it."""\n', 1),
    "crlf_line_endings": lambda s: s.replace("\n", "\r\n"),
    "quotes_and_line_breaks": lambda s: s.replace("'memories'", '"memories"').replace(
        "op.drop_table(", "op.drop_table(\n        ", 1),
}


def test_checksum_ignores_comments_and_formatting() -> None:
    source = (Path(__file__).resolve().parents[1] / "migrations" / "memory" / "0001_initial.py").read_text(
        encoding="utf-8")
    base = checksum_source(source)
    for name, change in COSMETIC.items():
        edited = change(source)
        assert edited != source, name
        assert checksum_source(edited) == base, name
    assert checksum_source(source.replace("op.drop_table('memories')", "op.drop_table('memory')")) != base
    assert checksum_source(source + "\nEXTRA = 1\n") != base


def test_cosmetic_edits_of_applied_revisions_are_accepted(project: Path, db_url: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate", "memory", "0001", "--yes").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    source = path.read_text(encoding="utf-8")
    for change in COSMETIC.values():
        source = change(source)
    path.write_bytes(source.encode("utf-8"))

    result = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert result.code == 0, result
    assert "Applying memory 0002_add_task_id" in result.err
    check = cli(capsys, monkeypatch, project, db_url, "check", "--database", "--json")
    kinds = {p["kind"] for p in json.loads(check.out)["problems"]}
    assert "checksum_drift" not in kinds


def test_edited_applied_revision_is_refused_even_with_nothing_pending(project: Path, db_url: str,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    _edit_code(path)
    before = snapshot(db_url)
    refused = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert refused.code == 1, refused
    assert "memory 0001_initial was changed after it was applied" in refused.err
    assert "No migrations to apply" not in refused.err
    assert snapshot(db_url) == before
    assert cli(capsys, monkeypatch, project, db_url, "repair", "--yes").code == 0
    assert cli(capsys, monkeypatch, project, db_url, "migrate").code == 0


def _legacy_checksum(path: Path, flavour: str) -> str:
    """The checksum algorithm 1 (ast.dump) recorded for this file on Python ``flavour``."""
    import ast
    import hashlib

    from memstack.engine.tree import checksum

    tree = checksum._without_docstrings(ast.parse(path.read_text(encoding="utf-8")))
    return hashlib.sha256(checksum._legacy_dump(tree, flavour).encode()).hexdigest()


def _record_legacy(url: str, revision: str, value: str, *, verified: bool = True) -> None:
    execute(url, "UPDATE memstack_applied SET checksum = :value, verified = :verified WHERE revision = :rid",
            params={"value": value, "rid": revision, "verified": verified})


@pytest.mark.parametrize("flavour", ["3.11", "3.12", "3.13"])
def test_checksums_of_the_old_algorithm_are_accepted_then_re_recorded(
        project: Path, db_url_no_mariadb: str, flavour: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A database migrated by memstack 0.1 on any Python migrates after the upgrade (issue 10, item 3)."""
    url = db_url_no_mariadb
    assert cli(capsys, monkeypatch, project, url, "migrate", "memory", "0001", "--yes").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    legacy = _legacy_checksum(path, flavour)
    assert legacy != checksum_file(path)
    _record_legacy(url, MEMORY_1, legacy)

    # a no-op start neither refuses nor writes
    noop = cli(capsys, monkeypatch, project, url, "migrate", "memory", "0001", "--yes")
    assert noop.code == 0, noop
    assert applied_rows(url)[MEMORY_1]["checksum"] == legacy
    check = cli(capsys, monkeypatch, project, url, "check", "--database", "--json")
    assert "checksum_drift" not in {p["kind"] for p in json.loads(check.out)["problems"]}

    # the next migrate that runs something re-records it with the current algorithm, verified kept
    result = cli(capsys, monkeypatch, project, url, "migrate")
    assert result.code == 0, result
    row = applied_rows(url)[MEMORY_1]
    assert row["checksum"] == checksum_file(path) and bool(row["verified"]) is True


def test_old_algorithm_checksum_of_a_changed_file_is_still_refused(project: Path, db_url_no_mariadb: str,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    assert cli(capsys, monkeypatch, project, url, "migrate", "memory", "0001", "--yes").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    _record_legacy(url, MEMORY_1, _legacy_checksum(path, "3.12"))
    _edit_code(path)
    before = snapshot(url)
    refused = cli(capsys, monkeypatch, project, url, "migrate")
    assert refused.code == 1, refused
    assert "memory 0001_initial was changed after it was applied" in refused.err
    assert snapshot(url) == before


def test_unverified_old_algorithm_checksum_stays_unverified(project: Path, db_url_no_mariadb: str,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    assert cli(capsys, monkeypatch, project, url, "migrate", "memory", "0001", "--yes").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    _record_legacy(url, MEMORY_1, _legacy_checksum(path, "3.11"), verified=False)
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0
    row = applied_rows(url)[MEMORY_1]
    assert row["checksum"] == checksum_file(path) and bool(row["verified"]) is False
