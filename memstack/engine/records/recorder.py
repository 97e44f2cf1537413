"""The only code that reads or writes the rows of ``alembic_version`` and memstack's own tables.

``alembic_version`` keeps Alembic's own layout so the plain ``alembic`` command keeps working
on a database memstack migrated; its rows are the applied revisions no other applied
revision builds on (exactly what Alembic stores). The tables themselves, their schema
version and upgrades live in :mod:`memstack.engine.records.bookkeeping`.
"""

from __future__ import annotations

import datetime as dt
import functools
import getpass
import json
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.engine import Connection

from memstack.engine.records import bookkeeping, stepwrites
from memstack.engine.records.bookkeeping import (
    BOOKKEEPING_SCHEMA_VERSION,
    VERSION_TABLE,
    applied_table,
    bookkeeping_metadata,
    history_table,
    marks_table,
    meta_table,
    tags_table,
    version_table,
)

__all__ = [  # the tables are re-exported for older imports; new code imports bookkeeping
    "BOOKKEEPING_SCHEMA_VERSION", "VERSION_TABLE", "AppliedRecord", "HistoryEntry", "Mark", "Recorder",
    "applied_table", "bookkeeping_metadata", "history_table", "iso", "marks_table", "meta_table",
    "tags_table", "utcnow", "version_table", "who",
]

