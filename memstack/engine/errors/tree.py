"""Errors of the revision tree: unreadable files, a broken graph, a target the planner cannot resolve."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from memstack.engine.errors.base import EngineError

if TYPE_CHECKING:
    from memstack.engine.tree.graph import Revision


# --------------------------------------------------------------------------- revision files (loader)


class RevisionFileError(EngineError):
    """A revision file memstack cannot read without running it; ``path`` names it."""
    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class InvalidSyntax(RevisionFileError):
    def __init__(self, path: Path, reason: str, line: int | None) -> None:
        super().__init__(path, f"not valid Python ({reason}, line {line})")
        self.reason = reason
        self.line = line


class UndecodableRevision(RevisionFileError):
    """A revision file whose bytes are not text in its encoding (UTF-8, or its ``# coding:`` line)."""
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, f"cannot be read as text ({reason})")
        self.reason = reason


class NonLiteralField(RevisionFileError):
    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path, f"{name} must be a literal (a string, a tuple of strings or None)")
        self.name = name


class MissingRevisionId(RevisionFileError):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "no module-level 'revision = \"...\"'")


class ForeignBranchLabel(RevisionFileError):
    def __init__(self, path: Path, label: str, component: str) -> None:
        super().__init__(path, f"branch label {label!r} differs from its component's label {component!r}")
        self.label = label
        self.component = component


class UnreadableMigrations(EngineError):
    """A component's migrations path exists but cannot be read as a folder: skipping it would
    report success with the component's revisions silently missing."""

    def __init__(self, component: str, path: Path, why: str) -> None:
        super().__init__(f"the migrations folder of component {component!r}, {path}, {why}")
        self.component = component
        self.path = path
        self.why = why


class RevisionIdTooLong(EngineError):
    """Ids over the bookkeeping columns' width work on SQLite (which ignores widths) and fail
    half-way on PostgreSQL and MariaDB: refused up front on every dialect."""

    def __init__(self, path: Path, field: str, value: str, limit: int) -> None:
        super().__init__(f"{path}: the {field} {value!r} is {len(value)} characters long; "
                         f"memstack's bookkeeping holds at most {limit}")
        self.path = path
        self.field = field
        self.value = value
        self.limit = limit


# --------------------------------------------------------------------------- graph


class GraphError(EngineError):
    """The revision tree itself is broken (missing parent, duplicate id, ...).

    ``hint`` says how to fix the files (never a command): ``check`` reports these problems
    as they are, without a front end in between.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class MultipleHeads(GraphError):
    """A component's revisions end in more than one head, so "its head" means nothing."""
    def __init__(self, component: str, heads: Sequence[Revision]) -> None:
        super().__init__(f"component {component!r} has {len(heads)} heads: "
                         + ", ".join(f"{h.name} ({h.id})" for h in heads))
        self.component = component
        self.heads = list(heads)


class RevisionCycle(GraphError):
    """Revisions that (through down_revision or depends_on) build on themselves."""
    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__("the revisions form a cycle" + (": " + " -> ".join(labels) if labels else ""),
                         hint="remove one of these down_revision/depends_on links" if labels else None)
        self.labels = list(labels)


class InvalidGraph(GraphError):
    """Several structural problems at once; the first is told, the others counted."""
    def __init__(self, problems: Sequence[GraphError]) -> None:
        first = problems[0]
        super().__init__(first.message + f" (and {len(problems) - 1} more problem(s))", hint=first.hint)
        self.problems = list(problems)


# --------------------------------------------------------------------------- planner


class NoRevisions(EngineError):
    """``head`` of a component that has no revision files yet."""
    def __init__(self, component: str) -> None:
        super().__init__(f"component {component!r} has no revisions yet")
        self.component = component


class AmbiguousTarget(EngineError):
    """A TARGET that matches more than one revision under the first rule that matches at all."""
    def __init__(self, component: str, target: str, kind: str, matches: Sequence[Revision]) -> None:
        listed = ", ".join(f"{m.name} ({m.id})" for m in matches)
        super().__init__(f"target {target!r} is ambiguous in component {component!r}: it matches the {kind} "
                         f"of {listed}")
        self.component, self.target, self.kind, self.matches = component, target, kind, list(matches)


class UnknownTarget(EngineError):
    """A TARGET that matches no revision of the component; ``known`` lists its revisions' names."""
    def __init__(self, component: str, target: str, known: Sequence[str]) -> None:
        super().__init__(f"no revision of component {component!r} matches target {target!r}")
        self.component, self.target, self.known = component, target, list(known)


class TargetNeedsComponent(EngineError):
    """A TARGET only means something inside one component."""
    def __init__(self, target: str) -> None:
        super().__init__("a TARGET needs a COMPONENT")
        self.target = target


class IrreversibleInPlan(EngineError):
    """The plan would undo revisions that have no downgrade."""
    def __init__(self, revisions: Sequence[Revision]) -> None:
        super().__init__("the plan needs to undo irreversible revision(s): " + ", ".join(r.label for r in revisions))
        self.revisions = list(revisions)
