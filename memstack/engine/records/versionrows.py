"""The version rows of an applied set, kept up to date one step at a time.

``MigrationGraph.rows_for`` recomputes the rows from the whole applied set (the union of
every member's ancestors): called after every step, that made a run from empty grow with
the cube of the tree. In an applied set that is closed under parents (every member's
parents applied, which is what plans keep), a member is a row exactly when none of its
children is applied, so one step changes only the status of its revision and that
revision's parents. A set that is not closed (a hand-edited database) falls back to the
full computation, so the answer is always the one ``rows_for`` gives.
"""

from __future__ import annotations

from collections.abc import Iterable

from memstack.engine.tree.graph import MigrationGraph


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
