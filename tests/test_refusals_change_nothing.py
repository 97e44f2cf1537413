"""A refusal changes nothing (issue 24, point 2): commands that write files write all or none.

Each command is refused after its first write: ``pyproject.toml`` (or the output's folder) is made
immutable with ``chattr +i`` (which holds for root too), so the write that comes last fails; the
files written before it must be gone again and the project byte for byte as it was. Plus the
refusals found by the input properties, and the SQLite paths of issue 24.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.foreign import write_foreign_project
from support.inputs import assert_clean_outcome, files_digest, run_inprocess
from support.inspect import snapshot


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i path`` for the block (skips where the filesystem or the user cannot)."""
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False,
                                                        capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here (needs CAP_LINUX_IMMUTABLE and ext4/xfs/btrfs)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_startcomponent_refused_at_pyproject_leaves_no_files(project: Path) -> None:
    before = files_digest(project)
    with immutable(project / "pyproject.toml"):
        result = run_inprocess(project, ["startcomponent", "billing", "--package-dir", "."])
    assert_clean_outcome(result, ("pyproject.toml",), codes=(1,))
    assert "nothing was changed" in result.err
    assert files_digest(project) == before and not (project / "billing").exists()
    assert not (project / "migrations" / "billing").exists()


def test_startcomponent_name_too_long_leaves_nothing(project: Path) -> None:
    before = files_digest(project)
    for name in ("w" * 65, "w" * 300):
        result = run_inprocess(project, ["startcomponent", name, "--package-dir", "."])
        assert_clean_outcome(result, ("characters long",), codes=(1,))
    assert files_digest(project) == before


def test_makemigrations_refused_at_pyproject_leaves_no_revision(project: Path) -> None:
    before = files_digest(project)
    with immutable(project / "pyproject.toml"):  # [tool.alembic] is written after the revision
        result = run_inprocess(project, ["--database-url", "sqlite://", "makemigrations", "memo", "--empty",
                                         "-m", "data step"])
    assert_clean_outcome(result, ("pyproject.toml",), codes=(1,))
    assert files_digest(project) == before


def test_takeover_refused_at_pyproject_leaves_nothing(project: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    write_foreign_project(foreign, "sqlite://", count=3)
    before = files_digest(project)
    with immutable(project / "pyproject.toml"):
        result = run_inprocess(project, ["takeover", str(foreign), "--component", "billing", "--package", "billing"])
    assert_clean_outcome(result, ("pyproject.toml",), codes=(1,))
    assert files_digest(project) == before
    assert not (project / "migrations" / "billing").exists() and not (project / "billing").exists()


def test_schemadoc_output_refused_leaves_no_part(project: Path, migrated_sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    with immutable(folder):
        result = run_inprocess(project, ["--database-url", migrated_sqlite_url, "schemadoc", "-o",
                                         str(folder / "schema.html")])
    assert_clean_outcome(result, ("schema.html", "docs"), codes=(1,))
    assert list(folder.iterdir()) == []
    done = run_inprocess(project, ["--database-url", migrated_sqlite_url, "schemadoc", "-o", str(folder / "s.html")])
    assert done.code == 0 and sorted(p.name for p in folder.iterdir()) == ["s.html"], done


# --------------------------------------------------------------------------- SQLite paths (issue 24)


def test_sqlite_folder_that_does_not_exist_is_refused(project: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/typo/memstack.db"
    for command in (["migrate"], ["stamp", "memo", "head"], ["migrate", "memo"], ["seed"]):
        result = run_inprocess(project, ["--database-url", url, *command])
        assert_clean_outcome(result, ("does not exist",), codes=(1,))
    assert not (tmp_path / "typo").exists()
    created = run_inprocess(project, ["--database-url", url, "onboard", "--no-seed"])  # onboard creates, on purpose
    assert created.code == 0 and (tmp_path / "typo" / "memstack.db").is_file(), created


def test_sqlite_default_database_still_works(project: Path) -> None:
    """The embedded default, ``memstack.db`` in the project root, is created as before."""
    result = run_inprocess(project, ["migrate"])
    assert result.code == 0, result
    assert (project / "memstack.db").is_file()


def test_sqlite_file_that_is_not_a_database(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database\n" * 100)
    for command in (["migrate"], ["showmigrations"], ["history"], ["doctor"]):
        result = run_inprocess(project, ["--database-url", f"sqlite:///{path}", *command])
        assert_clean_outcome(result, ("not a database",), codes=(1,))
    assert path.read_text() == "not a database\n" * 100


def test_sqlite_folder_read_only(project: Path, tmp_path: Path, _migrated_sqlite_template: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    url = f"sqlite:///{folder}/new.db"
    with immutable(folder):
        result = run_inprocess(project, ["--database-url", url, "migrate"])
    assert_clean_outcome(result, ("beside the SQLite database",), codes=(1,))
    assert list(folder.iterdir()) == []
    shutil.copyfile(_migrated_sqlite_template, folder / "old.db")
    (project / "migrations" / "memo" / "0002_pending.py").write_text(
        "revision = 'a1b2c3d4e5f6'\ndown_revision = 'bc9a7cdd598c'\n\n\ndef upgrade():\n    pass\n\n\n"
        "def downgrade():\n    pass\n")
    url = f"sqlite:///{folder}/old.db"
    before = snapshot(url)
    with immutable(folder):  # the file itself is writable, its folder (the journal's) is not
        result = run_inprocess(project, ["--database-url", url, "migrate"])
    assert_clean_outcome(result, ("beside the SQLite database",), codes=(1,))
    assert snapshot(url) == before
