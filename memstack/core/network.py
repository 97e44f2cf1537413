"""Bounded waiting on the network: every session memstack opens, on the client and the server.

A server that accepts and never answers, or a network that goes silent in the middle of a
step, must not hang memstack, and must not leave the server holding a table lock for the
two hours TCP takes to give up. Three layers (defaults and why: :class:`NetworkSettings`):

* **Client** (:func:`client_connect_args`): the driver's connect timeout, TCP keepalives and
  ``TCP_USER_TIMEOUT`` on the socket (libpq parameters for psycopg; socket options and
  ``connect_timeout``/``write_timeout`` for PyMySQL; no read timeout, which would end a
  legitimately long statement).
* **Server, per session** (:func:`session_settings`, applied by :func:`apply_session_settings`
  on every new connection of a migration engine): PostgreSQL's
  ``idle_in_transaction_session_timeout`` (a client that vanished mid-step loses its
  transaction and its locks even when a proxy keeps ACKing for it), the server side keepalives
  and ``tcp_user_timeout``, ``client_connection_check_interval`` (14+: a running statement
  stops when its client is gone); MariaDB's ``idle_transaction_timeout`` (10.3+),
  ``net_read_timeout``/``net_write_timeout`` and ``wait_timeout``.
* **End to end** (:class:`Heartbeat`): a proxy that stays up while everything behind it is
  silent ACKs the client's keepalives, so TCP never notices. While a statement runs longer
  than the keepalive idle time, memstack asks the server on a second session every keepalive
  interval; when ``count`` intervals pass without an answer, the running statement's socket
  is shut down and the step fails with :class:`NetworkSilent`'s one line.

The migration lock's session (``engine/run/lock.py``) is one of these sessions: on PostgreSQL it
holds a session-level advisory lock in autocommit, never inside a transaction, so
``idle_in_transaction_session_timeout`` cannot end it. ``idle_session_timeout`` (14+) is 0 for
memstack's sessions, except that the heartbeat gives each checked-out session idling outside a
transaction (the lock's) the silence bound and pings it (see :class:`Heartbeat`): an
administrator's idle reaper cannot end it during a long step, and the server ends it when
memstack is gone. On MariaDB ``GET_LOCK`` is held outside a transaction too; ``wait_timeout``
is what could end the idle lock session during a long step, so it is set to
:data:`MARIADB_WAIT_TIMEOUT` (the server's compiled default, in case the server was configured
lower for application pools); PyMySQL connections cannot be pinged from a second thread, so a
vanished migrator's ``GET_LOCK`` lasts until MariaDB notices the connection is gone.
"""

from __future__ import annotations

import math
import socket
from typing import TYPE_CHECKING, Any

from memstack.core.networksettings import DEFAULT_NETWORK, NetworkSettings

if TYPE_CHECKING:
    pass

__all__ = [
    "MARIADB_WAIT_TIMEOUT",
    "NetworkSilent",
    "apply_session_settings",
    "client_connect_args",
    "session_settings",
    "timed_out",
]

#: seconds; MariaDB's compiled default: long enough that an idle lock session outlives a long step
MARIADB_WAIT_TIMEOUT = 28800

_LIBPQ_KEYS = ("connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
               "tcp_user_timeout")


