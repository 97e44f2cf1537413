"""Domain errors of the engine: facts in fields, no front end's wording.

The graph, loader, planner and executor raise these. Each front end words them for its
reader: the CLI boundary (:mod:`memstack.cli.errors`) adds the command line that
fixes it, the start-up API and the pytest plugin their own. Untranslated, an engine error
still reads as a plain statement of what is wrong (it is a :class:`MemstackError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from memstack.engine.records.recorder import Mark
    from memstack.engine.run.halfway import MarkProgress
    from memstack.engine.run.safety import Drift
    from memstack.engine.tree.graph import Revision, Step


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: every path that cancels a running statement on
    Ctrl-C (psycopg sends the server a cancel request; the executor records the interruption)
    does the same for it. The CLI exits 143 for it, 130 for Ctrl-C."""


# --------------------------------------------------------------------------- migrate, rollback, preview
# (graph and planner errors live in memstack.engine.tree.graph and memstack.engine.tree.planner)


class TagTakesNoTarget(EngineError):
    """Moving to a tag moves every component it records; a COMPONENT or TARGET would contradict it."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"moving to tag {tag!r} moves every component it records; it takes no component or target")
        self.tag = tag


class PlanChangedWhileAsked(EngineError):
    """The plan under the lock undoes more than the person confirmed."""

    def __init__(self) -> None:
        super().__init__("the database changed while you were asked; nothing was done")


class RehearsalFailed(EngineError):
    """A dry run's step failed; everything was rolled back. ``results`` are the steps run."""

    def __init__(self, results: list[Any], error: str) -> None:
        super().__init__(f"dry run: step {len(results)} failed: {error}")
        self.results, self.error = results, error


class NotOneRevision(EngineError):
    """The SQL of one revision was asked for with the target ``zero``."""

    def __init__(self, component: str) -> None:
        super().__init__(f"the SQL of one revision needs a revision of {component}, not 'zero'")
        self.component = component


# --------------------------------------------------------------------------- maintenance (prune, repair)


class ComponentStillConfigured(EngineError):
    """Pruning is for components removed from the configuration."""

    def __init__(self, component: str) -> None:
        super().__init__(f"component {component!r} is still configured; pruning is for removed components")
        self.component = component


class NothingRecorded(EngineError):
    """The database records no applied revision of the component to prune."""

    def __init__(self, component: str) -> None:
        super().__init__(f"the database records no applied revision of component {component!r}")
        self.component = component


# --------------------------------------------------------------------------- tags


class InvalidTagName(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"invalid tag name {name!r}")
        self.name = name


class TagExists(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"tag {name!r} exists already")
        self.name = name


