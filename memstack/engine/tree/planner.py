"""Plans over the revision graph: which steps, in which order, and why each is included.

Pure: a graph, the applied set and the user's request in, :class:`Step` lists out; nothing
here reads files or the database. TARGET parsing (contract: TARGET) is here too, because
resolving a target is the first half of planning a move to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memstack.engine.errors import (
    AmbiguousTarget,
    IrreversibleInPlan,
    NoRevisions,
    TargetNeedsComponent,
    UnknownTarget,
)
from memstack.engine.tree.graph import MigrationGraph, Revision, Step

if TYPE_CHECKING:
    from memstack.engine.records.status import DatabaseStatus

ConfirmCallback = Callable[[str, Sequence[Step]], None]
"""Called with a question and the steps it is about; raises to decline."""


# --------------------------------------------------------------------------- errors


# --------------------------------------------------------------------------- plans


@dataclass
class MigratePlan:
    """The steps of one request, with the state they were planned from."""
    steps: list[Step]
    applied: set[str]
    rows: list[str]
    requested: list[str] = field(default_factory=list)

    @property
    def cascade(self) -> list[Step]:
        """Backwards steps in components the user did not name."""
        return [s for s in self.steps if s.direction == "down" and s.reason is not None]


def forwards_plan(graph: MigrationGraph, targets: Iterable[str], applied: set[str],
                  requested: Iterable[str] = ()) -> list[Step]:
    """Apply ``targets`` and everything they need, in dependency order.

    Steps outside the ``requested`` components carry the reason they are pulled in.
    """
    targets = list(targets)
    requested_components = set(requested) or {graph.get(t).component for t in targets}
    needed: set[str] = set()
    for target in targets:
        if target not in applied:
            needed.add(target)
        needed |= graph.ancestors(target) - applied
    steps: list[Step] = []
    for rid in graph.toposort(needed):
        rev = graph.get(rid)
        reason = None
        if rev.component not in requested_components:
            dependent = _first_in(graph, graph.descendants([rid]), needed, requested_components)
            reason = f"needed by {dependent.label}" if dependent else "dependency"
        steps.append(Step(rev, "up", reason))
    return steps


def backwards_plan(graph: MigrationGraph, remove: Iterable[str], applied: set[str],
                   requested: Iterable[str] = ()) -> list[Step]:
    """Unapply ``remove`` and every applied revision that builds on them, newest first."""
    remove = [r for r in remove if r in applied]
    requested_components = set(requested) or {graph.get(r).component for r in remove}
    doomed = (set(remove) | graph.descendants(remove)) & applied
    steps: list[Step] = []
    for rid in reversed(graph.toposort(doomed)):
        rev = graph.get(rid)
        reason = None
        if rev.component not in requested_components:
            needs = _first_in(graph, graph.ancestors(rid), doomed, requested_components)
            reason = f"depends on {needs.label}" if needs else "dependent"
        steps.append(Step(rev, "down", reason))
    return steps


def _first_in(graph: MigrationGraph, candidates: Iterable[str], pool: set[str],
              components: set[str]) -> Revision | None:
    """The earliest candidate in ``pool`` and ``components``: what a pulled-in step is "for"."""
    hits = [graph.get(c) for c in candidates if c in pool and graph.get(c).component in components]
    return min(hits, key=graph.sort_key) if hits else None


def plan_to_target(graph: MigrationGraph, component: str, target: Revision | None, applied: set[str]) -> list[Step]:
    """``migrate COMPONENT TARGET``: forwards when the target is not applied, else backwards."""
    if target is None:
        mine = [r.id for r in graph.revisions.values() if r.component == component and r.id in applied]
        return backwards_plan(graph, mine, applied, requested=[component])
    if target.id not in applied:
        return forwards_plan(graph, [target.id], applied, requested=[component])
    inside = graph.descendants([target.id])
    remove = [rid for rid in inside if graph.get(rid).component == component and rid in applied]
    return backwards_plan(graph, remove, applied, requested=[component])


def component_heads(graph: MigrationGraph, component: str, applied: set[str]) -> list[str]:
    """The applied revisions of ``component`` that no applied revision of it builds on ([] = zero)."""
    mine = {r.id for r in graph.revisions.values() if r.component == component and r.id in applied}
    inner_parents = {p for rid in mine for p in graph.get(rid).down_revisions}
    return sorted(mine - inner_parents)


def plan_to_state(graph: MigrationGraph, wanted: dict[str, list[str]], applied: set[str]) -> list[Step]:
    """Move each component in ``wanted`` to exactly the given applied heads; others stay.

    Revisions of those components beyond the heads are unapplied (with whatever depends on
    them), then what the heads need is applied.
    """
    keep: set[str] = set()
    for heads in wanted.values():
        for head in heads:
            keep |= {head} | graph.ancestors(head)
    components = set(wanted)
    remove = [rid for rid in applied if graph.get(rid).component in components and rid not in keep]
    down = backwards_plan(graph, remove, applied, requested=components)
    after_down = applied - {s.revision.id for s in down}
    targets = [head for heads in wanted.values() for head in heads]
    up = forwards_plan(graph, targets, after_down, requested=components)
    return down + up


def rollback_plan(graph: MigrationGraph, applied: set[str], order: dict[str, int], steps: int,
                  component: str | None = None) -> list[Step]:
    """Unapply the last ``steps`` applied revisions (of ``component``, or overall).

    ``order`` ranks revisions by when they were last applied (history); revisions it does not
    know come first in graph order, so a database migrated before history existed still works.
    Whatever depends on the chosen revisions is unapplied too.
    """
    candidates = [rid for rid in applied if component is None or graph.get(rid).component == component]
    topo = {rid: i for i, rid in enumerate(graph.toposort(set(candidates)))}
    latest_first = sorted(candidates, key=lambda rid: (order.get(rid, -1), topo[rid]), reverse=True)
    chosen = latest_first[:steps]
    requested = [component] if component else list(graph.component_order)
    return backwards_plan(graph, chosen, applied, requested=requested)


def check_reversible(steps: Sequence[Step]) -> None:
    """Fail before the first step when a plan needs a downgrade that does not exist."""
    blocked = [s.revision for s in steps if s.direction == "down" and s.revision.irreversible]
    if blocked:
        raise IrreversibleInPlan(blocked)


# --------------------------------------------------------------------------- requests -> plans


def plan_migrate(graph: MigrationGraph, labels: Sequence[str], state: DatabaseStatus, component: str | None = None,
                 target: str | None = None) -> MigratePlan:
    """``migrate [COMPONENT [TARGET]]`` from ``state``; ``component`` is a configured label."""
    applied, rows = state.applied, state.rows
    if component is None:
        if target is not None:
            raise TargetNeedsComponent(target)
        for label in labels:
            graph.head(label)  # several heads anywhere: refuse before planning
        heads = [h.id for label in labels for h in graph.heads(label)]
        return MigratePlan(forwards_plan(graph, heads, applied, requested=labels), applied, rows, list(labels))
    resolved: Revision | None
    if target is None or target == "head":
        resolved = graph.head(component)
        if resolved is None:
            return MigratePlan([], applied, rows, [component])
    else:
        resolved = resolve_target(graph, component, target)
    return MigratePlan(plan_to_target(graph, component, resolved, applied), applied, rows, [component])


def plan_to_tag(graph: MigrationGraph, state: DatabaseStatus, wanted: dict[str, list[str]]) -> MigratePlan:
    """``migrate --to-tag``: every component in ``wanted`` to exactly its tagged heads."""
    steps = plan_to_state(graph, wanted, state.applied)
    return MigratePlan(steps, state.applied, state.rows, sorted(wanted))


def plan_rollback(graph: MigrationGraph, labels: Sequence[str], state: DatabaseStatus, order: dict[str, int],
                  steps: int, component: str | None = None) -> MigratePlan:
    """``rollback [COMPONENT] --steps N``; ``order`` ranks revisions by when they were last applied."""
    plan = rollback_plan(graph, state.applied, order, steps, component)
    return MigratePlan(plan, state.applied, state.rows, [component] if component else list(labels))


# --------------------------------------------------------------------------- TARGET


def resolve_target(graph: MigrationGraph, component: str, target: str) -> Revision | None:
    """A TARGET within ``component`` (contract: TARGET); None means ``zero``."""
    revs = [r for r in graph.revisions.values() if r.component == component]
    if target == "zero":
        return None
    if target == "head":
        head = graph.head(component)
        if head is None:
            raise NoRevisions(component)
        return head
    rules: list[tuple[str, list[Revision]]] = []
    if target.isascii() and target.isdigit():
        rules.append(("file number", [r for r in revs if r.number == int(target)]))
    rules.append(("file name", [r for r in revs if r.name == target or r.name == target.removesuffix(".py")]))
    rules.append(("slug", [r for r in revs if r.slug == target]))
    rules.append(("revision id", [r for r in revs if r.id == target]))
    if target:
        rules.append(("revision id prefix", [r for r in revs if r.id.startswith(target.lower())]))
    for kind, matches in rules:
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise AmbiguousTarget(component, target, kind, graph.sorted_revisions(matches))
    raise UnknownTarget(component, target, [r.name for r in graph.sorted_revisions(revs)])
