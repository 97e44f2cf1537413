"""Waiting on the real event, never on the clock: a file a child process wrote (whole), a line it
wrote, a database session that holds the migration lock or waits behind a table lock.

Every wait polls until the event happens or a generous deadline (:data:`DEADLINE`) passes. The
deadline only matters when the event never comes (then the failure says what was awaited, and
what the child printed if it ended first), so a loaded machine only makes a test slower, never
red. A test never sleeps for a fixed time and then asserts.

Files a child process writes for a test to read are written whole: to a temporary name, then
renamed (:func:`write_atomically`, or :data:`WRITE_ATOMICALLY` pasted into a revision), so a
file that exists is complete.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from memstack.core.db import create_engine
from memstack.engine.run.lock import _advisory_key, lock_holder, mysql_lock_name
from support.databases import backend_of, query

T = TypeVar("T")

#: seconds; long enough for any event on a loaded 2-core machine, and it only matters on failure
DEADLINE = 120.0
POLL = 0.05

#: the granted advisory locks of the URL's own database (others on the server may hold their own)
PG_LOCKS_HERE = ("FROM pg_locks WHERE locktype = 'advisory' AND granted "
                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")

#: the 64-bit key of an advisory lock row of ``pg_locks``
KEY_IS = "((classid::bigint << 32) | (objid::bigint & 4294967295))"

#: source for a child process (a revision body, a ``-c`` script): ``_write_atomically(path, text)``
WRITE_ATOMICALLY = """
def _write_atomically(path, text):
    import os
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)
"""


def _ended(proc: subprocess.Popen[Any], what: str) -> AssertionError:
    out, err = proc.communicate()
    return AssertionError(f"the process ended (exit {proc.returncode}) before {what}:\n"
                          f"stdout:\n{out or ''}\nstderr:\n{err or ''}")


def wait_until(predicate: Callable[[], T], timeout: float = DEADLINE, what: str = "the condition",
               proc: subprocess.Popen[Any] | None = None, interval: float = POLL) -> T:
    """Poll ``predicate`` until it returns something true, and return that.

    Fails with ``timed out after N s waiting for <what>``, or at once when ``proc`` (the child
    that should make the event happen) ends first, with what it printed.
    """
    started = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            value = predicate()  # it may have done it just before ending
            if value:
                return value
            raise _ended(proc, what)
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole: a reader sees no file or all of it."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def wait_for_file(path: Path, timeout: float = DEADLINE, what: str | None = None,
                  proc: subprocess.Popen[Any] | None = None) -> str:
    """The text of ``path`` once it exists (its writer renames it into place, so it is whole)."""
    def read() -> tuple[str] | None:  # a tuple, so an empty file counts as written
        try:
            return (path.read_text(encoding="utf-8"),)
        except FileNotFoundError:
            return None

    return wait_until(read, timeout, what or f"{path.name} to be written", proc)[0]


def wait_for_file_line(path: Path, pattern: str, timeout: float = DEADLINE, what: str | None = None,
                       proc: subprocess.Popen[Any] | None = None) -> re.Match[str]:
    """The first complete line of ``path`` (ended by a newline) that matches ``pattern``.

    For files written bit by bit (a log, a child's output sent to a file): a line still being
    written does not count until its newline is there.
    """
    regex = re.compile(pattern)

    def matched() -> re.Match[str] | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        for line in text.splitlines(keepends=True):
            if line.endswith("\n"):
                match = regex.search(line.rstrip("\n"))
                if match:
                    return match
        return None

    return wait_until(matched, timeout, what or f"a line matching {pattern!r} in {path.name}", proc)


# --------------------------------------------------------------------------- database sessions


def migration_lock_free(url: str) -> bool:
    """No session (or process, for SQLite) holds the migration lock of ``url``'s database.

    Asked directly of the server (``pg_locks``, ``IS_USED_LOCK``); for SQLite, the kernel's lock
    on the lock file.
    """
    kind = backend_of(url)
    if kind == "postgres":  # the migration lock's key only: a running step holds the step barrier too
        key = _advisory_key(make_url(url).database or "")
        return not query(url, f"SELECT pid {PG_LOCKS_HERE} AND {KEY_IS} = :k", k=key)
    if kind == "mariadb":
        name = mysql_lock_name(make_url(url).database or "")
        return query(url, "SELECT IS_USED_LOCK(:n) AS holder", n=name)[0]["holder"] is None
    engine = create_engine(url, for_migrations=True)
    try:
        return lock_holder(engine) is None
    finally:
        engine.dispose()


def wait_for_migration_lock_free(url: str, timeout: float = DEADLINE, what: str = "the migration lock to be free",
                                 proc: subprocess.Popen[Any] | None = None) -> None:
    wait_until(lambda: migration_lock_free(url), timeout, what, proc)


def sessions_waiting_for_table(url: str, table: str) -> list[int]:
    """Ids of the sessions of ``url``'s database queued behind a lock on ``table`` (PostgreSQL's
    ``pg_locks``; MariaDB's process list, which says "Waiting for table metadata lock")."""
    if backend_of(url) == "postgres":
        rows = query(url, "SELECT pid AS id FROM pg_locks WHERE NOT granted AND relation = to_regclass(:t)", t=table)
    else:
        rows = query(url, "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
                          "AND state = 'Waiting for table metadata lock' AND info LIKE :t", t=f"%{table}%")
    return [int(row["id"]) for row in rows]


def sessions_waiting_for_any_lock(url: str) -> list[int]:
    """Ids of the sessions of ``url``'s database (only: other tests share the server) waiting for any
    lock: PostgreSQL's ungranted ``pg_locks`` rows, MariaDB's "Waiting for ... lock" processes."""
    if backend_of(url) == "postgres":
        rows = query(url, "SELECT pid AS id FROM pg_locks WHERE NOT granted AND database = "
                          "(SELECT oid FROM pg_database WHERE datname = current_database())")
    else:
        rows = query(url, "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
                          "AND state LIKE 'Waiting for%lock%'")
    return [int(row["id"]) for row in rows]
