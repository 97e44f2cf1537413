"""The one boundary where engine errors become what a person at a terminal reads.

Each domain error type gets a wording function (``@wording(MultipleHeads)``) returning the
message and the ``manage.py`` command that fixes it. ``main`` and ``call_command`` pass every
:class:`MemstackError` through :func:`for_person`; nothing else in the engine spells commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from memstack.core.errors import MemstackError
from memstack.engine.errors import EngineError, RevisionNotRenderable

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


# engine/offline.py


@wording(RevisionNotRenderable)
def _not_renderable(error: RevisionNotRenderable) -> Worded:
    if error.failure.needs_database:
        return error.message, "rehearse it with 'manage.py migrate --dry-run', or run 'manage.py migrate' itself"
    return error.message, f"fix {error.path} (run again with --traceback to see the stack)"
