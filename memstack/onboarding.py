"""Recipes above the engine: from clone to working database (``onboard``), and seeding.

Seeding runs each component's seed hook (:mod:`memstack.core.seeding`) in component order,
in one transaction, under the migration lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from memstack.core.components import build_registry
from memstack.core.db import create_engine, database_exists, database_unavailable, server_url
from memstack.core.errors import MemstackError, SchemaNotMigrated
from memstack.core.seeding import SeedResult, SeedRun, check_schema, seed_hooks
from memstack.core.settings import Settings, mask_url, read_dotenv
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.run.lock import migration_lock
from memstack.engine.workspace import Workspace

if TYPE_CHECKING:
    from memstack.engine.run.lock import WaitCallback
    from memstack.engine.run.steps import ProgressCallback

__all__ = ["OnboardResult", "database_exists", "ensure_database", "onboard", "seed"]


def ensure_database(url: str) -> bool:
    """Create the database when it does not exist; True when it was created."""

    if database_exists(url):
        return False
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        assert parsed.database
        # onboard is the command that creates a database, so it creates the folder too; every other
        # command refuses a SQLite URL whose folder does not exist (core.db: a typo creates nothing)
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        with engine.connect():
            pass  # connecting creates the file
        engine.dispose()
        return True
    admin, name, _ = server_url(url)
    if not name:
        raise MemstackError(f"the database URL {mask_url(url)} names no database", hint="add /<database> to it")
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    suffix = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend != "postgresql" else ""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {quoted}{suffix}"))
    except Exception as exc:
        from memstack.core.db import connection_reason

        raise MemstackError(f"cannot create database {name!r} on {mask_url(admin)}: {connection_reason(exc)}",
                            hint="create it by hand, or give the user the right to create databases") from exc
    finally:
        engine.dispose()
    return True


# --------------------------------------------------------------------------- seed


def seed_environment(project_dir: Path) -> dict[str, str]:
    """The settings' environment chain: the real environment wins over the project's ``.env``."""
    return {**read_dotenv(project_dir), **os.environ}


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def seed(settings: Settings, *, environ: Mapping[str, str] | None = None) -> SeedResult:
    """Run every component's seed hook, in component order; return what was found and created.

    ``environ`` replaces the environment chain (real environment over ``.env``), which hooks
    read their secrets from. Raises :class:`SchemaNotMigrated` when a hook's tables are missing.
    """


    env = seed_environment(settings.project_dir) if environ is None else dict(environ)
    url = settings.database_url
    sqlite_path = _sqlite_file(url)
    if sqlite_path is not None and not sqlite_path.is_file():
        raise SchemaNotMigrated(f"the database file {sqlite_path} does not exist yet")
    registry = build_registry(settings)
    registry.load_models()
    hooks = seed_hooks(registry)
    engine = create_engine(url)
    try:
        check_schema(engine, list(dict.fromkeys(t for hook in hooks for t in hook.required_tables)))
        result = SeedResult()
        # under the migration lock: replicas seeding at once must not create a row twice
        # (tenant names, for one, are not unique in the schema)
        with migration_lock(engine, settings.lock_timeout), Session(engine) as session, session.begin():
            # one created_at for every row, set here: the same on every backend, no reliance on now() in SQL
            run = SeedRun(session, env, datetime.now(UTC), result)
            for hook in hooks:
                hook.hook(run)
        return result
    except SQLAlchemyError as exc:
        raise database_unavailable(exc, url, doing="seed") from exc
    finally:
        engine.dispose()


_run_seed_hooks = seed  # onboard's own ``seed`` flag hides the function's name there


# --------------------------------------------------------------------------- onboard


@dataclass
class OnboardResult:
    created_database: bool
    applied: list[str]
    seed: SeedResult | None  # when seeding ran


def onboard(settings: Settings, *, seed: bool = True, progress: ProgressCallback | None = None,
            on_wait: WaitCallback | None = None) -> OnboardResult:
    """Check the configuration, create the database if needed, migrate every component, seed.

    A second run changes nothing.
    """

    registry = build_registry(settings)
    with Workspace(settings=settings, registry=registry) as ws:
        ws.graph.validate()
        for label in registry.labels:
            ws.graph.head(label)
        created = ensure_database(settings.database_url)
        results = migrate(ws, options=RunOptions(progress=progress, on_wait=on_wait))
    seeded = _run_seed_hooks(settings) if seed else None
    return OnboardResult(created, [r.step.revision.label for r in results], seeded)