class UnknownTag(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no tag named {name!r}")
        self.name = name


class TagRevisionsMissing(EngineError):
    """A tag records revisions of a component that no file of this checkout provides."""

    def __init__(self, name: str, component: str, missing: list[str]) -> None:
        super().__init__(f"tag {name!r} records {component} revision(s) no file provides: {', '.join(missing)}")
        self.name, self.component, self.missing = name, component, missing


# --------------------------------------------------------------------------- makemigrations


class NothingToMerge(EngineError):
    def __init__(self, component: str, heads: int) -> None:
        super().__init__(f"component {component!r} has {heads} head(s); there is nothing to merge")
        self.component, self.heads = component, heads


# The types live here, away from the modules that raise them, so that the CLI's boundary can
# register their wording without importing SQLAlchemy (the CLI's --help stays fast).

# --------------------------------------------------------------------------- loader


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


# --------------------------------------------------------------------------- safety


class UnknownRows(EngineError):
    """Version rows that no revision file provides (newer code migrated the database, or another tool)."""

    def __init__(self, rows: list[str], message: str | None = None) -> None:
        super().__init__(message or f"the database records revision(s) that no file provides: {', '.join(rows)}")
        self.rows = rows


class RemovedComponent(UnknownRows):
    """The unknown rows belong to a component that was taken out of the configuration."""

    def __init__(self, rows: list[str], component: str, applied_names: list[str]) -> None:
        super().__init__(rows, f"component {component!r} is no longer configured, but its revisions are "
                         f"still applied ({', '.join(applied_names)})")
        self.component = component
        self.applied_names = applied_names


class ChecksumDrift(EngineError):
    """Applied revisions whose file changed since they were applied."""

    def __init__(self, drifts: list[Drift]) -> None:
        first = drifts[0]
        more = f" (and {len(drifts) - 1} more)" if len(drifts) > 1 else ""
        super().__init__(
            f"applied revision {first.component} {first.name} was changed after it was applied{more}: "
            f"{first.path} has checksum {first.current[:12]}..., recorded {first.recorded[:12]}...")
        self.drifts = drifts


class FailureMark(EngineError):
    """A revision failed or was interrupted half-way on a database without transactional DDL.

    ``progress`` (a :class:`memstack.engine.run.halfway.MarkProgress`, when known): which of the
    revision's objects exist, so the user knows what to fix before ``repair`` or ``--fake``.
    """

    def __init__(self, mark: Mark, progress: MarkProgress | None = None) -> None:
        what = "failed" if mark.state == "failed" else "was interrupted"
        super().__init__(
            f"revision {mark.component} {mark.name} ({mark.direction}) {what} on a database without "
            f"transactional DDL and may be half-applied{': ' + mark.error if mark.error else ''}"
            f"{'. Of its objects, ' + progress.describe() if progress is not None else ''}")
        self.mark = mark
        self.progress = progress


# --------------------------------------------------------------------------- adoption


class AlreadyManaged(EngineError):
    """The version table names known revisions: memstack (or Alembic) already manages the database."""

    def __init__(self, rows: list[str]) -> None:
        super().__init__("this database is already managed by memstack/Alembic (its version table names known "
                         "revisions); there is nothing to adopt")
        self.rows = rows


class NothingToAdopt(EngineError):
    """None of the tables the revisions create exists: an empty database is migrated, not adopted."""

    def __init__(self) -> None:
        super().__init__("the database holds none of MemStack's tables; there is nothing to adopt")


class NoMatchingState(EngineError):
    """The schema matches no state of the graph; ``differences`` says where it departs."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("the database matches no state of the migration graph; nothing was changed:\n  - "
                         + "\n  - ".join(differences))
        self.differences = differences


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


@dataclass(frozen=True)
class RenderFailure:
    """Why one revision produced no SQL: ``needs_database`` (truly offline-only) or a bug in it."""

    needs_database: bool
    detail: str  # the exception, one line, never empty
    line: int | None = None  # where in the revision file, when the exception came from it


class RevisionNotRenderable(EngineError):
    """A revision's SQL could not be rendered; ``script`` is the plan's SQL up to it (or None)."""

    def __init__(self, revision: Revision, path: Path, failure: RenderFailure, script: str | None = None) -> None:
        self.revision, self.path, self.failure, self.script = revision, path, failure, script
        where = f" (line {failure.line})" if failure.line else ""
        what = ("is not renderable offline" if failure.needs_database
                else f"fails while its SQL is rendered, a bug in {path.name}{where}")
        tail = "; the script stops before it" if script is not None else ""
        super().__init__(f"{revision.label} ({revision.id}) {what}: {failure.detail}{tail}")


# --------------------------------------------------------------------------- executor


@dataclass(frozen=True)
class Confirmation:
    """Of a run's finished steps (labels), what the server confirmed after the connection was lost.

    ``unknown``: the server could not be asked (then ``confirmed`` and ``lost`` are empty).
    """

    confirmed: tuple[str, ...]
    lost: tuple[str, ...]
    unknown: tuple[str, ...]


class MigrationFailed(EngineError):
    """A revision raised while running; what stayed applied depends on ``outcome``.

    ``outcome``: ``plan_rolled_back`` (atomic run), ``maybe_half_applied`` (the step ran
    outside a transaction), ``not_applied`` (it ran outside one, but none of its statements
    took effect) or ``step_rolled_back`` (earlier steps stay applied). ``confirmation``: set
    when the connection was lost, from reading the server back (earlier steps' commits may
    have been lost with a crashed server).
    """

    confirmation: Confirmation | None = None

    def __init__(self, *, step: Step, index: int, total: int, error: BaseException, outcome: str,
                 dialect: str) -> None:
        detail = str(getattr(error, "orig", None) or error).strip()
        super().__init__(f"step {index} of {total} failed: {step.revision.label} ({step.direction}): {detail}")
        self.step = step
        self.index = index
        self.total = total
        self.error = error
        self.outcome = outcome
        self.dialect = dialect


def _quoted(name: str) -> str:
    import re

    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class InvalidObject:
    """An object a step outside a transaction left unusable: an INVALID index, a constraint not validated."""

    kind: str  # "index" or "constraint"
    schema: str
    name: str
    table: str

    def describe(self) -> str:
        if self.kind == "index":
            return f"INVALID index {self.schema}.{self.name} (on {self.table})"
        return f"constraint {self.name} on {self.schema}.{self.table} not validated"

    @property
    def fix(self) -> str:
        """The statement that clears it: drop the index (then build it again), validate the constraint."""
        if self.kind == "index":
            return f"DROP INDEX CONCURRENTLY IF EXISTS {_quoted(self.schema)}.{_quoted(self.name)}"
        return (f"ALTER TABLE {_quoted(self.schema)}.{_quoted(self.table)} "
                f"VALIDATE CONSTRAINT {_quoted(self.name)}")


class InvalidObjectsLeft(EngineError):
    """A step outside a transaction left ``objects`` unusable; ``cause``: its own error (None: it reported success).

    Never recorded as applied: ``migrate --fake`` would record an index no query uses.
    """

    def __init__(self, objects: Sequence[InvalidObject], cause: BaseException | None) -> None:
        left = "; ".join(f"{o.describe()} (clear it: {o.fix})" for o in objects)
        if cause is None:
            super().__init__(f"the step reported success but left {left}")
        else:
            detail = str(getattr(cause, "orig", None) or cause).strip().splitlines()
            super().__init__(f"{detail[0] if detail else type(cause).__name__}; it left {left}")
        self.objects = list(objects)
        self.cause = cause


class StepNotApplied(EngineError):
    """A step outside a transaction failed before any of its statements took effect (no mark is left)."""

    def __init__(self, cause: BaseException) -> None:
        detail = str(getattr(cause, "orig", None) or cause).strip()
        super().__init__(detail or type(cause).__name__)
        self.cause = cause


class NonAtomicInPlan(EngineError):
    """``--atomic`` was asked for a plan holding revisions that declare ``atomic = False``."""

    def __init__(self, labels: Sequence[str]) -> None:
        super().__init__("the plan holds revision(s) declaring atomic = False, which cannot run inside one "
                         f"transaction: {', '.join(labels)}")
        self.labels = list(labels)
