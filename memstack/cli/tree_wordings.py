"""Wordings of the revision tree's errors: a broken graph, a TARGET the planner cannot resolve,
an unreadable revision file."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, program
from memstack.core.errors import MemstackError
from memstack.engine.errors import (
    AmbiguousTarget,
    ForeignBranchLabel,
    InvalidGraph,
    InvalidSyntax,
    IrreversibleInPlan,
    MissingRevisionId,
    MultipleHeads,
    NonLiteralField,
    NoRevisions,
    RevisionCycle,
    TargetNeedsComponent,
    UndecodableRevision,
    UnknownTarget,
)

# --------------------------------------------------------------------------- graph


def _multiple_heads(error: MultipleHeads) -> Worded:
    return error.message, f"merge them with '{program()} makemigrations --merge {error.component}'"


def _revision_cycle(error: RevisionCycle) -> Worded:
    return error.message, error.hint or f"run '{program()} check' to see where"


def _invalid_graph(error: InvalidGraph) -> Worded:
    first = error.problems[0]
    return first.message + f" (and {len(error.problems) - 1} more problem(s); run '{program()} check')", first.hint


# --------------------------------------------------------------------------- planner


def _no_revisions(error: NoRevisions) -> Worded:
    return error.message, f"create one with '{program()} makemigrations {error.component}'"


def _ambiguous_target(error: AmbiguousTarget) -> Worded:
    return error.message, "name one of them by its file name or full revision id"


def _unknown_target(error: UnknownTarget) -> Worded:
    known = ", ".join(error.known) or "(none)"
    return error.message, ("use zero, head, a file number, a file name or slug, or a revision id; "
                           f"{error.component}'s revisions: {known}")


def _target_needs_component(error: TargetNeedsComponent) -> Worded:
    return error.message, f"{program()} migrate COMPONENT TARGET"


def _irreversible_in_plan(error: IrreversibleInPlan) -> Worded:
    return error.message, ("these revisions have no downgrade (irreversible = True, no downgrade() function, "
                           "or one that only raises); pick a target after them, or give each a downgrade() "
                           "that undoes its upgrade() (and remove irreversible = True)")


# --------------------------------------------------------------------------- revision files (loader)


def _invalid_syntax(error: InvalidSyntax) -> Worded:
    return error.message, "fix the file's syntax"


def _undecodable_revision(error: UndecodableRevision) -> Worded:
    return error.message, ("save the file as UTF-8 (or give it the '# -*- coding: ... -*-' line of the "
                           "encoding it is in), or move it out of the migrations folder if it is no revision")


def _non_literal_field(error: NonLiteralField) -> Worded:
    return error.message, "write the ids out literally; memstack reads them without running the file"


def _missing_revision_id(error: MissingRevisionId) -> Worded:
    return error.message, "every revision file declares its id; move other files out of the migrations folder"


def _foreign_branch_label(error: ForeignBranchLabel) -> Worded:
    return error.message, ("a component's folder holds only its own branch; "
                           f"set branch_labels = ({error.component!r},)")


WORDINGS: dict[type[MemstackError], Wording] = {
    MultipleHeads: _multiple_heads,
    RevisionCycle: _revision_cycle,
    InvalidGraph: _invalid_graph,
    NoRevisions: _no_revisions,
    AmbiguousTarget: _ambiguous_target,
    UnknownTarget: _unknown_target,
    TargetNeedsComponent: _target_needs_component,
    IrreversibleInPlan: _irreversible_in_plan,
    InvalidSyntax: _invalid_syntax,
    UndecodableRevision: _undecodable_revision,
    NonLiteralField: _non_literal_field,
    MissingRevisionId: _missing_revision_id,
    ForeignBranchLabel: _foreign_branch_label,
}
