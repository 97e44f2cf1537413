"""Plain ``alembic upgrade``/``downgrade`` through memstack's env.py: the guards of ``manage.py migrate``.

**Lock waits** (:func:`guard_lock_waits`): every revision runs under the guard of
engine/run/guard.py, with the settings chain's values (``MEMSTACK_DDL_LOCK_TIMEOUT``, ...,
``MEMSTACK_DISABLE_GUARD=1``; Alembic has no flags for them) and each revision's ``guard = {...}``.
On PostgreSQL a revision runs inside a savepoint of Alembic's per-revision transaction: a lock
timeout rolls the savepoint back (which releases the locks taken since) and the revision is tried
again on the ladder; when the ladder runs out the run fails naming the blocker. On MariaDB, and
for a revision declaring ``atomic = False`` (its ``autocommit_block()`` commits Alembic's
transaction, so no savepoint can span it), each statement that commits by itself is retried in
place, as ``migrate`` does. Every try is in history (event ``retry``) and on stderr.

**Destruction.** The same rule as ``manage.py migrate``: every downgrade destroys, an upgrade when the revision
classifier (engine/run/classify.py) finds a destructive step. Alembic cannot ask, so the run
is refused before its first step, naming each step with the figures read live, unless it is
confirmed: ``-x yes=1``, ``config.attributes["memstack_yes"] = True`` (a Python caller), or a
run made by pytest-alembic (its databases are throwaway).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import RevisionStep

from memstack.core.errors import DeclinedError, MemstackError
from memstack.engine.alembic_compat import StepsFunction, wrap_steps
from memstack.engine.records.recorder import utcnow
from memstack.engine.run.classify import classifier
from memstack.engine.run.destruction import StepDestruction, count_losses, describe_loss, planned_destruction
from memstack.engine.run.guard import Guard
from memstack.engine.run.steps import StepFailed, StepResult, elapsed_ms
from memstack.engine.tree.graph import Step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.workspace import Workspace

__all__ = ["destruction_confirmed", "guard_destruction", "guard_lock_waits"]

YES_VALUES = ("1", "true", "yes", "y")


def destruction_confirmed(context: Any) -> bool:
    """``-x yes=1``, ``config.attributes["memstack_yes"]``, or a run by pytest-alembic (a throwaway database)."""
    if str(context.get_x_argument(as_dictionary=True).get("yes", "")).lower() in YES_VALUES:
        return True
    if context.config.attributes.get("memstack_yes"):
        return True
    frame = sys._getframe(1)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("pytest_alembic."):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def guard_destruction(context: Any, ws: Workspace, connection: Connection) -> None:
    """Refuse, before the first step, a run whose steps destroy data, unless confirmed (see above).

    Every downgrade destroys; an upgrade when the revision classifier says so. The refusal
    names each step with the figures read live on the run's connection.
    """
    if destruction_confirmed(context):
        return
    def wrap(original: StepsFunction) -> StepsFunction:
        def steps(heads: Any, ctx: Any) -> Iterator[Any]:
            planned = list(original(heads, ctx))
            refusal = _destruction_refusal(ws, connection, planned)
            if refusal is not None:
                raise refusal
            yield from planned

        return steps

    wrap_steps(context.get_context(), wrap)


def _destruction_refusal(ws: Workspace, connection: Connection, planned: list[Any]) -> MemstackError | None:
    setup = ws.alembic_setup()
    found: list[StepDestruction] = []
    with classifier(setup, connection.dialect.name) as classify:
        for step in planned:
            if isinstance(step, RevisionStep) and step.revision.revision in ws.graph:
                revision = ws.graph.get(step.revision.revision)
                moved = Step(revision, "up") if step.is_upgrade else Step(revision, "down")
                item = planned_destruction(ws.tree, setup, moved, connection.dialect.name, classify)
                if item.step.direction == "down" or item.losses:
                    found.append(item)
    if not found:
        return None
    began = not connection.in_transaction()
    counted = iter(count_losses(connection, [loss for item in found for loss in item.losses]))
    if began and connection.in_transaction():
        connection.rollback()  # only read: the steps begin their own transactions
    found = [replace(item, losses=tuple(next(counted) for _ in item.losses)) for item in found]
    found = [item for item in found if item.asks]  # what a fresh database does not hold is not lost
    if not found:
        return None
    parts = []
    for item in found:
        verb = "unapply" if item.step.direction == "down" else "apply"
        said = [f"intended: {item.declared}"] if item.declared else []
        said += [describe_loss(loss) for loss in item.losses]
        parts.append(f"{verb} {item.step.revision.label} ({'; '.join(said) or 'drops no data'})")
    return DeclinedError("these steps destroy data: " + ", ".join(parts) + "; nothing was changed",
                         hint="review them, then pass -x yes=1 to run them")


def guard_lock_waits(context: Any, ws: Workspace, connection: Connection) -> None:
    """Run every revision step of the command under the guard (see the module docstring)."""
    guard = Guard(connection.engine, ws.settings.guard, ws.tree.guards, _say)
    if not guard.active:
        return
    postgres = connection.dialect.name == "postgresql"

    def wrap(original: StepsFunction) -> StepsFunction:
        def steps(heads: Any, ctx: Any) -> Iterator[Any]:
            for step in original(heads, ctx):
                if isinstance(step, RevisionStep) and step.revision.revision in ws.graph:
                    revision = ws.graph.get(step.revision.revision)
                    moved = Step(revision, "up" if step.is_upgrade else "down")
                    savepoint = postgres and revision.id not in ws.tree.non_atomic
                    step.migration_fn = _guarded(guard, moved, connection, step.migration_fn, savepoint=savepoint)
                yield step

        return steps

    wrap_steps(context.get_context(), wrap)


def _guarded(guard: Guard, step: Step, connection: Connection, function: Callable[..., Any], *,
             savepoint: bool) -> Callable[..., None]:
    """``function`` (a revision's upgrade or downgrade) under the guard, tried again on the ladder."""
    def run(**kw: Any) -> None:
        if not savepoint:
            with guard.in_place(step, connection):
                function(**kw)
            return

        def attempt() -> None:
            started, clock = utcnow(), time.perf_counter()
            nested = connection.begin_nested()
            try:
                function(**kw)
            except BaseException as exc:  # Ctrl-C too: the savepoint goes, Alembic's transaction after it
                nested.rollback()
                raise StepFailed(exc, started, elapsed_ms(clock)) from exc
            nested.commit()

        try:
            guard.run_step(step, connection, attempt)
        except StepFailed as failed:  # the ladder ran out (naming the blocker), or not a lock timeout
            raise failed.cause from None

    return run


def _say(event: str, step: Step, result: StepResult | None) -> None:
    """Alembic prints nothing of ours: the guard's retries and the sessions it found go to stderr."""
    if result is not None and event in ("retry", "blocked"):
        what = "lock busy, trying again" if event == "retry" else "sessions hold locks it needs, going ahead"
        print(f"memstack: {step.revision.label}: {what} ({result.error})", file=sys.stderr, flush=True)
