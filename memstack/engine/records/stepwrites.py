"""One step's bookkeeping writes (version rows, applied record, history row, mark), written at once.

A step of a run writes the same four things every time. On PostgreSQL they go in one
statement, a data-modifying ``WITH`` (each part runs exactly once, whatever the outer query
reads), so a step costs one round trip for its bookkeeping instead of three or four; psycopg
prepares the statement after a few steps, so the server parses and plans it once. Elsewhere
the statements run one after another, prebuilt once, so SQLAlchemy compiles each only once
per process. The rows written are the same either way, in the same transaction as the step.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from memstack.engine.records.bookkeeping import applied_table, history_table, marks_table, version_table


@dataclass(frozen=True)
class StepWrite:
    """What one finished step records; ``checksum`` is None for a step down (its record is removed)."""

    revision: str
    component: str
    name: str
    direction: str
    event: str
    started_at: dt.datetime
    finished_at: dt.datetime
    duration_ms: int
    checksum: str | None
    gone: tuple[str, ...]  # version rows removed
    added: tuple[str, ...]  # version rows added
    clear_mark: bool
    user: str
    host: str
    memstack_version: str
    durable: bool = True  # False: PostgreSQL may commit it without waiting for the disk (see executor)

    @property
    def up(self) -> bool:
        return self.direction == "up"

    def history_values(self) -> dict[str, Any]:
        return {"event": self.event, "component": self.component, "revision": self.revision, "name": self.name,
                "direction": self.direction, "started_at": self.started_at, "finished_at": self.finished_at,
                "duration_ms": self.duration_ms, "success": True, "error": None, "note": None,
                "checksum": self.checksum, "os_user": self.user, "host": self.host,
                "memstack_version": self.memstack_version, "source": "memstack"}

    def applied_values(self) -> dict[str, Any]:
        return {"revision": self.revision, "component": self.component, "name": self.name,
                "checksum": self.checksum, "verified": True, "applied_at": self.finished_at}


# --------------------------------------------------------------------------- PostgreSQL: one statement

_PG_REPLACE_ROW = (
    "moved AS (UPDATE alembic_version SET version_num = %(row_new)s WHERE version_num = %(row_old)s RETURNING 1), "
    "inserted AS (INSERT INTO alembic_version (version_num) SELECT %(row_new)s "
    "WHERE NOT EXISTS (SELECT 1 FROM moved))")
_PG_DELETE_ROWS = "gone AS (DELETE FROM alembic_version WHERE version_num = ANY(%(rows_gone)s::varchar[]))"
_PG_ADD_ROWS = ("added AS (INSERT INTO alembic_version (version_num) "
                "SELECT unnest(%(rows_added)s::varchar[]))")
_PG_UPSERT_APPLIED = (
    "applied AS (INSERT INTO memstack_applied (revision, component, name, checksum, verified, applied_at) "
    "VALUES (%(revision)s, %(component)s, %(name)s, %(checksum)s, true, %(finished_at)s) "
    "ON CONFLICT (revision) DO UPDATE SET component = EXCLUDED.component, name = EXCLUDED.name, "
    "checksum = EXCLUDED.checksum, verified = EXCLUDED.verified, applied_at = EXCLUDED.applied_at)")
_PG_FORGET_APPLIED = "forgotten AS (DELETE FROM memstack_applied WHERE revision = %(revision)s)"
_PG_CLEAR_MARK = "unmarked AS (DELETE FROM memstack_marks WHERE revision = %(revision)s)"
_PG_HISTORY = (
    "history AS (INSERT INTO memstack_history (event, component, revision, name, direction, started_at, "
    "finished_at, duration_ms, success, error, note, checksum, os_user, host, memstack_version, source) "
    "VALUES (%(event)s, %(component)s, %(revision)s, %(name)s, %(direction)s, %(started_at)s, %(finished_at)s, "
    "%(duration_ms)s, true, NULL, NULL, %(checksum)s, %(os_user)s, %(host)s, %(memstack_version)s, 'memstack'))")


@functools.cache
def _postgres_statement(replace_one: bool, delete_rows: bool, add_rows: bool, up: bool, clear_mark: bool,
                        durable: bool) -> str:
    """The statement for one shape of step (a handful of shapes, so psycopg can prepare each)."""
    parts = []
    if replace_one:
        parts.append(_PG_REPLACE_ROW)
    if delete_rows:
        parts.append(_PG_DELETE_ROWS)
    if add_rows:
        parts.append(_PG_ADD_ROWS)
    parts.append(_PG_UPSERT_APPLIED if up else _PG_FORGET_APPLIED)
    if clear_mark:
        parts.append(_PG_CLEAR_MARK)
    parts.append(_PG_HISTORY)
    outer = "SELECT 1" if durable else "SELECT set_config('synchronous_commit', 'off', true)"  # SET LOCAL
    return "WITH " + ", ".join(parts) + " " + outer


def _write_postgres(connection: Connection, step: StepWrite) -> None:
    # one row replaced by another is an UPDATE, as Alembic writes it (a missing old row: INSERT)
    replace_one = len(step.gone) == 1 and len(step.added) == 1
    params: dict[str, Any] = {k: v for k, v in step.history_values().items()
                              if k not in ("success", "error", "note", "source")}
    if replace_one:
        params.update(row_old=step.gone[0], row_new=step.added[0])
    else:
        params.update(rows_gone=list(step.gone), rows_added=list(step.added))
    sql = _postgres_statement(replace_one, bool(step.gone) and not replace_one, bool(step.added) and not replace_one,
                              step.up, step.clear_mark, step.durable)
    connection.exec_driver_sql(sql, params)


# --------------------------------------------------------------------------- elsewhere: prebuilt statements


@functools.cache
def _statements(dialect_name: str) -> dict[str, Executable]:
    """The step's statements for ``dialect_name``, built once (SQLAlchemy caches their compiled form)."""
    row = version_table.c.version_num
    statements: dict[str, Executable] = {
        "replace_row": update(version_table).where(row == bindparam("row_old")).values(
            version_num=bindparam("row_new")),
        "delete_rows": delete(version_table).where(row.in_(bindparam("rows_gone", expanding=True))),
        "add_row": insert(version_table),
        "forget_applied": delete(applied_table).where(applied_table.c.revision == bindparam("revision")),
        "clear_mark": delete(marks_table).where(marks_table.c.revision == bindparam("revision")),
        "history": insert(history_table),
    }
    statements["upsert_applied"] = upsert_applied(dialect_name)
    return statements


