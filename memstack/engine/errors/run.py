"""Errors of running a plan: the planner's refusals at run time, a failed step, the lock, offline SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstack.engine.errors.base import EngineError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from memstack.engine.tree.graph import Revision, Step


# --------------------------------------------------------------------------- migrate, rollback, preview


class TagTakesNoTarget(EngineError):
    """Moving to a tag moves every component it records; a COMPONENT or TARGET would contradict it."""
    def __init__(self, tag: str) -> None:
        super().__init__(f"moving to tag {tag!r} moves every component it records; it takes no component or target")
        self.tag = tag


class PlanChangedWhileAsked(EngineError):
    """The plan under the lock undoes more than the person confirmed."""
    def __init__(self) -> None:
        super().__init__("the database changed while you were asked; nothing was done")


class DestructivePlanRefused(EngineError):
    """A caller that cannot ask (the start-up call) found steps that destroy data and was not allowed them.

    ``destroys`` maps each revision's label to what it would destroy, figures included.
    """

    def __init__(self, url: str, destroys: dict[str, list[str]]) -> None:
        what = "; ".join(f"{label}: {', '.join(items) or 'unapplies it'}" for label, items in destroys.items())
        super().__init__(f"the pending revisions for {url} destroy data ({what}); nothing was changed")
        self.url = url
        self.destroys = destroys


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


# --------------------------------------------------------------------------- offline SQL


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
        self.location = code_location(error, step.revision.path)
        where = f" (in {self.location})" if self.location else ""
        super().__init__(f"step {index} of {total} failed: {step.revision.label} ({step.direction}): "
                         f"{type(error).__name__ + ': ' if self.location else ''}{detail}{where}")
        self.step = step
        self.index = index
        self.total = total
        self.error = error
        self.outcome = outcome
        self.dialect = dialect


def code_location(error: BaseException, path: str) -> str | None:
    """``file:line`` where the revision file's own Python raised (a NameError, an ImportError, ...).

    A database error is about the data, not the code: None. So is an error raised elsewhere
    without passing through the file.
    """
    if not path or hasattr(error, "orig"):  # SQLAlchemy's DBAPIError wraps the driver's error
        return None
    wanted = str(Path(path).resolve())
    line = None
    trace = error.__traceback__
    while trace is not None:  # the innermost frame in the revision file is where its code failed
        if str(Path(trace.tb_frame.f_code.co_filename).resolve()) == wanted:
            line = trace.tb_lineno
        trace = trace.tb_next
    return f"{path}:{line}" if line is not None else None


def _quoted(name: str) -> str:
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


# --------------------------------------------------------------------------- alembic environment


class NonAtomicUndeclared(EngineError):
    """A revision run in a transaction called ``autocommit_block()``: it declares ``atomic = True``,
    or reaches the call through another module (the loader sees only the file's own text)."""

    def __init__(self) -> None:
        super().__init__("autocommit_block() was called by a revision memstack runs in one transaction (it "
                         "declares atomic = True, or calls it through another module); declare atomic = False "
                         "at module level (memstack records a transactional revision in the same transaction)")


# --------------------------------------------------------------------------- migration lock


class LockTimeout(EngineError):
    """Another migration held the lock for longer than the timeout."""
    def __init__(self, what: str, timeout: float, holder: str) -> None:
        super().__init__(f"could not take the migration lock on {what} within {timeout:g} s; held by {holder}")
        self.what = what
        self.timeout = timeout
        self.holder = holder


class LockFileUnusable(EngineError):
    """The SQLite database's folder takes no new file (read-only): neither memstack's lock file nor
    SQLite's journal could be written, so a run is refused before its first step."""
    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot write {path} beside the SQLite database (its folder takes no new file): {reason}")
        self.path = path
        self.reason = reason


class LockLost(EngineError):
    """The migration lock was lost while held; no further step may start.

    ``before``/``completed``/``total`` are filled in by the executor: the step that did not
    start, and how many of the plan's steps finished (and stay applied) before it.

    ``during``: instead of ``before``, the step that was running when the fence before its
    commit found the lock gone; it was rolled back and not recorded (``plan_rolled_back``: with
    every earlier step of an ``--atomic`` run).
    """

    def __init__(self, what: str, reason: str, *, before: str | None = None, completed: int = 0,
                 total: int = 0, during: str | None = None, plan_rolled_back: bool = False) -> None:
        where = (f" during step {completed + 1} of {total} ({during})" if during
                 else f" before step {completed + 1} of {total} ({before})" if before else "")
        super().__init__(f"lost the migration lock on {what}{where}: {reason}")
        self.what = what
        self.reason = reason
        self.before = before
        self.completed = completed
        self.total = total
        self.during = during
        self.plan_rolled_back = plan_rolled_back  # an --atomic run: no step of it stays applied


class EnvHookUnusable(EngineError):
    """A component's configured hook cannot be imported or is not a function."""
    def __init__(self, component: str, spec: str, why: str) -> None:
        super().__init__(f"the environment hook {spec!r} of component {component!r} {why}")
        self.component = component
        self.spec = spec
        self.why = why


class BaselineUnusable(EngineError):
    """A component's ``baseline`` names nothing that can be run."""
    def __init__(self, component: str, baseline: str, why: str) -> None:
        super().__init__(f"the baseline {baseline!r} of component {component!r} {why}")
        self.component = component
        self.baseline = baseline
        self.why = why


class LockWaitGaveUp(EngineError):
    """A statement kept timing out waiting for table locks: the ladder ran out (or was off).

    ``blockers`` are the sessions holding what it needed, read when it last timed out.
    ``resumable`` False: earlier statements of the step committed (MariaDB DDL, an
    ``autocommit_block()``), so the step is not retried from its start.
    """

    def __init__(self, *, statement: str, attempts: int, waited_ms: int, blockers: Sequence[Any],
                 resumable: bool = True) -> None:
        named = "; ".join(b.describe() for b in blockers) or "no session holds it any more"
        super().__init__(f"gave up waiting for table locks after {attempts} attempt(s), {waited_ms} ms waited "
                         f"in all; blocked by {named}")
        self.statement = statement
        self.attempts = attempts
        self.waited_ms = waited_ms
        self.blockers = list(blockers)
        self.resumable = resumable


class BlockersRefused(EngineError):
    """``blocker_policy = refuse`` (or ``wait`` past its bound): sessions hold locks a step needs."""
    def __init__(self, *, statement: str, blockers: Sequence[Any], waited_ms: int = 0,
                 resumable: bool = True) -> None:
        named = "; ".join(b.describe() for b in blockers)
        waited = f" (still there after {waited_ms} ms)" if waited_ms else ""
        super().__init__(f"sessions hold locks this step needs{waited}: {named}")
        self.statement = statement
        self.blockers = list(blockers)
        self.waited_ms = waited_ms
        self.resumable = resumable  # nothing of the step committed: it can simply run again