def _whole(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def client_connect_args(backend: str, network: NetworkSettings = DEFAULT_NETWORK,
                        given: Any = ()) -> dict[str, Any]:
    """The driver's connect arguments for ``backend`` (``postgresql`` or ``mysql``), leaving out
    any the URL's query or the caller already set (``given``: their names)."""
    args: dict[str, Any] = {}
    if backend == "postgresql":
        if network.connect_timeout:
            args["connect_timeout"] = str(max(2, _whole(network.connect_timeout)))  # libpq's minimum is 2
        if network.keepalives:
            args.update(keepalives="1", keepalives_idle=str(_whole(network.keepalives_idle)),
                        keepalives_interval=str(_whole(network.keepalives_interval)),
                        keepalives_count=str(network.keepalives_count))
        else:
            args["keepalives"] = "0"
        if network.tcp_user_timeout:
            args["tcp_user_timeout"] = str(_ms(network.tcp_user_timeout))
    elif backend in ("mysql", "mariadb"):
        if network.connect_timeout:
            args["connect_timeout"] = _whole(network.connect_timeout)  # PyMySQL: the TCP connect only
            # the handshake's reads too (a server that accepts and never greets); lifted once connected
            args["read_timeout"] = _whole(network.connect_timeout)
        if network.tcp_user_timeout:  # a write blocks only while the peer acknowledges nothing
            args["write_timeout"] = _whole(network.tcp_user_timeout)
    return {key: value for key, value in args.items() if key not in set(given)}


def session_settings(backend: str, server_version: int | str | None = None,
                     network: NetworkSettings = DEFAULT_NETWORK,
                     idle_in_transaction_timeout: float | None = None) -> dict[str, str]:
    """The per-session server settings of a migration session, as ``{name: value}``.

    ``backend``: ``postgresql`` or ``mysql``/``mariadb`` (SQLite has none: ``{}``).
    ``server_version``: PostgreSQL's ``server_version_num`` (e.g. 150004), MariaDB's version
    string (``"10.11.6-MariaDB"``); settings the server does not have are left out.
    ``idle_in_transaction_timeout`` overrides the configured one; this is the hook for a
    per-revision override (a data migration computing for a long time between statements):
    the executor runs ``SET``/``SET SESSION`` with the returned values at the start of that
    revision's transaction (``SET LOCAL`` on PostgreSQL) and the configured ones after it.
    Values are strings ready for ``SET name = value`` (PostgreSQL: milliseconds; MariaDB: seconds).
    """
    idle = network.idle_in_transaction_timeout if idle_in_transaction_timeout is None else idle_in_transaction_timeout
    if backend == "postgresql":
        version = int(server_version or 0)
        settings = {"idle_in_transaction_session_timeout": str(_ms(idle) if idle else 0)}
        if network.keepalives:
            settings.update(tcp_keepalives_idle=str(_whole(network.keepalives_idle)),
                            tcp_keepalives_interval=str(_whole(network.keepalives_interval)),
                            tcp_keepalives_count=str(network.keepalives_count))
        if version >= 120000 and network.tcp_user_timeout:
            settings["tcp_user_timeout"] = str(_ms(network.tcp_user_timeout))
        if version >= 140000:
            settings["idle_session_timeout"] = "0"  # the idle lock session must outlive a long step
            if network.keepalives:
                settings["client_connection_check_interval"] = str(_ms(network.keepalives_interval))
        return settings
    if backend in ("mysql", "mariadb"):
        text = str(server_version or "")
        settings = {"wait_timeout": str(MARIADB_WAIT_TIMEOUT)}
        if network.tcp_user_timeout:
            bound = str(_whole(network.tcp_user_timeout))
            settings.update(net_read_timeout=bound, net_write_timeout=bound)
        if "mariadb" in text.lower() and _numbers(text) >= (10, 3) and idle:
            settings["idle_transaction_timeout"] = str(_whole(idle))
        return settings
    return {}


def _numbers(version: str) -> tuple[int, ...]:
    """(10, 11, 6) of "10.11.6-MariaDB" or of "5.5.5-10.11.6-MariaDB" (the replication prefix)."""
    if version.startswith("5.5.5-"):
        version = version[len("5.5.5-"):]
    head = version.split("-")[0]
    return tuple(int(part) for part in head.split(".") if part.isdigit())


def session_statement(backend: str, settings: dict[str, str]) -> str:
    """One statement setting ``settings`` (names and values are memstack's own, never user text)."""
    if not settings:
        return ""
    if backend == "postgresql":
        return "; ".join(f"SET {name} = {value}" for name, value in settings.items())
    return "SET SESSION " + ", ".join(f"{name} = {value}" for name, value in settings.items())


def end_handshake_bound(dbapi_connection: Any, network: NetworkSettings = DEFAULT_NETWORK) -> None:
    """PyMySQL: lift the read timeout :func:`client_connect_args` set for the handshake (a read
    timeout would end a legitimately long statement; the heartbeat watches those)."""
    if getattr(dbapi_connection, "_read_timeout", None) == _whole(network.connect_timeout):
        dbapi_connection._read_timeout = None


def apply_session_settings(dbapi_connection: Any, backend: str, network: NetworkSettings = DEFAULT_NETWORK) -> None:
    """Set :func:`session_settings` on a new DBAPI connection (one round trip), outside any transaction."""
    if backend == "postgresql":
        version = dbapi_connection.info.server_version
        # outside a transaction: a SET inside the first one would be rolled back with it
        _set_outside_transaction(dbapi_connection, session_statement(backend, session_settings(backend, version,
                                                                                              network)))
    elif backend in ("mysql", "mariadb"):
        _tune_socket(getattr(dbapi_connection, "_sock", None), network)
        statement = session_statement(backend, session_settings(
            backend, getattr(dbapi_connection, "server_version", ""), network))
        with dbapi_connection.cursor() as cursor:  # session variables are not transactional
            cursor.execute(statement)


def _set_outside_transaction(dbapi_connection: Any, statement: str) -> None:
    """Run ``statement`` on a psycopg connection in autocommit (so no rollback undoes it)."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        dbapi_connection.autocommit = autocommit


def _tune_socket(sock: socket.socket | None, network: NetworkSettings) -> None:
    """Keepalives and ``TCP_USER_TIMEOUT`` on a TCP socket the driver opened (PyMySQL)."""
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    options: list[tuple[int, int, int]] = []
    if network.keepalives:
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        for name, value in (("TCP_KEEPIDLE", _whole(network.keepalives_idle)),
                            ("TCP_KEEPINTVL", _whole(network.keepalives_interval)),
                            ("TCP_KEEPCNT", network.keepalives_count)):
            if hasattr(socket, name):
                options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    if network.tcp_user_timeout and hasattr(socket, "TCP_USER_TIMEOUT"):
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, _ms(network.tcp_user_timeout)))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError:  # pragma: no cover - an option this kernel lacks
            pass


# --------------------------------------------------------------------------- end to end


def timed_out(exc: BaseException) -> bool:
    """Whether a driver error (or SQLAlchemy's wrapper of one) is a bound of ours running out:
    a connect timeout, a socket timeout, or :class:`NetworkSilent`."""
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, (NetworkSilent, TimeoutError)):
        return True
    text = str(orig).lower()
    return "timeout expired" in text or "timed out" in text


class NetworkSilent(Exception):
    """The server stopped answering while a statement ran (the DBAPI error's ``orig`` is this)."""
    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the database server stopped answering: no answer for {seconds:g} s while a statement ran "
            "(network or proxy silent); memstack closed the session, and the server ends its transaction "
            "by itself (idle_in_transaction_timeout)")
        self.seconds = seconds
