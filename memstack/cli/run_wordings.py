"""Wordings of what a run can meet: a failed step, a plan --atomic cannot hold, the migration lock,
a plan that changed while asked, a failed rehearsal, a revision that renders no SQL."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, program
from memstack.core.errors import MemstackError
from memstack.core.privileges import is_refusal
from memstack.engine.errors import (
    BlockersRefused,
    InvalidObjectsLeft,
    LockFileUnusable,
    LockLost,
    LockTimeout,
    LockWaitGaveUp,
    MigrationFailed,
    NonAtomicInPlan,
    NotOneRevision,
    PlanChangedWhileAsked,
    RehearsalFailed,
    RevisionNotRenderable,
    TagTakesNoTarget,
)

# executor and lock


def _migration_failed(error: MigrationFailed) -> Worded:
    rev = error.step.revision
    if is_refusal(error.error):  # not the revision's fault: a read-only file or a user without privileges
        fix = ("the database refused the write (a read-only SQLite file, or a user without privileges on the "
               "tables); nothing was applied. Connect as a user (or to a file) that may write, then run migrate again")
    elif isinstance(error.error, InvalidObjectsLeft):
        fixes = "; ".join(o.fix for o in error.error.objects)
        fix = (f"the step ran outside a transaction and is not recorded as applied (never fake it: the object is "
               f"unusable). Run {fixes} (outside a transaction), undo whatever else the step did ('{program()} "
               f"migrate' lists which of its objects exist), then '{program()} repair' to clear its mark, "
               "then migrate again")
    elif error.location is not None and error.outcome in ("step_rolled_back", "plan_rolled_back"):
        fix = _code_fix(error)
    elif error.outcome == "not_applied":
        fix = ("none of the step's statements took effect, so it left no mark"
               + (f"; steps 1..{error.index - 1} stayed applied" if error.index > 1 else "")
               + ". Fix the cause (a lock another session held: wait for it, or raise the lock timeout), "
               "then run migrate again")
    elif isinstance(error.error, LockWaitGaveUp | BlockersRefused) and error.error.resumable:  # the guard
        done = f"steps 1..{error.index - 1} stayed applied; " if error.index > 1 else ""
        fix = (f"{done}this step did not run (another session holds the table). Let that session finish or end it "
               "(PostgreSQL: SELECT pg_terminate_backend(pid)), then run migrate again; or allow longer waits "
               "with --lock-retries / --lock-retry-max-wait (docs/applying.md, Timeouts and waiting)")
    elif error.outcome == "plan_rolled_back":
        fix = "the whole plan was rolled back; nothing changed. Fix the revision or the data and run it again"
    elif error.outcome == "maybe_half_applied":
        why = ("it declares atomic = False" if error.dialect in ("postgresql", "sqlite")
               else f"{error.dialect} cannot roll back DDL")
        fix = (f"the step ran outside a transaction ({why}): the revision may be half-applied. "
               f"Fix the schema by hand, then run '{program()} repair' (if its effect is undone) or "
               f"'{program()} migrate --fake {rev.component} {rev.name}' (if it is complete)")
    elif error.confirmation is not None:
        fix = _after_lost_connection(error)
    else:
        fix = ((f"steps 1..{error.index - 1} stayed applied; this step was rolled back. " if error.index > 1
                else "this step was rolled back; nothing changed. ")
               + "Fix the revision or the data, then run migrate again")
    return error.message, fix


#: names a revision's code uses without importing them -> the import line it lacks
_KNOWN_IMPORTS = {"op": "from alembic import op", "sa": "import sqlalchemy as sa"}


def _code_fix(error: MigrationFailed) -> str:
    """The revision's Python failed (not the database): where, and for a missing ``op``/``sa``, the line to add."""
    name = getattr(error.error, "name", None)
    missing = _KNOWN_IMPORTS.get(name) if isinstance(error.error, NameError) and isinstance(name, str) else None
    what = (f"add '{missing}' at the top of {error.step.revision.path}" if missing
            else f"fix the code at {error.location}")
    done = ("the whole plan was rolled back; nothing changed" if error.outcome == "plan_rolled_back"
            else (f"steps 1..{error.index - 1} stayed applied; this step was rolled back" if error.index > 1
                  else "this step was rolled back; nothing changed"))
    return f"{done}. The revision's code failed: {what}, then run migrate again"


