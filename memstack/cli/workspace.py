"""Opening the workspace for a command, from the global options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from memstack.cli.context import AppContext
from memstack.engine.workspace import Workspace


@contextmanager
def open_workspace(app: AppContext) -> Iterator[Workspace]:
    ws = Workspace(settings=app.settings, registry=app.registry)
    try:
        yield ws
    finally:
        ws.close()
