"""Revisions and their dependencies as a pure graph: structure only, no files, no database.

Edges run from a revision to its parents: its ``down_revision`` (inside its component) and
its ``depends_on`` (usually in other components). Alembic treats both as ancestors when
upgrading, and so do we: a version row at X means X and every ancestor of X is applied.
Plans over the graph (forwards, backwards, to a TARGET) live in :mod:`memstack.engine.tree.planner`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from memstack.engine.errors import GraphError, InvalidGraph, MultipleHeads, RevisionCycle

Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Revision:
    """One revision file, as far as planning needs to know it."""
    id: str
    component: str
    name: str
    down_revisions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    irreversible: bool = False
    path: str = ""

    @property
    def number(self) -> int | None:
        head, _, _ = self.name.partition("_")
        return int(head) if head.isdigit() else None

    @property
    def slug(self) -> str:
        head, sep, rest = self.name.partition("_")
        return rest if sep and head.isdigit() else self.name

    @property
    def parents(self) -> tuple[str, ...]:
        return self.down_revisions + self.depends_on

    @property
    def is_merge(self) -> bool:
        return len(self.down_revisions) > 1

    @property
    def label(self) -> str:
        """``component name``, as messages show a revision."""
        return f"{self.component} {self.name}"


@dataclass(frozen=True)
class Step:
    """One step of a plan. ``reason`` is None for what was asked for, else why it is included."""
    revision: Revision
    direction: Direction
    reason: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "component": self.revision.component,
            "revision": self.revision.id,
            "name": self.revision.name,
            "number": self.revision.number,
            "direction": self.direction,
            "reason": self.reason,
        }


@dataclass
class MigrationGraph:
    """All revisions of all components; ``order`` ranks components for stable plans."""
    revisions: dict[str, Revision] = field(default_factory=dict)
    component_order: list[str] = field(default_factory=list)
    # version rows naming a revision a squash stands in for, read as the squash (tree/replaces.py)
    row_aliases: dict[str, str] = field(default_factory=dict)
    _children: dict[str, list[str]] | None = field(default=None, repr=False)
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)
    _members: dict[str, list[Revision]] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ building
    def add(self, revision: Revision) -> None:
        if revision.id in self.revisions:
            other = self.revisions[revision.id]
            raise GraphError(
                f"two files claim revision id {revision.id!r}: {other.path or other.label} and "
                f"{revision.path or revision.label}",
                hint="give one of them a new id (revision = \"...\"), and update what points to it",
            )
        self.revisions[revision.id] = revision
        if revision.component not in self.component_order:
            self.component_order.append(revision.component)
        self._children = None
        self._members = None
        self._ancestors.clear()

    def forget_ancestors(self) -> None:
        """Drop the memoised ancestor sets (rebuilt on demand): at 10,000 revisions a plan's are
        tens of MiB that a run no longer needs."""
        self._ancestors.clear()

    def __contains__(self, revision_id: object) -> bool:
        return revision_id in self.revisions

    def __len__(self) -> int:
        return len(self.revisions)

    def get(self, revision_id: str) -> Revision:
        return self.revisions[revision_id]

    # ------------------------------------------------------------------ structure
    @property
    def children(self) -> dict[str, list[str]]:
        if self._children is None:
            children: dict[str, list[str]] = {rid: [] for rid in self.revisions}
            for rev in self.revisions.values():
                for parent in rev.parents:
                    if parent in children:
                        children[parent].append(rev.id)
            self._children = children
        return self._children

    def _of(self, component: str) -> list[Revision]:
        """The component's revisions in insertion order (grouped once, not one scan per component)."""
        if self._members is None:
            members: dict[str, list[Revision]] = {}
            for rev in self.revisions.values():
                members.setdefault(rev.component, []).append(rev)
            self._members = members
        return self._members.get(component, [])

    def of_component(self, component: str) -> list[Revision]:
        """The component's revisions in graph order."""
        members = {r.id for r in self._of(component)}
        return [self.revisions[rid] for rid in self.toposort(members)]

    def heads(self, component: str) -> list[Revision]:
        """Revisions of ``component`` that no revision of the same component builds on."""
        revs = self._of(component)
        has_child = {p for r in revs for p in r.down_revisions}
        return sorted((r for r in revs if r.id not in has_child), key=self.sort_key)

    def head(self, component: str) -> Revision | None:
        """The single head of ``component`` (None when it has no revisions); several is an error."""
        heads = self.heads(component)
        if len(heads) > 1:
            raise MultipleHeads(component, heads)
        return heads[0] if heads else None

    def ancestors(self, revision_id: str) -> frozenset[str]:
        """Every revision that must be applied before ``revision_id`` (not itself)."""
        cached = self._ancestors.get(revision_id)
        if cached is not None:
            return cached
        result: set[str] = set()
        stack = list(self.revisions[revision_id].parents)
        while stack:
            rid = stack.pop()
            if rid in result or rid not in self.revisions:
                continue
            known = self._ancestors.get(rid)
            result.add(rid)
            if known is not None:
                result |= known
            else:
                stack.extend(self.revisions[rid].parents)
        frozen = frozenset(result)
        self._ancestors[revision_id] = frozen
        return frozen

    def descendants(self, revision_ids: Iterable[str]) -> set[str]:
        """Every revision that builds on any of ``revision_ids`` (not themselves)."""
        result: set[str] = set()
        stack = [c for rid in revision_ids for c in self.children.get(rid, [])]
        while stack:
            rid = stack.pop()
            if rid not in result:
                result.add(rid)
                stack.extend(self.children.get(rid, []))
        return result

    # ------------------------------------------------------------------ validation
    def problems(self) -> list[GraphError]:
        """Everything structurally wrong: dangling parents, cross-component parents, cycles."""
        found: list[GraphError] = []
        for rev in self.sorted_revisions(self.revisions.values()):
            for parent in rev.down_revisions:
                if parent not in self.revisions:
                    found.append(GraphError(
                        f"{rev.label} ({rev.path or rev.id}): down_revision {parent!r} points to no revision",
                        hint="restore the missing file, or fix down_revision to an existing revision id",
                    ))
                elif self.revisions[parent].component != rev.component:
                    found.append(GraphError(
                        f"{rev.label}: down_revision {parent!r} belongs to component "
                        f"{self.revisions[parent].component!r}, not {rev.component!r}",
                        hint="a revision's down_revision stays inside its component; use depends_on across components",
                    ))
            for dep in rev.depends_on:
                if dep not in self.revisions:
                    found.append(GraphError(
                        f"{rev.label} ({rev.path or rev.id}): depends_on {dep!r} points to no revision",
                        hint="restore the missing file, or remove that id from depends_on",
                    ))
        cycle = self.find_cycle()
        if cycle:
            found.append(RevisionCycle([self.revisions[r].label for r in cycle]))
        return found

    def validate(self) -> None:
        problems = self.problems()
        if len(problems) > 1:
            raise InvalidGraph(problems)
        if problems:
            raise problems[0]

    def find_cycle(self) -> list[str] | None:
        """A list of ids forming a cycle (first repeated at the end), or None."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.revisions, white)
        for start in sorted(self.revisions):
            if color[start] != white:
                continue
            stack: list[tuple[str, int]] = [(start, 0)]
            path: list[str] = []
            while stack:
                node, index = stack.pop()
                if index == 0:
                    color[node] = grey
                    path.append(node)
                parents = [p for p in self.revisions[node].parents if p in self.revisions]
                if index < len(parents):
                    stack.append((node, index + 1))
                    nxt = parents[index]
                    if color[nxt] == grey:
                        return [*path[path.index(nxt):], nxt]
                    if color[nxt] == white:
                        stack.append((nxt, 0))
                else:
                    color[node] = black
                    path.pop()
        return None

    # ------------------------------------------------------------------ state
    def applied_from_rows(self, rows: Iterable[str]) -> set[str]:
        """The applied set that version rows stand for (rows must be known ids)."""
        applied: set[str] = set()
        for named in rows:
            row = self.row_aliases.get(named, named)
            applied.add(row)
            applied |= self.ancestors(row)
        return applied

    def knows_row(self, row: str) -> bool:
        """A version row this graph can read: a revision of it, or one a squash of it stands in for."""
        return row in self.revisions or row in self.row_aliases

    def with_aliases(self, rows: Iterable[str]) -> set[str]:
        """``rows`` plus every row that stands for one of them (a squash's replaced revisions):
        when a row goes, the database's own spelling of it goes too."""
        wanted = set(rows)
        return wanted | {named for named, row in self.row_aliases.items() if row in wanted}

    def rows_for(self, applied: Iterable[str]) -> set[str]:
        """The version rows that stand for ``applied``: its members no other member builds on."""
        applied_set = set(applied)
        covered: set[str] = set()
        for rid in applied_set:
            covered |= self.ancestors(rid)
        return applied_set - covered

    # ------------------------------------------------------------------ ordering
    def sort_key(self, rev: Revision) -> tuple[int, int, str, str]:
        """How revisions are listed to people: by file number, then component order."""
        order = self.component_order.index(rev.component) if rev.component in self.component_order else 10**6
        number = rev.number if rev.number is not None else 10**9
        return (number, order, rev.name, rev.id)

    def sorted_revisions(self, revisions: Iterable[Revision]) -> list[Revision]:
        return sorted(revisions, key=self.sort_key)

    def toposort(self, members: set[str]) -> list[str]:
        """``members`` with parents before children; ties broken by component order and number."""
        indegree = {rid: 0 for rid in members}
        for rid in members:
            for parent in self.revisions[rid].parents:
                if parent in members:
                    indegree[rid] += 1
        ready = [(self._priority(rid), rid) for rid, deg in indegree.items() if deg == 0]
        heapq.heapify(ready)
        ordered: list[str] = []
        while ready:
            _, rid = heapq.heappop(ready)
            ordered.append(rid)
            for child in self.children.get(rid, []):
                if child in indegree:
                    indegree[child] -= 1
                    if indegree[child] == 0:
                        heapq.heappush(ready, (self._priority(child), child))
        if len(ordered) != len(members):
            cycle = self.find_cycle() or []
            raise RevisionCycle([self.revisions[r].label for r in cycle])
        return ordered

    def _priority(self, rid: str) -> tuple[int, int, str, str]:
        rev = self.revisions[rid]
        order = self.component_order.index(rev.component) if rev.component in self.component_order else 10**6
        number = rev.number if rev.number is not None else 10**9
        return (order, number, rev.name, rev.id)

    def minimal_dependencies(self, down_revisions: Sequence[str], candidates: Iterable[str]) -> list[str]:
        """``candidates`` less those already implied by ``down_revisions`` or another candidate."""
        wanted = [c for c in dict.fromkeys(candidates) if c not in down_revisions]
        implied: set[str] = set()
        for rid in [*down_revisions, *wanted]:
            if rid in self.revisions:
                implied |= self.ancestors(rid)
        return sorted(c for c in wanted if c not in implied)

def build_graph(revisions: Iterable[Revision], component_order: Sequence[str] = ()) -> MigrationGraph:
    graph = MigrationGraph(component_order=list(component_order))
    for rev in revisions:
        graph.add(rev)
    return graph