def _after_lost_connection(error: MigrationFailed) -> str:
    """What is applied after the connection was lost: read back from the server, never assumed."""
    found = error.confirmation
    assert found is not None
    if found.unknown:
        return (f"the connection to the server was lost and the server could not be reached again: this step "
                f"was not committed, and of the {len(found.unknown)} step(s) printed OK before it the last ones may "
                "be lost if the server crashed (memstack commits all but a run's last step asynchronously). Once "
                f"the server is back, '{program()} showmigrations' shows what is applied; run migrate again")
    said = ["the connection to the server was lost; read back from the server: this step was not committed"]
    if found.confirmed:
        said.append(f"{len(found.confirmed)} earlier step(s) are applied (up to {found.confirmed[-1]})")
    if found.lost:
        said.append(f"{len(found.lost)} step(s) printed OK were lost with the server ({', '.join(found.lost)}; "
                    "their commits were asynchronous); migrate runs them again")
    return "; ".join(said) + ". Run migrate again once the server is back"


def _non_atomic_in_plan(error: NonAtomicInPlan) -> Worded:
    return (f"--atomic cannot run {', '.join(error.labels)}: declared atomic = False (runs outside a transaction)",
            f"run '{program()} migrate' without --atomic: each revision then runs on its own, the "
            "non-atomic ones with a running mark")


def _lock_timeout(error: LockTimeout) -> Worded:
    return error.message, "wait for the other migration to finish, or raise --lock-timeout (or lock_timeout)"


def _lock_file_unusable(error: LockFileUnusable) -> Worded:
    folder = error.path.rsplit("/", 1)[0] or "/"
    return error.message, (f"make the folder {folder} writable for this user (SQLite writes its journal there, "
                           "memstack its lock file), or move the database to a folder that is")


# engine/lock.py: a lock lost while held (issue 12, item 3)


def _lock_lost(error: LockLost) -> Worded:
    if error.plan_rolled_back:
        done = "the whole --atomic plan was rolled back before its commit; nothing changed"
    elif error.during:
        done = (f"step {error.completed + 1} ({error.during}) was rolled back before its commit and is not recorded; "
                + (f"steps 1..{error.completed} of {error.total} finished and stay applied"
                   if error.completed else "no earlier step of this run was applied"))
    else:
        done = (f"steps 1..{error.completed} of {error.total} finished and stay applied; no further step started"
                if error.completed else "no step started")
    return error.message, (f"{done}. Find out what ended the lock's session (an administrator, a proxy, a "
                           "network drop, a deleted lock file), make sure no other migration is running "
                           f"('{program()} doctor' names the holder), then run '{program()} migrate' again")


# --------------------------------------------------------------------------- migrate, rollback, preview


def _tag_takes_no_target(error: TagTakesNoTarget) -> Worded:
    return "--to-tag moves every component of the tag; it takes no COMPONENT or TARGET", None


def _plan_changed(error: PlanChangedWhileAsked) -> Worded:
    return error.message, "run the command again to see the new plan"


def _rehearsal_failed(error: RehearsalFailed) -> Worded:
    return error.message, "everything was rolled back; fix the revision or the data"


def _not_one_revision(error: NotOneRevision) -> Worded:
    return "sqlmigrate needs one revision, not 'zero'", f"name a revision of {error.component}"


# --------------------------------------------------------------------------- offline SQL


def _not_renderable(error: RevisionNotRenderable) -> Worded:
    if error.failure.needs_database:
        return error.message, f"rehearse it with '{program()} migrate --dry-run', or run '{program()} migrate' itself"
    return error.message, f"fix {error.path} (run again with --traceback to see the stack)"


WORDINGS: dict[type[MemstackError], Wording] = {
    MigrationFailed: _migration_failed,
    NonAtomicInPlan: _non_atomic_in_plan,
    LockTimeout: _lock_timeout,
    LockFileUnusable: _lock_file_unusable,
    LockLost: _lock_lost,
    TagTakesNoTarget: _tag_takes_no_target,
    PlanChangedWhileAsked: _plan_changed,
    RehearsalFailed: _rehearsal_failed,
    NotOneRevision: _not_one_revision,
    RevisionNotRenderable: _not_renderable,}
