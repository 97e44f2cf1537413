"""The rehearsal strategy (``migrate --dry-run``): the whole plan run for real in one transaction, then
rolled back, so every statement meets the real database and nothing stays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memstack.core.errors import MemstackError
from memstack.engine.run.steps import StepFailed, StepResult, after_step

if TYPE_CHECKING:
    from memstack.engine.run.executor import Executor
    from memstack.engine.tree.graph import Step


def rehearse(executor: Executor, plan: Sequence[Step], applied: set[str]) -> tuple[list[StepResult], str | None]:
    """Run ``plan`` for real in one transaction, then roll it all back.

    Returns each step's outcome and the first error (None when every step worked). A
    revision declaring ``atomic = False`` cannot be rolled back: the rehearsal stops before it.
    """
    if not executor.transactional_ddl:
        raise MemstackError(
            f"--dry-run needs transactional DDL; {executor.engine.dialect.name} commits every DDL statement "
            "itself, so a rehearsal could not be rolled back",
            hint="use --plan to see the steps, or --sql to review the SQL",
        )
    results: list[StepResult] = []
    state = set(applied)
    with executor._connect() as connection:
        executor._set_ddl_lock_timeout(connection, whole_plan=True)
        transaction = connection.begin()
        try:
            recorder = executor._prepare(connection)
            for step in plan:
                if not executor._declared_atomic(step):
                    error = (f"{step.revision.label} declares atomic = False and cannot be rolled back; "
                             "the rehearsal stopped before it")
                    results.append(StepResult(step, 0, success=False, error=error))
                    return results, error
                try:
                    result = executor._step(recorder, connection, step, state, fake=False, event=None)
                except StepFailed as failed:
                    results.append(StepResult(step, failed.duration_ms, success=False, error=failed.text))
                    return results, failed.text
                results.append(result)
                executor.progress("done", step, result)
                state = after_step(state, step)
        finally:
            transaction.rollback()
    return results, None
