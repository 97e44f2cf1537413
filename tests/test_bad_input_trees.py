"""The bad-input corpus, part 2: broken revision files, broken graphs, broken components.

Each case breaks a copy of the project in one way, then runs the real ``manage.py`` against a
database already migrated to the heads, on SQLite and on PostgreSQL: one clear message, an
honest exit status, and the database unchanged (a revision that fails while it runs adds only
its failure row to history). See ``support/badinput.py`` for what is asserted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.badinput import assert_clear_message, assert_unchanged, run_manage
from support.databases import sqlite_url_for, temporary_database
from support.inspect import snapshot
from support.projects import make_project, write_package, write_pyproject

from memstack.core.settings import DEFAULT_COMPONENTS

MEMO_HEAD = "bc9a7cdd598c"
TASK_REVISION = "c24e8d933ed5"  # task 0002_add_progress


def revision(rev: str, down: str | None = MEMO_HEAD, *, body: str = "pass", header: str = "",
             depends_on: str | None = None) -> str:
    """A revision file's source: ``header`` lines first, then the ids, then upgrade/downgrade."""
    ids = f"revision = {rev!r}\n" if rev else ""
    ids += f"down_revision = {down!r}\n" if down != "-" else ""
    ids += f"depends_on = {depends_on!r}\n" if depends_on else ""
    return f"{header}\n{ids}\n\ndef upgrade():\n    {body}\n\n\ndef downgrade():\n    pass\n"


def add_memo(*files: tuple[str, str]) -> Callable[[Path], None]:
    """A breakage: these (file name, source) pairs added to migrations/memo/."""

    def apply(project: Path) -> None:
        for name, source in files:
            (project / "migrations" / "memo" / name).write_text(source, encoding="utf-8")

    return apply


def replace_memo_folder(how: str) -> Callable[[Path], None]:
    def apply(project: Path) -> None:
        folder = project / "migrations" / "memo"
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        if how == "file":
            folder.write_text("not a folder\n")
        else:
            os.symlink(project / "no-such-folder", folder)

    return apply


def with_widget(files: dict[str, str], *, label: str | None = None, migrations: str = "") -> Callable[[Path], None]:
    """A breakage: an eighth component ``widget`` (in ``pkg/``, on PYTHONPATH) with ``files``."""

    def apply(project: Path) -> None:
        write_package(project / "pkg", "widget", files)
        entry: dict[str, str] = {"package": "widget", **({"label": label} if label else {})}
        write_pyproject(project, [*DEFAULT_COMPONENTS, entry])
        if migrations == "file":
            (project / "migrations" / (label or "widget")).write_text("")
        elif migrations == "dangling":
            os.symlink(project / "gone", project / "migrations" / (label or "widget"))

    return apply


@dataclass(frozen=True)
class TreeCase:
    breakage: Callable[[Path], None]
    args: tuple[str, ...]
    says: str
    code: int = 1
    failure_recorded: bool = False  # the revision fails while it runs: its failure row is history
    listed: bool = False  # a check problem: listed on stdout, the error line is the summary


IMPORT_ERROR = revision("a1b2c3d4e5f6", header="import nosuch_module_for_memstack")

