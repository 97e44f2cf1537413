"""The guard's ladder: growing lock timeouts with jittered sleeps, and the SQL that sets a step's timeouts.

Timing and text (and, with the guard off, a session's one lock timeout): :mod:`.guard` runs steps on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from memstack.core.guardsettings import GuardSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

FIRST_RUNG = 0.1  # seconds: the first tries' lock timeout (then each rung 1.5 times the last, up to ddl_lock_timeout)
FLAT_TRIES = 10  # tries at FIRST_RUNG (about 8 s with their sleeps): while a blocker lasts seconds, the
# application queues behind the step for 0.1 s at most, a tenth of the time (p99 within the 150 ms goal)
FIRST_SLEEP = 0.05  # seconds before the first retry, doubling up to MAX_SLEEP, each jittered to 50-100 %
MAX_SLEEP = 1.0  # so a step goes through within about 2 s of its blocker ending

@dataclass(frozen=True)
class Rung:
    number: int  # 1 for the first try
    lock_timeout: float  # seconds; 0: none
    sleep: float  # seconds slept before this try


_JITTER = random.Random()  # one generator for every step (seeding one from os.urandom per step is wasted work)


def ladder(settings: GuardSettings, rng: random.Random | None = None) -> list[Rung]:
    """The tries of one step: FLAT_TRIES short ones, then lock timeouts growing to ``ddl_lock_timeout``;
    sleeps growing to MAX_SLEEP; cut where the waits and sleeps together would pass ``lock_retry_max_wait``."""
    rng = rng or _JITTER
    cap = settings.ddl_lock_timeout
    rungs: list[Rung] = []
    budget = settings.lock_retry_max_wait
    for k in range(settings.lock_retries + 1):
        timeout = cap if cap == 0 else min(cap, FIRST_RUNG * 1.5 ** max(0, k - FLAT_TRIES + 1))
        sleep = 0.0 if k == 0 else min(MAX_SLEEP, FIRST_SLEEP * 2 ** (k - 1)) * rng.uniform(0.5, 1.0)
        if k and (budget < sleep + timeout or cap == 0):
            break
        budget -= sleep + timeout
        rungs.append(Rung(k + 1, timeout, sleep))
    return rungs


class Ladder:
    """One step's (or statement's) rungs, built at its first lock timeout: most never time out, and
    jittering 31 rungs for every step was the larger part of the guard's Python per step."""
    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        cap = settings.ddl_lock_timeout
        self.first = Rung(1, cap if cap == 0 else min(cap, FIRST_RUNG), 0.0)  # ladder()'s first rung
        self._rungs: list[Rung] | None = None

    @property
    def rungs(self) -> list[Rung]:
        if self._rungs is None:
            self._rungs = ladder(self.settings)
        return self._rungs


def is_lock_timeout(exc: BaseException | None) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03) or MariaDB's lock wait timeout (1205)."""
    original = getattr(exc, "orig", None) or exc
    if getattr(original, "sqlstate", None) == "55P03":
        return True
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    return bool(args) and args[0] == 1205 and type(original).__module__.startswith("pymysql")


def server_wait(dialect: str, lock_timeout: float) -> float:
    """The lock wait the server really allows for a rung of ``lock_timeout`` seconds (0: none).

    MariaDB's ``lock_wait_timeout`` takes whole seconds only (``SET ... = 0.5`` and ``ALTER TABLE
    ... WAIT 0.5`` are refused or cut to 0), and 0 means "do not wait at all" for every DDL form (the
    session variable also covers ``CREATE INDEX``, ``RENAME``, ``TRUNCATE``, which have no ``NOWAIT``
    of their own). So a rung under 1 s is a zero-wait try there, cut *down*, never up to 1 s: the
    application waits behind it for no more than a moment; the rungs at the 1 s cap wait 1 s.
    """
    if dialect in ("mysql", "mariadb") and lock_timeout:
        return float(int(lock_timeout))  # whole seconds, rounded down (0.76 -> 0: no wait)
    return lock_timeout


LATE_MS = 250  # a zero-wait try that failed after this long was not refused at the door (see next_rung)


def after_late_refusal(dialect: str, rungs: list[Rung], index: int, waited_ms: int) -> None:
    """Drop the zero-wait rungs after try ``index`` of a statement retried in place when it failed late.

    A zero-wait try (MariaDB, :func:`server_wait`) refused at once met a session holding the table:
    the next zero-wait try comes after the sleep. One that failed *late* did its work (a table
    copy for ``ADD FOREIGN KEY`` or ``MODIFY``) and was refused the exclusive lock it takes at the
    end; another zero-wait try would only copy the table again to be refused again, so the next
    tries are the waiting ones.
    """
    if waited_ms > LATE_MS and not server_wait(dialect, rungs[index].lock_timeout):
        rungs[index + 1:] = [r for r in rungs[index + 1:] if server_wait(dialect, r.lock_timeout)] or rungs[index + 1:]


def timeout_sql(dialect: str, lock_timeout: float, statement_timeout: float, *, local: bool,
                idle: float | None = None) -> str | None:
    """The statement(s) setting both timeouts (None: the backend has none to set); ``idle``: a
    revision's own idle-in-transaction bound, for its transaction only (PostgreSQL)."""
    if dialect == "postgresql":
        scope = "SET LOCAL" if local else "SET"
        idle_sql = (f"; SET LOCAL idle_in_transaction_session_timeout = '{int(idle * 1000)}ms'"
                    if idle is not None and local else "")
        return (f"{scope} lock_timeout = '{int(lock_timeout * 1000)}ms'; "
                f"{scope} statement_timeout = '{int(statement_timeout * 1000)}ms'{idle_sql}")
    if dialect in ("mysql", "mariadb"):
        wait = int(server_wait(dialect, lock_timeout)) if lock_timeout else 31536000  # 0: one try, no wait
        return (f"SET SESSION lock_wait_timeout = {wait}, innodb_lock_wait_timeout = {min(wait, 1073741824)}, "
                f"max_statement_time = {statement_timeout:g}")
    return None


def set_session_lock_timeout(connection: Connection, timeout: float | None) -> None:
    """A session-level lock timeout (the guard off, or a whole plan in one transaction)."""
    if timeout is None:
        return
    name = connection.dialect.name
    if name == "postgresql":
        connection.exec_driver_sql(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
    elif name in ("mysql", "mariadb"):
        connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {max(1, int(timeout))}")
    if connection.in_transaction():  # the SET autobegan one; the session setting outlives it
        connection.commit()
