"""Wordings of what a database records disagreeing with the code or the request: unreachable, not migrated,
rows no file provides, changed files, failure marks, pruning, tags."""

from __future__ import annotations

import re

from memstack.cli.worded import Worded, Wording, program, run_hint
from memstack.core.errors import DatabaseUnavailable, MemstackError, SchemaNotMigrated
from memstack.engine.errors import (
    ChecksumDrift,
    ComponentStillConfigured,
    CorruptRecords,
    FailureMark,
    InvalidTagName,
    RemovedComponent,
    TagExists,
    TagRevisionsMissing,
    UnknownRows,
    UnknownTag,
)

# --------------------------------------------------------------------------- connections (core)


def _database_unavailable(error: DatabaseUnavailable) -> Worded:
    if error.url.startswith("sqlite"):
        return error.message, ("check the SQLite path in --database-url (MEMSTACK_DATABASE_URL, DATABASE_URL, "
                               "database_url): it must name a SQLite database file, or a file not created yet")
    if "?" in error.url and any(sign in error.reason.lower() for sign in _REFUSED_SETTING):
        return error.message, ("the server refused a setting that the URL's query (after '?') passes: correct "
                               "the value the message names, or remove it from the URL")
    return error.message, ("check that the server is running and the URL (host, port, user, database) is "
                           f"right; '{program()} doctor' tells more")


# what PostgreSQL and MariaDB say when a connection option from the URL's query is refused
_REFUSED_SETTING = ("invalid value for parameter", "unrecognized configuration parameter", "ssl",
                    "unknown system variable", "invalid connection option", "incorrect argument type")


def _corrupt_records(error: CorruptRecords) -> Worded:
    return error.message, (f"a row of {error.table} was changed outside memstack: restore it from a backup, or "
                           "correct or delete the row by hand (memstack writes dates as ISO 8601, booleans as 0/1)")


def _schema_not_migrated(error: SchemaNotMigrated) -> Worded:
    return error.message, run_hint("migrate") + " first"


# --------------------------------------------------------------------------- the database's status (safety)


def _unknown_rows(error: UnknownRows) -> Worded:
    return error.message, ("the database was migrated by newer code: deploy that code (or restore the missing "
                           f"files); a database stamped by an older tool can be taken over with '{program()} adopt'")


def _removed_component(error: RemovedComponent) -> Worded:
    label = error.component
    return error.message, (f"put it back in [tool.memstack] components and run '{program()} migrate {label} zero' "
                           f"before removing it, or forget its rows with '{program()} migrate --prune {label}'")


def _checksum_drift(error: ChecksumDrift) -> Worded:
    return error.message, ("restore the file as it was applied (git log -p), or, when the change is intended and "
                           f"harmless, record the new checksums with '{program()} repair'")


def _failure_mark(error: FailureMark) -> Worded:
    mark = error.mark
    progress = error.progress
    invalid = (progress.invalid if progress is not None else []) or re.findall(r"clear it: ([^)]+)\)",
                                                                                mark.error or "")
    if invalid:  # an INVALID index is never faked: no query would use it
        done = progress.done if progress is not None and not progress.error else []
        return error.message, (f"run {'; '.join(invalid)} (outside a transaction)"
                               + (f", undo what is done ({', '.join(done)})" if done else "")
                               + f", then '{program()} repair' to clear the mark, then migrate again")
    if progress is not None and not progress.error and (progress.done or progress.pending):
        return error.message, (f"either undo what is done ({', '.join(progress.done) or 'nothing'}) and run "
                               f"'{program()} repair', then migrate again; or finish what is not done "
                               f"({', '.join(progress.pending) or 'nothing'}) by hand and run "
                               f"'{program()} migrate --fake {mark.component} {mark.name}'")
    return error.message, (f"fix the schema by hand, then run '{program()} repair' if the revision's effect is fully "
                           f"undone, or '{program()} migrate --fake {mark.component} {mark.name}' if it is complete")


# --------------------------------------------------------------------------- maintenance


def _still_configured(error: ComponentStillConfigured) -> Worded:
    return (f"component {error.component!r} is still configured; --prune is for removed components",
            f"to remove its schema run '{program()} migrate {error.component} zero'")


# --------------------------------------------------------------------------- tags


def _invalid_tag_name(error: InvalidTagName) -> Worded:
    return error.message, "use letters, digits, '-', '_' and '.' (max 128)"


def _tag_exists(error: TagExists) -> Worded:
    return error.message, f"delete it first with '{program()} tag --delete {error.name}'"


def _unknown_tag(error: UnknownTag) -> Worded:
    return error.message, f"list them with '{program()} tag --list'"


def _tag_revisions_missing(error: TagRevisionsMissing) -> Worded:
    return error.message, "check out the code the tag was taken with"


WORDINGS: dict[type[MemstackError], Wording] = {
    DatabaseUnavailable: _database_unavailable,
    SchemaNotMigrated: _schema_not_migrated,
    CorruptRecords: _corrupt_records,
    UnknownRows: _unknown_rows,
    RemovedComponent: _removed_component,
    ChecksumDrift: _checksum_drift,
    FailureMark: _failure_mark,
    ComponentStillConfigured: _still_configured,
    InvalidTagName: _invalid_tag_name,
    TagExists: _tag_exists,
    UnknownTag: _unknown_tag,
    TagRevisionsMissing: _tag_revisions_missing,
}
