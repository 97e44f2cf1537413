"""The SQLite scratch database of the last comparisons, kept while nothing it was built from changed.

``makemigrations`` and ``check`` compare the models with a scratch database built by applying
every revision; on a tree of 1,000 revisions that build is nearly all of their time, and with
no revision changed it produces the same database again. So the built file is kept in the
project's ``.memstack-cache/scratch/`` (a folder that ignores itself in git) and reused only
when everything that decides the build is byte-for-byte what it was:

- memstack's own source, SQLAlchemy's, Alembic's and SQLite's versions;
- the components (labels, order, folders), ``pyproject.toml`` and ``migrations/env.py``;
- every revision file of the plan, in plan order;
- every module the revisions import, directly or through other such modules, that is not
  the standard library or an installed package (found by reading their import statements,
  wherever the files live): it must resolve to the same file with the same bytes, and one
  that was not found must still not be found; the version of each installed package they
  import (a revision that imports by computed name, or reads data files or the environment,
  is beyond this: delete the folder after changing what such a revision reads);
- the cached database file itself.

Contents are compared, never modification times: a clock skew, a ``git checkout`` or a
file restored with its old mtime cannot make a stale build look current. Anything that
differs, or any cache file that is missing, unreadable or foreign, means a fresh build.
SQLite builds are kept as the file; PostgreSQL and MariaDB builds as the statements they sent,
replayed in one transaction (see :mod:`memstack.engine.generate.scratch_replay`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alembic
import sqlalchemy
from sqlalchemy.engine import Engine, make_url

import memstack
from memstack.engine.generate.references import Creators
from memstack.engine.generate.scratch import scratch_engine, throwaway_sqlite_engine
from memstack.engine.generate.scratch_imports import dependencies_unchanged, file_sha256, project_dependencies
from memstack.engine.generate.scratch_replay import StatementLog, replay, server_version
from memstack.engine.tree.graph import Step
from memstack.engine.workspace import Workspace

CACHE_FORMAT = 2
CACHE_DIR = ".memstack-cache"
KEPT_ENTRIES = 3  # a few, so switching between git branches reuses each branch's build


@dataclass(frozen=True)
class CachedState:
    """What a scratch build found besides the database: who created each table and column."""
    owners: dict[str, str]
    creators: Creators


def _memstack_source_digest() -> str:
    """Every source file of memstack itself: the executor and the environment decide the build too."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_key(ws: Workspace, plan: Sequence[Step]) -> str:
    """The digest of everything but the imported project modules (those are listed per entry)."""


    digest = hashlib.sha256()

    def add(*parts: object) -> None:
        for part in parts:
            digest.update(repr(part).encode())
            digest.update(b"\0")

    add(CACHE_FORMAT, getattr(memstack, "__version__", ""), _memstack_source_digest(), sqlalchemy.__version__,
        alembic.__version__, sqlite3.sqlite_version, sys.version_info[:2])
    for component in ws.registry:
        add(component.label, str(component.migrations_path))
    for extra in (ws.settings.pyproject_path, ws.settings.migrations_dir / "env.py"):
        add(str(extra), file_sha256(extra) if extra.is_file() else None)
    for step in plan:
        path = ws.tree.path_of(step.revision.id)
        add(step.revision.id, step.direction, str(path), file_sha256(path))
    return digest.hexdigest()


# --------------------------------------------------------------------------- the cache folder


class ScratchCache:
    """Entries ``<key>.json`` (the facts) + ``<key>.db`` (a SQLite build) in the project's cache folder."""
    def __init__(self, project_dir: Path) -> None:
        self.project_dir = project_dir
        self.folder = project_dir / CACHE_DIR / "scratch"

    def facts(self, key: str) -> dict[str, Any] | None:
        """The entry for ``key`` when it is ours and every recorded import still holds; else None."""
        try:
            facts = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
            if not isinstance(facts, dict) or facts.get("format") != CACHE_FORMAT or facts.get("key") != key:
                return None
            return facts if dependencies_unchanged(facts["dependencies"]) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def state_of(facts: dict[str, Any]) -> CachedState:
        creators = Creators(tables=dict(facts["creator_tables"]),
                            columns={(t, c): rid for t, c, rid in facts["creator_columns"]})
        return CachedState(owners=dict(facts["owners"]), creators=creators)

    def restore(self, key: str, target: Path) -> CachedState | None:
        """Copy the SQLite build for ``key`` to ``target`` when every recorded fact still holds; else None."""
        facts = self.facts(key)
        if facts is None:
            return None
        try:
            shutil.copyfile(self.folder / f"{key}.db", target)
            if file_sha256(target) != facts["database"]:  # the copy is what gets used: check the copy
                target.unlink()
                return None
            return self.state_of(facts)
        except (OSError, ValueError, KeyError, TypeError):
            target.unlink(missing_ok=True)
            return None

    def store(self, key: str, state: CachedState, dependencies: dict[str, str], *, database: Path | None = None,
              statements: list[Any] | None = None) -> None:
        """Keep a build for ``key``: a closed SQLite ``database``, or a server build's ``statements``.

        Best effort: a read-only project just builds every time.
        """
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# memstack's cache: safe to delete\n*\n", encoding="utf-8")
            facts: dict[str, Any] = {
                "format": CACHE_FORMAT, "key": key, "dependencies": dependencies, "owners": state.owners,
                "creator_tables": state.creators.tables,
                "creator_columns": sorted([t, c, rid] for (t, c), rid in state.creators.columns.items()),
            }
            partial = f".{os.getpid()}.partial"
            if database is not None:
                facts["database"] = file_sha256(database)
                shutil.copyfile(database, self.folder / f"{key}.db{partial}")
                os.replace(self.folder / f"{key}.db{partial}", self.folder / f"{key}.db")
            if statements is not None:
                facts["statements"] = statements
            (self.folder / f"{key}.json{partial}").write_text(json.dumps(facts), encoding="utf-8")
            os.replace(self.folder / f"{key}.json{partial}", self.folder / f"{key}.json")
            self._prune()
        except (OSError, TypeError, ValueError):
            return

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for entry in entries[KEPT_ENTRIES:]:
            entry.unlink(missing_ok=True)
            entry.with_suffix(".db").unlink(missing_ok=True)


