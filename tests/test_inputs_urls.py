"""Database URLs and their query options, as a whole surface (issue 24; strategies in
``support/strategies/urls.py``): whatever the URL, one clear refusal or a working command, never the
catch-all, and nothing changed or created."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from support.inputs import assert_clean_outcome, files_digest, run_inprocess, scaled
from support.inspect import snapshot
from support.strategies.urls import any_url, server_urls, sqlite_urls

from memstack.core.db import create_engine
from memstack.core.errors import ConfigurationError
from memstack.core.urls import normalize_url

FOLDER = "/tmp/memstack-inputs-urls"  # a folder the strategies name; the tests make it per module


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, Path]:
    """A project, and a folder holding a migrated SQLite database ``inputs.db`` and a text file."""
    from support.projects import make_project

    root = tmp_path_factory.mktemp("inputs-urls")
    project = make_project(root / "project")
    folder = root / "data"
    folder.mkdir()
    shutil.copyfile(_migrated_sqlite_template, folder / "inputs.db")
    shutil.copyfile(_migrated_sqlite_template, project / "inputs.db")
    (folder / "not-a-db.txt").write_text("these bytes are not a SQLite database\n" * 50)
    return project, folder


@given(url=any_url(FOLDER.lstrip("/")))
@settings(max_examples=scaled(8))
@example(url="postgresql://postgres@127.0.0.1:abc/x")  # found: unexpected ValueError (int() of the port)
@example(url="postgresql://postgres@[::1/x")  # found: unexpected ValueError
@example(url="mysql://root@127.0.0.1/x?charset=nosuch")  # found at connect: unexpected AttributeError
@example(url="mysql://root@127.0.0.1/x?foo=bar")  # found at connect: unexpected TypeError
@example(url="postgresql://u@127.0.0.1:٣/x")  # a non-ASCII digit passes str.isdigit()
@example(url="postgres://postgres@127.0.0.1:/x")  # found: unexpected ValueError (an empty port)
def test_a_url_is_refused_by_name_or_usable(url: str) -> None:
    """Pure: normalizing and engine creation either refuse with ConfigurationError or give a URL
    SQLAlchemy parses and an engine (nothing connects)."""
    try:
        normalized = normalize_url(url, Path(FOLDER))
        engine = create_engine(normalized)
    except ConfigurationError as exc:
        assert exc.message and exc.hint, exc
        return
    make_url(normalized)
    engine.dispose()


@given(url=st.one_of(server_urls(), sqlite_urls("{data}")), command=st.sampled_from(
    [("showmigrations",), ("migrate", "--plan"), ("history",)]))
@example(url="sqlite:///{data}/not-a-db.txt", command=("showmigrations",))  # found: unexpected DatabaseError
@example(url="sqlite:///{data}/no/such/folder/x.db", command=("migrate",))  # found: created the folder, exit 0
@example(url="postgresql://postgres@127.0.0.1/x?foo=bar", command=("showmigrations",))  # unexpected ProgrammingError
def test_a_command_with_any_url(world: tuple[Path, Path], url: str, command: tuple[str, ...]) -> None:
    project, folder = world
    url = url.replace("{data}", str(folder).lstrip("/"))
    before_files, before_db = files_digest(project), snapshot(f"sqlite:///{folder}/inputs.db")
    listing = sorted(p.name for p in folder.rglob("*"))
    result = run_inprocess(project, ["--database-url", url, *command])
    assert_clean_outcome(result, ("database", "url", "sqlite", "driver", "scheme", "option", "port", "host"))
    assert files_digest(project) == before_files
    assert snapshot(f"sqlite:///{folder}/inputs.db") == before_db
    if command != ("migrate",) or result.code:
        assert sorted(p.name for p in folder.rglob("*")) == listing, result  # nothing created
    assert not (folder / "no").exists(), result  # a typo's folder is never created
