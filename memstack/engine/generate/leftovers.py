"""Scratch databases a killed run left behind: recognised, and dropped by the next build.

A scratch database (``check``, ``makemigrations`` on PostgreSQL/MariaDB) is named
``memstack_scratch_<pid>_<unix time>_<hex>`` and, on PostgreSQL, carries a comment naming the
process and host that built it. While it lives, its builder holds a lock named after it (a
PostgreSQL advisory lock on the admin session, a MariaDB ``GET_LOCK``), taken *before* the
database is created. The server releases that lock when the builder's session ends, also when
the process was killed with ``-9``; so a scratch database of this form whose lock is free is a
leftover, whoever made it, on whatever host. The next build drops every such database before
creating its own. Names of other forms (an older memstack's ``memstack_scratch_<hex>``) are
never touched: nothing tells whether their builder is still running.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

PREFIX = "memstack_scratch_"
LEFTOVER = re.compile(rf"^{PREFIX}\d+_\d+_[0-9a-f]+$")


def scratch_name() -> str:
    """``memstack_scratch_<pid>_<unix time>_<4 hex>``: recognisable, unique, within 63 characters."""
    return f"{PREFIX}{os.getpid()}_{int(time.time())}_{secrets.token_hex(2)}"


def scratch_comment() -> str:
    """Who built it: shown by ``\\l+`` in psql, so an administrator knows what it is."""
    host = re.sub(r"[^\w.-]", "", socket.gethostname())[:60]
    return (f"memstack scratch database built by process {os.getpid()} on {host} at "
            f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}; dropped when its build ends")


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _take(connection: Connection, name: str) -> bool:
    if connection.dialect.name == "postgresql":
        return bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar())
    return connection.execute(text("SELECT GET_LOCK(:n, 0)"), {"n": name}).scalar() == 1


def _release(connection: Connection, name: str) -> None:
    try:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
        else:
            connection.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    except Exception:  # the session is gone: its end released the lock
        pass


@contextmanager
def hold_scratch_lock(connection: Connection, name: str) -> Iterator[None]:
    """Hold the lock of scratch database ``name`` on the admin session ``connection`` (AUTOCOMMIT)."""
    _take(connection, name)  # a fresh name: nobody else holds it
    try:
        yield
    finally:
        _release(connection, name)


def drop_leftovers(connection: Connection) -> list[str]:
    """Drop every scratch database whose builder is gone (its lock free); returns their names.

    Best effort: a database another user owns, or one that cannot be dropped now, stays for the
    next build (or an administrator).
    """

    postgres = connection.dialect.name == "postgresql"
    listing = ("SELECT datname FROM pg_database WHERE datname LIKE 'memstack\\_scratch\\_%'" if postgres else
               "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'memstack\\_scratch\\_%'")
    dropped: list[str] = []
    try:
        names = [str(n) for n in connection.execute(text(listing)).scalars() if LEFTOVER.match(str(n))]
    except Exception:
        return dropped
    for name in names:
        if not _take(connection, name):
            continue  # its build is running
        try:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' if postgres
                                    else f"DROP DATABASE IF EXISTS `{name}`"))
            dropped.append(name)
        except Exception:
            pass
        finally:
            _release(connection, name)
    return dropped
