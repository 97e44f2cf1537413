"""Wordings of makemigrations' refusals: references and cycles the autodetector meets, changes that would lose data."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, program, run_hint
from memstack.core.errors import MemstackError
from memstack.engine.errors import (
    NewRevisionCycle,
    NotNullWithoutDefault,
    PostWriteHookFailed,
    ScratchBuildFailed,
    SquashCycle,
    SquashNotCleanable,
    SquashNotProven,
    SquashRefused,
    SquashSharedOnTargets,
    UncreatedReference,
    UndecidedRenames,
    UnknownRename,
)

# --------------------------------------------------------------------------- autodetect


def _uncreated_reference(error: UncreatedReference) -> Worded:
    return error.message, run_hint("makemigrations", error.owner, error.component)


def _new_revision_cycle(error: NewRevisionCycle) -> Worded:
    return error.message, "report this: memstack should have split the cycle"


def _post_write_hook_failed(error: PostWriteHookFailed) -> Worded:
    written = "" if error.path is None else "the revision file is written (as rendered, before the hook); "
    return error.message, (f"{written}fix the hook in [tool.alembic] post_write_hooks of pyproject.toml, or in "
                           "[post_write_hooks] of alembic.ini (its type, executable or entrypoint, options), "
                           "or remove it")
def _scratch_build_failed(error: ScratchBuildFailed) -> Worded:
    """The scratch database is thrown away: nothing "stayed applied", nothing of the person's changed."""
    done = ("the scratch database (built from every revision only to compare the models with them) was "
            "discarded; no database of yours changed")
    fix = f"fix {error.label} ({run_hint('migrate', '--traceback')} on an empty database to see where it fails)"
    if error.first and not error.baseline:
        fix += (f". If it needs tables the project creates before its first revision (create_all, an SQL dump), "
                f"declare them as {error.component}'s baseline, run first on scratch and new databases: "
                f'baseline = "models" (or "pkg.module:metadata", or a file "baseline.sql") in its entry of '
                "[tool.memstack] components (docs/adopting.md, Baselines)")
    elif error.first:
        fix += f" (its baseline {error.baseline!r} ran first: check that it creates what the revision needs)"
    return error.message, f"{done}. {fix[0].upper()}{fix[1:]}"


# --------------------------------------------------------------------------- renames


def _undecided_renames(error: UndecidedRenames) -> Worded:
    flags = " ".join(f"--rename {c.key}" for c in error.candidates)
    return (f"{error.message}; nothing was written",
            f"if they are renames (data kept): {program()} makemigrations {flags}; if they are really dropped "
            f"and added (data lost): {program()} makemigrations --no-renames; or run it on a terminal to be asked")


def _unknown_rename(error: UnknownRename) -> Worded:
    possible = ", ".join(c.key for c in error.candidates) or "none"
    return (error.message, f"the possible renames are: {possible}; spell a column TABLE.OLD=NEW, a table OLD=NEW")


def _not_null_without_default(error: NotNullWithoutDefault) -> Worded:
    return (f"{error.message}; nothing was written",
            f"give {error.column} a server default (server_default=...) in the model, or add it nullable, "
            "run makemigrations, backfill the rows, then make it NOT NULL and run makemigrations again; "
            "if every database's table is empty, pass --allow-not-null")


# --------------------------------------------------------------------------- squashmigrations


def _squash_refused(error: SquashRefused) -> Worded:
    return f"{error.message}; nothing was written", error.fix


def _squash_cycle(error: SquashCycle) -> Worded:
    if error.largest_end:
        number = error.largest_end.split(" ", 1)[1].split("_", 1)[0]
        return error.message, (f"squash up to {error.largest_end} instead "
                               f"({run_hint('squashmigrations', error.component, number)}), "
                               "or squash the other component of the cycle first")
    return error.message, "no END of this range avoids the cycle; squash a later START, or the other component first"


def _squash_not_proven(error: SquashNotProven) -> Worded:
    return error.message, ("the differing tables are listed above; squash a shorter range, or report it with the "
                           "comparison if the old revisions are right")


def _squash_not_cleanable(error: SquashNotCleanable) -> Worded:
    return error.message, "migrate those databases first (or leave them out if they are gone), then run --cleanup again"


def _squash_shared_on_targets(error: SquashSharedOnTargets) -> Worded:
    return error.message, ("name the database shared components migrate in instead: "
                           f"{run_hint('squashmigrations', '--cleanup', error.component, '--database-url', 'URL')}")


WORDINGS: dict[type[MemstackError], Wording] = {
    SquashRefused: _squash_refused,
    SquashSharedOnTargets: _squash_shared_on_targets,
    SquashCycle: _squash_cycle,
    SquashNotProven: _squash_not_proven,
    SquashNotCleanable: _squash_not_cleanable,
    UncreatedReference: _uncreated_reference,
    NewRevisionCycle: _new_revision_cycle,
    UndecidedRenames: _undecided_renames,
    UnknownRename: _unknown_rename,
    NotNullWithoutDefault: _not_null_without_default,
    PostWriteHookFailed: _post_write_hook_failed,
    ScratchBuildFailed: _scratch_build_failed,
}
