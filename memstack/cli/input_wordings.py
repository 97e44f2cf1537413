"""Wordings of the bad-input errors: migrations folders, over-long ids, scratch databases.

Kept apart from :mod:`memstack.cli.errors` (which imports this module last) so that file stays
within its size; the registry is the same.
"""

from __future__ import annotations

from memstack.cli.errors import Worded, wording
from memstack.engine.generate import scratch
from memstack.engine.tree import loader


@wording(loader.UnreadableMigrations)
def _unreadable_migrations(error: loader.UnreadableMigrations) -> Worded:
    return error.message, (f"make {error.path} a folder of revision files (or empty), or set "
                           f'{{ migrations = "<folder>" }} on {error.component!r} in [tool.memstack] components')


@wording(loader.RevisionIdTooLong)
def _revision_id_too_long(error: loader.RevisionIdTooLong) -> Worded:
    return error.message, (f"shorten the {error.field} to {error.limit} characters or fewer, "
                           "and update what points to it")


@wording(scratch.ScratchUnavailable)
def _scratch_unavailable(error: scratch.ScratchUnavailable) -> Worded:
    return error.message, ("the user may not create databases: pass --scratch-url naming an existing EMPTY database "
                           "(or schema) it may create tables in, or set MEMSTACK_SCRATCH_URL / scratch_url in "
                           "[tool.memstack]; or run as a user with CREATEDB")


@wording(scratch.ScratchNotUsable)
def _scratch_not_usable(error: scratch.ScratchNotUsable) -> Worded:
    return error.message, ("--scratch-url (MEMSTACK_SCRATCH_URL, scratch_url) must name an existing, empty database "
                           "of the same kind as the database, that the user may create tables in")
