"""Fencing: a step commits only while its run still holds the migration lock.

Checking the lock before a step starts is not enough: a step can run for minutes, and the
server may end the idle lock session meanwhile (``idle_session_timeout``, an administrator's
``pg_terminate_backend``, a proxy, a failover). A second migrator then takes the lock and would
run the same revision while the first is still running it. Two guards close that gap:

* **the step barrier**: a second lock (PostgreSQL advisory key, MariaDB ``GET_LOCK`` name) that
  a running step holds for as long as it can still commit: inside the step's transaction
  (``pg_advisory_xact_lock``: released by its commit or rollback), or on the session of a step
  that runs outside one. Whoever takes the migration lock waits for the barrier to be free
  before it reads the database's state (:func:`wait_for_previous_step`), so it plans only from
  what a previous holder's last step did, never while that step may still commit.
* **the fence**: inside the step's transaction, right before its commit, the lock session is
  asked for by its identity (pid and start time: a fencing token) in ``pg_locks``; a run whose
  lock session is gone raises :class:`LockLost`, so the step rolls back and is not recorded.

MariaDB commits DDL by itself: its steps get the barrier and the check before each step only.
SQLite's lock file is checked before the commit (its write transaction already serialises
commits).
"""

from __future__ import annotations

import functools
import hashlib
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

from memstack.engine.errors import LockLost, LockTimeout

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.sql.elements import TextClause

BARRIER_NAME = "memstack_step"
POLL_SECONDS = 0.1


#: the PostgreSQL schema an engine migrates (``Workspace.for_database(url, schema=)``): part of its locks' keys
_SCHEMAS: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def scope_to_schema(engine: Engine, schema: str) -> None:
    """Key ``engine``'s migration lock and step barrier by ``schema`` too: schemas of one database run in parallel."""
    _SCHEMAS[engine] = schema


def lock_scope(engine: Engine) -> str:
    """What one migration lock covers: the database, or one schema of it (``db#schema=name``)."""
    database = engine.url.database or ""
    schema = _SCHEMAS.get(engine)
    return database if schema is None else f"{database}#schema={schema}"


