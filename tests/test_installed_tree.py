"""The installed-tree setting (``installed_tree`` / ``MEMSTACK_INSTALLED_TREE``): a read-only tree's
folder summaries are trusted by file names alone, without a stat a file (issue 25, part 4).

What it still catches (a file added, removed or renamed) and what it deliberately does not (an
edit in place: the setting says the tree cannot change), next to the default that catches both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.projects import write_pyproject
from support.revisions import same_size_same_mtime_edit, write_chain

from memstack.core.errors import ConfigurationError
from memstack.core.settings import load_settings
from memstack.engine.tree import fingerprint, index


@pytest.fixture
def no_stat(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The per-file listing (a stat a file) fails if it is taken."""
    def refused(folder: Path) -> None:
        raise AssertionError(f"stat a file in {folder}")

    monkeypatch.setattr(index, "_listing", refused)
    yield


def part_file_by_file(folder: Path, installed: bool = False) -> str:
    index._open.pop(folder, None)
    return fingerprint._folder_part(folder, installed)


def test_trusted_by_names_without_a_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "c"
    write_chain(folder, 4)
    truth = part_file_by_file(folder, installed=True)  # fresh files: stored only because of the setting
    assert index.trusted_summary(folder) is None  # without the setting the racy rule still holds
    monkeypatch.setattr(index, "_listing", lambda f: (_ for _ in ()).throw(AssertionError("stat")))
    assert index.trusted_summary(folder, installed=True) == truth


@pytest.mark.parametrize("change", ["added", "removed", "renamed"])
def test_a_changed_listing_is_still_seen(tmp_path: Path, no_stat: None, change: str) -> None:
    folder = tmp_path / "c"
    paths = write_chain(folder, 4)
    part_file_by_file(folder, installed=True)
    if change == "added":
        write_chain(tmp_path / "other", 5)[4].rename(folder / "0005_r5.py")
    elif change == "removed":
        paths[3].unlink()
    else:
        paths[3].rename(folder / "0004_renamed.py")
    assert index.trusted_summary(folder, installed=True) is None


def test_an_edit_in_place_is_trusted_away_only_with_the_setting(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """What the setting gives up, documented: an in-place edit of an installed tree is not seen by the
    no-op start. Without it, the same edit is seen."""
    monkeypatch.setattr(index, "RACY_WINDOW_NS", -10**12)  # files count as old at once
    folder = tmp_path / "c"
    paths = write_chain(folder, 4)
    before = part_file_by_file(folder)
    same_size_same_mtime_edit(paths[1], '"t2"', '"x2"')
    assert index.trusted_summary(folder, installed=True) == before  # trusted: the tree is read-only
    assert index.trusted_summary(folder) is None  # the default sees it (ctime)
    assert part_file_by_file(folder) != before


def test_setting_follows_the_chain(tmp_path: Path) -> None:
    write_pyproject(tmp_path, extra="installed_tree = true")
    settings = load_settings(project_dir=tmp_path, environ={})
    assert settings.installed_tree and settings.sources["installed_tree"] == "[tool.memstack] installed_tree"
    settings = load_settings(project_dir=tmp_path, environ={"MEMSTACK_INSTALLED_TREE": "0"})
    assert not settings.installed_tree and settings.sources["installed_tree"] == "MEMSTACK_INSTALLED_TREE"
    write_pyproject(tmp_path)
    assert not load_settings(project_dir=tmp_path, environ={}).installed_tree  # off by default
    with pytest.raises(ConfigurationError, match="MEMSTACK_INSTALLED_TREE must be 1 or 0"):
        load_settings(project_dir=tmp_path, environ={"MEMSTACK_INSTALLED_TREE": "maybe"})
    write_pyproject(tmp_path, extra='installed_tree = "yes"')
    with pytest.raises(ConfigurationError, match="installed_tree must be true or false"):
        load_settings(project_dir=tmp_path, environ={})
