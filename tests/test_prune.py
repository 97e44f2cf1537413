"""``migrate --prune COMPONENT`` names every revision it forgets: in the question (asked on a
terminal, or the refusal without one), in the closing line and in ``--json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.inspect import app_tables, applied_rows, snapshot, version_rows
from support.projects import set_components
from support.revisions import REV, create_table, new_id, write_revision
from support.running import cli

from memstack.core.settings import DEFAULT_COMPONENTS

MEMO_1 = REV[("memo", "0001_initial")]


def _memo_with_two_revisions_removed(capsys, monkeypatch, project: Path, url: str) -> str:
    """Migrate with a second memo revision, then drop memo from the configuration; the new id."""
    memo_2 = new_id()
    write_revision(project / "migrations" / "memo", "0002_memo_notes", memo_2, MEMO_1,
                   upgrade=create_table("memo_notes"), downgrade="op.drop_table('memo_notes')")
    migrated = cli(capsys, monkeypatch, project, url, "migrate")
    assert migrated.code == 0, migrated
    set_components(project, base=[c for c in DEFAULT_COMPONENTS if c != "memstack.memo"])
    return memo_2


def _names_both(text: str, memo_2: str) -> None:
    assert "Forget 2 applied revision(s) of 'memo': " in text, text
    assert f"0001_initial ({MEMO_1})" in text and f"0002_memo_notes ({memo_2})" in text, text


def test_prune_question_lists_the_revisions(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    memo_2 = _memo_with_two_revisions_removed(capsys, monkeypatch, project, db_url)
    before = snapshot(db_url)

    refused = cli(capsys, monkeypatch, project, db_url, "migrate", "--prune", "memo")  # no terminal, no --yes
    assert refused.code == 1, refused
    assert refused.err.count("error: ") == 1 and "  fix: " in refused.err and "--yes" in refused.err, refused
    _names_both(refused.err, memo_2)
    assert snapshot(db_url) == before

    declined = cli(capsys, monkeypatch, project, db_url, "migrate", "--prune", "memo", terminal_input="n\n")
    assert declined.code == 1, declined
    _names_both(declined.err, memo_2)
    assert "Forgot" not in declined.err
    assert snapshot(db_url) == before

    accepted = cli(capsys, monkeypatch, project, db_url, "migrate", "--prune", "memo", terminal_input="y\n")
    assert accepted.code == 0, accepted
    _names_both(accepted.err, memo_2)
    assert "Forgot 2 revision(s) of memo: 0001_initial, 0002_memo_notes" in accepted.err
    assert not {MEMO_1, memo_2} & (version_rows(db_url) | set(applied_rows(db_url)))
    assert {"memos", "memo_notes"} <= app_tables(db_url)  # the tables stay as they are


def test_prune_json_lists_the_revisions(project: Path, db_url_no_mariadb: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    memo_2 = _memo_with_two_revisions_removed(capsys, monkeypatch, project, url)
    pruned = cli(capsys, monkeypatch, project, url, "migrate", "--prune", "memo", "--yes", "--json")
    assert pruned.code == 0, pruned
    assert json.loads(pruned.out) == {"pruned": "memo", "forgotten": [
        {"revision": MEMO_1, "name": "0001_initial"}, {"revision": memo_2, "name": "0002_memo_notes"}]}
    assert "Forget" not in pruned.err  # --yes asks nothing
    assert not {MEMO_1, memo_2} & (version_rows(url) | set(applied_rows(url)))