@functools.cache
def barrier_key(database: str) -> int:
    """The PostgreSQL advisory key a running step holds (distinct from the migration lock's)."""
    digest = hashlib.sha256(f"{BARRIER_NAME}:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def mysql_barrier_name(database: str) -> str:
    """``memstack-step:`` + 40 hex digits of SHA-256(database), within GET_LOCK's 64 characters."""
    return "memstack-step:" + hashlib.sha256(database.encode()).hexdigest()[:40]


@functools.cache
def _sql(statement: str) -> TextClause:
    """One statement object a text, reused every step (SQLAlchemy then finds its compiled form at once)."""
    return text(statement)


@dataclass(frozen=True)
class HeldLock:
    """A lock this process holds; ``probe`` returns why it is lost, or None while it holds."""
    engine: Engine
    what: str
    probe: Callable[[], str | None]
    #: run inside a step's transaction right before its commit (see :mod:`.fencing`); None: no fence
    fence: Callable[[Connection], str | None] | None = None


#: the locks held in this context (thread/task), innermost last; empty outside ``migration_lock``
_HELD: ContextVar[tuple[HeldLock, ...]] = ContextVar("memstack_held_locks", default=())


def held_for(engine: Engine) -> HeldLock | None:
    """The lock this context holds on ``engine`` (matched by identity), or None."""
    for held in _HELD.get():
        if held.engine is engine:
            return held
    return None


@contextmanager
def registered(held: HeldLock) -> Iterator[HeldLock]:
    token = _HELD.set((*_HELD.get(), held))
    try:
        yield held
    finally:
        _HELD.reset(token)


@contextmanager
def fenced_step(engine: Engine, connection: Connection, *, in_transaction: bool) -> Iterator[StepFence]:
    """Hold the step barrier while the block runs a step; inside a transaction, fence its commit.

    The block may hand the yielded :class:`StepFence`'s question to the step's bookkeeping
    statement (PostgreSQL) and set its answer: then no statement of its own is needed.

    A no-op when this process holds no migration lock on ``engine`` (scratch databases).
    """

    held = held_for(engine)
    name = connection.dialect.name
    if held is None or name not in ("postgresql", "mysql", "mariadb", "sqlite"):
        yield StepFence()
        return
    database = lock_scope(engine)
    slot = StepFence(held.fence if in_transaction and isinstance(held.fence, PostgresFence) else None)
    if name == "postgresql" and in_transaction:
        connection.execute(_sql("SELECT pg_advisory_xact_lock(:b)"), {"b": barrier_key(database)})
        yield slot
    elif name == "sqlite" or in_transaction:  # SQLite's write transaction already serialises commits
        yield slot
    else:
        with _session_barrier(connection, database):
            yield slot
    if not in_transaction or held.fence is None or slot.held is True:  # (True: the bookkeeping asked it)
        return
    # lost when the bookkeeping asked: only why is read now; nothing carried it: the fence asks itself
    reason = slot.carried.lost(connection) if slot.held is False and slot.carried else held.fence(connection)
    if reason is not None:
        raise LockLost(held.what, reason)


@contextmanager
def _session_barrier(connection: Connection, database: str) -> Iterator[None]:
    """The barrier on a session (a step outside a transaction), released after the block."""
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(_sql("SELECT pg_advisory_lock(:b)"), {"b": barrier_key(database)})
    else:
        connection.execute(_sql("SELECT GET_LOCK(:n, 60)"), {"n": mysql_barrier_name(database)})
    if connection.in_transaction():
        connection.commit()  # the session lock outlives it; the step starts on a clean session
    try:
        yield
    finally:
        try:
            if postgres:
                connection.execute(_sql("SELECT pg_advisory_unlock(:b)"), {"b": barrier_key(database)})
            else:
                connection.execute(_sql("SELECT RELEASE_LOCK(:n)"), {"n": mysql_barrier_name(database)})
            if connection.in_transaction():
                connection.commit()
        except Exception:  # the session failed with its step: its end releases the barrier
            pass


# one backend's row (pg_stat_get_activity(pid)), not the whole pg_stat_activity view joined with
# pg_locks: the same answer at a third of the server's time, once a step
_HOLDS = ("EXISTS (SELECT 1 FROM pg_stat_get_activity(CAST(%(fence_pid)s AS integer)) a "
          "WHERE a.backend_start = %(fence_since)s AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid "
          "AND l.locktype = 'advisory' AND l.granted "
          "AND ((l.classid::bigint << 32) | (l.objid::bigint & 4294967295)) = %(fence_key)s))")


@dataclass(frozen=True)
class PostgresFence:
    """The fence of a PostgreSQL lock session: is backend ``pid`` (started at ``since``) holding ``key``?

    :attr:`expression` is the question as one SQL boolean (pyformat parameters :attr:`params`), so a
    step's bookkeeping statement can carry it: the answer comes back with the step's last write,
    in the same round trip, right before the commit (see :func:`fenced_step`).
    """
    pid: int
    since: object
    key: int
    expression = _HOLDS

    @property
    def params(self) -> dict[str, object]:
        return {"fence_pid": self.pid, "fence_since": self.since, "fence_key": self.key}

    def __call__(self, connection: Connection) -> str | None:
        if connection.exec_driver_sql(f"SELECT {_HOLDS}", self.params).scalar():
            return None
        return self.lost(connection)

    def lost(self, connection: Connection) -> str:
        """Why the lock is gone (the session ended, or it let the lock go)."""
        alive = connection.execute(_sql("SELECT 1 FROM pg_stat_activity WHERE pid = :pid AND backend_start = :since"),
                                   {"pid": self.pid, "since": self.since}).first()
        return (f"its lock session (backend pid {self.pid}) " +
                ("no longer holds the advisory lock" if alive else "was ended by the server"))


@dataclass
class StepFence:
    """What :func:`fenced_step` yields: the fence a step's bookkeeping statement may carry, and its answer."""
    carried: PostgresFence | None = None  # None: nothing to carry (no lock, another dialect, outside a transaction)
    held: bool | None = None  # the carried answer; None while no statement carried it

    def carry(self) -> tuple[str, dict[str, object]] | None:
        """The SQL boolean and its parameters, for the bookkeeping statement's outer ``SELECT``."""
        return (self.carried.expression, self.carried.params) if self.carried is not None else None


def wait_for_previous_step(connection: Connection, database: str, timeout: float,
                           on_wait: Callable[[str], None] | None) -> None:
    """Just after taking the lock: wait until no step of a previous holder can still commit.

    Normally free at once (one round trip). Busy only when the previous holder lost its lock
    while a step ran; that step ends (its fence rolls it back) before this run reads the state.
    """

    postgres = connection.dialect.name == "postgresql"
    what = "PostgreSQL" if postgres else "MariaDB"
    deadline = time.monotonic() + timeout
    told = False
    while not _barrier_free(connection, database, postgres=postgres):
        holder = _barrier_holder(connection, database, postgres=postgres)
        if not told and on_wait is not None:
            on_wait(holder)
            told = True
        if time.monotonic() >= deadline:
            raise LockTimeout(what, timeout, holder)
        time.sleep(POLL_SECONDS)


def _barrier_free(connection: Connection, database: str, *, postgres: bool) -> bool:
    if postgres:
        key = barrier_key(database)
        if not connection.execute(_sql("SELECT pg_try_advisory_lock(:b)"), {"b": key}).scalar():
            return False
        connection.execute(_sql("SELECT pg_advisory_unlock(:b)"), {"b": key})
        return True
    name = mysql_barrier_name(database)
    if connection.execute(_sql("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() != 1:
        return False
    connection.execute(_sql("SELECT RELEASE_LOCK(:n)"), {"n": name})
    return True


def _barrier_holder(connection: Connection, database: str, *, postgres: bool) -> str:
    prefix = "a step of a migration that lost its lock is still running"
    if postgres:
        pid = connection.execute(_sql(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | (objid::bigint & 4294967295)) = :k LIMIT 1"),
            {"k": barrier_key(database)}).scalar()
        return f"{prefix} (PostgreSQL backend pid {pid})" if pid else prefix
    conn_id = connection.execute(_sql("SELECT IS_USED_LOCK(:n)"), {"n": mysql_barrier_name(database)}).scalar()
    return f"{prefix} (MariaDB connection {conn_id})" if conn_id else prefix
