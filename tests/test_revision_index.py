"""The revision index is a cache: it saves parsing, and it is never trusted when stale.

Each test compares what the loader returns through the index with a fresh parse of the
files, after something that could fool a cache: a deleted or corrupt index, an edit that
keeps size and mtime, a git branch switch, a clock that is ahead or behind.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.projects import git_repo_on_main
from support.revisions import same_size_same_mtime_edit, write_chain
from support.running import cli

from memstack.engine.tree import checksum, index, loader


def fresh(folder: Path) -> list[tuple[loader.RevisionFile, str]]:
    """The truth: every file parsed now, no cache."""
    return [(loader.parse_revision_file(p), checksum.checksum_file(p)) for p in loader.revision_files(folder)]


def through_index(folder: Path) -> list[tuple[loader.RevisionFile, str]]:
    return [(h, loader.checksum_file(h.path)) for h in loader.read_headers(folder)]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The files the loader actually parsed; entries count as old at once (no racy window)."""
    seen: list[Path] = []
    real = loader._indexed_header

    def counting(path: Path, source: str) -> index.Header:
        seen.append(path)
        return real(path, source)

    monkeypatch.setattr(loader, "_indexed_header", counting)
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)  # trust entries up to 1000 s in the future
    yield seen


def test_unchanged_files_are_not_parsed_again(tmp_path: Path, parses: list[Path]) -> None:
    folder = tmp_path / "c"
    write_chain(folder)
    assert through_index(folder) == fresh(folder)
    assert len(parses) == 3 and (folder / index.INDEX_NAME).is_file()
    parses.clear()
    assert through_index(folder) == fresh(folder)
    assert parses == []


def test_deleted_index_is_rebuilt(tmp_path: Path, parses: list[Path]) -> None:
    folder = tmp_path / "c"
    write_chain(folder)
    through_index(folder)
    (folder / index.INDEX_NAME).unlink()
    parses.clear()
    assert through_index(folder) == fresh(folder)
    assert len(parses) == 3


def test_edit_with_same_size_and_mtime_is_seen(tmp_path: Path, parses: list[Path]) -> None:
    folder = tmp_path / "c"
    paths = write_chain(folder)
    before = through_index(folder)
    same_size_same_mtime_edit(paths[1], '"t2"', '"x2"')  # the code: the checksum must change
    same_size_same_mtime_edit(paths[2], "down_revision = 'r00000000002'", "down_revision = 'r00000000001'")
    parses.clear()
    after = through_index(folder)
    assert after == fresh(folder)
    assert sorted(parses) == paths[1:]
    assert after[1][1] != before[1][1]
    assert after[2][0].down_revision == ("r00000000001",)


def test_added_removed_and_replaced_files(tmp_path: Path, parses: list[Path]) -> None:
    folder = tmp_path / "c"
    paths = write_chain(folder, 4)
    through_index(folder)
    paths[3].unlink()
    replacement = folder / "tmp.txt"  # a same-size file moved over another: new inode
    replacement.write_text(paths[2].read_text().replace('"t3"', '"y3"'))
    os.replace(replacement, paths[2])
    parses.clear()
    assert through_index(folder) == fresh(folder)
    assert parses == [paths[2]]
    assert set(json.loads((folder / index.INDEX_NAME).read_text())["files"]) == {p.name for p in paths[:3]}


def test_git_branch_switch(tmp_path: Path, parses: list[Path]) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    folder = repo / "migrations" / "c"
    paths = write_chain(folder)
    (repo / ".gitignore").write_text(".memstack-index.json\n")
    git = git_repo_on_main(repo)
    git("checkout", "-qb", "other")
    paths[1].write_text(paths[1].read_text().replace('"t2"', '"z2"'))  # same size, other code
    paths[2].unlink()
    git("add", "-A")
    git("commit", "-qm", "other")
    on_other = through_index(folder)
    assert on_other == fresh(folder) and len(on_other) == 2
    git("checkout", "-q", "main")
    on_main = through_index(folder)
    assert on_main == fresh(folder) and len(on_main) == 3
    assert on_main[1][1] != on_other[1][1]
    git("checkout", "-q", "other")
    assert through_index(folder) == on_other


