"""The shared ``MetaData`` (with PostgreSQL's own constraint names), column types, engines.

Every component declares its tables on :data:`metadata` through :class:`Base`, so one
autogenerate comparison and one naming convention serve them all.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine

from memstack.core.errors import DatabaseUnavailable
from memstack.core.heartbeat import Heartbeat
from memstack.core.network import apply_session_settings, client_connect_args, end_handshake_bound
from memstack.core.redaction import mask_url, redact
from memstack.core.urls import refuse_missing_sqlite_folder

if TYPE_CHECKING:
    from memstack.core.networksettings import NetworkSettings

__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "DatabaseUnavailable",
    "connection_reason",
    "create_engine",
    "database_unavailable",
    "fk",
    "id_column",
    "json",
    "mask_url",
    "metadata",
    "network_from_environment",
    "new_id",
    "string",
    "timestamp",
]

#: PostgreSQL's default names, so databases built by the old ``create_all`` already match.
NAMING_CONVENTION: dict[str, str] = {
    "pk": "%(table_name)s_pkey",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ix": "ix_%(column_0_label)s",
    "ck": "%(table_name)s_%(constraint_name)s_check",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        """Declarative base of every component's models."""
        metadata = metadata

else:
    import threading

    _base_lock = threading.Lock()

    def __getattr__(name: str) -> Any:
        """``Base`` is made on first use: importing the ORM costs ~60 ms that engines and the
        no-op ``migrate`` never need (only models and sessions do). One class, even when two
        threads ask at once."""
        if name != "Base":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        with _base_lock:
            if "Base" not in globals():
                from sqlalchemy.orm import DeclarativeBase

                globals()["Base"] = type("Base", (DeclarativeBase,), {
                    "__module__": __name__, "__qualname__": "Base", "metadata": metadata,
                    "__doc__": "Declarative base of every component's models."})
        return globals()["Base"]


_MYSQL = ("mysql", "mariadb")


def string(mysql_length: int = 255) -> TypeEngine[str]:
    """``VARCHAR`` without a length on PostgreSQL and SQLite; MariaDB needs one.

    Key columns of composite indexes use shorter lengths so index keys stay within
    MariaDB's 3072 bytes (utf8mb4: 4 bytes a character).
    """
    variant = String(mysql_length)
    return String().with_variant(variant, *_MYSQL)


def json() -> TypeEngine[Any]:
    """``JSON`` everywhere (PostgreSQL ``JSON``, MariaDB ``LONGTEXT`` with a JSON check, SQLite text)."""
    return JSON()


def timestamp() -> DateTime:
    return DateTime(timezone=True)


def new_id() -> str:
    """A primary key: a UUID in text form."""
    return str(uuid.uuid4())


def id_column() -> Any:
    """The ``id`` primary key every MemStack table has (``VARCHAR(64)`` on MariaDB)."""
    from sqlalchemy.orm import mapped_column  # lazy: kept off the no-op path and --help

    return mapped_column(string(64), primary_key=True, default=new_id)


def fk(target: str, *, nullable: bool) -> Any:
    """A ``VARCHAR`` foreign key column to ``target`` (``table.id``)."""
    from sqlalchemy import ForeignKey  # lazy: kept off the no-op path and --help
    from sqlalchemy.orm import mapped_column  # lazy: kept off the no-op path and --help

    return mapped_column(string(64), ForeignKey(target), nullable=nullable)


def create_engine(url: str, *, for_migrations: bool = False, network: NetworkSettings | None = None,
                  **kwargs: Any) -> Engine:
    """An engine for ``url`` (already normalized by settings).

    ``for_migrations`` makes SQLite transactional for DDL: pysqlite's own transaction handling
    is switched off, ``BEGIN`` is emitted by us, and foreign keys are off while tables are
    rebuilt (the executor runs ``PRAGMA foreign_key_check`` before committing).

    Every server engine gets the client-side network bounds of ``network`` (connect timeout,
    TCP keepalives, user timeout; see :mod:`memstack.core.network`); a migration engine also
    sets the per-session server bounds on each new connection and watches long statements
    with a :class:`~memstack.core.heartbeat.Heartbeat`. ``network`` None: the ``MEMSTACK_*``
    environment variables over the defaults (a caller holding settings passes theirs, so the
    ``.env`` file and ``[tool.memstack]`` count too). Connect arguments in the URL's query or
    ``connect_args`` win over these.
    """
    from sqlalchemy import create_engine as sa_create_engine  # lazy: kept off the no-op path and --help
    from sqlalchemy.engine import make_url  # lazy: kept off the no-op path and --help
    from sqlalchemy.pool import NullPool, StaticPool  # lazy: kept off the no-op path and --help

    from memstack.core.urloptions import check_url_options  # lazy: kept off the no-op path and --help

    check_url_options(url)
    backend = ""
    given: set[str] = set()  # connect arguments the URL's query and ``connect_args`` set
    if url.startswith("sqlite"):
        refuse_missing_sqlite_folder(url)
        in_memory = url in ("sqlite://", "sqlite:///:memory:") or url.startswith(("sqlite:///:memory:?", "sqlite://?"))
        # one shared connection keeps an in-memory database alive across steps; files need no pool
        kwargs.setdefault("poolclass", StaticPool if in_memory else NullPool)
    else:
        backend = make_url(url).get_backend_name()
        if network is None:
            network = network_from_environment()
        connect_args = kwargs.setdefault("connect_args", {})
        if backend == "postgresql" and "application_name" not in url:
            connect_args.setdefault("application_name", "memstack")
        given = {*make_url(url).query, *connect_args}  # (before ours are added)
        connect_args.update(client_connect_args(backend, network, given))
    engine = sa_create_engine(url, **kwargs)
    if backend in ("mysql", "mariadb") and network is not None and "read_timeout" not in given:
        _lift_handshake_bound(engine, network)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, for_migrations=for_migrations)
    elif for_migrations and network is not None and engine.dialect.name in ("postgresql", "mysql", "mariadb"):
        _bound_sessions(engine, network)
    if for_migrations and engine.dialect.driver == "psycopg" and "prepare_threshold" not in given:
        _no_automatic_prepare(engine)
    return engine


