"""The one boundary where engine errors become what a person at a terminal reads.

Each domain error type gets a wording function (``@wording(MultipleHeads)``) returning the
message and the ``manage.py`` command that fixes it. ``main`` and ``call_command`` pass every
:class:`MemstackError` through :func:`for_person`; nothing else in the engine spells commands.
Structured fixes (:class:`memstack.engine.review.checks.Fix`, used by ``check`` and ``doctor``) are
spelled here too, by :func:`spell_fix`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from memstack.core.errors import DatabaseUnavailable, MemstackError
from memstack.core.seeding import SchemaNotMigrated
from memstack.engine import errors as engine_errors
from memstack.engine.adopt.existing import UnrecordedSchema
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
    RevisionNotRenderable,
    UncreatedReference,
    UnknownRows,
)
from memstack.engine.generate.rename_errors import NotNullWithoutDefault, UndecidedRenames, UnknownRename
from memstack.engine.tree.graph import InvalidGraph, MultipleHeads, RevisionCycle
from memstack.engine.tree.planner import (
    AmbiguousTarget,
    IrreversibleInPlan,
    NoRevisions,
    TargetNeedsComponent,
    UnknownTarget,
)

if TYPE_CHECKING:
    from memstack.engine.review.checks import Command, Fix

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


# --------------------------------------------------------------------------- graph and planner
# (these modules are light, so importing them with the boundary costs nothing)


@wording(MultipleHeads)
def _multiple_heads(error: MultipleHeads) -> Worded:
    return error.message, f"merge them with 'manage.py makemigrations --merge {error.component}'"


@wording(RevisionCycle)
def _revision_cycle(error: RevisionCycle) -> Worded:
    return error.message, error.hint or "run 'manage.py check' to see where"


@wording(InvalidGraph)
def _invalid_graph(error: InvalidGraph) -> Worded:
    first = error.problems[0]
    return first.message + f" (and {len(error.problems) - 1} more problem(s); run 'manage.py check')", first.hint


@wording(NoRevisions)
def _no_revisions(error: NoRevisions) -> Worded:
    return error.message, f"create one with 'manage.py makemigrations {error.component}'"


@wording(AmbiguousTarget)
def _ambiguous_target(error: AmbiguousTarget) -> Worded:
    return error.message, "name one of them by its file name or full revision id"


@wording(UnknownTarget)
def _unknown_target(error: UnknownTarget) -> Worded:
    known = ", ".join(error.known) or "(none)"
    return error.message, ("use zero, head, a file number, a file name or slug, or a revision id; "
                           f"{error.component}'s revisions: {known}")


@wording(TargetNeedsComponent)
def _target_needs_component(error: TargetNeedsComponent) -> Worded:
    return error.message, "manage.py migrate COMPONENT TARGET"


@wording(IrreversibleInPlan)
def _irreversible_in_plan(error: IrreversibleInPlan) -> Worded:
    return error.message, "these revisions have no downgrade; pick a target after them, or write their downgrade"


# --------------------------------------------------------------------------- migrate, rollback, preview


@wording(engine_errors.TagTakesNoTarget)
def _tag_takes_no_target(error: engine_errors.TagTakesNoTarget) -> Worded:
    return "--to-tag moves every component of the tag; it takes no COMPONENT or TARGET", None


@wording(engine_errors.PlanChangedWhileAsked)
def _plan_changed(error: engine_errors.PlanChangedWhileAsked) -> Worded:
    return error.message, "run the command again to see the new plan"


@wording(engine_errors.RehearsalFailed)
def _rehearsal_failed(error: engine_errors.RehearsalFailed) -> Worded:
    return error.message, "everything was rolled back; fix the revision or the data"


@wording(engine_errors.NotOneRevision)
def _not_one_revision(error: engine_errors.NotOneRevision) -> Worded:
    return "sqlmigrate needs one revision, not 'zero'", f"name a revision of {error.component}"


# --------------------------------------------------------------------------- maintenance


@wording(engine_errors.ComponentStillConfigured)
def _still_configured(error: engine_errors.ComponentStillConfigured) -> Worded:
    return (f"component {error.component!r} is still configured; --prune is for removed components",
            f"to remove its schema run 'manage.py migrate {error.component} zero'")


# --------------------------------------------------------------------------- tags


@wording(engine_errors.InvalidTagName)
def _invalid_tag_name(error: engine_errors.InvalidTagName) -> Worded:
    return error.message, "use letters, digits, '-', '_' and '.' (max 128)"


@wording(engine_errors.TagExists)
def _tag_exists(error: engine_errors.TagExists) -> Worded:
    return error.message, f"delete it first with 'manage.py tag --delete {error.name}'"


@wording(engine_errors.UnknownTag)
def _unknown_tag(error: engine_errors.UnknownTag) -> Worded:
    return error.message, "list them with 'manage.py tag --list'"


@wording(engine_errors.TagRevisionsMissing)
def _tag_revisions_missing(error: engine_errors.TagRevisionsMissing) -> Worded:
    return error.message, "check out the code the tag was taken with"

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
    progress = error.progress
    invalid = (progress.invalid if progress is not None else []) or re.findall(r"clear it: ([^)]+)\)",
                                                                                mark.error or "")
    if invalid:  # an INVALID index is never faked: no query would use it
        done = progress.done if progress is not None and not progress.error else []
        return error.message, (f"run {'; '.join(invalid)} (outside a transaction)"
                               + (f", undo what is done ({', '.join(done)})" if done else "")
                               + ", then 'manage.py repair' to clear the mark, then migrate again")
    if progress is not None and not progress.error and (progress.done or progress.pending):
        return error.message, (f"either undo what is done ({', '.join(progress.done) or 'nothing'}) and run "
                               "'manage.py repair', then migrate again; or finish what is not done "
                               f"({', '.join(progress.pending) or 'nothing'}) by hand and run "
                               f"'manage.py migrate --fake {mark.component} {mark.name}'")
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


# engine/offline.py


@wording(RevisionNotRenderable)
def _not_renderable(error: RevisionNotRenderable) -> Worded:
    if error.failure.needs_database:
        return error.message, "rehearse it with 'manage.py migrate --dry-run', or run 'manage.py migrate' itself"
    return error.message, f"fix {error.path} (run again with --traceback to see the stack)"


from memstack.cli import input_wordings as _input_wordings  # noqa: E402,F401  (registers its wordings)
from memstack.cli import run_wordings as _run_wordings  # noqa: E402,F401
from memstack.cli import tool_wordings as _tool_wordings  # noqa: E402,F401
