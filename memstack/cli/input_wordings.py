"""Wordings of the bad-input errors: migrations folders, over-long ids, scratch databases."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording
from memstack.core.errors import MemstackError
from memstack.engine.errors import RevisionIdTooLong, ScratchNotUsable, ScratchUnavailable, UnreadableMigrations


def _unreadable_migrations(error: UnreadableMigrations) -> Worded:
    return error.message, (f"make {error.path} a folder of revision files (or empty), or set "
                           f'{{ migrations = "<folder>" }} on {error.component!r} in [tool.memstack] components')


def _revision_id_too_long(error: RevisionIdTooLong) -> Worded:
    return error.message, (f"shorten the {error.field} to {error.limit} characters or fewer, "
                           "and update what points to it")


def _scratch_unavailable(error: ScratchUnavailable) -> Worded:
    return error.message, ("the user may not create databases: pass --scratch-url naming an existing EMPTY database "
                           "(or schema) it may create tables in, or set MEMSTACK_SCRATCH_URL / scratch_url in "
                           "[tool.memstack]; or run as a user with CREATEDB")


def _scratch_not_usable(error: ScratchNotUsable) -> Worded:
    return error.message, ("--scratch-url (MEMSTACK_SCRATCH_URL, scratch_url) must name an existing, empty database "
                           "of the same kind as the database, that the user may create tables in")


WORDINGS: dict[type[MemstackError], Wording] = {
    UnreadableMigrations: _unreadable_migrations,
    RevisionIdTooLong: _revision_id_too_long,
    ScratchUnavailable: _scratch_unavailable,
    ScratchNotUsable: _scratch_not_usable,
}
