"""One migration lock per database, that cannot outlive its process.

* PostgreSQL: a session-level advisory lock on a dedicated connection (released when the
  connection closes, so when the process dies). Needs a direct connection: a transaction-
  pooling proxy (PgBouncer in transaction mode) would hand the session to others.
* MariaDB/MySQL: ``GET_LOCK`` on a dedicated connection (also released with the connection).
* SQLite: an OS lock (``flock``/``msvcrt``) on ``<database>.lock`` beside the file; the
  kernel drops it when the process dies.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from memstack.core.errors import MemstackError
from memstack.engine.errors import EngineError

if TYPE_CHECKING:  # kept out of the import, so the CLI's error wording stays cheap to load
    from sqlalchemy.engine import Engine
    from sqlalchemy.sql.elements import TextClause

LOCK_NAME = "memstack_migrate"
POLL_SECONDS = 0.2

WaitCallback = Callable[[str], None]
"""Called once with a description of who holds the lock, when we have to wait."""


class LockTimeout(EngineError):
    """Another migration held the lock for longer than the timeout."""

    def __init__(self, what: str, timeout: float, holder: str) -> None:
        super().__init__(f"could not take the migration lock on {what} within {timeout:g} s; held by {holder}")
        self.what = what
        self.timeout = timeout
        self.holder = holder


def _sql(statement: str) -> TextClause:
    from sqlalchemy import text

    return text(statement)


def _advisory_key(database: str) -> int:
    digest = hashlib.sha256(f"{LOCK_NAME}:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def migration_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None = None) -> Iterator[None]:
    """Hold the database's migration lock for the block; wait up to ``timeout`` seconds."""
    backend = engine.dialect.name
    if backend == "postgresql":
        with _postgres_lock(engine, timeout, on_wait):
            yield
    elif backend in ("mysql", "mariadb"):
        with _mysql_lock(engine, timeout, on_wait):
            yield
    elif backend == "sqlite":
        with _sqlite_lock(engine, timeout, on_wait):
            yield
    else:  # pragma: no cover - settings only allow the three
        raise MemstackError(f"no migration lock for {backend}")


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


@contextmanager
def _postgres_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[None]:
    key = _advisory_key(engine.url.database or "")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

        def try_once() -> bool:
            return bool(connection.execute(_sql("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())

        def holder() -> str:
            row = connection.execute(_sql(
                "SELECT a.pid, a.usename, a.application_name, a.client_addr, a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND "
                "((l.classid::bigint << 32) | (l.objid::bigint & 4294967295)) = :k LIMIT 1"), {"k": key}).first()
            if row is None:
                return "another session (gone by now)"
            return (f"PostgreSQL backend pid {row.pid} (user {row.usename}, client {row.client_addr or 'local'}, "
                    f"application {row.application_name or '-'}, "
                    f"connected since {row.backend_start:%Y-%m-%d %H:%M:%S})")

        _wait_loop(try_once, holder, timeout, on_wait, "PostgreSQL")
        try:
            yield
        finally:
            try:
                connection.execute(_sql("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except Exception:  # the connection is closed below anyway, which releases it
                pass


@contextmanager
def _mysql_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[None]:
    name = f"{LOCK_NAME}_{engine.url.database or ''}"[:64]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:

        def try_once() -> bool:
            return connection.execute(_sql("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1

        def holder() -> str:
            conn_id = connection.execute(_sql("SELECT IS_USED_LOCK(:n)"), {"n": name}).scalar()
            if conn_id is None:
                return "another session (gone by now)"
            row = connection.execute(_sql(
                "SELECT USER, HOST, TIME FROM information_schema.PROCESSLIST WHERE ID = :i"), {"i": conn_id}).first()
            if row is None:
                return f"connection {conn_id}"
            return f"MariaDB connection {conn_id} (user {row[0]}, from {row[1]}, for {row[2]} s)"

        _wait_loop(try_once, holder, timeout, on_wait, "MariaDB")
        try:
            yield
        finally:
            try:
                connection.execute(_sql("SELECT RELEASE_LOCK(:n)"), {"n": name})
            except Exception:
                pass


def sqlite_lock_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".lock")


def _os_try_lock(handle: IO[str]) -> bool:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


@contextmanager
def _sqlite_lock(engine: Engine, timeout: float, on_wait: WaitCallback | None) -> Iterator[None]:
    path = sqlite_lock_path(engine)
    if path is None:  # an in-memory database lives in one process only
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:

        def holder() -> str:
            try:
                info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8") or "{}")
            except (OSError, ValueError):
                info = {}
            if not info:
                return f"another process (lock file {path})"
            return f"process {info.get('pid')} on {info.get('host')} since {info.get('since')} (lock file {path})"

        _wait_loop(lambda: _os_try_lock(handle), holder, timeout, on_wait, f"SQLite file {path.name}")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()


def lock_holder(engine: Engine) -> str | None:
    """Who holds the migration lock right now (None when free); for ``doctor``."""
    result: list[str] = []

    def capture(description: str) -> None:
        result.append(description)

    try:
        with migration_lock(engine, 0, capture):
            return None
    except LockTimeout:
        return result[0] if result else "someone"