@functools.cache
def upsert_applied(dialect_name: str) -> Executable:
    """INSERT of a memstack_applied row replacing any row of the same revision (values as parameters)."""
    changed = [c.name for c in applied_table.columns if c.name != "revision"]
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        pg = postgresql_insert(applied_table)
        return pg.on_conflict_do_update(index_elements=[applied_table.c.revision],
                                        set_={name: pg.excluded[name] for name in changed})
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        lite = sqlite_insert(applied_table)
        return lite.on_conflict_do_update(index_elements=[applied_table.c.revision],
                                          set_={name: lite.excluded[name] for name in changed})
    if dialect_name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        my = mysql_insert(applied_table)
        return my.on_duplicate_key_update({name: my.inserted[name] for name in changed})
    raise ValueError(f"no upsert for {dialect_name}")  # pragma: no cover - settings only allow the three


def _write_one_by_one(connection: Connection, step: StepWrite) -> None:
    statements = _statements(connection.dialect.name)
    gone, added = list(step.gone), list(step.added)
    if len(gone) == 1 and len(added) == 1:
        moved = connection.execute(statements["replace_row"], {"row_old": gone[0], "row_new": added[0]})
        gone = []  # replaced, or not there: then the new row is inserted
        if moved.rowcount == 1:
            added = []
    if gone:
        connection.execute(statements["delete_rows"], {"rows_gone": gone})
    if added:
        connection.execute(statements["add_row"], [{"version_num": row} for row in added])
    if step.up:
        connection.execute(statements["upsert_applied"], step.applied_values())
    else:
        connection.execute(statements["forget_applied"], {"revision": step.revision})
    connection.execute(statements["history"], step.history_values())
    if step.clear_mark:
        connection.execute(statements["clear_mark"], {"revision": step.revision})


def write_step(connection: Connection, step: StepWrite) -> None:
    """Write ``step``'s bookkeeping on ``connection``, in the caller's transaction."""
    if connection.dialect.name == "postgresql":
        _write_postgres(connection, step)
    else:
        _write_one_by_one(connection, step)
