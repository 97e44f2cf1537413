"""The test helpers' own promises: revision ids come from the files, nothing is spelled by hand;
waits end on the event, or fail saying what was awaited."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.projects import LABELS, REPO_ROOT
from support.revisions import REV, parsed, revision_files, revision_id, shared_prefix
from support.waiting import WRITE_ATOMICALLY, wait_for_file, wait_for_file_line, wait_until, write_atomically


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


def test_wait_until_returns_the_value_or_names_what_it_waited_for() -> None:
    calls = iter([None, 0, "done"])
    assert wait_until(lambda: next(calls), interval=0) == "done"
    with pytest.raises(AssertionError, match=r"timed out after 0.1 s waiting for the moon"):
        wait_until(lambda: False, timeout=0.1, what="the moon")


def test_wait_until_fails_at_once_when_the_child_ends_first() -> None:
    child = subprocess.Popen([sys.executable, "-c", "print('bye')"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    with pytest.raises(AssertionError, match=r"(?s)the process ended \(exit 0\) before the file.*bye"):
        wait_until(lambda: False, what="the file", proc=child)


def test_a_file_written_whole_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "pid"
    child = subprocess.Popen([sys.executable, "-c", WRITE_ATOMICALLY + f"_write_atomically({str(path)!r}, '')"])
    assert wait_for_file(path, proc=child) == ""  # an empty file, once there, is written
    child.wait(timeout=120)
    write_atomically(path, "4242\n")
    assert wait_for_file(path) == "4242\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pid"]  # no temporary left behind


def test_a_line_counts_once_its_newline_is_written(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("starting\nready 12", encoding="utf-8")
    with pytest.raises(AssertionError, match="timed out"):
        wait_for_file_line(log, r"^ready (\d+)$", timeout=0.2)
    log.write_text("starting\nready 123\n", encoding="utf-8")
    assert wait_for_file_line(log, r"^ready (\d+)$")[1] == "123"
