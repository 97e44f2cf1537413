"""The one boundary where engine errors become what a person at a terminal reads.

Each domain error type gets a wording function (``@wording(MultipleHeads)``) returning the
message and the ``manage.py`` command that fixes it. ``main`` and ``call_command`` pass every
:class:`MemstackError` through :func:`for_person`; nothing else in the engine spells commands.
Structured fixes (:class:`memstack.engine.checks.Fix`, used by ``check`` and ``doctor``) are
spelled here too, by :func:`spell_fix`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from memstack.core.errors import DatabaseUnavailable, MemstackError
from memstack.core.seeding import SchemaNotMigrated
from memstack.engine.errors import (
    AlreadyManaged,
    ChecksumDrift,
    FailureMark,
    ForeignBranchLabel,
    InvalidSyntax,
    MissingRevisionId,
    NewRevisionCycle,
    NoMatchingState,
    NonLiteralField,
    NothingToAdopt,
    RemovedComponent,
    UncreatedReference,
    UnknownRows,
)

if TYPE_CHECKING:
    from memstack.engine.checks import Command, Fix

E = TypeVar("E", bound=MemstackError)
Worded = tuple[str, str | None]
Wording = Callable[[Any], Worded]

_WORDINGS: dict[type[MemstackError], Wording] = {}


def wording(error_type: type[E]) -> Callable[[Callable[[E], Worded]], Callable[[E], Worded]]:
    """Register how ``error_type`` reads at the terminal: ``(message, fix)``."""

    def register(function: Callable[[E], Worded]) -> Callable[[E], Worded]:
        _WORDINGS[error_type] = function
        return function

    return register


def for_person(error: MemstackError) -> MemstackError:
    """``error`` with the CLI's message and fix, keeping its exit status; unknown types unchanged."""
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


def spell_command(command: Command) -> str:
    """A command as a person types it."""
    return " ".join(("manage.py", *command))


def spell_fix(fix: Fix) -> str:
    return fix.spelled(spell_command)


def fix_text(fix: Fix | None, cause: MemstackError | None = None) -> str | None:
    """The fix of a ``check`` problem or ``doctor`` item: the cause's wording wins when it has a fix."""
    if cause is not None:
        hint = for_person(cause).hint
        if hint:
            return hint
    return spell_fix(fix) if fix is not None else None


def run_hint(*command: str) -> str:
    """``run 'manage.py ...'``, the usual fix."""
    return f"run '{spell_command(command)}'"


# ---------------------------------------------------------------- core (connections)


@wording(DatabaseUnavailable)
def _database_unavailable(error: DatabaseUnavailable) -> Worded:
    return error.message, ("check that the server is running and the URL (host, port, user, database) is "
                           "right; 'manage.py doctor' tells more")


@wording(SchemaNotMigrated)
def _schema_not_migrated(error: SchemaNotMigrated) -> Worded:
    return error.message, run_hint("migrate") + " first"


# ---------------------------------------------------------------- engine/safety


@wording(UnknownRows)
def _unknown_rows(error: UnknownRows) -> Worded:
    return error.message, ("the database was migrated by newer code: deploy that code (or restore the missing "
                           "files); a database stamped by an older tool can be taken over with 'manage.py adopt'")


@wording(RemovedComponent)
def _removed_component(error: RemovedComponent) -> Worded:
    label = error.component
    return error.message, (f"put it back in [tool.memstack] components and run 'manage.py migrate {label} zero' "
                           f"before removing it, or forget its rows with 'manage.py migrate --prune {label}'")


@wording(ChecksumDrift)
def _checksum_drift(error: ChecksumDrift) -> Worded:
    return error.message, ("restore the file as it was applied (git log -p), or, when the change is intended and "
                           "harmless, record the new checksums with 'manage.py repair'")


@wording(FailureMark)
def _failure_mark(error: FailureMark) -> Worded:
    mark = error.mark
    return error.message, ("fix the schema by hand, then run 'manage.py repair' if the revision's effect is fully "
                           f"undone, or 'manage.py migrate --fake {mark.component} {mark.name}' if it is complete")


# ---------------------------------------------------------------- engine/adoption


@wording(AlreadyManaged)
def _already_managed(error: AlreadyManaged) -> Worded:
    return error.message, "run 'manage.py migrate' (or 'manage.py check --database')"


@wording(NothingToAdopt)
def _nothing_to_adopt(error: NothingToAdopt) -> Worded:
    return error.message, run_hint("migrate") + " to build it"


@wording(NoMatchingState)
def _no_matching_state(error: NoMatchingState) -> Worded:
    return error.message, ("fix these differences by hand (or restore from a backup), then run 'manage.py adopt' "
                           "again")


# ---------------------------------------------------------------- engine/loader


@wording(InvalidSyntax)
def _invalid_syntax(error: InvalidSyntax) -> Worded:
    return error.message, "fix the file's syntax"


@wording(NonLiteralField)
def _non_literal_field(error: NonLiteralField) -> Worded:
    return error.message, "write the ids out literally; memstack reads them without running the file"


@wording(MissingRevisionId)
def _missing_revision_id(error: MissingRevisionId) -> Worded:
    return error.message, "every revision file declares its id; move other files out of the migrations folder"


@wording(ForeignBranchLabel)
def _foreign_branch_label(error: ForeignBranchLabel) -> Worded:
    return error.message, ("a component's folder holds only its own branch; "
                           f"set branch_labels = ({error.component!r},)")


# ---------------------------------------------------------------- engine/autodetect


@wording(UncreatedReference)
def _uncreated_reference(error: UncreatedReference) -> Worded:
    return error.message, run_hint("makemigrations", error.owner, error.component)


@wording(NewRevisionCycle)
def _new_revision_cycle(error: NewRevisionCycle) -> Worded:
    return error.message, "report this: memstack should have split the cycle"
