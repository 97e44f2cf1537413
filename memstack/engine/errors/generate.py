"""Errors of generating revisions: nothing to merge, references and cycles the autodetector meets,
changes that would lose data (renames, NOT NULL), and the scratch database the comparison needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memstack.core.redaction import mask_url
from memstack.engine.errors.base import EngineError


@dataclass(frozen=True)
class RenameCandidate:
    """A dropped column (or table) and an added one that may be the same thing renamed."""
    kind: str  # "column" | "table"
    table: str  # the table of a column; the old name of a table
    old: str
    new: str

    @property
    def key(self) -> str:
        """How ``--rename`` spells it: ``table.old=new`` for a column, ``old=new`` for a table."""
        return f"{self.table}.{self.old}={self.new}" if self.kind == "column" else f"{self.old}={self.new}"

    @property
    def question(self) -> str:
        if self.kind == "column":
            return f"Was column {self.table}.{self.old} renamed to {self.new}?"
        return f"Was table {self.old} renamed to {self.new}?"


# --------------------------------------------------------------------------- renames


class UndecidedRenames(EngineError):
    """Likely renames were found and neither a terminal nor a flag said what they are."""
    def __init__(self, candidates: Sequence[RenameCandidate]) -> None:
        self.candidates = list(candidates)
        super().__init__("possible rename(s), which a drop + add would lose the data of: "
                         + "; ".join(c.question.removeprefix("Was ").rstrip("?") for c in self.candidates))


class UnknownRename(EngineError):
    """A rename was given that the model changes do not contain."""
    def __init__(self, keys: Sequence[str], candidates: Sequence[RenameCandidate]) -> None:
        self.keys = sorted(keys)
        self.candidates = list(candidates)
        super().__init__("no such rename among the model changes: " + ", ".join(self.keys))


class NotNullWithoutDefault(EngineError):
    """A NOT NULL column without a server default is added to a table that has (or may have) rows."""
    def __init__(self, table: str, column: str, rows: int | None) -> None:
        self.table, self.column, self.rows = table, column, rows
        held = f"holds {rows} row(s)" if rows is not None else "may hold rows (the database could not tell)"
        super().__init__(f"column {table}.{column} is added NOT NULL without a server default, and {table} {held}:"
                         " the revision would fail on it")


# --------------------------------------------------------------------------- makemigrations


class NothingToMerge(EngineError):
    def __init__(self, component: str, heads: int) -> None:
        super().__init__(f"component {component!r} has {heads} head(s); there is nothing to merge")
        self.component, self.heads = component, heads


class PostWriteHookFailed(EngineError):
    """A configured post-write hook (Alembic's ``post_write_hooks``) failed; ``path``: the file it ran on,
    already written (None: the hooks' configuration itself could not be read)."""
    def __init__(self, path: object, detail: str) -> None:
        where = f" on {path}" if path is not None else ""
        super().__init__(f"post-write hook failed{where}: {detail}")
        self.path, self.detail = path, detail


# --------------------------------------------------------------------------- autodetect


class UncreatedReference(EngineError):
    """A new revision references another component's table that no revision creates yet."""
    def __init__(self, component: str, table: str, owner: str) -> None:
        super().__init__(f"{component} references table {table!r} of component {owner!r}, which no revision creates")
        self.component = component
        self.table = table
        self.owner = owner


class NewRevisionCycle(EngineError):
    """The new revisions would depend on each other in a circle (memstack should have split it)."""
    def __init__(self, cycle: list[str]) -> None:
        super().__init__("the new revisions would form a dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


# --------------------------------------------------------------------------- the scratch database


class ScratchError(EngineError):
    """The comparison has nowhere to build its scratch database."""

class ScratchBuildFailed(EngineError):
    """A revision failed while the throw-away scratch database was built (``check``, ``makemigrations``).

    Unlike a failed ``migrate`` nothing of the person's changed: the scratch database is discarded,
    so no earlier step "stayed applied". ``first``: the revision is its component's first (whose
    failure is most often a table the project creates before its revisions: a baseline);
    ``baseline``: what the component declares as its baseline, if anything.
    """
    def __init__(self, *, label: str, component: str, direction: str, index: int, total: int, error: BaseException,
                 first: bool, baseline: str | None) -> None:
        detail = str(getattr(error, "orig", None) or error).strip()
        super().__init__(f"building the scratch database from the revisions failed at step {index} of {total}, "
                         f"{label} ({direction}): {detail}")
        self.label, self.component, self.direction = label, component, direction
        self.index, self.total, self.error = index, total, error
        self.first, self.baseline = first, baseline


class ScratchUnavailable(ScratchError):
    """The server refused to create the scratch database (typically: no CREATEDB privilege)."""
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot create a scratch database on {mask_url(url)} to compare models with "
                         f"the migrations: {reason}")
        self.url = mask_url(url)
        self.reason = reason


class ScratchNotUsable(ScratchError):
    """The given ``scratch_url`` cannot serve: another dialect, unreachable, or not empty."""
    def __init__(self, url: str, why: str) -> None:
        super().__init__(f"the scratch database {mask_url(url)} {why}")
        self.url = mask_url(url)
        self.why = why


# --------------------------------------------------------------------------- squashmigrations


class SquashRefused(EngineError):
    """A squash that cannot be made as asked; ``fix`` says what to ask instead."""
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


class SquashCycle(EngineError):
    """Rewiring the range's dependencies to the squash would close a cycle across components."""
    def __init__(self, component: str, cycle: Sequence[str], largest_end: str | None) -> None:
        super().__init__(f"squashing this range of {component} would make a dependency cycle: "
                         + " -> ".join(cycle) + "; nothing was written")
        self.component, self.cycle, self.largest_end = component, list(cycle), largest_end


class SquashNotProven(EngineError):
    """The old and the squashed tree build different schemas somewhere; ``lines``: the comparison."""
    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("the squashed tree does not build the same schema as the old one; nothing was written:\n"
                         + "\n".join(lines))
        self.lines = list(lines)


class SquashNotCleanable(EngineError):
    """``--cleanup`` would remove files some named database still needs."""
    def __init__(self, component: str, behind: Sequence[str]) -> None:
        super().__init__(f"cannot remove {component}'s replaced revisions: these databases are not past the "
                         "squash yet: " + "; ".join(behind) + "; nothing was removed")
        self.component, self.behind = component, list(behind)


class SquashSharedOnTargets(EngineError):
    """``--cleanup`` of a shared component with fleet targets: the targets never hold its revisions."""
    def __init__(self, component: str) -> None:
        super().__init__(f"{component} is a shared component (not in tenant_components): fleet targets never "
                         "hold its revisions, its databases cannot be checked there; nothing was removed")
        self.component = component
