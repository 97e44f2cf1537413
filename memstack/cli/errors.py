"""The one boundary where engine errors become what a person at a terminal reads.

Each domain error type gets a wording function (``@wording(MultipleHeads)``) returning the
message and the ``manage.py`` command that fixes it. ``main`` and ``call_command`` pass every
:class:`MemstackError` through :func:`for_person`; nothing else in the engine spells commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from memstack.core.errors import MemstackError
from memstack.engine.errors import EngineError
from memstack.engine.executor import MigrationFailed, NonAtomicInPlan
from memstack.engine.lock import LockTimeout

E = TypeVar("E", bound=EngineError)
Worded = tuple[str, str | None]
Wording = Callable[[Any], Worded]

_WORDINGS: dict[type[EngineError], Wording] = {}


def wording(error_type: type[E]) -> Callable[[Callable[[E], Worded]], Callable[[E], Worded]]:
    """Register how ``error_type`` reads at the terminal: ``(message, fix)``."""

    def register(function: Callable[[E], Worded]) -> Callable[[E], Worded]:
        _WORDINGS[error_type] = function
        return function

    return register


def for_person(error: MemstackError) -> MemstackError:
    """``error`` with the CLI's message and fix, keeping its exit status; unknown types unchanged."""
    if not isinstance(error, EngineError):
        return error
    for cls in type(error).__mro__:
        function = _WORDINGS.get(cls)
        if function is not None:
            message, hint = function(error)
            worded = MemstackError(message, hint=hint)
            worded.exit_code = error.exit_code
            return worded
    return error


# --------------------------------------------------------------------------- wordings
# One section per engine module; each @wording names the domain error it words.


# executor and lock


@wording(MigrationFailed)
def _migration_failed(error: MigrationFailed) -> Worded:
    rev = error.step.revision
    if error.outcome == "plan_rolled_back":
        fix = "the whole plan was rolled back; nothing changed. Fix the revision or the data and run it again"
    elif error.outcome == "maybe_half_applied":
        why = ("it declares atomic = False" if error.dialect in ("postgresql", "sqlite")
               else f"{error.dialect} cannot roll back DDL")
        fix = (f"the step ran outside a transaction ({why}): the revision may be half-applied. "
               f"Fix the schema by hand, then run 'manage.py repair' (if its effect is undone) or "
               f"'manage.py migrate --fake {rev.component} {rev.name}' (if it is complete)")
    else:
        fix = ((f"steps 1..{error.index - 1} stayed applied; this step was rolled back. " if error.index > 1
                else "this step was rolled back; nothing changed. ")
               + "Fix the revision or the data, then run migrate again")
    return error.message, fix


@wording(NonAtomicInPlan)
def _non_atomic_in_plan(error: NonAtomicInPlan) -> Worded:
    return (f"--atomic cannot run {', '.join(error.labels)}: declared atomic = False (runs outside a transaction)",
            "run 'manage.py migrate' without --atomic: each revision then runs on its own, the "
            "non-atomic ones with a running mark")


@wording(LockTimeout)
def _lock_timeout(error: LockTimeout) -> Worded:
    return error.message, "wait for the other migration to finish, or raise --lock-timeout (or lock_timeout)"
