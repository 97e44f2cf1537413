"""One migration lock per database, that cannot outlive its process, nor be lost unnoticed.

* PostgreSQL: a session-level advisory lock on a dedicated connection (released when the
  connection closes, so when the process dies). Needs a direct connection: a transaction-
  pooling proxy (PgBouncer in transaction mode) would hand the session to others.
* MariaDB/MySQL: ``GET_LOCK`` on a dedicated connection (also released with the connection),
  named ``memstack:`` + a SHA-256 prefix of the database name (lock names hold 64 characters;
  cutting the name made databases with a long common prefix share one lock).
* SQLite: an OS lock (``flock``/``msvcrt``) on ``<database>.lock`` beside the file; the
  kernel drops it when the process dies.

A held lock can still be lost: an administrator kills the session (``pg_terminate_backend``,
``KILL``), a proxy or the network drops it, someone deletes the lock file. The holder
registers a :class:`HeldLock` for its engine; :func:`verify_held` (the executor calls it
before every step) raises :class:`LockLost` so no further step starts. On PostgreSQL and
MariaDB the check reads the lock session's socket first: a session that ended says so there,
so a quiet socket spares the round trip (at most for :data:`REPROBE_SECONDS`).

:func:`lock_holder` names the holder without taking the lock (``doctor``, ``check
--database``), so a concurrent ``migrate --lock-timeout 0`` is never refused because of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sqlalchemy import text

from memstack.core.errors import MemstackError
from memstack.core.heartbeat import idle_session_bound
from memstack.engine.errors import LockFileUnusable, LockLost, LockTimeout
from memstack.engine.run.fencing import (
    HeldLock,
    PostgresFence,
    held_for,
    lock_scope,
    registered,
    wait_for_previous_step,
)
from memstack.engine.run.lockfile import describe_file_holder, file_holder, file_probe, sqlite_lock_path, try_lock

if TYPE_CHECKING:  # kept out of the import, so the CLI's error wording stays cheap to load
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql.elements import TextClause

LOCK_NAME = "memstack_migrate"
MYSQL_LOCK_PREFIX = "memstack:"
POLL_SECONDS = 0.2
#: a quiet lock session is asked again after this long at the latest (see :func:`_quiet_probe`)
REPROBE_SECONDS = 1.0

#: in a pooled session's info: it held the migration lock, its idle timeouts changed (a fleet's worker
#: keeps sessions across targets and sets them back: memstack.engine.fleet.sessions)
LOCK_SESSION = "memstack_lock_session"

WaitCallback = Callable[[str], None]
"""Called once with a description of who holds the lock, when we have to wait."""


def verify_held(engine: Engine, *, before: str | None = None, completed: int = 0, total: int = 0) -> None:
    """Raise :class:`LockLost` when the lock held for ``engine`` is gone (no-op when none is held).

    The executor calls it before each step (``before``: that step; ``completed`` of ``total``
    done). Engines are matched by identity: ``migrate`` locks and runs on the workspace's one
    engine; scratch databases run without a lock and are not checked.
    """
    held = held_for(engine)
    if held is not None:
        reason = held.probe()
        if reason is not None:
            raise LockLost(held.what, reason, before=before, completed=completed, total=total)


def _sql(statement: str) -> TextClause:
    return text(statement)


def _advisory_key(database: str) -> int:
    digest = hashlib.sha256(f"{LOCK_NAME}:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def mysql_lock_name(database: str) -> str:
    """``memstack:`` + 40 hex digits of SHA-256(database): unique per database, within 64 characters."""
    return MYSQL_LOCK_PREFIX + hashlib.sha256(database.encode()).hexdigest()[:40]


@contextmanager
def migration_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None = None) -> Iterator[HeldLock]:
    """Hold the database's migration lock for the block; wait up to ``timeout`` seconds."""
    backend = engine.dialect.name
    if backend == "postgresql":
        lock = _postgres_lock(engine, timeout, on_wait)
    elif backend in ("mysql", "mariadb"):
        lock = _mysql_lock(engine, timeout, on_wait)
    elif backend == "sqlite":
        lock = _sqlite_lock(engine, timeout, on_wait)
    else:  # pragma: no cover - settings only allow the three
        raise MemstackError(f"no migration lock for {backend}")
    with lock as held, registered(held):
        yield held


def _wait_loop(try_once: Callable[[], bool], holder: Callable[[], str], timeout: float,
               on_wait: WaitCallback | None, what: str) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while not try_once():
        if not told and on_wait is not None:
            on_wait(holder())
            told = True
        if time.monotonic() >= deadline:
            raise LockTimeout(what, timeout, holder())
        time.sleep(POLL_SECONDS)