CASES: dict[str, TreeCase] = {
    "syntax error, migrate": TreeCase(add_memo(("0002_broken.py", "revision = 'x1'\ndef upgrade(:\n")),
                                      ("migrate",), "0002_broken.py: not valid Python"),
    "syntax error, showmigrations": TreeCase(add_memo(("0002_broken.py", "def upgrade(:\n")),
                                             ("showmigrations",), "not valid Python"),
    "syntax error, check": TreeCase(add_memo(("0002_broken.py", "revision = 'x1'\n  down_revision = 1\n")),
                                    ("check",), "not valid Python", listed=True),
    # the classifier imports each pending revision before the lock, so nothing runs and nothing is recorded
    "import error when migrate runs it": TreeCase(add_memo(("0002_imports.py", IMPORT_ERROR)),
                                                  ("migrate",), "No module named 'nosuch_module_for_memstack'"),
    "import error, sqlmigrate": TreeCase(add_memo(("0002_imports.py", IMPORT_ERROR)),
                                         ("sqlmigrate", "memo", "0002"), "nosuch_module_for_memstack"),
    "missing revision": TreeCase(add_memo(("0002_anonymous.py", revision(""))), ("migrate",),
                                 "no module-level 'revision"),
    "revision computed, not literal": TreeCase(add_memo(("0002_computed.py", revision("x").replace(
        "revision = 'x'", "revision = 'a' + 'b'"))), ("migrate",), "revision"),
    "missing down_revision": TreeCase(add_memo(("0002_rootless.py", revision("a1b2c3d4e5f6", "-"))), ("migrate",),
                                      "2 heads"),
    "duplicate revision ids": TreeCase(add_memo(("0002_copy.py", revision(MEMO_HEAD, None))), ("migrate",),
                                       f"two files claim revision id '{MEMO_HEAD}'"),
    "down_revision points nowhere": TreeCase(add_memo(("0002_orphan.py", revision("a1b2c3d4e5f6", "ffff0000ffff"))),
                                             ("migrate",), "down_revision 'ffff0000ffff' points to no revision"),
    "depends_on points nowhere": TreeCase(add_memo(("0002_dangling.py", revision(
        "a1b2c3d4e5f6", depends_on="eeee0000eeee"))), ("showmigrations",), "depends_on 'eeee0000eeee'"),
    "a cycle": TreeCase(add_memo(("0002_a.py", revision("a1a1a1a1a1a1", "b2b2b2b2b2b2")),
                                 ("0003_b.py", revision("b2b2b2b2b2b2", "a1a1a1a1a1a1"))), ("migrate",), "cycle"),
    "two heads": TreeCase(add_memo(("0002_left.py", revision("a1a1a1a1a1a1")),
                                   ("0003_right.py", revision("b2b2b2b2b2b2"))), ("migrate", "memo"), "2 heads"),
    "branch label of another component": TreeCase(add_memo(("0002_foreign.py", revision("a1b2c3d4e5f6", header=(
        "branch_labels = ('task',)")))), ("migrate",), "branch label 'task'"),
    "revision id over 32 characters": TreeCase(add_memo(("0002_long.py", revision("a" * 33))), ("migrate",),
                                               "at most 32"),
    "TARGET of another component": TreeCase(lambda project: None, ("migrate", "memo", TASK_REVISION),
                                            f"no revision of component 'memo' matches target '{TASK_REVISION}'"),
    "stamp to a TARGET of another component": TreeCase(lambda project: None, ("stamp", "memo", TASK_REVISION),
                                                       f"target '{TASK_REVISION}'"),
    "sqlmigrate of another component's revision": TreeCase(lambda project: None,
                                                           ("sqlmigrate", "memo", TASK_REVISION), TASK_REVISION),
    "migrations folder is a file": TreeCase(replace_memo_folder("file"), ("migrate",), "is a file, not a folder"),
    "migrations folder is a broken link": TreeCase(replace_memo_folder("dangling"), ("migrate",),
                                                   "broken symbolic link"),
    "own component's folder is a file": TreeCase(with_widget({}, migrations="file"), ("migrate",),
                                                 "of component 'widget'"),
    "own component's folder is a broken link": TreeCase(with_widget({}, migrations="dangling"), ("migrate",),
                                                        "broken symbolic link"),
    "component package fails to import": TreeCase(with_widget({"__init__.py": "import nosuch_dependency\n"}),
                                                  ("migrate",), "'widget' fails to import"),
    "component models fail to import": TreeCase(with_widget({"models.py": "raise RuntimeError('boom')\n"}),
                                                ("makemigrations", "--check"), "importing widget.models failed"),
    "component label over 64 characters": TreeCase(with_widget({}, label="w" * 70), ("migrate",), "at most 64"),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of each kind migrated to the heads by the real ``manage.py``, shared by the cases
    (each asserts it unchanged, so sharing is safe)."""
    root = tmp_path_factory.mktemp(f"trees-{request.param}")
    project = make_project(root / "project")
    database = (temporary_database("postgres") if request.param == "postgres"
                else contextlib.nullcontext(sqlite_url_for(root, "corpus.db")))
    with database as url:
        done = run_manage(project, ["--database-url", url, "migrate"])
        assert done.code == 0, done
        yield url


@pytest.mark.parametrize("name", list(CASES))
def test_broken_tree(name: str, migrated: str, tmp_path: Path) -> None:
    case = CASES[name]
    project = make_project(tmp_path / "project")
    case.breakage(project)
    before = snapshot(migrated)
    result = run_manage(project, ["--database-url", migrated, *case.args], {"PYTHONPATH": str(project / "pkg")})
    assert_clear_message(result, case.code, case.says, listed=case.listed)
    assert_unchanged(before, snapshot(migrated), failure_recorded=case.failure_recorded)
