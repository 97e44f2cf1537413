"""Plain ``alembic upgrade``/``downgrade`` through memstack's env.py refuses to destroy data unasked.

The same rule as ``manage.py migrate``: every downgrade destroys, an upgrade when the revision
classifier (engine/run/classify.py) finds a destructive step. Alembic cannot ask, so the run
is refused before its first step, naming each step with the figures read live, unless it is
confirmed: ``-x yes=1``, ``config.attributes["memstack_yes"] = True`` (a Python caller), or a
run made by pytest-alembic (its databases are throwaway).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import RevisionStep

from memstack.core.errors import DeclinedError, MemstackError
from memstack.engine.alembic_compat import StepsFunction, wrap_steps
from memstack.engine.run.classify import classifier
from memstack.engine.run.destruction import StepDestruction, count_losses, describe_loss, planned_destruction
from memstack.engine.tree.graph import Step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.workspace import Workspace

__all__ = ["destruction_confirmed", "guard_destruction"]

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