def _connection_gone(connection: Connection, exc: Exception) -> str:
    """Why the lock is lost, when its session fails; the dead connection is dropped, not reset."""
    try:
        connection.invalidate()
    except Exception:  # pragma: no cover - invalidating a dead connection does not fail in practice
        pass
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"its database session is gone ({detail[0] if detail else type(exc).__name__})"


def _socket_of(connection: Connection) -> int | None:
    """The file descriptor of the driver's socket (psycopg, PyMySQL), or None when unknown."""
    try:
        driver = connection.connection.driver_connection
        fileno = getattr(driver, "fileno", None)  # psycopg
        if callable(fileno):
            return int(fileno())
        sock = getattr(driver, "_sock", None)  # PyMySQL
        return int(sock.fileno()) if sock is not None else None
    except Exception:
        return None


def _nothing_arrived(connection: Connection) -> bool:
    """True when the lock session's socket has nothing to read: the server neither closed it nor spoke.

    The lock session runs nothing but the lock, so the server sends it nothing unasked; when
    the session ends (``pg_terminate_backend``, ``KILL``, a restart, a proxy closing it) the
    server's error and end of stream arrive on this socket.
    """
    fd = _socket_of(connection)
    if fd is None or fd < 0:
        return False
    try:
        readable, _, broken = select.select([fd], [], [fd], 0)
    except (OSError, ValueError):
        return False
    return not readable and not broken


def _quiet_probe(connection: Connection, ask: Callable[[], str | None]) -> Callable[[], str | None]:
    """``ask`` (a round trip on the lock session), skipped while the session has been quiet briefly.

    A session-level lock is lost only when its session ends, and an ending session says so on
    its socket: a socket with nothing to read is as good an answer as a query, whose answer is
    equally old by the time it arrives (half a round trip). A silently dropped network path
    says nothing, so the session is still asked at least every :data:`REPROBE_SECONDS`.
    """
    asked = [time.monotonic()]  # the lock was just taken by a round trip on this session

    def probe() -> str | None:
        now = time.monotonic()
        if now - asked[0] < REPROBE_SECONDS and _nothing_arrived(connection):
            return None
        reason = ask()
        asked[0] = time.monotonic()
        return reason

    return probe


def _keep_alive(connection: Connection) -> None:
    """The lock session sits idle while steps run: no idle timeout set for a role or database may end it.

    PostgreSQL: ``idle_in_transaction_session_timeout`` is switched off for this session as the
    lock is taken, and ``idle_session_timeout`` (14+) set to the heartbeat's silence bound on a
    migration engine (whose heartbeat pings the session well within it), else off: a role's or
    database's low value cannot end the lock during a long step, and a migrator gone silent
    still loses it within the bound (:mod:`memstack.core.heartbeat`). MariaDB: the per-session ``wait_timeout`` every
    migration engine sets already outlives a long step.
    """
    if connection.dialect.name != "postgresql":
        return
    connection.connection.info[LOCK_SESSION] = True  # a pool that keeps the session restores its bounds
    settings = {"idle_in_transaction_session_timeout": 0}
    if (connection.dialect.server_version_info or (0,)) >= (14,):  # the heartbeat's bound at once: a network
        settings["idle_session_timeout"] = idle_session_bound(connection.engine)  # silent before its first ping
    connection.execute(_sql("SELECT " + ", ".join(f"set_config('{name}', '{value}', false)"
                                                  for name, value in settings.items())))


# --------------------------------------------------------------------------- PostgreSQL

_PG_KEY_MATCH = ("l.locktype = 'advisory' AND l.granted AND "
                 "((l.classid::bigint << 32) | (l.objid::bigint & 4294967295)) = :k")


