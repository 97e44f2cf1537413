"""Plain ``alembic`` on a squashed tree (it knows nothing of ``replaces``): memstack's env.py hands it
the revision map this database needs, so ``alembic upgrade heads`` works from empty and from a
replaced revision, and ``alembic heads`` (which does not run env.py) shows one head per component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from support.databases import sqlite_url_for
from support.inspect import version_rows
from support.projects import REPO_ROOT, add_alembic_config, make_project
from support.revisions import revision_id
from support.running import alembic as run_alembic
from support.running import call, migrate, ok, shown

from memstack.testing.snapshot import describe_difference, take_snapshot


def alembic(project: Path, url: str | None, *args: str) -> Any:
    """Plain ``alembic``, importing this checkout's memstack (not whichever one is installed)."""
    return run_alembic(project, url, *args, pythonpath=(REPO_ROOT,))


def branch_points(output: str) -> set[str]:
    """The revisions ``alembic branches`` lists as branch points (its other lines are their children)."""
    return {line.split()[0] for line in output.splitlines() if line.strip() and not line.startswith(" ")}


def catalog(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        return take_snapshot(engine)
    finally:
        engine.dispose()


@pytest.mark.slow_faults  # about 2 minutes: a dozen alembic processes, each importing every revision
def test_plain_alembic_upgrades_a_squashed_tree(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    add_alembic_config(project)
    old, at_0003, at_0004 = (sqlite_url_for(tmp_path, f"{n}.db") for n in ("old", "at0003", "at0004"))
    ok(alembic(project, old, "upgrade", "heads"))
    expected = catalog(old)
    ok(alembic(project, at_0003, "upgrade", revision_id("task", "0003")))
    migrate(project, at_0004, "task", "0004")
    heads_before = ok(alembic(project, None, "heads")).out

    call(project, None, "squashmigrations", "task", "0005", samples=0)
    squash = next(p for p in (project / "migrations" / "task").glob("0001_squashed_*.py"))
    squash_id = squash.read_text().split("revision: str = '")[1][:12]

    # without env.py (alembic heads), Alembic reads the squash after the range: one head per component still
    heads_after = ok(alembic(project, None, "heads")).out
    assert len(heads_after.splitlines()) == len(heads_before.splitlines())
    assert f"{squash_id} (task) (head)" in heads_after
    fresh = sqlite_url_for(tmp_path, "fresh.db")
    ok(alembic(project, fresh, "upgrade", "heads"))
    assert squash_id in version_rows(fresh)
    assert describe_difference(expected, catalog(fresh)) == []
    for url in (at_0003, at_0004, old):
        ok(alembic(project, url, "upgrade", "heads"))
        assert describe_difference(expected, catalog(url)) == []
        assert all(shown(project, url).values())  # memstack agrees with what Alembic did
        assert ok(alembic(project, url, "current")).out.strip()
    assert migrate(project, fresh).steps() == []

    call(project, None, "squashmigrations", "task", cleanup=True, database_url=(old, at_0003, at_0004, fresh))
    assert ok(alembic(project, None, "heads")).out.count("\n") == heads_before.count("\n")
    assert "(task)" in ok(alembic(project, None, "heads")).out
    again = sqlite_url_for(tmp_path, "again.db")
    ok(alembic(project, again, "upgrade", "heads"))
    assert describe_difference(expected, catalog(again)) == []
    for url in (old, at_0003, fresh):
        ok(alembic(project, url, "upgrade", "heads"))


@pytest.mark.slow_faults  # about a minute: alembic processes, each importing every revision
def test_plain_alembic_on_a_squash_followed_by_revisions(tmp_path: Path) -> None:
    """task 0001..0002 squashed while 0003, 0004 (naming 0001) and 0005 (naming 0002) follow: the real
    ``alembic heads`` (no env.py) shows one task head, and ``alembic upgrade heads`` works from empty
    and from replaced revisions."""
    project = make_project(tmp_path / "project")
    add_alembic_config(project)
    old, at_0001, at_0003 = (sqlite_url_for(tmp_path, f"{n}.db") for n in ("old", "at0001", "at0003"))
    ok(alembic(project, old, "upgrade", "heads"))
    expected = catalog(old)
    ok(alembic(project, at_0001, "upgrade", revision_id("task", "0001")))
    ok(alembic(project, at_0003, "upgrade", revision_id("task", "0003")))
    heads_before = ok(alembic(project, None, "heads")).out
    branches_before = ok(alembic(project, None, "branches")).out  # task's 0001 is a branch point already

    call(project, None, "squashmigrations", "task", "0001", "0002", samples=0)
    squash = next((project / "migrations" / "task").glob("0001_squashed_*.py"))
    squash_id = squash.read_text().split("revision: str = '")[1][:12]
    heads_after = ok(alembic(project, None, "heads")).out
    assert len(heads_after.splitlines()) == len(heads_before.splitlines()), heads_after
    assert heads_after.count("(task)") == 1 and f"{squash_id} (task) (head)" in heads_after
    branches_after = ok(alembic(project, None, "branches")).out
    assert branch_points(branches_after) == branch_points(branches_before), branches_after
    assert squash_id in ok(alembic(project, None, "history")).out

    fresh = sqlite_url_for(tmp_path, "fresh.db")
    for url in (fresh, at_0001, at_0003, old):
        ok(alembic(project, url, "upgrade", "heads"))
        assert describe_difference(expected, catalog(url)) == [], url
        assert all(shown(project, url).values()), url
    assert shown(project, fresh)[("task", squash.stem)]  # the new database ran the squash
