"""memstack's tables: their schema and every statement that writes them (no other module does).

``alembic_version`` keeps Alembic's layout (its rows: the applied revisions no other applied one
builds on), so plain ``alembic`` keeps working. memstack's own tables belong to no component and
have a schema version of their own: ``memstack_history`` (one row per event), ``memstack_applied``
(applied revisions, checksums), ``memstack_marks`` ("running" marks of steps whose DDL is not
transactional), ``memstack_tags`` (named snapshots), ``memstack_meta`` (schema version, no-op digest).
Every path (:class:`Recorder`, :func:`write_step`, plain alembic, --sql, start-up) writes here; reading: status."""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import os
import socket
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, func, insert, inspect, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ClauseElement, Executable

from memstack import __version__
from memstack.engine.errors import CorruptRecords
from memstack.engine.records.prepared import execute_once_prepared

VERSION_TABLE = "alembic_version"
BOOKKEEPING_SCHEMA_VERSION = 3
DIGEST_KEY = "noop_fingerprint"  # memstack_meta's row holding the no-op digest (records/status.py)

bookkeeping_metadata = sa.MetaData()

version_table = sa.Table(
    VERSION_TABLE, sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
meta_table = sa.Table(
    "memstack_meta", bookkeeping_metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)
history_table = sa.Table(
    "memstack_history", bookkeeping_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("component", sa.String(64), nullable=False),
    sa.Column("revision", sa.String(32), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(4), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("checksum", sa.String(64), nullable=True),
    sa.Column("os_user", sa.String(128), nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("memstack_version", sa.String(32), nullable=True),
    sa.Column("source", sa.String(16), nullable=False, default="memstack"),
    sa.Column("fleet_run", sa.String(36), nullable=True),  # 3: the fleet run (migrate --targets) that wrote it
)
applied_table = sa.Table(
    "memstack_applied", bookkeeping_metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("component", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("checksum", sa.String(64), nullable=True),
    sa.Column("verified", sa.Boolean, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)
marks_table = sa.Table(
    "memstack_marks", bookkeeping_metadata,
    sa.Column("revision", sa.String(32), primary_key=True),
    sa.Column("component", sa.String(64), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(4), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # running | failed
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("os_user", sa.String(128), nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
)
tags_table = sa.Table(
    "memstack_tags", bookkeeping_metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.Text, nullable=False),  # JSON: {component: [applied head ids]}
    sa.Column("os_user", sa.String(128), nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)  # the time every row carries


@functools.cache
def who() -> tuple[str, str]:
    """(OS user, host) for history rows (looked up once per process)."""
    import getpass  # (with termios: not on the no-op path, which writes nothing)
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return user, socket.gethostname()


def history_row(*, event: str, component: str, revision: str, name: str, direction: str, started_at: Any,
                finished_at: Any, duration_ms: Any, success: bool = True, error: str | None = None,
                note: str | None = None, checksum: Any = None, source: str = "memstack",
                fleet_run: str | None = None) -> dict[str, Any]:
    """Every column of one history row: the one place a row is made, whatever writes it."""
    user, host = who()
    return {"event": event, "component": component, "revision": revision, "name": name, "direction": direction,
            "started_at": started_at, "finished_at": finished_at, "duration_ms": duration_ms, "success": success,
            "error": error[:4000] if error else None, "note": note[:4000] if note else None, "checksum": checksum,
            "os_user": user, "host": host, "memstack_version": __version__, "source": source, "fleet_run": fleet_run}


def ensure_bookkeeping(connection: Connection, existing: Collection[str] | None = None) -> None:
    """Create memstack's own tables, or upgrade them; ``existing``: table names known (saves an inspection)."""
    existing = set(inspect(connection).get_table_names()) if existing is None else existing
    if not all(t in existing for t in bookkeeping_metadata.tables):
        bookkeeping_metadata.create_all(connection, checkfirst=True)
        if "memstack_meta" in existing:  # some tables existed: bring the old ones up to date too
            upgrade_bookkeeping(connection)
        _put_meta(connection, "schema_version", str(BOOKKEEPING_SCHEMA_VERSION))
        return
    upgrade_bookkeeping(connection)


def schema_version(connection: Connection) -> int:
    value = connection.execute(select(meta_table.c.value).where(meta_table.c.key == "schema_version")).scalar()
    if not value or str(value).isdigit():  # (anything else is a hand edit: refused, never a guessed upgrade)
        return int(value) if value else 1
    raise CorruptRecords(meta_table.name, f"schema_version {value!r} is not a number")


def _put_meta(connection: Connection, key: str, value: str) -> None:
    connection.execute(delete(meta_table).where(meta_table.c.key == key))
    connection.execute(insert(meta_table).values(key=key, value=value))


def upgrade_bookkeeping(connection: Connection) -> None:
    """Upgrade steps of memstack's own tables, by schema version (never by a component)."""
    version = schema_version(connection)
    columns = {c["name"] for c in inspect(connection).get_columns(history_table.name)} if version < 3 else set()
    if version < 2 and "note" not in columns:
        connection.exec_driver_sql("ALTER TABLE memstack_history ADD COLUMN note TEXT")  # 2: history.note
    if version < 3 and "fleet_run" not in columns:  # 3: history.fleet_run
        connection.exec_driver_sql("ALTER TABLE memstack_history ADD COLUMN fleet_run VARCHAR(36)")
    if version < BOOKKEEPING_SCHEMA_VERSION:
        _put_meta(connection, "schema_version", str(BOOKKEEPING_SCHEMA_VERSION))


def touch_meta(connection: Connection) -> None:
    """A write that changes nothing, so the transaction's commit writes (and, when synchronous, flushes) WAL."""
    touched = connection.execute(update(meta_table).where(meta_table.c.key == "schema_version")
                                 .values(value=meta_table.c.value))
    if not touched.rowcount:  # no version row (an old database): a row added and removed writes WAL too
        connection.execute(insert(meta_table).values(key="memstack_flush", value="-"))
        connection.execute(delete(meta_table).where(meta_table.c.key == "memstack_flush"))


def setup_statements(existing: Collection[str]) -> list[ClauseElement]:
    """What creates the version and bookkeeping tables a database lacks (``--sql`` scripts)."""
    from sqlalchemy.schema import CreateTable  # (only --sql scripts create tables as text)

    setup: list[ClauseElement] = [] if VERSION_TABLE in existing else [CreateTable(version_table)]
    missing = [t for t in bookkeeping_metadata.sorted_tables if t.name not in existing]
    setup += [CreateTable(table) for table in missing]
    if meta_table in missing:
        setup.append(insert(meta_table).values(key="schema_version", value=str(BOOKKEEPING_SCHEMA_VERSION)))
    return setup


def offline_statements(marked: Callable[[str], str]) -> dict[str, ClauseElement]:
    """A step's writes in a ``--sql`` script: ``marked(name)`` stands where each value goes (filled in
    per step by the script's writer); times come from the database's clock, rows say ``source`` sql."""
    now = func.current_timestamp()
    names: dict[str, Any] = {key: marked(key) for key in ("revision", "component", "name", "checksum")}
    return {
        "delete_rows": delete(version_table).where(version_table.c.version_num.in_([marked("rows")])),
        "add_row": insert(version_table).values(version_num=marked("row")),
        "record_applied": insert(applied_table).values(**names, verified=True, applied_at=now),
        "forget_applied": delete(applied_table).where(applied_table.c.revision == names["revision"]),
        "history": insert(history_table).inline().values(history_row(
            **names, event=marked("event"), direction=marked("direction"), started_at=now, finished_at=now,
            duration_ms=literal(None), source="sql")),
    }


class Recorder:
    """Writes memstack's rows on one connection; the caller owns the transaction."""
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._tables: set[str] | None = None

    def bound_to(self, connection: Connection) -> Recorder:
        """This recorder on another connection, knowing the tables already found (no new inspection)."""
        other, other._tables = Recorder(connection), set(self.tables())
        return other

    def tables(self) -> set[str]:
        """The tables of the database (inspected once)."""
        if self._tables is None:
            self._tables = set(inspect(self.connection).get_table_names())
        return self._tables

    def has_bookkeeping(self) -> bool:
        return "memstack_history" in self.tables()

    def ensure_version_table(self) -> None:
        if VERSION_TABLE not in self.tables():
            version_table.create(self.connection, checkfirst=True)
            self._tables = None

    def ensure_bookkeeping(self) -> None:
        """Create or upgrade memstack's own tables (see :func:`ensure_bookkeeping`)."""
        ensure_bookkeeping(self.connection, self.tables())
        self._tables = None

    def replace_rows(self, old: Iterable[str], new: Iterable[str]) -> None:
        """Move the version rows from ``old`` to ``new`` (only the difference is written)."""
        old_set, new_set = set(old), set(new)
        self.move_rows(old_set - new_set, new_set - old_set)

    def move_rows(self, gone: Iterable[str], added: Iterable[str]) -> None:
        """Write a row change; one row replaced by another is one UPDATE, as Alembic does."""
        run, statements = self.connection.execute, _statements(self.connection.dialect.name)
        gone_rows, added_rows = sorted(gone), sorted(added)
        if len(gone_rows) == 1 and len(added_rows) == 1:
            moved = run(statements["replace_row"], {"row_old": gone_rows[0], "row_new": added_rows[0]})
            gone_rows, added_rows = [], [] if moved.rowcount == 1 else added_rows  # not there: insert the new row
        if gone_rows:
            run(statements["delete_rows"], {"rows_gone": gone_rows})
        if added_rows:
            run(statements["add_row"], [{"version_num": row} for row in added_rows])

    def add_history(self, *, finished_at: dt.datetime | None = None, **fields: Any) -> None:
        """One history row; ``fields`` as :func:`history_row` takes them."""
        self.connection.execute(_statements(self.connection.dialect.name)["history"],
                                history_row(finished_at=finished_at or utcnow(), **fields))

    def record_applied(self, revision: str, component: str, name: str, checksum: str | None,
                       *, verified: bool = True) -> None:
        values = {"revision": revision, "component": component, "name": name, "checksum": checksum,
                  "verified": verified, "applied_at": utcnow()}
        self.connection.execute(_statements(self.connection.dialect.name)["upsert_applied"], values)

    def forget_applied(self, revisions: Iterable[str]) -> None:
        ids = sorted(set(revisions))
        if ids:
            self.connection.execute(delete(applied_table).where(applied_table.c.revision.in_(ids)))

    def update_checksum(self, revision: str, checksum: str, *, verified: bool = True) -> None:
        self.connection.execute(update(applied_table).where(applied_table.c.revision == revision)
                                .values(checksum=checksum, verified=verified))

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
        if "memstack_marks" in self.tables():
            query, marked = delete(marks_table), marks_table.c.revision
            self.connection.execute(query if revisions is None else query.where(marked.in_(sorted(set(revisions)))))

    def save_tag(self, name: str, state: Mapping[str, list[str]]) -> None:
        user, host = who()
        self.connection.execute(insert(tags_table).values(
            name=name, created_at=utcnow(), state=json.dumps(dict(state), sort_keys=True), os_user=user, host=host))

    def delete_tag(self, name: str) -> bool:
        return bool(self.connection.execute(delete(tags_table).where(tags_table.c.name == name)).rowcount)

    def store_digest(self, value: str) -> None:
        """Remember the no-op digest (computed in :mod:`memstack.engine.records.status`)."""
        _put_meta(self.connection, DIGEST_KEY, value)


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
    durable: bool = True  # False: PostgreSQL may commit it without waiting for the disk (see the executor)
    fleet_run: str | None = None  # the fleet run's id (migrate --targets), in the same transaction as the step


def write_step(connection: Connection, step: StepWrite, *,
               ask: tuple[str, Mapping[str, object]] | None = None) -> bool | None:
    """Write ``step``'s bookkeeping on ``connection``, in the caller's transaction: on PostgreSQL one
    data-modifying ``WITH`` (one round trip), elsewhere prebuilt statements one after another.
    ``ask``: one more SQL boolean (pyformat, its parameters; the step's lock fence) that the
    PostgreSQL statement answers in the same round trip; returned (None: not asked, or not carried)."""
    up, one = step.direction == "up", len(step.gone) == 1 and len(step.added) == 1
    history = history_row(event=step.event, component=step.component, revision=step.revision, name=step.name,
                          direction=step.direction, started_at=step.started_at, finished_at=step.finished_at,
                          duration_ms=step.duration_ms, checksum=step.checksum, fleet_run=step.fleet_run)
    applied = {"revision": step.revision, "component": step.component, "name": step.name,
               "checksum": step.checksum, "verified": True, "applied_at": step.finished_at}
    if connection.dialect.name == "postgresql":
        params = {**history, **applied}
        params.update({"row_old": step.gone[0], "row_new": step.added[0]} if one else
                      {"rows_gone": list(step.gone), "rows_added": list(step.added)})
        statement = _postgres_statement(one, bool(step.gone) and not one, bool(step.added) and not one,
                                        up, step.clear_mark, step.durable)
        params.update(ask[1] if ask else {})
        row = execute_once_prepared(connection, f"{statement}, ({ask[0]})" if ask else statement, params)
        return bool(row[-1]) if ask else None
    statements = _statements(connection.dialect.name)
    Recorder(connection).move_rows(step.gone, step.added)
    if up:
        connection.execute(statements["upsert_applied"], applied)
    else:
        connection.execute(statements["forget_applied"], {"revision": step.revision})
    connection.execute(statements["history"], history)
    if step.clear_mark:
        connection.execute(statements["clear_mark"], {"revision": step.revision})
    return None


@functools.cache
def _statements(dialect_name: str) -> dict[str, Executable]:
    """The statements written most, built once (SQLAlchemy then compiles each once per process)."""
    row, changed = version_table.c.version_num, [c.name for c in applied_table.columns if c.name != "revision"]
    own = dialect_name if dialect_name in ("postgresql", "sqlite") else "mysql"  # (MariaDB: mysql's insert)
    upsert = importlib.import_module(f"sqlalchemy.dialects.{own}").insert(applied_table)  # (only when used)
    if own != "mysql":  # the same ON CONFLICT clause in both dialects' insert
        upsert_applied = upsert.on_conflict_do_update(index_elements=[applied_table.c.revision],
                                                      set_={name: upsert.excluded[name] for name in changed})
    else:
        upsert_applied = upsert.on_duplicate_key_update({name: upsert.inserted[name] for name in changed})
    return {
        "replace_row": update(version_table).where(row == bindparam("row_old")).values(
            version_num=bindparam("row_new")),
        "delete_rows": delete(version_table).where(row.in_(bindparam("rows_gone", expanding=True))),
        "add_row": insert(version_table),
        "upsert_applied": upsert_applied,  # replaces any row of the same revision: one round trip
        "forget_applied": delete(applied_table).where(applied_table.c.revision == bindparam("revision")),
        "clear_mark": delete(marks_table).where(marks_table.c.revision == bindparam("revision")),
        "history": insert(history_table),
    }


def _pg_insert(table: sa.Table) -> str:
    """``INSERT INTO table (every column but a serial id) VALUES (%(column)s, ...)``, from the table itself."""
    names = [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(f'%({n})s' for n in names)})"


@functools.cache
def _postgres_statement(replace_one: bool, delete_rows: bool, add_rows: bool, up: bool, clear_mark: bool,
                        durable: bool) -> str:
    """The statement for one shape of step (a handful of shapes, so psycopg can prepare each)."""
    version, applied, marks = version_table.name, applied_table.name, marks_table.name
    parts = []
    if replace_one:  # an UPDATE, as Alembic writes it; a missing old row: INSERT
        parts.append(f"moved AS (UPDATE {version} SET version_num = %(row_new)s WHERE version_num = %(row_old)s "
                     f"RETURNING 1), inserted AS (INSERT INTO {version} (version_num) SELECT %(row_new)s "
                     "WHERE NOT EXISTS (SELECT 1 FROM moved))")
    if delete_rows:
        parts.append(f"gone AS (DELETE FROM {version} WHERE version_num = ANY(%(rows_gone)s::varchar[]))")
    if add_rows:
        parts.append(f"added AS (INSERT INTO {version} (version_num) SELECT unnest(%(rows_added)s::varchar[]))")
    if up:
        changed = ", ".join(f"{c.name} = EXCLUDED.{c.name}" for c in applied_table.columns if c.name != "revision")
        parts.append(f"applied AS ({_pg_insert(applied_table)} ON CONFLICT (revision) DO UPDATE SET {changed})")
    else:
        parts.append(f"forgotten AS (DELETE FROM {applied} WHERE revision = %(revision)s)")
    if clear_mark:
        parts.append(f"unmarked AS (DELETE FROM {marks} WHERE revision = %(revision)s)")
    parts.append(f"history AS ({_pg_insert(history_table)})")
    outer = "SELECT 1" if durable else "SELECT set_config('synchronous_commit', 'off', true)"  # SET LOCAL
    return "WITH " + ", ".join(parts) + " " + outer