def _postgres_holder(connection: Connection, key: int) -> str | None:
    row = connection.execute(_sql(
        "SELECT a.pid, a.usename, a.application_name, a.client_addr, a.backend_start "
        f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {_PG_KEY_MATCH} LIMIT 1"),
        {"k": key}).first()
    if row is None:
        return None
    return (f"PostgreSQL backend pid {row.pid} (user {row.usename}, client {row.client_addr or 'local'}, "
            f"application {row.application_name or '-'}, connected since {row.backend_start:%Y-%m-%d %H:%M:%S})")


@contextmanager
def _postgres_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[HeldLock]:
    key = _advisory_key(lock_scope(engine))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

        def try_once() -> bool:
            return bool(connection.execute(_sql("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())

        def probe() -> str | None:
            try:
                mine = connection.execute(_sql(
                    f"SELECT count(*) FROM pg_locks l WHERE {_PG_KEY_MATCH} AND l.pid = pg_backend_pid()"),
                    {"k": key}).scalar()
            except Exception as exc:
                return _connection_gone(connection, exc)
            return None if mine else "its session no longer holds the advisory lock"

        _keep_alive(connection)
        _wait_loop(try_once, lambda: _postgres_holder(connection, key) or "another session (gone by now)",
                   timeout, on_wait, "PostgreSQL")
        pid, since = connection.execute(_sql(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()")).one()
        wait_for_previous_step(connection, lock_scope(engine), timeout, on_wait)
        try:
            yield HeldLock(engine, "PostgreSQL", _quiet_probe(connection, probe), PostgresFence(pid, since, key))
        finally:
            try:
                connection.execute(_sql("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except Exception:  # closing the session releases it (a pool must not keep it)
                with contextlib.suppress(Exception):
                    connection.invalidate()


# --------------------------------------------------------------------------- MariaDB / MySQL


def _mysql_holder(connection: Connection, name: str) -> str | None:
    conn_id = connection.execute(_sql("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
    if conn_id is None:
        return None
    row = connection.execute(_sql(
        "SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = :i"), {"i": conn_id}).first()
    if row is None:
        return f"MariaDB connection {conn_id}"
    return f"MariaDB connection {conn_id} (user {row[0]}, from {row[1]}, for {row[2]} s)"


@contextmanager
def _mysql_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[HeldLock]:
    name = mysql_lock_name(lock_scope(engine))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

        def try_once() -> bool:
            return connection.execute(_sql("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1

        def probe() -> str | None:
            try:
                mine = connection.execute(_sql("SELECT IS_USED_LOCK(:n) = CONNECTION_ID()"), {"n": name}).scalar()
            except Exception as exc:
                return _connection_gone(connection, exc)
            return None if mine == 1 else "its connection no longer holds the lock"

        _keep_alive(connection)
        _wait_loop(try_once, lambda: _mysql_holder(connection, name) or "another session (gone by now)",
                   timeout, on_wait, "MariaDB")
        wait_for_previous_step(connection, lock_scope(engine), timeout, on_wait)
        try:
            yield HeldLock(engine, "MariaDB", _quiet_probe(connection, probe))
        finally:
            try:
                connection.execute(_sql("SELECT RELEASE_LOCK(:n)"), {"n": name})
            except Exception:  # closing the session releases it (a pool must not keep it)
                with contextlib.suppress(Exception):
                    connection.invalidate()


# --------------------------------------------------------------------------- SQLite (the file: lockfile.py)


def _open_lock_file(path: Path) -> IO[str]:
    """The lock file, opened for the run; its folder must take new files, since SQLite writes its
    journal there (a read-only folder would otherwise fail the first step, as if the revision had)."""
    import tempfile  # lazy: kept off the no-op path and --help

    try:  # (the folder exists: core.db refuses a SQLite URL whose folder does not)
        handle = open(path, "a+", encoding="utf-8")
    except OSError as exc:
        raise LockFileUnusable(str(path), exc.strerror or str(exc)) from exc
    try:
        with tempfile.TemporaryFile(dir=path.parent, prefix=".memstack-probe-"):
            pass
    except OSError as exc:
        handle.close()
        raise LockFileUnusable(f"{path.parent}/.memstack-probe-*", exc.strerror or str(exc)) from exc
    return handle


@contextmanager
def _sqlite_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[HeldLock]:
    path = sqlite_lock_path(engine)
    if path is None:  # an in-memory database lives in one process only
        yield HeldLock(engine, "SQLite (in memory)", lambda: None)
        return
    handle = _open_lock_file(path)
    with handle:
        _wait_loop(lambda: try_lock(handle), lambda: describe_file_holder(path), timeout, on_wait,
                   f"SQLite file {path.name}")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        handle.flush()
        probe = file_probe(handle, path)
        try:
            yield HeldLock(engine, f"SQLite file {path.name}", probe, lambda _connection: probe())
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()


# --------------------------------------------------------------------------- the probe


def lock_holder(engine: Engine) -> str | None:
    """Who holds the migration lock right now (None when free), without taking it.

    ``doctor`` and ``check --database`` ask this while a migration may be starting; taking the
    lock even for an instant would make a concurrent ``migrate --lock-timeout 0`` fail.
    """
    backend = engine.dialect.name
    if backend == "sqlite":
        return file_holder(sqlite_lock_path(engine))
    with engine.connect() as connection:
        if backend == "postgresql":
            return _postgres_holder(connection, _advisory_key(lock_scope(engine)))
        if backend in ("mysql", "mariadb"):
            return _mysql_holder(connection, mysql_lock_name(lock_scope(engine)))
    raise MemstackError(f"no migration lock for {backend}")  # pragma: no cover - settings only allow the three
