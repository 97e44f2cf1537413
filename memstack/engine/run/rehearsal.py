"""The rehearsal strategy (``migrate --dry-run``): the whole plan run for real in one transaction, then
rolled back, so every statement meets the real database and nothing stays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from memstack.core.errors import MemstackError
from memstack.engine.run.ladder import is_lock_timeout
from memstack.engine.run.steps import StepFailed, StepResult, after_step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

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
    if not plan:
        return [], None
    results: list[StepResult] = []

    def attempt(attach: Callable[[Connection], None]) -> tuple[list[StepResult], str | None]:
        results.clear()  # one try: the guard restarts the plan after a lock timeout
        state = set(applied)
        with executor._connect() as connection:
            executor._set_ddl_lock_timeout(connection, whole_plan=True)
            transaction = connection.begin()
            attach(connection)
            try:
                recorder = executor._prepare(connection)
                for step in plan:
                    executor.guard.now_running(step)
                    if not executor._declared_atomic(step):
                        error = (f"{step.revision.label} declares atomic = False and cannot be rolled back; "
                                 "the rehearsal stopped before it")
                        results.append(StepResult(step, 0, success=False, error=error))
                        return results, error
                    try:
                        result = executor._step(recorder, connection, step, state, fake=False, event=None)
                    except StepFailed as failed:
                        if is_lock_timeout(failed.cause):
                            raise  # rolled back below; the guard tries again from the first step, or names the blockers
                        results.append(StepResult(step, failed.duration_ms, success=False, error=failed.text))
                        return results, failed.text
                    results.append(result)
                    executor.progress("done", step, result)
                    state = after_step(state, step)
            finally:
                transaction.rollback()
        return results, None

    try:
        return executor.guard.run_plan(plan[0], attempt, record=False)
    except StepFailed as gave_up:  # a lock timeout, the ladder run out (or off): the blockers are named
        if isinstance(gave_up.cause, KeyboardInterrupt):  # Ctrl-C between tries: nothing waits on the server
            raise gave_up.cause from None
        step = plan[len(results)]
        return [*results, StepResult(step, gave_up.duration_ms, success=False, error=gave_up.text)], gave_up.text
