"""Wordings of adopting a database built without memstack."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, program, run_hint
from memstack.core.errors import MemstackError
from memstack.engine.errors import AlreadyManaged, NoMatchingState, NothingToAdopt, UnrecordedSchema

# --------------------------------------------------------------------------- adopt


def _already_managed(error: AlreadyManaged) -> Worded:
    return error.message, f"run '{program()} migrate' (or '{program()} check --database')"


def _nothing_to_adopt(error: NothingToAdopt) -> Worded:
    return error.message, run_hint("migrate") + " to build it"


def _no_matching_state(error: NoMatchingState) -> Worded:
    return error.message, (f"fix these differences by hand (or restore from a backup), then run '{program()} adopt' "
                           "again")


def _unrecorded_schema(error: UnrecordedSchema) -> Worded:
    return (f"{error.message}: the schema was built without migrations (create_all?)",
            f"run '{program()} adopt' to record the revisions the tables already match, then '{program()} migrate'")


WORDINGS: dict[type[MemstackError], Wording] = {
    AlreadyManaged: _already_managed,
    NothingToAdopt: _nothing_to_adopt,
    NoMatchingState: _no_matching_state,
    UnrecordedSchema: _unrecorded_schema,
}
