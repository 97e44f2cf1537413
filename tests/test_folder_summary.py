"""The revision index's folder summary (engine/index.py) is a cache: used only when the folder's
listing is exactly what it was made from, never when stale.

The summary lets a no-op start skip every per-file lookup: each test compares the fingerprint
through the summary with the fingerprint computed file by file, after something that could
fool it (an edit keeping size and mtime, added, removed and replaced files, a git branch
switch, a corrupt or forged head, fresh files, a clock that was ahead).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.databases import query
from support.projects import git_repo_on_main, write_package, write_pyproject
from support.revisions import same_size_same_mtime_edit, write_chain

import memstack
from memstack.core.errors import ConfigurationError, MemstackError
from memstack.core.settings import DEFAULT_COMPONENTS
from memstack.engine import workspace
from memstack.engine.records.status import read_status
from memstack.engine.tree import fingerprint, index
from memstack.engine.workspace import Workspace


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Files count as old at once (no racy window), so summaries are written."""
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)
    yield


def part_file_by_file(folder: Path) -> str:
    """The truth: the folder's part from its headers, no summary (and none remembered)."""
    index._open.pop(folder, None)
    return fingerprint._folder_part(folder)


def summarized(folder: Path) -> str | None:
    """Write the summary (one per-file pass), then read it back the fast way."""
    part_file_by_file(folder)
    return index.trusted_summary(folder)


def test_summary_is_used_and_equals_the_file_by_file_part(tmp_path: Path, trusting: None) -> None:
    folder = tmp_path / "c"
    write_chain(folder, 4)
    assert summarized(folder) == part_file_by_file(folder)
    head = (folder / index.INDEX_NAME).read_text()
    assert head.index('"summary"') < head.index('"files"')  # the head is decodable alone


@pytest.mark.parametrize("change", ["same size and mtime", "appended", "added", "removed", "replaced", "renamed"])
def test_any_change_to_the_listing_is_not_trusted(tmp_path: Path, trusting: None, change: str) -> None:
    folder = tmp_path / "c"
    paths = write_chain(folder, 4)
    before = summarized(folder)
    assert before is not None
    if change == "same size and mtime":
        same_size_same_mtime_edit(paths[1], '"t2"', '"x2"')
    elif change == "appended":
        paths[1].write_text(paths[1].read_text() + "\nX = 1\n")
    elif change == "added":
        write_chain(tmp_path / "other", 5)[4].rename(folder / "0005_r5.py")
    elif change == "removed":
        paths[3].unlink()
    elif change == "replaced":  # same size, same name, another inode
        other = folder / "tmp.txt"
        other.write_text(paths[2].read_text().replace('"t3"', '"y3"'))
        os.replace(other, paths[2])
    else:
        paths[3].rename(folder / "0004_renamed.py")
    assert index.trusted_summary(folder) is None
    after = part_file_by_file(folder)
    assert after != before
    assert index.trusted_summary(folder) == after  # rewritten for the new listing


def test_fresh_files_get_no_summary(tmp_path: Path) -> None:
    """With the real racy window, files written just now are not summarized."""
    folder = tmp_path / "c"
    write_chain(folder)
    assert summarized(folder) is None
    assert '"summary"' not in (folder / index.INDEX_NAME).read_text()


def test_a_clock_that_was_ahead_does_not_hide_an_edit(tmp_path: Path, trusting: None) -> None:
    folder = tmp_path / "c"
    paths = write_chain(folder)
    assert summarized(folder) is not None
    stored = json.loads((folder / index.INDEX_NAME).read_text())
    stored["written_ns"] += 24 * 3600 * 10**9
    (folder / index.INDEX_NAME).write_text(json.dumps(stored, separators=(",", ":")))
    assert index.trusted_summary(folder) is not None  # still the same listing
    same_size_same_mtime_edit(paths[0], '"t1"', '"v1"')
    assert index.trusted_summary(folder) is None  # the ctime changed


@pytest.mark.parametrize("kind", ["garbage", "other format", "forged signature", "short part", "no files key",
                                  "summary not an object"])
def test_corrupt_or_forged_head_is_not_trusted(tmp_path: Path, trusting: None, kind: str) -> None:
    folder = tmp_path / "c"
    write_chain(folder)
    truth = summarized(folder)
    target = folder / index.INDEX_NAME
    stored = json.loads(target.read_text())
    if kind == "garbage":
        target.write_bytes(b"\x00\xff{not json")
    else:
        if kind == "other format":
            stored["format"] = 2
        elif kind == "forged signature":
            stored["summary"]["signature"] = "0" * 64
        elif kind == "short part":
            stored["summary"]["part"] = "abc"
        elif kind == "no files key":
            del stored["files"]
        else:
            stored["summary"] = ["x"]
        target.write_text(json.dumps(stored, separators=(",", ":")))
    assert index.trusted_summary(folder) is None
    assert part_file_by_file(folder) == truth