def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@functools.cache
def who() -> tuple[str, str]:
    """(OS user, host) for history rows (looked up once per process)."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return user, socket.gethostname()


def memstack_version() -> str:
    from memstack import __version__

    return __version__


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    event: str
    component: str
    revision: str
    name: str
    direction: str
    started_at: dt.datetime
    duration_ms: int | None
    success: bool
    error: str | None
    note: str | None
    checksum: str | None
    user: str | None
    host: str | None
    memstack_version: str | None
    source: str

    def as_json(self) -> dict[str, Any]:
        number = self.name.split("_", 1)[0]
        return {
            "event": self.event,
            "component": self.component,
            "revision": self.revision,
            "name": self.name,
            "number": int(number) if number.isdigit() else None,
            "direction": self.direction,
            "started_at": iso(self.started_at),
            "duration_ms": self.duration_ms,
            "success": self.success,
            "error": self.error,
            "note": self.note,
            "checksum": self.checksum,
            "user": self.user,
            "host": self.host,
            "memstack_version": self.memstack_version,
            "source": self.source,
        }


@dataclass(frozen=True)
class AppliedRecord:
    revision: str
    component: str
    name: str
    checksum: str | None
    verified: bool


@dataclass(frozen=True)
class Mark:
    revision: str
    component: str
    name: str
    direction: str
    state: str
    started_at: dt.datetime
    error: str | None
    user: str | None
    host: str | None
    pid: int | None


class Recorder:
    """Reads and writes state on one connection; the caller owns the transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._tables: set[str] | None = None

    def bound_to(self, connection: Connection) -> Recorder:
        """This recorder on another connection, knowing the tables already found (no new inspection)."""
        other = Recorder(connection)
        other._tables = set(self._existing())
        return other

    # ------------------------------------------------------------------ existence
    def _existing(self) -> set[str]:
        if self._tables is None:
            self._tables = set(inspect(self.connection).get_table_names())
        return self._tables

    def has_version_table(self) -> bool:
        return VERSION_TABLE in self._existing()

    def has_bookkeeping(self) -> bool:
        return "memstack_history" in self._existing()

    def ensure_version_table(self) -> None:
        if not self.has_version_table():
            bookkeeping.ensure_version_table(self.connection)
            self._tables = None

    def ensure_bookkeeping(self) -> None:
        """Create or upgrade memstack's own tables (see :func:`bookkeeping.ensure_bookkeeping`)."""
        bookkeeping.ensure_bookkeeping(self.connection, self._existing())
        self._tables = None

    def bookkeeping_version(self) -> int:
        return bookkeeping.schema_version(self.connection)

    # ------------------------------------------------------------------ version rows
    def version_rows(self) -> list[str]:
        if not self.has_version_table():
            return []
        return sorted(row[0] for row in self.connection.execute(select(version_table.c.version_num)))

    def replace_rows(self, old: Iterable[str], new: Iterable[str]) -> None:
        """Move the version rows from ``old`` to ``new`` (only the difference is written)."""
        old_set, new_set = set(old), set(new)
        gone, added = old_set - new_set, new_set - old_set
        if gone:
            self.connection.execute(delete(version_table).where(version_table.c.version_num.in_(sorted(gone))))
        if added:
            self.connection.execute(insert(version_table), [{"version_num": row} for row in sorted(added)])

    def move_rows(self, gone: Iterable[str], added: Iterable[str]) -> None:
        """Write one step's row change; one row replaced by another is one UPDATE, as Alembic does."""
        gone_rows, added_rows = sorted(set(gone)), sorted(set(added))
        if len(gone_rows) == 1 and len(added_rows) == 1:
            moved = self.connection.execute(update(version_table).where(
                version_table.c.version_num == gone_rows[0]).values(version_num=added_rows[0]))
            if moved.rowcount == 1:
                return
            gone_rows = []  # the old row was not there: insert the new one
        self.replace_rows(gone_rows, added_rows)

    # ------------------------------------------------------------------ history
    def add_history(self, *, event: str, component: str, revision: str, name: str, direction: str,
                    started_at: dt.datetime, duration_ms: int | None, success: bool, error: str | None = None,
                    checksum: str | None = None, source: str = "memstack", note: str | None = None) -> None:
        user, host = who()
        self.connection.execute(insert(history_table).values(
            event=event, component=component, revision=revision, name=name, direction=direction,
            started_at=started_at, finished_at=utcnow(), duration_ms=duration_ms, success=success,
            error=error[:4000] if error else None, note=note[:4000] if note else None, checksum=checksum,
            os_user=user, host=host, memstack_version=memstack_version(), source=source,
        ))

    def history(self, component: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
        if not self.has_bookkeeping():
            return []
        query = select(history_table).order_by(history_table.c.id.desc())
        if component:
            query = query.where(history_table.c.component == component)
        if limit:
            query = query.limit(limit)
        rows = list(self.connection.execute(query).mappings())
        rows.reverse()
        return [HistoryEntry(
            id=r["id"], event=r["event"], component=r["component"], revision=r["revision"], name=r["name"],
            direction=r["direction"], started_at=r["started_at"], duration_ms=r["duration_ms"],
            success=bool(r["success"]), error=r["error"], note=r["note"], checksum=r["checksum"], user=r["os_user"],
            host=r["host"], memstack_version=r["memstack_version"], source=r["source"],
        ) for r in rows]

    def last_applied_order(self) -> dict[str, int]:
        """{revision: id of its latest successful apply-like event}: orders rollbacks."""
        if not self.has_bookkeeping():
            return {}
        query = select(history_table.c.revision, history_table.c.id).where(
            history_table.c.success.is_(True), history_table.c.direction == "up").order_by(history_table.c.id)
        return {rev: ident for rev, ident in self.connection.execute(query)}

    # ------------------------------------------------------------------ applied revisions and checksums
    def applied_records(self) -> dict[str, AppliedRecord]:
        # each table is checked on its own: on MariaDB another process's CREATE TABLEs become
        # visible one by one, so memstack_history may exist while memstack_applied does not yet
        if applied_table.name not in self._existing():
            return {}
        return {r.revision: AppliedRecord(r.revision, r.component, r.name, r.checksum, bool(r.verified))
                for r in self.connection.execute(select(applied_table))}

    def record_applied(self, revision: str, component: str, name: str, checksum: str | None,
                       *, verified: bool = True) -> None:
        values = {"revision": revision, "component": component, "name": name, "checksum": checksum,
                  "verified": verified, "applied_at": utcnow()}
        self.connection.execute(stepwrites.upsert_applied(self.connection.dialect.name), values)  # one round trip

    def record_step(self, step: stepwrites.StepWrite) -> None:
        """Everything a finished step records, in as few round trips as the dialect allows."""
        stepwrites.write_step(self.connection, step)

    def forget_applied(self, revisions: Iterable[str]) -> None:
        ids = sorted(set(revisions))
        if ids:
            self.connection.execute(delete(applied_table).where(applied_table.c.revision.in_(ids)))

    def update_checksum(self, revision: str, checksum: str, *, verified: bool = True) -> None:
        self.connection.execute(update(applied_table).where(applied_table.c.revision == revision)
                                .values(checksum=checksum, verified=verified))

    # ------------------------------------------------------------------ marks
    def marks(self) -> list[Mark]:
        if marks_table.name not in self._existing():
            return []
        return [Mark(r.revision, r.component, r.name, r.direction, r.state, r.started_at, r.error, r.os_user,
                     r.host, r.pid) for r in self.connection.execute(select(marks_table))]

    def set_mark(self, revision: str, component: str, name: str, direction: str) -> None:
        user, host = who()
        self.connection.execute(delete(marks_table).where(marks_table.c.revision == revision))
        self.connection.execute(insert(marks_table).values(
            revision=revision, component=component, name=name, direction=direction, state="running",
            started_at=utcnow(), os_user=user, host=host, pid=os.getpid()))

    def fail_mark(self, revision: str, error: str) -> None:
        self.connection.execute(update(marks_table).where(marks_table.c.revision == revision)
                                .values(state="failed", error=error[:4000]))

    def clear_marks(self, revisions: Iterable[str] | None = None) -> None:
        if "memstack_marks" not in self._existing():
            return
        query = delete(marks_table)
        if revisions is not None:
            query = query.where(marks_table.c.revision.in_(sorted(set(revisions))))
        self.connection.execute(query)

    # ------------------------------------------------------------------ tags
    def tags(self) -> dict[str, tuple[dt.datetime, dict[str, list[str]]]]:
        if tags_table.name not in self._existing():
            return {}
        return {r.name: (r.created_at, json.loads(r.state)) for r in
                self.connection.execute(select(tags_table).order_by(tags_table.c.created_at, tags_table.c.name))}

    def save_tag(self, name: str, state: Mapping[str, list[str]]) -> None:
        user, host = who()
        self.connection.execute(insert(tags_table).values(
            name=name, created_at=utcnow(), state=json.dumps(dict(state), sort_keys=True), os_user=user, host=host))

    def delete_tag(self, name: str) -> bool:
        result = self.connection.execute(delete(tags_table).where(tags_table.c.name == name))
        return bool(result.rowcount)