def _no_automatic_prepare(engine: Engine) -> None:
    """psycopg prepares a statement the fifth time it runs; a migration's ALTER and DROP make it drop
    its prepared statements again (a DEALLOCATE and a new PREPARE a step): in a migration session
    preparing is only churn. ``prepare_threshold`` in ``connect_args`` wins."""
    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.prepare_threshold = None


def network_from_environment() -> NetworkSettings:
    """The network bounds from ``MEMSTACK_*`` variables over the defaults (no project needed)."""
    import os  # lazy: kept off the no-op path and --help

    from memstack.core.networksettings import network_settings  # lazy: kept off the no-op path and --help

    return network_settings(os.environ, {})


def _lift_handshake_bound(engine: Engine, network: NetworkSettings) -> None:
    @event.listens_for(engine, "connect", insert=True)  # first: the session settings' SET may run long
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        end_handshake_bound(dbapi_connection, network)


def _bound_sessions(engine: Engine, network: NetworkSettings) -> None:
    """Per-session server bounds on every new connection, and the heartbeat on long statements."""
    from sqlalchemy.exc import OperationalError  # lazy: kept off the no-op path and --help

    backend = engine.dialect.name

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        apply_session_settings(dbapi_connection, backend, network)

    if not network.keepalives:
        return
    heartbeat = Heartbeat(engine, network)

    @event.listens_for(engine, "before_cursor_execute")
    def _started(connection: Any, *_: Any) -> None:
        heartbeat.started(connection.connection.dbapi_connection)

    @event.listens_for(engine, "after_cursor_execute")
    def _finished(connection: Any, *_: Any) -> None:
        heartbeat.finished(connection.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        connection = context.connection
        if connection is not None and not connection.closed:
            try:
                heartbeat.finished(connection.connection.dbapi_connection)
            except Exception:
                pass
        if heartbeat.silent is not None:
            context.is_disconnect = True
            raise OperationalError(context.statement, context.parameters, heartbeat.silent,
                                   connection_invalidated=True)

    if backend == "postgresql":  # psycopg connections may be used from two threads; PyMySQL's may not

        @event.listens_for(engine, "checkout")
        def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            if dbapi_connection.info.server_version >= 140000:
                heartbeat.checked_out(dbapi_connection)

        @event.listens_for(engine, "checkin")
        def _checkin(dbapi_connection: Any, _record: Any) -> None:
            if dbapi_connection is not None:
                heartbeat.checked_in(dbapi_connection)

    @event.listens_for(engine, "engine_disposed")
    def _disposed(_engine: Any) -> None:
        heartbeat.stop()


def _configure_sqlite(engine: Engine, *, for_migrations: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if for_migrations:
            dbapi_connection.isolation_level = None
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        else:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    if for_migrations:

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            options = connection.get_execution_options()
            if options.get("isolation_level") == "AUTOCOMMIT":  # Alembic's autocommit_block(): no BEGIN
                return
            connection.exec_driver_sql(options.get("sqlite_begin", "BEGIN"))


# --------------------------------------------------------------------------- connection errors


def connection_reason(exc: BaseException) -> str:
    """The first line of what the driver said, with any password in it masked."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if reason.strip() == "connection timeout expired":  # libpq's words: say which bound ran out
        reason += " (no answer within connect_timeout; MEMSTACK_CONNECT_TIMEOUT changes it)"
    return redact(mask_url(reason))


def not_a_database(exc: BaseException) -> bool:
    """True for SQLite's "file is not a database" (a DatabaseError, not an OperationalError): the
    URL names a file that is something else, which no retry or privilege fixes."""
    orig = getattr(exc, "orig", None)
    return orig is not None and "sqlite" in type(orig).__module__ and "file is not a database" in str(orig)


def database_unavailable(exc: BaseException, url: str, *, doing: str = "use") -> DatabaseUnavailable:
    """The one translation of a SQLAlchemy connection error: the URL and the reason always masked."""
    return DatabaseUnavailable(mask_url(url), connection_reason(exc), doing=doing)


# --------------------------------------------------------------------------- whole databases


def server_url(url: str) -> tuple[str, str, str]:
    """(URL of the server's maintenance database, database name, backend) for ``url``."""
    from sqlalchemy.engine import URL, make_url  # lazy: kept off the no-op path and --help

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(database="postgres").render_as_string(hide_password=False), parsed.database or "", backend
    # URL.set(database=None) leaves the database as it is; only URL.create drops it
    server = URL.create(parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port,
                        query=parsed.query)
    return server.render_as_string(hide_password=False), parsed.database or "", backend


def database_exists(url: str) -> bool:
    """Whether ``url``'s database exists (asked of the server's maintenance database; SQLite: the file)."""
    from pathlib import Path  # lazy: kept off the no-op path and --help

    from sqlalchemy import text  # lazy: kept off the no-op path and --help
    from sqlalchemy.engine import make_url  # lazy: kept off the no-op path and --help

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return not parsed.database or parsed.database == ":memory:" or Path(parsed.database).is_file()
    admin, name, _ = server_url(url)
    engine = create_engine(admin)
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                query = text("SELECT 1 FROM pg_database WHERE datname = :n")
            else:
                query = text("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n")
            return connection.execute(query, {"n": name}).first() is not None
    finally:
        engine.dispose()
