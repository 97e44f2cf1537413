"""The start-up call: migrate (or verify) from the application's lifespan hook.

MemStack's earlier attempt swallowed migration errors and booted on a broken schema; this
raises on every problem. With nothing pending it costs a fixed number of reads and no lock.
Errors keep their type and get a fix worded for whoever runs the application
(:func:`for_application`); commands are mentioned, not assumed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memstack.core.caller_project import caller_file, project_for_caller
from memstack.core.errors import DatabaseUnavailable, MemstackError
from memstack.engine.errors import (
    AheadAndBehind,
    ChecksumDrift,
    DestructivePlanRefused,
    FailureMark,
    NotUpToDate,
    RemovedComponent,
    UnknownRows,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.engine import Connection

    from memstack.engine.records.status import DatabaseStatus
    from memstack.engine.run.destruction import DestructionCallback, StepDestruction
    from memstack.engine.run.halfway import MarkProgress
    from memstack.engine.tree.graph import Revision

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


def _fix_for_application(error: MemstackError) -> str | None:
    """What the application's operator can do; commands are only mentioned (a deploy may have no manage.py)."""
    if isinstance(error, NotUpToDate):
        return ("run the migrations before start-up (e.g. 'manage.py migrate' in the release job), or call "
                "migrate_on_startup without verify_only")
    if isinstance(error, AheadAndBehind):
        return "deploy the code that matches the database ('manage.py check --database' lists both sides)"
    if isinstance(error, RemovedComponent):
        return (f"configure component {error.component!r} again, or forget its rows with the migrate command's "
                f"--prune {error.component}")
    if isinstance(error, UnknownRows):
        return "the database was migrated by newer code: deploy that code (or restore the missing revision files)"
    if isinstance(error, ChecksumDrift):
        return "restore the applied revision file as it was, or record the change with the repair command"
    if isinstance(error, FailureMark):
        return "fix the schema by hand, then clear the mark with the repair command (or fake the revision)"
    if isinstance(error, DestructivePlanRefused):
        return ("review the revisions, then run them with the migrate command (it asks), or pass "
                "allow_destructive=True to migrate_on_startup")
    if isinstance(error, DatabaseUnavailable):
        return "check that the database server runs and the URL is right (the doctor command says what is wrong)"
    return None


def for_application(error: MemstackError) -> MemstackError:
    """``error`` itself (its type kept, so callers can catch it), with the start-up's fix when it has none."""
    if error.hint is None:
        error.hint = _fix_for_application(error)
    return error


def migrate_on_startup(
    database_url: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    verify_only: bool = False,
    lock_timeout: float | None = None,
    allow_destructive: bool = False,
    ddl_lock_timeout: float | None = None,
    statement_timeout: float | None = None,
    lock_retries: int | None = None,
    lock_retry_max_wait: float | None = None,
    blocker_policy: str | None = None,
) -> StartupResult:
    """Apply pending revisions under the migration lock (or, ``verify_only``, only check).

    ``ddl_lock_timeout`` ... ``blocker_policy``: the guard's settings for this call (None: the
    settings chain; see docs/applying.md, "Timeouts and waiting"). Each step waits at most
    ``ddl_lock_timeout`` for a table lock per try, so the application's own queries never queue
    longer than that behind a migration.

    Raises :class:`memstack.MemstackError` on any problem, in both modes: pending revisions
    (verify mode), failure marks, applied revision files changed since. A database ahead of this code
    (a newer release already migrated it, as in a rolling deploy) is accepted with a warning
    as long as every revision this code knows is applied. A pending revision that destroys
    data (drops a table or column, changes a type so values can change, deletes rows) raises
    :class:`~memstack.engine.errors.DestructivePlanRefused` naming it, unless ``allow_destructive``.
    """
    caller = caller_file(sys._getframe(1))
    try:
        guard = {"ddl_lock_timeout": ddl_lock_timeout, "statement_timeout": statement_timeout,
                 "lock_retries": lock_retries, "lock_retry_max_wait": lock_retry_max_wait,
                 "blocker_policy": blocker_policy}
        found = project_for_caller(project_dir, caller)
        return _migrate_on_startup(database_url, found, verify_only, lock_timeout, allow_destructive,
                                   {k: v for k, v in guard.items() if v is not None})
    except MemstackError as exc:
        for_application(exc)
        raise


