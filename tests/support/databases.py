"""Throw-away databases on the test servers, and the plain SQL the tests use to look and poke.

The fixtures in ``conftest.py`` are thin wrappers around these helpers; a test that needs a
second database can use :func:`temporary_database` directly::

    from support.databases import temporary_database

    with temporary_database("postgres") as other_url:
        ...

Servers:

* PostgreSQL: ``MEMSTACK_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``)
* MariaDB: ``MEMSTACK_TEST_MARIADB_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/?ssl_disabled=true``)

A server that cannot be reached skips the tests that need it, or fails them when
``MEMSTACK_REQUIRE_SERVERS=1`` (CI). Reachability is checked once per test session.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from memstack.core.settings import mask_url

CONNECT_TIMEOUT = 15  # seconds; a dead server must not stall the suite, a loaded one must not fail it
DATABASE_PREFIX = "memstack_t_"


@dataclass(frozen=True)
class Server:
    kind: str  # "postgres" | "mariadb"
    title: str  # as shown in messages
    env_var: str
    default_url: str
    driver: str  # the driver memstack uses for schema work

    @property
    def url(self) -> URL:
        """The server URL (from the environment), with memstack's synchronous driver."""
        url = make_url(os.environ.get(self.env_var) or self.default_url)
        return url.set(drivername=self.driver)

    @property
    def masked_url(self) -> str:
        return mask_url(self.url.render_as_string(hide_password=False))


SERVERS: dict[str, Server] = {
    "postgres": Server(
        "postgres", "PostgreSQL", "MEMSTACK_TEST_POSTGRES_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", "postgresql+psycopg",
    ),
    "mariadb": Server(
        "mariadb", "MariaDB", "MEMSTACK_TEST_MARIADB_URL",
        # TLS off: PyMySQL >= 1.2 builds a TLS context (loading the system's CA bundle, ~15 ms of CPU)
        # for every connection in its default "preferred" mode, even to a server without TLS as here;
        # the suite's thousands of connections spent over a minute on it
        "mysql+pymysql://root@127.0.0.1:3306/?ssl_disabled=true", "mysql+pymysql",
    ),
}

# kind -> None (reachable) or the connection error; filled once per session
_reachability: dict[str, str | None] = {}


def require_servers() -> bool:
    """True when an unreachable server is a failure rather than a skip (CI sets it)."""
    return os.environ.get("MEMSTACK_REQUIRE_SERVERS", "").strip().lower() in ("1", "true", "yes", "on")


def _admin_engine(server: Server, *, probe: bool = False) -> Engine:
    """An autocommit engine without a pool (CREATE/DROP DATABASE cannot run in a transaction).

    ``probe``: also time out reads, so a half-open port cannot stall the reachability check.
    """
    connect_args: dict[str, int] = {"connect_timeout": CONNECT_TIMEOUT}
    if probe and server.kind == "mariadb":
        connect_args["read_timeout"] = CONNECT_TIMEOUT
    return create_engine(server.url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args)


def unreachable_reason(kind: str) -> str | None:
    """Why the server cannot be used (None when it can); checked once per session."""
    if kind not in _reachability:
        server = SERVERS[kind]
        try:
            engine = _admin_engine(server, probe=True)
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            finally:
                engine.dispose()
        except Exception as exc:  # any failure to connect means "not reachable"
            first_line = (str(exc).strip().splitlines() or [""])[0]
            _reachability[kind] = f"{type(exc).__name__}: {first_line}"
        else:
            _reachability[kind] = None
    return _reachability[kind]


def require_server(kind: str) -> Server:
    """The server, or skip the test (fail it under MEMSTACK_REQUIRE_SERVERS=1)."""
    server = SERVERS[kind]
    reason = unreachable_reason(kind)
    if reason is not None:
        message = f"{server.title} not reachable at {server.masked_url}: start it or set {server.env_var}"
        if require_servers():
            pytest.fail(f"{message} (MEMSTACK_REQUIRE_SERVERS=1; {mask_url(reason)})", pytrace=False)
        pytest.skip(message)
    return server


def create_database(kind: str, template: str | None = None) -> str:
    """A new empty database ``memstack_t_<hex>`` on the server; returns its URL (password included).

    ``template`` (PostgreSQL only): the name of a database to copy instead (``CREATE DATABASE ...
    TEMPLATE``, a copy of its files: no connection to it may be open meanwhile).
    """
    server = require_server(kind)
    name = DATABASE_PREFIX + secrets.token_hex(6)
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            if kind == "postgres":
                conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
            else:
                conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    finally:
        engine.dispose()
    return server.url.set(database=name).render_as_string(hide_password=False)


def drop_database(kind: str, url: str) -> None:
    """Drop the database of ``url``, even while something still holds a connection to it."""
    server = SERVERS[kind]
    name = make_url(url).database
    assert name and name.startswith(DATABASE_PREFIX), f"refusing to drop {name!r}"
    engine = _admin_engine(server)
    try:
        with engine.connect() as conn:
            if kind == "postgres":
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                # a leaked connection holding a metadata lock would block DROP DATABASE
                ids = conn.execute(
                    text("SELECT id FROM information_schema.processlist WHERE db = :db AND id <> CONNECTION_ID()"),
                    {"db": name},
                ).scalars().all()
                for session_id in ids:
                    with contextlib.suppress(Exception):  # it may have ended meanwhile
                        conn.execute(text(f"KILL {int(session_id)}"))
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    finally:
        engine.dispose()


def close_sessions(url: str) -> None:
    """End every other session on the PostgreSQL database of ``url`` (so that it can serve as a template)."""
    name = make_url(url).database
    engine = _admin_engine(SERVERS["postgres"])
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": name})
    finally:
        engine.dispose()


@contextlib.contextmanager
def temporary_database(kind: str, template: str | None = None) -> Iterator[str]:
    """``create_database`` ... ``drop_database``, for tests that need more than one database."""
    url = create_database(kind, template)
    try:
        yield url
    finally:
        drop_database(kind, url)


def sqlite_url_for(folder: Path, name: str = "test.db") -> str:
    """``sqlite:///<folder>/<name>`` with an absolute path (the file need not exist)."""
    return f"sqlite:///{(folder / name).resolve().as_posix()}"


def backend_of(url: str) -> str:
    """``sqlite``, ``postgres`` or ``mariadb``: the fixture kind a URL belongs to."""
    return "sqlite" if url.startswith("sqlite") else "postgres" if url.startswith("postgres") else "mariadb"


@contextlib.contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A connection without a pool, so nothing stays open on the server after the block."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def execute(url: str, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Run ``statements`` in one committed transaction (``params`` bound to each)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), params or {})
    finally:
        engine.dispose()


def query(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of one SELECT, as dicts."""
    with connect(url) as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]
