"""Throw-away databases for migration tests: the engine's scratch databases, tuned for speed on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from memstack.core.urls import normalize_url
from memstack.engine.generate.scratch import scratch_engine
from memstack.engine.workspace import Workspace


def scratch_base_url(server_url: str, project: Path) -> str:
    """``server_url`` with memstack's driver; a server URL naming no database is fine (each test makes one)."""
    parsed = make_url(server_url)
    if parsed.get_backend_name() != "sqlite" and not parsed.database:
        server_url = parsed.set(database="memstack_scratch").render_as_string(hide_password=False)
    return normalize_url(server_url, project)


def _no_fsync(engine: Engine) -> None:
    """A scratch SQLite file need not survive a power cut: skip the fsync of every commit."""
    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous = OFF")
        cursor.close()

    engine.dispose()  # connections opened before the listener would keep fsyncing


@contextmanager
def scratch_workspace(workspace: Workspace, server_url: str) -> Iterator[Workspace]:
    """``workspace``'s loaded tree pointed at a new, empty database on ``server_url``, dropped afterwards."""
    url = scratch_base_url(server_url, workspace.settings.project_dir)
    with scratch_engine(url) as engine:
        if engine.dialect.name == "sqlite":
            _no_fsync(engine)
        with workspace.for_database(engine) as ws:
            yield ws
