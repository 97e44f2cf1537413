"""The SQLite migration lock's file: where it lives, the OS lock on it, and who holds it.

``<database>.lock`` beside the database file, locked with ``flock`` (``msvcrt`` on Windows) so
the kernel drops it when the process dies, and holding the holder's pid, host and start time
for messages. :mod:`memstack.engine.run.lock` takes and releases it; the holder can be named
without taking it (``/proc/locks``, or the holder file while its process lives).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def sqlite_lock_path(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).with_name(Path(database).name + ".lock")


def try_lock(handle: IO[str]) -> bool:
    if os.name == "nt":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            return True
        except OSError:
            return False
    import fcntl  # lazy: this platform's lock module only

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _holder_file(path: Path) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def describe_file_holder(path: Path) -> str:
    info = _holder_file(path)
    if not info:
        return f"another process (lock file {path})"
    return f"process {info.get('pid')} on {info.get('host')} since {info.get('since')} (lock file {path})"


def file_probe(handle: IO[str], path: Path) -> Callable[[], str | None]:
    def probe() -> str | None:
        if handle.closed:
            return f"its lock file {path} was closed"
        try:
            same = os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
        except FileNotFoundError:
            return f"its lock file {path} was deleted, so another process can take a new one"
        return None if same else f"its lock file {path} was replaced, so another process can lock the new one"

    return probe


def _flock_held(path: Path) -> bool | None:
    """Whether any process holds a ``flock`` on ``path``, read from Linux's ``/proc/locks``.

    Reading the kernel's lock table takes nothing; None where there is no such table.
    Matched by inode number: on overlay file systems the device in ``/proc/locks`` is the
    underlying one, unlike ``stat``'s.
    """
    try:
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
        inode = os.stat(path).st_ino
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        if "->" in fields:  # a waiter, not a holder
            continue
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
            return True
    return False


def file_holder(path: Path | None) -> str | None:
    """Who holds the SQLite lock file, without locking it (a try-lock would, for an instant)."""
    if path is None or not path.exists():
        return None
    held = _flock_held(path)
    info = _holder_file(path)
    if held is None:  # no kernel lock table: trust the holder file, while its process is alive here
        if not info:
            return None
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int):
            try:
                os.kill(info["pid"], 0)
            except ProcessLookupError:
                return None
            except OSError:
                pass
    elif not held:
        return None
    return describe_file_holder(path)
