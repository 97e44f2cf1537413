"""What one step produces, shared by the executor's strategies: its result, its failure, the
applied set after it, and the checks its commit depends on."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memstack.core.errors import MemstackError
from memstack.engine.errors import MigrationFailed, StepNotApplied
from memstack.engine.tree.graph import Step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.run.lock import LockLost


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


def after_step(state: set[str], step: Step) -> set[str]:
    return state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}


def elapsed_ms(clock: float) -> int:
    return int((time.perf_counter() - clock) * 1000)


def as_migration_failed(step: Step, index: int, total: int, exc: BaseException, outcome: str,
                        dialect: str) -> MigrationFailed | LockLost:
    """What a run raises for a failed step (an already-worded MigrationFailed passes through;
    a lock found lost before the step's commit says which step it rolled back)."""
    from memstack.engine.run.lock import LockLost

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


def error_text(exc: BaseException) -> str:
    """The one-line text a failure row and mark keep."""
    from memstack.engine.errors import InvalidObjectsLeft, StepNotApplied, Terminated

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
