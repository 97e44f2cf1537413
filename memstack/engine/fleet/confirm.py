"""One question for the whole fleet when the plans destroy data, before any target runs.

Targets behind by the same revisions share one plan; each distinct plan is read live (what it
destroys, via :func:`memstack.engine.migrate.destructive_steps`) in its first target, and the
question names how many targets run it. Workers then run without asking; a plan nobody
confirmed raises :class:`DeclinedError` here, before anything changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from memstack.core.errors import DeclinedError
from memstack.engine.fleet.report import TargetResult
from memstack.engine.fleet.targets import Target

if TYPE_CHECKING:
    from memstack.engine.run.destruction import DestructionCallback, StepDestruction
    from memstack.engine.workspace import Workspace


def confirm_fleet(ws: Workspace, behind: Sequence[Target], found: Mapping[Target, TargetResult],
                  confirm: DestructionCallback | None) -> bool:
    """Ask once when any target's plan destroys data; True when asked and answered yes."""
    plans: dict[tuple[str, ...], list[Target]] = {}
    for target in behind:
        plans.setdefault(found[target].pending, []).append(target)
    destroys: list[StepDestruction] = []
    counts: list[str] = []
    for targets in plans.values():
        steps = _destroying(ws, targets[0])
        if steps:
            destroys += steps
            counts.append(f"{len(targets)} target(s) like {targets[0].label}")
    if not destroys:
        return False
    question = (f"Revisions to apply would destroy data in {sum(len(t) for t in plans.values())} target(s) "
                f"({'; '.join(counts)}); read in the first of each:")
    if confirm is None:
        raise DeclinedError(f"the fleet's plan destroys data in {len(destroys)} step(s) and nobody confirmed it",
                            hint="pass --yes (or a confirm callback)")
    confirm(question, destroys)
    return True


def _destroying(ws: Workspace, target: Target) -> list[StepDestruction]:
    from memstack.engine.migrate import RunOptions, destructive_steps, plan_for  # lazy: kept off --help
    from memstack.engine.records.status import read_status  # lazy: kept off --help

    with ws.for_database(target.url, schema=target.schema) as db:
        return destructive_steps(db, plan_for(db, read_status(db)), RunOptions())
