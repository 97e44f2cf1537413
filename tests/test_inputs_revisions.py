"""Revision files as a whole surface (issue 24; strategies in ``support/strategies/revisions.py``):
whatever file is added to a component's folder, ``showmigrations`` and ``migrate`` either work (the
revision applied, and recorded) or refuse by name with the database unchanged (a revision that
fails while it runs adds only its failure row to history)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support.badinput import assert_unchanged
from support.inputs import assert_clean_outcome, run_inprocess
from support.inspect import snapshot, version_rows
from support.projects import make_project
from support.strategies.revisions import MEMO_HEAD, RevisionSource, revision_files

LATIN1 = RevisionSource("0002_inputs.py", (
    f"revision = 'a1b2c3d4e5f6'\ndown_revision = '{MEMO_HEAD}'\nnote = 'caf\u00e9'\n\n"
    "def upgrade():\n    pass\n\ndef downgrade():\n    pass\n").encode("latin-1"), "'a1b2c3d4e5f6'")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("inputs-revisions")
    return make_project(root / "project"), _migrated_sqlite_template, root / "inputs.db"


@given(source=revision_files(), command=st.sampled_from(["migrate", "showmigrations"]))
@example(source=LATIN1, command="migrate")  # found: unexpected UnicodeDecodeError
@example(source=LATIN1, command="showmigrations")  # found: unexpected UnicodeDecodeError
@example(source=RevisionSource("0002_inputs.py", b"revision = 'a1b2c3d4e5f6'\ndown_revision = 1\n", "'a1b2c3d4e5f6'"),
         command="migrate")  # found: unexpected TypeError ('int' object is not iterable)
def test_any_revision_file(world: tuple[Path, Path, Path], source: RevisionSource, command: str) -> None:
    project, template, database = world
    shutil.copyfile(template, database)
    url = f"sqlite:///{database}"
    path = project / "migrations" / "memo" / source.name
    path.write_bytes(source.data)
    try:
        before = snapshot(url)
        result = run_inprocess(project, ["--database-url", url, command])
    finally:
        path.unlink()
    assert_clean_outcome(result, (source.name, "memo", "revision", "head", "guard", "depends_on", "branch",
                                  "step", "down_revision", "cycle", "target", "component", "changed"))
    if command == "migrate" and result.code == 0:
        assert version_rows(url) != before["version_rows"] or "No migrations" in result.err, result
    elif command == "migrate":
        assert_unchanged(before, snapshot(url), failure_recorded="failed" in result.err)
    else:
        assert snapshot(url) == before
