"""The test helpers' own promises: revision ids come from the files, nothing is spelled by hand."""

from __future__ import annotations

import pytest
from support.projects import LABELS, REPO_ROOT
from support.revisions import REV, parsed, revision_files, revision_id, shared_prefix


def test_rev_holds_every_committed_revision_file() -> None:
    files = {(label, path.stem) for label in LABELS for path in revision_files(REPO_ROOT, label)}
    assert set(REV) == files
    assert all(REV[key] == parsed(REPO_ROOT / "migrations" / key[0] / f"{key[1]}.py").revision for key in files)


def test_revision_id_by_number_or_by_stem() -> None:
    assert revision_id("memory", "0002") == REV[("memory", "0002_add_task_id")]
    assert revision_id("memory", "0002_add_task_id") == REV[("memory", "0002_add_task_id")]


@pytest.mark.parametrize(("label", "number"), [("memory", "0099"), ("nosuch", "0001"), ("task", "000")])
def test_revision_id_refuses_what_is_not_one_file(label: str, number: str) -> None:
    with pytest.raises(LookupError, match="no single revision"):
        revision_id(label, number)


def test_shared_prefix() -> None:
    assert shared_prefix("abc123", "abd456") == "ab"
    with pytest.raises(AssertionError):
        shared_prefix("abc", "def")
