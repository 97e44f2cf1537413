"""Throw-away databases of the configured dialect, for comparing models with migrations.

``makemigrations`` and ``check`` never compare against the developer's own database (it may
be behind); they build a scratch one by applying every revision. Where the user may not
create databases, ``scratch_url`` names an existing empty database (or schema) instead: it is
filled for the comparison and emptied again afterwards.

Builds here run their revisions without the guard (engine/run/guard.py: lock and statement
timeouts, the ladder, the pre-flight), and so do the pytest plugin's step-by-step checks
(memstack/testing/checks.py), which build the same way: a scratch database is made for one build
(a ``scratch_url`` one is reserved for memstack's builds, taken under the scratch lock) and nothing
else connects to it, so no session can hold a lock a step would wait for and no application
queues behind a step; the guard would only add work per step. Whatever runs revisions on a
database others use is guarded: ``migrate``/``rollback``, ``migrate_on_startup()``, plain
``alembic`` through memstack's env.py, and the plugin's ``MigrationRunner`` (it goes through
``migrate()``). tests/test_guard_executors.py checks both sides.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import QueuePool

from memstack.core.db import connection_reason, create_engine
from memstack.core.errors import MemstackError
from memstack.engine.errors import ScratchNotUsable, ScratchUnavailable
from memstack.engine.generate.leftovers import drop_leftovers, hold_scratch_lock, scratch_comment, scratch_name


@contextmanager
def scratch_engine(database_url: str, scratch_url: str | None = None) -> Iterator[Engine]:
    """A migration engine on an empty database like ``database_url``'s, dropped (or, for a
    given ``scratch_url``, emptied) afterwards."""
    if scratch_url:
        with _given_scratch(database_url, scratch_url) as engine:
            yield engine
        return
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="memstack-scratch-"))
        engine = throwaway_sqlite_engine(folder / "scratch.db")
        try:
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    with _created_scratch(database_url) as engine:
        yield engine


def throwaway_sqlite_engine(path: Path) -> Engine:
    """A migration engine on a SQLite file nobody needs after a crash: no fsync, no journal on disk.

    Every revision commits on its own, and a synced commit per revision was most of a scratch build.
    Dispose of it before copying or deleting the file.
    """

    # pooled: a build opens two connections per revision, each a new sqlite3 connection otherwise
    engine = create_engine(f"sqlite:///{path}", for_migrations=True, poolclass=QueuePool)

    @event.listens_for(engine, "connect")
    def _unsynced(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        dbapi_connection.execute("PRAGMA journal_mode=MEMORY")

    return engine


# one query for every table and its columns (tables without columns included), per dialect;
# the same tables the inspector lists: no views, no SQLite internals, only the default schema
_COLUMNS_SQL = {
    "sqlite": "SELECT m.name, p.name FROM sqlite_master AS m LEFT JOIN pragma_table_info(m.name) AS p "
              "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite~_%' ESCAPE '~'",
    "postgresql": "SELECT c.relname, a.attname FROM pg_catalog.pg_class AS c "
                  "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
                  "LEFT JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 "
                  "AND NOT a.attisdropped WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
    "mysql": "SELECT t.table_name, c.column_name FROM information_schema.tables AS t "
             "LEFT JOIN information_schema.columns AS c ON c.table_schema = t.table_schema "
             "AND c.table_name = t.table_name WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'",
}
_COLUMNS_SQL["mariadb"] = _COLUMNS_SQL["mysql"]


def _driver_rows(connection: Connection, sql: str, parameters: tuple[str, ...] = ()) -> list[Any]:
    """The driver's own rows (fetched in C: a scratch build asks after every revision)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters) if parameters else cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _grouped(rows: list[Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for table, column in rows:
        columns = found.setdefault(str(table), set())
        if column is not None:
            columns.add(str(column))
    return found


