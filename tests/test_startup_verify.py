"""``migrate_on_startup`` raises on failure marks and changed files, as its docstring promises,
in verify mode and also when nothing is pending (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.databases import execute
from support.inspect import snapshot
from support.revisions import REV

import memstack
from memstack.core.errors import MemstackError

MEMO_1 = REV[("memo", "0001_initial")]


def test_failure_mark_raises_in_both_modes(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    execute(url, "INSERT INTO memstack_marks (revision, component, name, direction, state, started_at, pid) "
            "VALUES (:r, 'memo', '0001_initial', 'up', 'failed', '2026-01-01 00:00:00', 4242)", params={"r": MEMO_1})
    before = snapshot(url)
    for verify_only in (True, False):
        with pytest.raises(MemstackError, match="memo 0001_initial"):
            memstack.migrate_on_startup(url, project_dir=project, verify_only=verify_only)
    assert snapshot(url) == before


def test_changed_applied_file_raises_in_both_modes(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    path = next((project / "migrations" / "memo").glob("0001_*.py"))
    path.write_text(path.read_text() + "\n\nEXTRA_CODE = 1\n")
    before = snapshot(url)
    for verify_only in (True, False):
        with pytest.raises(MemstackError, match="0001_initial"):
            memstack.migrate_on_startup(url, project_dir=project, verify_only=verify_only)
    assert snapshot(url) == before
