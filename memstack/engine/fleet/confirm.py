"""One question for the whole fleet when the plans destroy data, before any target runs.

Targets behind by the same revisions share one plan; each distinct plan is read live (what it
destroys, via :func:`memstack.engine.migrate.destructive_steps`) in its first target, whose
details are shown, and the question names how many targets run it. A plan that destroys is then
read in every target running it (the rows its dropped tables and columns hold), so the question
also gives the totals and the largest targets. Workers then run without asking; a plan nobody
confirmed raises :class:`DeclinedError` here, before anything changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memstack.core.errors import DeclinedError
from memstack.engine.fleet.report import TargetResult
from memstack.engine.fleet.sessions import Databases
from memstack.engine.fleet.targets import Target

#: how many of the largest targets the question names
LARGEST = 5

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
    sizes: list[Size] = []
    destroying = 0  # targets whose plan destroys
    with Databases(ws.settings) as databases:
        for targets in plans.values():
            first, steps = next(((t, s) for t in targets if (s := _destroying(ws, databases, t)) is not None),
                                (targets[0], None))  # the first target that could be read
            if steps:
                destroys += steps
                destroying += len(targets)
                counts.append(f"{len(targets)} target(s) like {first.label}")
                others = [t for t in targets if t != first] if confirm is not None else []  # (refused: not read)
                sizes += [_size(first, steps), *(_size(t, _destroying(ws, databases, t)) for t in others)]
    if not destroys:
        return False
    question = (f"Revisions to apply would destroy data in {destroying} target(s) "
                f"({'; '.join(counts)}); {_totals(sizes)}; read in the first of each:")
    if confirm is None:
        raise DeclinedError(f"the fleet's plan destroys data in {len(destroys)} step(s) and nobody confirmed it",
                            hint="pass --yes (or a confirm callback)")
    confirm(question, destroys)
    return True


def _destroying(ws: Workspace, databases: Databases, target: Target) -> list[StepDestruction] | None:
    """What the target's plan destroys, read live (None: the target could not be read; it fails when run)."""
    from memstack.engine.migrate import RunOptions, destructive_steps, plan_for  # lazy: kept off --help
    from memstack.engine.records.status import read_status  # lazy: kept off --help

    try:
        with ws.for_database(databases.engine_for(target)) as db:
            return destructive_steps(db, plan_for(db, read_status(db)), RunOptions())
    except Exception:
        return None


@dataclass(frozen=True, order=True)
class Size:
    """What one target's plan destroys, in sum: rows held by what it drops, tables and columns dropped."""
    rows: int
    dropped: int
    target: str


def _size(target: Target, steps: Sequence[StepDestruction] | None) -> Size:
    losses = [loss for step in steps or () for loss in step.losses if loss.exists]
    return Size(sum(loss.rows or 0 for loss in losses), sum(loss.kind in ("table", "column") for loss in losses),
                target.label)


def _totals(sizes: Sequence[Size]) -> str:
    """``in total R row(s) in T dropped table(s) and column(s); largest: A (r rows, t dropped), ...``."""
    largest = sorted(sizes, reverse=True)[:LARGEST]
    named = ", ".join(f"{s.target} ({s.rows:,} row(s), {s.dropped} dropped)" for s in largest)
    return (f"in total {sum(s.rows for s in sizes):,} row(s) in {sum(s.dropped for s in sizes)} dropped table(s) "
            f"and column(s); the largest: {named}")