class SchemaWatcher:
    """The tables and columns of a database that revisions are changing, read again after each
    revision only where needed: on SQLite, the tables whose ``CREATE`` statement changed."""

    _SQLITE_TABLES = "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"

    def __init__(self) -> None:
        self.columns: dict[str, set[str]] = {}
        self._statements: dict[str, str] = {}

    def refresh(self, connection: Connection) -> tuple[dict[str, set[str] | None], set[str]]:
        """Read the schema again: ({changed or new table: its columns before, None when new}, dropped)."""
        if connection.dialect.name == "sqlite":
            statements = {str(name): str(sql) for name, sql in _driver_rows(connection, self._SQLITE_TABLES)}
            changed = [t for t, sql in statements.items() if self._statements.get(t) != sql]
            self._statements = statements
            now = {**{t: self.columns[t] for t in statements if t in self.columns}, **self._sqlite_columns(
                connection, changed)}
        else:
            now = table_columns(connection)
        before = self.columns
        self.columns = now
        differing = {t: before.get(t) for t, columns in now.items() if before.get(t) != columns}
        return differing, set(before) - set(now)

    @staticmethod
    def _sqlite_columns(connection: Connection, tables: list[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for start in range(0, len(tables), 500):  # within any SQLite's limit of bound parameters
            chunk = tuple(tables[start:start + 500])
            found.update(_grouped(_driver_rows(
                connection, "SELECT m.name, p.name FROM sqlite_master AS m LEFT JOIN pragma_table_info(m.name) AS p "
                f"WHERE m.name IN ({', '.join('?' for _ in chunk)})", chunk)))
        return {t: found.get(t, set()) for t in tables}


def table_columns(connection: Connection) -> dict[str, set[str]]:
    """{table: its column names} of the connection's default schema, in one round trip where the
    dialect allows (a scratch build asks after every revision: per-table reflection made it quadratic)."""
    sql = _COLUMNS_SQL.get(connection.dialect.name)
    if sql is None:
        inspector = inspect(connection)
        return {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
    return _grouped(_driver_rows(connection, sql))


@contextmanager
def _created_scratch(database_url: str) -> Iterator[Engine]:
    """``CREATE DATABASE memstack_scratch_<pid>_<time>_<hex>`` on the server of ``database_url``, dropped after.

    The build holds the scratch database's own lock on an admin session for as long as it
    lives (see :mod:`memstack.engine.generate.leftovers`); one left by a killed run has a free
    lock, and the next build drops it.
    """

    url = make_url(database_url)
    backend = url.get_backend_name()
    name = scratch_name()
    if backend == "postgresql":
        admin_url = url.set(database="postgres")
        create = [f'CREATE DATABASE "{name}"', f"COMMENT ON DATABASE \"{name}\" IS '{scratch_comment()}'"]
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    elif backend in ("mysql", "mariadb"):
        # URL.set(database=None) leaves the database as it is; only URL.create drops it
        admin_url = URL.create(url.drivername, url.username, url.password, url.host, url.port, query=url.query)
        create = [f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"]
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    else:
        raise MemstackError(f"no scratch database support for {backend}")
    admin = create_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        connection = admin.connect()
    except Exception as exc:
        admin.dispose()
        raise ScratchUnavailable(database_url, connection_reason(exc)) from exc
    try:
        drop_leftovers(connection)
        with hold_scratch_lock(connection, name):
            try:
                for statement in create:
                    connection.execute(text(statement))
            except Exception as exc:
                raise ScratchUnavailable(database_url, connection_reason(exc)) from exc
            engine = create_engine(url.set(database=name).render_as_string(hide_password=False), for_migrations=True)
            try:
                yield engine
            finally:
                engine.dispose()
                connection.execute(text(drop))
    finally:
        connection.close()
        admin.dispose()


@contextmanager
def _given_scratch(database_url: str, scratch_url: str) -> Iterator[Engine]:
    """The existing empty database of ``scratch_url``; whatever the comparison created is dropped after."""
    want, got = make_url(database_url).get_backend_name(), make_url(scratch_url).get_backend_name()
    if want != got:
        raise ScratchNotUsable(scratch_url, f"is {got}, but the database is {want}: the comparison must run "
                               "on the same kind of database")
    engine = create_engine(scratch_url, for_migrations=True)
    try:
        try:
            with engine.connect() as connection:
                existing = inspect(connection).get_table_names()
        except Exception as exc:
            raise ScratchNotUsable(scratch_url, f"cannot be used: {connection_reason(exc)}") from exc
        if existing:
            shown = ", ".join(sorted(existing)[:5]) + (", ..." if len(existing) > 5 else "")
            raise ScratchNotUsable(scratch_url, f"is not empty: it has {len(existing)} table(s) ({shown})")
        try:
            yield engine
        finally:
            _empty(engine)
    finally:
        engine.dispose()


def _empty(engine: Engine) -> None:
    """Drop every table (and, on PostgreSQL, every enum type) the comparison created."""
    metadata = MetaData()
    with engine.begin() as connection:
        metadata.reflect(connection)
        metadata.drop_all(connection)
        if connection.dialect.name == "postgresql":
            inspector: Any = inspect(connection)  # a PGInspector: it lists enum types
            for enum in inspector.get_enums():
                connection.execute(text(f'DROP TYPE IF EXISTS "{enum["name"]}"'))
