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
from memstack.engine.existing import UnrecordedSchema
from memstack.engine.rename_errors import NotNullWithoutDefault, UndecidedRenames, UnknownRename

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


# engine.existing


@wording(UnrecordedSchema)
def _unrecorded_schema(error: UnrecordedSchema) -> Worded:
    return (f"{error.message}: the schema was built without migrations (create_all?)",
            "run 'manage.py adopt' to record the revisions the tables already match, then 'manage.py migrate'")


# engine.renames


@wording(UndecidedRenames)
def _undecided_renames(error: UndecidedRenames) -> Worded:
    flags = " ".join(f"--rename {c.key}" for c in error.candidates)
    return (f"{error.message}; nothing was written",
            f"if they are renames (data kept): manage.py makemigrations {flags}; if they are really dropped "
            "and added (data lost): manage.py makemigrations --no-renames; or run it on a terminal to be asked")


@wording(UnknownRename)
def _unknown_rename(error: UnknownRename) -> Worded:
    possible = ", ".join(c.key for c in error.candidates) or "none"
    return (error.message, f"the possible renames are: {possible}; spell a column TABLE.OLD=NEW, a table OLD=NEW")


@wording(NotNullWithoutDefault)
def _not_null_without_default(error: NotNullWithoutDefault) -> Worded:
    return (f"{error.message}; nothing was written",
            f"give {error.column} a server default (server_default=...) in the model, or add it nullable, "
            "run makemigrations, backfill the rows, then make it NOT NULL and run makemigrations again; "
            "if every database's table is empty, pass --allow-not-null")
