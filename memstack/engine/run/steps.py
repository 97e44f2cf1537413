"""What one step produces, shared by the executor's strategies and ``--sql`` scripts: its result,
its failure, the applied set and version rows after it, and the checks its commit depends on."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memstack.core.errors import MemstackError
from memstack.engine.errors import InvalidObjectsLeft, LockLost, MigrationFailed, StepNotApplied, Terminated
from memstack.engine.tree.graph import MigrationGraph, Step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.errors import LockLost


@dataclass(frozen=True)
class StepResult:
    step: Step
    duration_ms: int
    success: bool = True
    error: str | None = None


ProgressCallback = Callable[[str, Step, "StepResult | None"], None]
"""Called with ("start", step, None) and ("done" | "failed", step, result)."""


class StepFailed(Exception):
    """Internal: a step raised; carries what the failure row needs."""
    def __init__(self, cause: BaseException, started_at: dt.datetime, duration_ms: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.started_at = started_at
        self.duration_ms = duration_ms
        self.text = error_text(cause)


def transactional_ddl(dialect_name: str) -> bool:
    """Whether a step's DDL rolls back with its records (MariaDB commits DDL itself: marks guard it)."""
    return dialect_name in ("postgresql", "sqlite")  # SQLite: as memstack.core.db.create_engine runs it


def after_step(state: set[str], step: Step) -> set[str]:
    return state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}


def elapsed_ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)


def as_migration_failed(step: Step, index: int, total: int, exc: BaseException, outcome: str,
                        dialect: str) -> MigrationFailed | LockLost:
    """What a run raises for a failed step (an already-worded MigrationFailed passes through;
    a lock found lost before the step's commit says which step it rolled back)."""

    if isinstance(exc, MigrationFailed):
        return exc
    if isinstance(exc, LockLost):
        return LockLost(exc.what, exc.reason, during=step.revision.label, completed=index - 1, total=total,
                        plan_rolled_back=outcome == "plan_rolled_back")
    if isinstance(exc, StepNotApplied):
        outcome = "not_applied"
    return MigrationFailed(step=step, index=index, total=total, error=exc, outcome=outcome, dialect=dialect)


def check_foreign_keys(connection: Connection, step: Step) -> None:
    """SQLite runs a step with foreign keys off: the commit is refused if the step left violations."""
    if connection.dialect.name != "sqlite":
        return
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        table, rowid, parent, _ = problems[0]
        raise MemstackError(
            f"{step.revision.label} left {len(problems)} row(s) violating foreign keys "
            f"(first: {table} rowid {rowid} -> {parent})",
        )


def interruption(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C or SIGTERM that ``exc`` replaced, if any.

    A driver cancelling the statement a Ctrl-C interrupted may raise the statement's own error (a
    lock timeout that fired as the cancel went out) with the interruption only as its context; retried
    as a lock timeout, the run would go on for the whole ladder after the user asked it to stop.
    """
    seen: BaseException | None = exc
    for _ in range(16):  # a context chain is short; a loop in it must not hang the failure path
        if seen is None:
            return None
        if isinstance(seen, KeyboardInterrupt):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def error_text(exc: BaseException) -> str:
    """The one-line text a failure row and mark keep."""
    if isinstance(exc, StepNotApplied):  # the real cause is what the failure row and mark keep
        return error_text(exc.cause)
    if isinstance(exc, InvalidObjectsLeft):
        left = "; ".join(f"left {o.describe()} (clear it: {o.fix})" for o in exc.objects)
        return f"{error_text(exc.cause)}; {left}" if exc.cause is not None else f"reported success but {left}"
    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C / SIGINT)"
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {str(original or exc).strip()}"


# --------------------------------------------------------------------------- version rows, step by step
# ``MigrationGraph.rows_for`` recomputes the rows from the whole applied set (the union of every
# member's ancestors): called after every step, that made a run from empty grow with the cube of
# the tree. In an applied set that is closed under parents (every member's parents applied, which
# is what plans keep), a member is a row exactly when none of its children is applied, so one step
# changes only the status of its revision and that revision's parents. A set that is not closed (a
# hand-edited database) falls back to the full computation, so the answer is always ``rows_for``'s.


class VersionRows:
    """The rows standing for ``applied``; :meth:`move` applies one step and says what changed."""
    def __init__(self, graph: MigrationGraph, applied: Iterable[str]) -> None:
        self.graph = graph
        self.applied = set(applied)
        self._children = graph.children
        self.closed = self._is_closed()
        self.rows = self._rows_closed() if self.closed else graph.rows_for(self.applied)

    def _is_closed(self) -> bool:
        revisions = self.graph.revisions
        return all(rid in revisions and all(p in self.applied for p in revisions[rid].parents)
                   for rid in self.applied)

    def _is_row(self, rid: str) -> bool:
        return rid in self.applied and not any(c in self.applied for c in self._children.get(rid, ()))

    def _rows_closed(self) -> set[str]:
        return {rid for rid in self.applied if self._is_row(rid)}

    def move(self, revision_id: str, direction: str) -> tuple[set[str], set[str]]:
        """Apply (``up``) or unapply (``down``) one revision; returns (rows gone, rows added)."""
        revision = self.graph.revisions[revision_id]
        stays_closed = self.closed and (
            all(p in self.applied for p in revision.parents) if direction == "up"
            else not any(c in self.applied for c in self._children.get(revision_id, ())))
        if direction == "up":
            self.applied.add(revision_id)
        else:
            self.applied.discard(revision_id)
        old = self.rows
        if stays_closed:
            touched = {revision_id, *revision.parents}
            self.rows = (old - touched) | {rid for rid in touched if self._is_row(rid)}
        else:
            self.closed = self._is_closed()
            self.rows = self._rows_closed() if self.closed else self.graph.rows_for(self.applied)
        return old - self.rows, self.rows - old


#: an engine's execution option (PostgreSQL): (the ``search_path`` a revision's code runs under, the one to
#: restore after it). A fleet's tenant schema gets ``"tenant", "public"``: its revisions find the shared tables
#: the configured database holds, while memstack's own tables are read and written in the tenant schema only.
REVISION_SEARCH_PATH = "memstack_revision_search_path"


def in_revision_search_path(connection: Connection, function: Callable[[], None]) -> Callable[[], None]:
    """``function`` run under the engine's revision ``search_path`` (see :data:`REVISION_SEARCH_PATH`), if any."""
    paths = connection.get_execution_options().get(REVISION_SEARCH_PATH)
    if not paths or connection.dialect.name != "postgresql":
        return function
    during, after = paths

    def run() -> None:
        connection.exec_driver_sql("SELECT set_config('search_path', %(p)s, false)", {"p": during})
        function()  # (a failure rolls the setting back with its transaction, or the fleet drops the session)
        connection.exec_driver_sql("SELECT set_config('search_path', %(p)s, false)", {"p": after})

    return run
