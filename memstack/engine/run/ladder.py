"""The guard's ladder: growing lock timeouts with jittered sleeps, and the SQL that sets a step's timeouts.

Pure timing and text, no connection: :mod:`.guard` runs steps on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from memstack.core.guardsettings import GuardSettings

FIRST_RUNG = 0.1  # seconds: the first try's lock timeout (each rung 1.5 times the last, up to ddl_lock_timeout)
FIRST_SLEEP = 0.05  # seconds before the first retry, doubling up to MAX_SLEEP, each jittered to 50-100 %
MAX_SLEEP = 1.0  # so a step goes through within about 2 s of its blocker ending

@dataclass(frozen=True)
class Rung:
    number: int  # 1 for the first try
    lock_timeout: float  # seconds; 0: none
    sleep: float  # seconds slept before this try


_JITTER = random.Random()  # one generator for every step (seeding one from os.urandom per step is wasted work)


def ladder(settings: GuardSettings, rng: random.Random | None = None) -> list[Rung]:
    """The tries of one step: lock timeouts growing to ``ddl_lock_timeout``, sleeps growing to MAX_SLEEP,
    cut where the waits and sleeps together would pass ``lock_retry_max_wait``."""
    rng = rng or _JITTER
    cap = settings.ddl_lock_timeout
    rungs: list[Rung] = []
    budget = settings.lock_retry_max_wait
    for k in range(settings.lock_retries + 1):
        timeout = cap if cap == 0 else min(cap, FIRST_RUNG * 1.5 ** k)
        sleep = 0.0 if k == 0 else min(MAX_SLEEP, FIRST_SLEEP * 2 ** (k - 1)) * rng.uniform(0.5, 1.0)
        if k and (budget < sleep + timeout or cap == 0):
            break
        budget -= sleep + timeout
        rungs.append(Rung(k + 1, timeout, sleep))
    return rungs


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
