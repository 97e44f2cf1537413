"""The start-up call: migrate (or verify) from the application's lifespan hook.

MemStack's earlier attempt swallowed migration errors and booted on a broken schema; this
raises on every problem. With nothing pending it costs a fixed number of reads and no lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.engine.safety import DatabaseState
    from memstack.engine.workspace import Workspace

log = logging.getLogger("memstack.startup")


@dataclass(frozen=True)
class StartupResult:
    """What the start-up call did."""

    database_url: str  # masked
    applied: list[str] = field(default_factory=list)  # "component name" of each revision applied now
    pending: list[str] = field(default_factory=list)  # what was pending before (verify mode: still pending)
    ahead: list[str] = field(default_factory=list)  # revisions the database has that this code does not know
    duration_ms: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.applied)


def migrate_on_startup(
    database_url: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    verify_only: bool = False,
    lock_timeout: float | None = None,
) -> StartupResult:
    """Apply pending revisions under the migration lock (or, ``verify_only``, only check).

    Raises :class:`memstack.MemstackError` on any problem, in both modes: pending revisions
    (verify mode), failure marks, applied revision files changed since. A database ahead of this code
    (a newer release already migrated it, as in a rolling deploy) is accepted with a warning
    as long as every revision this code knows is applied.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from memstack.core.settings import mask_url
    from memstack.engine.operations import RunOptions, database_state, migrate
    from memstack.engine.workspace import Workspace

    started = time.perf_counter()
    with Workspace.load(project_dir=project_dir, database_url=database_url, lock_timeout=lock_timeout) as ws:
        masked = ws.settings.masked_database_url
        try:
            state = database_state(ws)
        except SQLAlchemyError as exc:  # unreachable server, missing database, wrong password
            first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
            raise MemstackError(f"cannot read the migration state of {masked}: {mask_url(first_line)}",
                                hint="check that the database server runs and the URL is right "
                                "('manage.py doctor' reports what is wrong)") from exc
        _refuse_unsafe_state(ws, state)
        graph = ws.graph
        known_applied = state.applied | {r for r in state.records if r in graph}
        pending = [graph.get(r).label for r in graph.toposort(set(graph.revisions) - known_applied)]
        ahead = list(state.unknown)
        if ahead:
            if pending:
                raise MemstackError(
                    f"the database {masked} records revisions this code does not know ({', '.join(ahead)}) "
                    f"and lacks some it does ({', '.join(pending)})",
                    hint="deploy the code that matches the database, or run 'manage.py check --database'",
                )
            log.warning("database %s is ahead of this code (unknown revisions: %s); every revision this code "
                        "knows is applied, so start-up goes on", masked, ", ".join(ahead))
            return StartupResult(masked, [], [], ahead, int((time.perf_counter() - started) * 1000))
        if not pending:
            return StartupResult(masked, [], [], [], int((time.perf_counter() - started) * 1000))
        if verify_only:
            raise MemstackError(
                f"the database {masked} is not up to date: {len(pending)} pending revision(s): {', '.join(pending)}",
                hint="run 'manage.py migrate' (or call migrate_on_startup without verify_only)",
            )
        log.info("applying %d pending revision(s) to %s", len(pending), masked)
        results = migrate(ws, options=RunOptions())
        applied = [r.step.revision.label for r in results]
        return StartupResult(masked, applied, pending, [], int((time.perf_counter() - started) * 1000))


def _refuse_unsafe_state(ws: Workspace, state: DatabaseState) -> None:
    """Failure marks (a revision that failed half-way) and applied files changed since: raise in
    both modes, so neither verifying nor a start-up with nothing pending boots on them."""
    from memstack.engine.safety import checksum_drift, drift_error, marks_error

    if state.marks:
        raise marks_error(state.marks)
    drift = checksum_drift(ws.tree, state)
    if drift:
        raise drift_error(drift)


async def amigrate_on_startup(database_url: str | None = None, **kwargs: Any) -> StartupResult:
    """:func:`migrate_on_startup` in a worker thread, so the event loop is never blocked."""
    return await asyncio.to_thread(migrate_on_startup, database_url, **kwargs)