def test_git_branch_switch(tmp_path: Path, trusting: None) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    folder = repo / "migrations" / "c"
    paths = write_chain(folder)
    (repo / ".gitignore").write_text(".memstack-index.json\n")
    git = git_repo_on_main(repo)
    on_main = summarized(folder)
    git("checkout", "-qb", "other")
    paths[1].write_text(paths[1].read_text().replace('"t2"', '"z2"'))  # same size, other code
    git("commit", "-qam", "other")
    assert index.trusted_summary(folder) is None
    on_other = summarized(folder)
    git("checkout", "-q", "main")
    assert index.trusted_summary(folder) is None  # git rewrote the file: new ctime (and inode)
    assert part_file_by_file(folder) == on_main != on_other


def test_noop_start_through_summaries_still_refuses_an_edited_applied_file(
        project: Path, db_url_no_mariadb: str, trusting: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end (SQLite, PostgreSQL): once every folder is summarized, the no-op start reads no
    header, and an applied file edited with size and mtime kept still takes the full path and is refused."""
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    memstack.migrate_on_startup(url, project_dir=project)  # writes the summaries (the first run had none)
    assert query(url, "SELECT value FROM memstack_meta WHERE key = 'noop_fingerprint'")
    folders = sorted((project / "migrations").glob("*/"))
    assert folders and all(index.trusted_summary(f) is not None for f in folders)
    per_file: list[Path] = []
    real = fingerprint._folder_part
    monkeypatch.setattr(fingerprint, "_folder_part", lambda f, *more: per_file.append(f) or real(f, *more))
    builds: list[int] = []
    real_load = workspace.load_tree
    monkeypatch.setattr(workspace, "load_tree", lambda *a, **k: builds.append(1) or real_load(*a, **k))
    assert not memstack.migrate_on_startup(url, project_dir=project).changed
    assert per_file == [] and builds == []
    path = next((project / "migrations" / "memo").glob("0001_*.py"))
    text = path.read_text()
    old = next(word for word in ("drop_table(", "create_table(") if word in text)
    same_size_same_mtime_edit(path, old, old.replace("table", "tabl_"))
    with pytest.raises(MemstackError, match="0001_initial"):
        memstack.migrate_on_startup(url, project_dir=project)
    assert per_file == [(project / "migrations" / "memo").resolve()]  # the other folders: from their summaries
    with Workspace.load(project_dir=project, database_url=url) as ws:
        assert not read_status(ws, trust_digest=True).digest_current


def test_a_broken_package_is_refused_where_the_tree_is_loaded(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the workspace imports no component package (a no-op start runs nothing); loading the
    tree, which everything that runs a revision does first, refuses a broken one."""
    write_package(project / "pkg", "widget", {"__init__.py": "import nosuch_dependency_for_memstack\n"})
    write_pyproject(project, [*DEFAULT_COMPONENTS, {"package": "widget"}])
    (project / "migrations" / "widget").mkdir()
    monkeypatch.syspath_prepend(str(project / "pkg"))
    with Workspace.load(project_dir=project, database_url="sqlite://") as ws:
        assert "widget" not in sys.modules and not any(c.package_checked for c in ws.registry)
        with pytest.raises(ConfigurationError, match="'widget' fails to import"):
            assert ws.tree


APPLIED_ROWS = [("r1", "c" * 64, True), ("R2", None, False), ("a\u00e9", "d" * 64, True), ("a b", "e" * 64, False),
                ("zz", "", True)]


@pytest.mark.parametrize("rows", [APPLIED_ROWS, []], ids=["tricky rows", "no rows"])
def test_applied_digest_on_the_server_equals_the_one_computed_here(rows: list[tuple[str, str | None, bool]]) -> None:
    """PostgreSQL computes the applied records' digest itself (one row read instead of one per
    revision): it must be the very digest Python computes from the rows, or every start takes the
    full path (NULL checksums, false flags, upper case, non-ASCII, spaces, no rows)."""
    from sqlalchemy import create_engine
    from support.databases import temporary_database

    from memstack.engine.records import recorder as bookkeeping
    from memstack.engine.records import status

    with temporary_database("postgres") as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                bookkeeping.bookkeeping_metadata.create_all(connection)
                bookkeeping.version_table.create(connection, checkfirst=True)
                for revision, checksum, verified in rows:
                    connection.execute(bookkeeping.applied_table.insert().values(
                        revision=revision, component="c", name="n", checksum=checksum, verified=verified,
                        applied_at=datetime.datetime.now(datetime.UTC)))
            with engine.connect() as connection:
                server = connection.execute(status.applied_digest_on_server()).one()[1]
                _, facts = status.read_digest_facts(connection)
        finally:
            engine.dispose()
    assert server == status._applied_digest(rows)
    assert f"applied {server}" in facts