# --------------------------------------------------------------------------- the scratch state


def _dependencies(ws: Workspace, plan: Sequence[Step]) -> dict[str, str] | None:
    try:
        return project_dependencies(ws.tree.path_of(step.revision.id) for step in plan)
    except (OSError, SyntaxError, ValueError):  # an import we cannot follow: no cache, not wrong
        return None


def _fill(creators: Creators, state: CachedState) -> dict[str, str]:
    creators.tables.update(state.creators.tables)
    creators.columns.update(state.creators.columns)
    return state.owners


@contextmanager
def scratch_state(ws: Workspace, plan: Sequence[Step], creators: Creators,
                  build: Callable[[Engine], dict[str, str]]) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A scratch engine at the tree's heads and {table: creating component}; ``creators`` filled.

    ``build`` applies ``plan`` to an empty scratch database; its result is reused while nothing
    it was built from changed (see the module's docstring). A given ``scratch_url`` is the
    user's database to fill, and a plan of nothing costs less to build than to look up.
    """
    backend = make_url(ws.settings.database_url).get_backend_name()
    if not plan or ws.settings.scratch_database_url or backend not in ("sqlite", "postgresql", "mysql", "mariadb"):
        with scratch_engine(ws.settings.database_url, ws.settings.scratch_database_url) as engine:
            yield engine, build(engine)
        return
    cache = ScratchCache(ws.settings.project_dir)
    if backend == "sqlite":
        with _sqlite_state(ws, plan, creators, build, cache) as state:
            yield state
        return
    with _server_state(ws, plan, creators, build, cache) as state:
        yield state


@contextmanager
def _sqlite_state(ws: Workspace, plan: Sequence[Step], creators: Creators, build: Callable[[Engine], dict[str, str]],
                  cache: ScratchCache) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A copy of the kept SQLite file, or a new build (then kept)."""
    folder = Path(tempfile.mkdtemp(prefix="memstack-scratch-"))
    database = folder / "scratch.db"
    key = build_key(ws, plan)
    engine = throwaway_sqlite_engine(database)
    try:
        cached = cache.restore(key, database)
        if cached is None:
            owners = build(engine)
            engine.dispose()  # every step committed; nothing open while the file is copied
            dependencies = _dependencies(ws, plan)
            if dependencies is not None:
                cache.store(key, CachedState(owners, creators), dependencies, database=database)
        else:
            owners = _fill(creators, cached)
        yield engine, owners
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _server_state(ws: Workspace, plan: Sequence[Step], creators: Creators, build: Callable[[Engine], dict[str, str]],
                  cache: ScratchCache) -> Iterator[tuple[Engine, dict[str, str]]]:
    """The kept statements replayed on a new scratch database, or a new build (then its statements kept)."""
    url = ws.settings.database_url
    with scratch_engine(url) as engine:
        key = hashlib.sha256(f"{build_key(ws, plan)} {server_version(engine)}".encode()).hexdigest()
        facts = cache.facts(key)
        statements = facts.get("statements") if facts else None
        if facts is None or not isinstance(statements, list):
            yield engine, _build_and_keep(ws, plan, creators, build, cache, key, engine)
            return
        if replay(engine, statements):
            yield engine, _fill(creators, cache.state_of(facts))
            return
    with scratch_engine(url) as engine:  # a new, empty one: the failed replay may have left something
        yield engine, _build_and_keep(ws, plan, creators, build, cache, key, engine)


def _build_and_keep(ws: Workspace, plan: Sequence[Step], creators: Creators, build: Callable[[Engine], dict[str, str]],
                    cache: ScratchCache, key: str, engine: Engine) -> dict[str, str]:

    log = StatementLog(engine)
    try:
        owners = build(engine)
    finally:
        log.close()
    dependencies = _dependencies(ws, plan)
    if dependencies is not None and log.keepable:
        cache.store(key, CachedState(owners, creators), dependencies, statements=log.statements)
    return owners
