"""The end-to-end bound: a statement that runs long is watched from a second session.

A proxy that stays up while everything behind it is silent ACKs the client's keepalives, so TCP
never notices; :class:`Heartbeat` asks the server on a second session every keepalive interval
while a statement runs longer than the keepalive idle time, and shuts the running statement's
socket down when ``count`` intervals pass without an answer (:class:`NetworkSilent`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from memstack.core.network import NetworkSilent, _ms, _set_outside_transaction
from memstack.core.networksettings import NetworkSettings

#: the idle bound (ms) of each watched engine's sessions that idle outside a transaction (the lock's)
_IDLE_BOUNDS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def idle_session_bound(engine: Any) -> int:
    """``idle_session_timeout`` (ms) for a session of ``engine`` that idles outside a transaction while
    memstack holds it: the heartbeat's silence bound where it pings such sessions, else 0 (never)."""
    return _IDLE_BOUNDS.get(engine, 0)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def _socket_fd(dbapi_connection: Any) -> int | None:
    try:
        fileno = getattr(dbapi_connection, "fileno", None)  # psycopg
        if callable(fileno):
            return int(fileno())
        sock = getattr(dbapi_connection, "_sock", None)  # PyMySQL
        return int(sock.fileno()) if sock is not None else None
    except Exception:
        return None


def _shut(fd: int | None) -> None:
    """Shut a socket down under its driver: the blocked read returns at once with end of stream."""
    if fd is None or fd < 0:
        return
    try:
        duplicate = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        duplicate.close()


class Heartbeat:
    """Asks the server on a second session while a migration engine's statement runs long.

    Statements are tracked through the engine's ``before_cursor_execute`` and
    ``after_cursor_execute``/``handle_error`` events. A daemon thread wakes every keepalive
    interval; while a statement has run for more than the keepalive idle time, it runs
    ``SELECT 1`` on its own DBAPI connection (opened on first need, bounded by
    ``connect_timeout``). When no answer came for ``interval * count`` seconds, every running
    statement's socket is shut down (the driver raises at once) and :attr:`silent` says so.
    A server that answers with an error is alive: only silence counts.

    On PostgreSQL 14+ it also keeps the engine's *idle sessions outside a transaction* alive
    (the migration lock's session: autocommit, holding a session-level advisory lock): each
    such checked-out session gets ``idle_session_timeout`` = :attr:`NetworkSettings.silence_bound`
    and a ``SELECT 1`` every keepalive interval. While memstack is there, the session never
    idles that long; when memstack or its network vanished (a silent proxy still ACKs for it),
    the server ends the session within the bound and the advisory lock goes with it, instead of
    blocking every later migration for as long as the proxy keeps the connection. Sessions are
    set back to ``idle_session_timeout = 0`` when returned to the pool.
    """

    def __init__(self, engine: Engine, network: NetworkSettings) -> None:
        _IDLE_BOUNDS[engine] = _ms(network.silence_bound)
        self._engine_ref = weakref.ref(engine)
        self.network = network
        self.silent: NetworkSilent | None = None
        self._busy: dict[int, tuple[float, Any]] = {}
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._probe: Any = None
        self._answered = time.monotonic()
        self._asking = False
        self._held: dict[int, Any] = {}  # checked-out DBAPI connections (PostgreSQL 14+ only)
        self._kept: set[int] = set()  # those given a finite idle_session_timeout
        self._keeping = False

    # -- idle sessions (PostgreSQL 14+)
    def checked_out(self, dbapi_connection: Any) -> None:
        with self._guard:
            self._held[id(dbapi_connection)] = dbapi_connection
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="memstack-heartbeat", daemon=True)
                self._thread.start()

    def checked_in(self, dbapi_connection: Any) -> None:
        with self._guard:
            self._held.pop(id(dbapi_connection), None)
            kept = id(dbapi_connection) in self._kept
            self._kept.discard(id(dbapi_connection))
        if kept and self.silent is None:
            try:
                _set_outside_transaction(dbapi_connection, "SET idle_session_timeout = 0")
            except Exception:  # a broken connection: the pool discards it anyway
                pass

    def _idle_outside_transaction(self) -> list[Any]:
        from psycopg import pq  # lazy: kept off the no-op path and --help

        with self._guard:
            candidates = [c for key, c in self._held.items() if key not in self._busy]
        found = []
        for connection in candidates:
            try:
                if connection.autocommit and connection.info.transaction_status == pq.TransactionStatus.IDLE:
                    found.append(connection)
            except Exception:
                continue
        return found

    def _keep(self, connections: list[Any]) -> None:
        bound = _ms(self.network.silence_bound)
        try:
            for connection in connections:
                with self._guard:
                    self._kept.add(id(connection))
                # set on every ping, not once: the lock sets 0 as it is taken (run/lock.py), which may
                # come after the first ping, and the bound must hold while memstack is silent
                statement = f"SET idle_session_timeout = {bound}"
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(statement)
                except Exception:
                    continue
        finally:
            self._keeping = False

    # -- events
    def started(self, dbapi_connection: Any) -> None:
        if self.silent is not None:  # the engine's server went silent: fail at once rather than wait again
            _shut(_socket_fd(dbapi_connection))
            return
        with self._guard:
            self._busy[id(dbapi_connection)] = (time.monotonic(), dbapi_connection)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="memstack-heartbeat", daemon=True)
                self._thread.start()

    def finished(self, dbapi_connection: Any) -> None:
        with self._guard:
            self._busy.pop(id(dbapi_connection), None)

    # -- the thread
    def _oldest(self) -> float | None:
        with self._guard:
            return min((since for since, _ in self._busy.values()), default=None)

    def _run(self) -> None:
        network = self.network
        while not self._wake.wait(network.keepalives_interval):
            engine = self._engine_ref()
            if engine is None:
                return
            if not self._keeping and self._held:
                idle = self._idle_outside_transaction()
                if idle:
                    self._keeping = True
                    threading.Thread(target=self._keep, args=(idle,), name="memstack-keep-session",
                                     daemon=True).start()
            oldest = self._oldest()
            now = time.monotonic()
            if oldest is None or now - oldest < network.keepalives_idle:
                self._answered = now
                continue
            if not self._asking:
                self._asking = True
                threading.Thread(target=self._ask, args=(engine,), name="memstack-heartbeat-ask",
                                 daemon=True).start()
            waited = now - max(self._answered, oldest + network.keepalives_idle)
            if waited >= network.keepalives_interval * network.keepalives_count:
                self._declare_silent(network.keepalives_idle + waited)
                return

    def _ask(self, engine: Engine) -> None:
        try:
            if self._probe is None:
                self._probe = engine.raw_connection()  # (raw: its statements are not watched themselves)
            with self._probe.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            try:
                self._probe.rollback()
            except Exception:
                pass
            self._answered = time.monotonic()
        except Exception as exc:
            text = str(exc).lower()
            if "timeout" not in text and "timed out" not in text:
                self._answered = time.monotonic()  # the server (or something) answered: not silence
            self._close_probe()
        finally:
            self._asking = False

    def _close_probe(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            try:
                probe.invalidate()
            except Exception:
                pass

    def _declare_silent(self, seconds: float) -> None:
        self.silent = NetworkSilent(round(seconds, 1))
        with self._guard:
            busy = [connection for _, connection in self._busy.values()] + list(self._held.values())
        for connection in busy:
            _shut(_socket_fd(connection))
        probe = self._probe
        if probe is not None:
            _shut(_socket_fd(probe.driver_connection))

    def stop(self) -> None:
        self._wake.set()
        self._close_probe()
