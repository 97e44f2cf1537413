"""squashmigrations on MemStack's own tree: the ``task`` component (branches merged at 0005) squashed
in a copy of the project; databases at every replaced revision, fresh ones and finished ones migrate
to the same catalog as before the squash, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from support.databases import require_server, sqlite_url_for, temporary_database
from support.inspect import version_rows
from support.projects import make_project
from support.running import call, migrate, shown

from memstack.core.errors import MemstackError
from memstack.testing.snapshot import describe_difference, take_snapshot

TASK = ["0001", "0002", "0003", "0004", "0005"]
SQUASH_NAME = "0001_squashed_0005_merge_legacy_task_columns"


def catalog(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        return take_snapshot(engine)
    finally:
        engine.dispose()


@contextmanager
def databases(kind: str, tmp_path: Path, count: int) -> Iterator[list[str]]:
    """``count`` empty databases of ``kind``."""
    if kind == "sqlite":
        yield [sqlite_url_for(tmp_path, f"db{i}.db") for i in range(count)]
        return
    with temporary_database(kind) as first, temporary_database(kind) as second, temporary_database(kind) as third:
        urls = [first, second, third]
        extra = [temporary_database(kind) for _ in range(count - 3)]
        urls += [cm.__enter__() for cm in extra]
        try:
            yield urls[:count]
        finally:
            for cm in extra:
                cm.__exit__(None, None, None)


def proof_url(kind: str) -> str:
    """A URL of the ``kind`` server naming an existing database (scratch databases are made next to it)."""
    url = require_server(kind).url
    return url.set(database=url.database or "mysql").render_as_string(hide_password=False)


@pytest.mark.parametrize("kind", [  # on a server: about 2 min (a dozen scratch databases, eight of its own)
    "sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.slow_faults]),
    pytest.param("mariadb", marks=[pytest.mark.mariadb, pytest.mark.slow_faults])])
def test_task_squash_keeps_every_database_migrating(kind: str, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    at = TASK  # a database stopped at every replaced revision, on every dialect
    with databases(kind, tmp_path, len(at) + 3) as urls:
        old, finished, fresh, *stopped = urls
        migrate(project, old)
        expected = catalog(old)
        migrate(project, finished)
        for number, url in zip(at, stopped, strict=True):
            migrate(project, url, "task", number)
        options: dict[str, Any] = {"samples": 2}
        if kind != "sqlite":
            options["proof_url"] = (proof_url(kind),)
        output = call(project, None, "squashmigrations", "task", "0005", **options)
        written = project / "migrations" / "task" / f"{SQUASH_NAME}.py"
        assert written.exists(), output.err
        assert "replaces = [" in written.read_text()
        assert "fresh build, old tree vs squashed: 16 tables, identical" in output.err + output.out

        steps = migrate(project, fresh).steps()
        assert [s for s in steps if s[1] == "task"] == [("Applying", "task", SQUASH_NAME)]
        assert describe_difference(expected, catalog(fresh)) == []

        for url in stopped:
            migrate(project, url)
            assert describe_difference(expected, catalog(url)) == []
            assert all(shown(project, url).values())
        assert migrate(project, finished).steps() == []
        assert all(shown(project, finished).values())


def test_fresh_squashed_database_records_the_squash_and_rolls_back(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    call(project, None, "squashmigrations", "task", "0005", samples=0)
    url = sqlite_url_for(tmp_path)
    migrate(project, url)
    squash_id = next(r for r in version_rows(url) if r not in _heads_before(project))
    assert squash_id
    migrate(project, url, "task", "zero")
    assert "task_logs" not in catalog(url)
    migrate(project, url)
    assert "task_logs" in catalog(url)


def _heads_before(project: Path) -> set[str]:
    from memstack.engine.workspace import Workspace

    ws = Workspace.load(project_dir=project)
    graph = ws.loaded_tree.graph
    return {h.id for label in graph.component_order if label != "task" for h in graph.heads(label)}


def test_dry_run_writes_nothing_and_prints_json(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    before = sorted(p.name for p in (project / "migrations" / "task").glob("*.py"))
    output = call(project, None, "squashmigrations", "task", "0002", "0005", samples=1, dry_run=True, json=True)
    report = json.loads(output.out)
    assert report["written"] is False
    # 0003 and 0004 are not descendants of 0002: the squash of 0002 and 0005 builds on them
    assert report["replaced"] == ["task 0002_add_progress", "task 0005_merge_legacy_task_columns"]
    assert sorted(report["squashes"][0]["down_revision"]) == ["e414d0c673f0", "e89f967a17b6"]
    assert all(p["agrees"] for p in report["proof"])
    assert sorted(p.name for p in (project / "migrations" / "task").glob("*.py")) == before


def test_range_refusals_name_the_fix(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    with pytest.raises(MemstackError, match="single revision"):
        call(project, None, "squashmigrations", "task", "0005", "0005")
    with pytest.raises(MemstackError, match="not an ancestor"):
        call(project, None, "squashmigrations", "task", "0003", "0004")


def test_makemigrations_after_a_squash_builds_on_it_and_numbers_past_every_file(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    call(project, None, "squashmigrations", "task", "0005", samples=0)
    squash = (project / "migrations" / "task" / f"{SQUASH_NAME}.py").read_text()
    squash_id = squash.split("revision: str = '")[1][:12]
    call(project, None, "makemigrations", "task", empty=True, message="next step")
    written = project / "migrations" / "task" / "0006_next_step.py"
    assert f"down_revision: str | Sequence[str] | None = '{squash_id}'" in written.read_text()