def _migrate_on_startup(database_url: str | None, project_dir: str | os.PathLike[str] | None, verify_only: bool,
                        lock_timeout: float | None, allow_destructive: bool, guard: dict[str, Any]) -> StartupResult:
    from sqlalchemy.exc import SQLAlchemyError  # lazy: kept off the no-op path and --help

    from memstack.core.db import database_unavailable  # lazy: kept off the no-op path and --help
    from memstack.engine.records.status import read_status, remember  # lazy: kept off the no-op path and --help
    from memstack.engine.workspace import Workspace  # lazy: kept off the no-op path and --help

    started = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - started) * 1000)

    with Workspace.load(project_dir=project_dir, database_url=database_url, lock_timeout=lock_timeout) as ws:
        masked = ws.settings.masked_database_url
        try:
            state = read_status(ws, trust_digest=True, mark_progress=_mark_progress)  # the no-op digest: one query
        except SQLAlchemyError as exc:  # unreachable server, missing database, wrong password
            raise database_unavailable(exc, ws.settings.database_url, doing="read the migration state of") from exc
        if state.digest_current:
            return StartupResult(masked, [], [], [], took())
        _refuse_unsafe_state(state)
        pending = [ws.graph.get(r).label for r in state.pending]
        ahead = list(state.unknown)
        if ahead:
            if pending:
                raise AheadAndBehind(masked, ahead, pending)
            log.warning("database %s is ahead of this code (unknown revisions: %s); every revision this code "
                        "knows is applied, so start-up goes on", masked, ", ".join(ahead))
            return StartupResult(masked, [], [], ahead, took())
        if not pending:
            remember(ws, state)  # the state just checked: not read again
            return StartupResult(masked, [], [], [], took())
        if verify_only:
            raise NotUpToDate(masked, pending)
        log.info("applying %d pending revision(s) to %s", len(pending), masked)
        from memstack.engine.migrate import RunOptions, migrate  # (not needed on the no-op path)

        options = RunOptions(confirm_destruction=_destruction_policy(masked, allow_destructive), guard=guard)
        results = migrate(ws, options=options, status=state)
        applied = [r.step.revision.label for r in results]
        return StartupResult(masked, applied, pending, [], took())


def _destruction_policy(masked: str, allow: bool) -> DestructionCallback:
    """The start-up call cannot ask: refuse a destructive plan naming what it destroys, or log and go on."""
    def confirm(headline: str, destroys: Sequence[StepDestruction]) -> None:
        from memstack.engine.run.destruction import describe_loss  # lazy: kept off the no-op path and --help

        named = {d.step.revision.label: [describe_loss(loss) for loss in d.losses] for d in destroys}
        if not allow:
            raise DestructivePlanRefused(masked, named)
        log.warning("allow_destructive: applying revision(s) that destroy data in %s: %s", masked,
                    "; ".join(f"{label}: {', '.join(items)}" for label, items in named.items()))

    return confirm


def _mark_progress(connection: Connection, revision: Revision, direction: str) -> MarkProgress:
    """How far a marked revision got; imported only when a mark is left (not on the no-op path)."""
    from memstack.engine.run.halfway import mark_progress  # lazy: kept off the no-op path and --help

    return mark_progress(connection, revision, direction)


def _refuse_unsafe_state(state: DatabaseStatus) -> None:
    """Failure marks (a revision that failed half-way) and applied files changed since: raise in
    both modes, so neither verifying nor a start-up with nothing pending boots on them."""
    if state.marks:
        raise FailureMark(state.marks[0], state.progress.get(state.marks[0].revision))
    if state.drift:
        raise ChecksumDrift(state.drift)


async def amigrate_on_startup(
    database_url: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    verify_only: bool = False,
    lock_timeout: float | None = None,
    allow_destructive: bool = False,
    **guard: Any,
) -> StartupResult:
    """:func:`migrate_on_startup` in a worker thread, so the event loop is never blocked (``guard``: its
    ddl_lock_timeout, statement_timeout, lock_retries, lock_retry_max_wait, blocker_policy)."""
    if project_dir is None:  # found here: the worker thread's frames do not lead to the caller
        project_dir = project_for_caller(None, caller_file(sys._getframe(1)))
    return await asyncio.to_thread(migrate_on_startup, database_url, project_dir=project_dir,
                                   verify_only=verify_only, lock_timeout=lock_timeout,
                                   allow_destructive=allow_destructive, **guard)