def test_files_from_the_future_are_never_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file stamped ahead of the index (clock skew, an unpacked archive) is re-read every time."""
    monkeypatch.setattr(index, "RACY_WINDOW_NS", 0)  # only the future makes an entry untrusted here
    folder = tmp_path / "c"
    paths = write_chain(folder)
    future = paths[0].stat().st_mtime_ns + 3600 * 10**9
    os.utime(paths[0], ns=(future, future))
    through_index(folder)
    calls: list[Path] = []
    real = loader._indexed_header
    monkeypatch.setattr(loader, "_indexed_header", lambda p, s: calls.append(p) or real(p, s))
    same_size_same_mtime_edit(paths[0], '"t1"', '"w1"')
    assert through_index(folder) == fresh(folder)
    assert paths[0] in calls


def test_index_written_by_a_clock_that_was_ahead(tmp_path: Path, parses: list[Path]) -> None:
    """The clock went back after the index was written: an edit is still caught (by ctime)."""
    folder = tmp_path / "c"
    paths = write_chain(folder)
    through_index(folder)
    stored = json.loads((folder / index.INDEX_NAME).read_text())
    stored["written_ns"] += 24 * 3600 * 10**9
    (folder / index.INDEX_NAME).write_text(json.dumps(stored))
    same_size_same_mtime_edit(paths[0], '"t1"', '"v1"')
    parses.clear()
    assert through_index(folder) == fresh(folder)
    assert parses == [paths[0]]


def test_recent_entries_are_racy_and_re_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real window, files changed within 2 s of the index being written are parsed again."""
    folder = tmp_path / "c"
    write_chain(folder)
    through_index(folder)
    calls: list[Path] = []
    real = loader._indexed_header
    monkeypatch.setattr(loader, "_indexed_header", lambda p, s: calls.append(p) or real(p, s))
    assert through_index(folder) == fresh(folder)
    assert len(calls) == 3


CORRUPTIONS = {
    "garbage": b"\x00\xffnot json",
    "truncated": b'{"format": 1, "checksum_algorithm": 2, "written_ns": 1, "files": {"0001_r1.py": {"st',
    "a list": b"[1, 2, 3]",
    "other format": None,  # filled in below from a real index
    "other algorithm": None,
    "stat as strings": None,
    "short checksum": None,
    "no files": None,
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_corrupt_index_is_ignored(tmp_path: Path, parses: list[Path], kind: str) -> None:
    folder = tmp_path / "c"
    write_chain(folder)
    through_index(folder)
    target = folder / index.INDEX_NAME
    raw = CORRUPTIONS[kind]
    if raw is None:
        stored = json.loads(target.read_text())
        entry = stored["files"]["0001_r1.py"]
        if kind == "other format":
            stored["format"] = 99
        elif kind == "other algorithm":
            stored["checksum_algorithm"] = 1
        elif kind == "stat as strings":
            entry["stat"] = [str(v) for v in entry["stat"]]
        elif kind == "short checksum":
            entry["checksum"] = "abc"
        else:
            del stored["files"]
        raw = json.dumps(stored).encode()
    target.write_bytes(raw)
    parses.clear()
    assert through_index(folder) == fresh(folder)
    assert len(parses) == 3
    assert json.loads(target.read_text())["format"] == index.INDEX_FORMAT  # rebuilt


def test_unwritable_folder_goes_without_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    write_chain(folder)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(index.os, "replace", refuse)
    assert through_index(folder) == fresh(folder)
    assert not (folder / index.INDEX_NAME).exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_migrate_refuses_an_applied_file_edited_behind_the_index(project: Path, sqlite_url: str,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: an applied file edited with size and mtime kept is still refused."""
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)
    assert cli(capsys, monkeypatch, project, sqlite_url, "migrate").code == 0
    assert (project / "migrations" / "memory" / index.INDEX_NAME).is_file()
    assert cli(capsys, monkeypatch, project, sqlite_url, "migrate").code == 0
    path = project / "migrations" / "memory" / "0001_initial.py"
    text = path.read_text()
    assert "op.drop_table('memories')" in text
    same_size_same_mtime_edit(path, "op.drop_table('memories')", "op.drop_table('memoriez')")
    refused = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert refused.code == 1, refused
    assert "memory 0001_initial was changed after it was applied" in refused.err


def test_edit_indistinguishable_by_stat_is_caught_while_racy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a filesystem with coarse timestamps an edit can keep every stat field: fresh files are re-read."""
    monkeypatch.setattr(index, "stat_key", lambda stat: (stat.st_size, stat.st_mtime_ns, 0, stat.st_ino))
    folder = tmp_path / "c"
    paths = write_chain(folder)
    through_index(folder)
    same_size_same_mtime_edit(paths[0], '"t1"', '"u1"')  # ctime is ignored by the patched stat_key
    assert through_index(folder) == fresh(folder)
    assert loader.checksum_file(paths[0]) == checksum.checksum_file(paths[0])
