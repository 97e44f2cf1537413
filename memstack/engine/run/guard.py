"""The guard: a step never queues the application behind it for long.

While an ``ALTER TABLE`` waits for its lock, every later query on that table waits behind it.
So every statement of a step runs under a short lock timeout and a statement timeout; a step
whose statement times out waiting for a lock is tried again on a *ladder* of growing lock
timeouts (never above ``ddl_lock_timeout``, 1 s by default) with jittered sleeps between the
tries, in the spirit of GitLab's ``WithLockRetries``; when the ladder runs out the step fails
naming the sessions it waited for. Settings: :mod:`memstack.core.guardsettings`.

* A transactional step (PostgreSQL) is rolled back and run again from its start, which also
  releases every lock it took. Its ``SET LOCAL`` travels with the step's first statement.
* A statement that commits by itself (MariaDB DDL, ``autocommit_block()``) is retried in
  place, so the retry resumes at the statement that timed out and never re-runs one that
  committed; a ``CREATE INDEX CONCURRENTLY`` that timed out has its INVALID index dropped
  first. A statement inside a transaction after something committed is not retried: the
  step fails, saying so.
* Pre-flight: before a statement that needs a strong lock on a table this run did not
  create, the sessions holding conflicting locks are read; ``blocker_policy`` says whether to
  go ahead under the ladder, wait for them, or refuse.

The statements pass through a SQLAlchemy ``do_execute`` hook, active only for connections
running a guarded step (looked up by DBAPI connection; a process runs one step per
connection at a time). Every retry is reported to ``on_retry`` (history event ``retry``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event

from memstack.core.guardsettings import GuardSettings
from memstack.engine.errors import BlockersRefused, LockWaitGaveUp
from memstack.engine.records.recorder import Recorder, utcnow
from memstack.engine.run import blockers as found
from memstack.engine.run.blockers import Retry, drop_invalid_index
from memstack.engine.run.ladder import Ladder, Rung, after_late_refusal, is_lock_timeout, server_wait, timeout_sql
from memstack.engine.run.steps import ProgressCallback, StepFailed, StepResult, error_text, interruption

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from memstack.engine.tree.graph import Step

T = TypeVar("T")
_BARRIER = re.compile(r"^SELECT pg_advisory_xact_lock\(%\(\w+\)s\)$")
_DDL = re.compile(r"^\s*(?:CREATE|ALTER|DROP|COMMENT|TRUNCATE|LOCK|GRANT|REVOKE|RENAME)\b", re.I)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(?:UNLOGGED\s+|TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                           r'((?:"[^"]+"|`[^`]+`|[\w$]+)(?:\.(?:"[^"]+"|`[^`]+`|[\w$]+))?)', re.I)
_RESET = ("SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT, max_statement_time = DEFAULT",
          "RESET lock_timeout; RESET statement_timeout")  # a session's timeouts after a step ([postgresql?])
_ACTIVE: dict[int, _StepState] = {}  # DBAPI connection id -> the guarded step running on it


@dataclass
class _StepState:
    """A guarded step running on one DBAPI connection."""
    guard: Guard
    step: Step
    settings: GuardSettings
    rung: Rung
    pending: str | None = None  # the timeouts, not sent yet: they go with the first statement
    local: bool = True  # SET LOCAL (a transactional step): may share the first statement's round trip
    committed: bool = False  # a statement of this step committed by itself
    timed_out: tuple[str, int] | None = None  # (statement, waited ms) of the last lock timeout
    checked: set[str] = field(default_factory=set)  # tables the pre-flight looked at

    def execute(self, cursor: Any, statement: str, parameters: Any) -> None:
        dialect = self.guard.dialect
        self.guard.note_created(statement)
        self._preflight(cursor, statement)
        sql = statement
        if self.pending is not None:
            prefix, self.pending = self.pending, None
            if self.local and dialect == "postgresql" and _BARRIER.match(statement) and _int_values(parameters):
                # the step barrier (fencing.py) opens every step: inline its integer key so the
                # timeouts share its round trip (a parameterised statement must travel alone)
                sql, statement, parameters = f"{prefix}; {statement % parameters}", statement % parameters, None
            elif self.local and not parameters and _DDL.match(statement) and dialect == "postgresql":
                sql = f"{prefix}; {statement}"
            else:
                cursor.execute(prefix)
        in_place = dialect in ("mysql", "mariadb") or bool(getattr(cursor.connection, "autocommit", False))
        steps = Ladder(self.settings) if in_place else None
        index_name = found.concurrent_index_name(statement) if dialect == "postgresql" else None
        index = 0
        while True:
            started = time.perf_counter()
            try:
                if index and index_name:  # the last try left its index INVALID: dropped under this try's timeout
                    drop_invalid_index(cursor, index_name)
                cursor.execute(sql, parameters) if parameters else cursor.execute(sql)
            except Exception as exc:
                waited = int((time.perf_counter() - started) * 1000)
                if (stopped := interruption(exc)) is not None:  # raised as a Ctrl-C cancelled it: never retried
                    raise stopped from None
                if not is_lock_timeout(exc):
                    raise
                self.timed_out = (statement, waited)
                if steps is None:
                    raise
                self._retry_in_place(cursor, statement, steps.rungs, index, waited, exc)
                sql, index = statement, index + 1
                continue
            if in_place and (dialect == "postgresql" or _DDL.match(statement)):
                self.committed = True
            if index:  # the next statement starts on the first rung again, not where this one ended
                cursor.execute(timeout_sql(dialect, self.rung.lock_timeout, self.settings.statement_timeout,
                                           local=False))
            return

    def _retry_in_place(self, cursor: Any, statement: str, rungs: list[Rung], index: int, waited: int,
                        exc: Exception) -> None:
        """Read who blocked, record, sleep, set the next rung's timeout (or give up)."""
        who = tuple(found.blockers(self.guard.dialect, cursor.connection.cursor(), statement))
        after_late_refusal(self.guard.dialect, rungs, index, waited)
        if index + 1 >= len(rungs):
            raise LockWaitGaveUp(statement=statement, attempts=index + 1, waited_ms=waited, blockers=who,
                                 resumable=not self.committed) from exc
        rung = rungs[index + 1]
        allowed = int(server_wait(self.guard.dialect, rungs[index].lock_timeout) * 1000)
        self.guard.report(self.step, Retry(index + 1, waited, allowed,
                                           int(rung.sleep * 1000), statement, who, error_text(exc)))
        time.sleep(rung.sleep)
        sql = timeout_sql(self.guard.dialect, rung.lock_timeout, self.settings.statement_timeout, local=False)
        if sql:
            cursor.execute(sql)

    def _preflight(self, cursor: Any, statement: str) -> None:
        wanted = [(t, m) for t, m in found.locked_tables(statement)
                  if (m in found.STRONG or self.guard.dialect != "postgresql")
                  and found.unquote(t) not in self.guard.created and found.unquote(t) not in self.checked]
        if not wanted:
            return
        self.checked.update(found.unquote(t) for t, _ in wanted)
        read = (found.postgres_blockers if self.guard.dialect == "postgresql" else found.mariadb_blockers)
        who = read(cursor.connection.cursor(), wanted)
        policy, started = self.settings.blocker_policy, time.perf_counter()
        while who and policy == "wait":
            waited = int((time.perf_counter() - started) * 1000)
            if waited > self.settings.lock_retry_max_wait * 1000:
                raise BlockersRefused(statement=statement, blockers=who, waited_ms=waited, resumable=not self.committed)
            time.sleep(0.1)
            who = read(cursor.connection.cursor(), wanted)
        if who and policy == "refuse":
            raise BlockersRefused(statement=statement, blockers=who, resumable=not self.committed)
        if who:
            self.guard.on_blocked(self.step, who)


def _int_values(parameters: Any) -> bool:
    """Parameters that are a dict of plain ints (safe to inline as literals)."""
    return isinstance(parameters, dict) and bool(parameters) and all(type(v) is int for v in parameters.values())


class Guard:
    """Guards the steps of one run on ``engine`` (see the module docstring)."""
    def __init__(self, engine: Engine, settings: GuardSettings, revision_overrides: dict[str, dict[str, Any]],
                 progress: ProgressCallback, *, record: bool = True) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.settings = settings
        self.overrides = revision_overrides
        self.progress = progress
        self.record = record  # False: no bookkeeping tables (scratch databases), so no history rows
        self.created: set[str] = set()  # tables this run created: they need no pre-flight
        self.active = settings.enabled and self.dialect in ("postgresql", "mysql", "mariadb")
        if self.active and not getattr(engine.dialect, "_memstack_guarded", False):  # once per engine

            event.listen(engine, "do_execute", _do_execute)
            engine.dialect._memstack_guarded = True  # type: ignore[attr-defined]

    def session_lock_timeouts(self, explicit: float | None) -> tuple[float | None, float | None]:
        """(per session, per whole-plan transaction) lock timeouts of the executor's own connections.

        Guarded steps get theirs per step and a whole plan in one transaction (``--atomic``, ``--dry-run``)
        per try (:meth:`run_plan`), so their sessions get none. Unguarded: ``explicit`` for both.
        """
        return (None, None) if self.active else (explicit, explicit)

    def settings_for(self, step: Step) -> GuardSettings:
        override = self.overrides.get(step.revision.id)
        if not override:
            return self.settings
        return self.settings.overridden(override, f"{step.revision.label}'s guard", revision=True)

    def note_created(self, statement: str) -> None:
        match = _CREATE_TABLE.match(statement)
        if match:
            self.created.add(found.unquote(match.group(1)))

    def report(self, step: Step, retry: Retry, *, record: bool = True) -> None:
        """Progress event ``retry`` (``restart``: a whole plan), and history event ``retry`` in a transaction
        of its own (not for a rehearsal: ``record`` False)."""
        event = "restart" if retry.whole_plan else "retry"
        self.progress(event, step, StepResult(step, retry.waited_ms, success=False, error=retry.note()))
        if not (self.record and record):
            return
        rev = step.revision
        with self.engine.connect() as connection, connection.begin():
            recorder = Recorder(connection)
            if retry.whole_plan:  # the plan's rollback may have taken the bookkeeping tables with it
                recorder.ensure_bookkeeping()
            recorder.add_history(
                event="retry", component=rev.component, revision=rev.id, name=rev.name, direction=step.direction,
                started_at=utcnow(), duration_ms=retry.waited_ms, success=False, error=retry.error,
                note=retry.note())

    def on_blocked(self, step: Step, who: list[found.Blocker]) -> None:
        """Progress event ``blocked``: the pre-flight found sessions and goes ahead under the ladder."""
        self.progress("blocked", step, StepResult(step, 0, success=False, error="; ".join(b.describe() for b in who)))

    def run_step(self, step: Step, connection: Connection | None, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (one try of the step) on the ladder.

        ``connection``: the step's connection when it runs in a transaction (``attempt`` opens
        and ends it), None when the step opens its own connections (see :meth:`outside`).
        """
        if not self.active:
            return attempt()
        settings = self.settings_for(step)
        self._ladder = steps = Ladder(settings)
        index, rung = 0, steps.first
        while True:
            self._current = (step, settings, rung, connection)
            state: _StepState | None = None
            key = None
            if connection is not None:
                key = _dbapi_id(connection)  # now: after a lost connection, asking would try to reconnect
                state = self._attach(connection, step, settings, rung, local=True)
            try:
                return attempt()
            except StepFailed as failed:
                timed = state.timed_out if state is not None else self._outside_timeout
                if timed is None or not is_lock_timeout(failed.cause):
                    raise
                self._after_timeout(step, failed, timed, steps.rungs, index, committed=self._committed(state))
                index += 1
                rung = steps.rungs[index]
            finally:
                if key is not None:
                    _ACTIVE.pop(key, None)
                self._outside_timeout = None
                self._outside_committed = False

    def run_plan(self, first: Step, attempt: Callable[[Callable[[Connection], None]], T], *, record: bool) -> T:
        """Run a whole plan in one transaction (``--atomic``, ``--dry-run``) on the ladder.

        ``attempt(attach)`` is one try: it opens the transaction, calls ``attach`` on its connection
        first, runs every step and ends the transaction. A lock timeout anywhere rolls the whole plan
        back (every lock it took is released) and, after the sleep, it starts again from its first
        step. ``record``: retries go to history (not a rehearsal's, which leaves nothing behind). A
        revision's own ``guard = {...}`` does not apply here: one transaction, one set of timeouts.
        """
        if not self.active:
            return attempt(lambda _connection: None)
        self._ladder = steps = Ladder(self.settings)
        rungs = steps.rungs  # one ladder for the whole plan: built once
        for index, rung in enumerate(rungs):
            attached: list[tuple[int, _StepState]] = []

            def attach(connection: Connection, rung: Rung = rung, attached: list[tuple[int, _StepState]] = attached
                       ) -> None:
                state = self._attach(connection, first, self.settings, rung, local=True)
                attached.append((_dbapi_id(connection), state))
                self._current, self._plan = (first, self.settings, rung, connection), state

            try:
                return attempt(attach)
            except StepFailed as failed:
                state = attached[0][1] if attached else None
                if state is None or state.timed_out is None or not is_lock_timeout(failed.cause):
                    raise
                self._after_timeout(state.step, failed, state.timed_out, rungs, index, committed=False,
                                    whole_plan=True, record=record)
            finally:
                for key, _ in attached:
                    _ACTIVE.pop(key, None)
                self._current = self._plan = None
        raise AssertionError("unreachable: the last rung raises")  # pragma: no cover

    def now_running(self, step: Step) -> None:
        """A whole-plan try reached ``step``: its retry and pre-flight name it."""
        if self._plan is not None:
            self._plan.step = step

    def will_retry(self, exc: BaseException) -> bool:
        """True when the step failing with ``exc`` is about to be tried again (so it is not reported failed)."""
        if self._current is None or not is_lock_timeout(exc):
            return False
        _, _, rung, connection = self._current
        state = _ACTIVE.get(_dbapi_id(connection)) if connection is not None else None
        committed = state.committed if state is not None else self._outside_committed
        return not committed and self._ladder is not None and rung.number < len(self._ladder.rungs)

    _ladder: Ladder | None = None  # the running step's
    _current: tuple[Step, GuardSettings, Rung, Connection | None] | None = None
    _outside_timeout: tuple[str, int] | None = None
    _outside_committed: bool = False
    _plan: _StepState | None = None  # the whole-plan try running (run_plan)

    def _committed(self, state: _StepState | None) -> bool:
        return state.committed if state is not None else self._outside_committed

    def _after_timeout(self, step: Step, failed: StepFailed, timed: tuple[str, int], rungs: list[Rung], index: int,
                       *, committed: bool, whole_plan: bool = False, record: bool = True) -> None:
        """Record the try and sleep before the next one, or raise the step's failure naming the blockers."""
        statement, waited = timed
        try:  # Ctrl-C between tries (reading the blockers, recording the try, sleeping): recorded as the failure
            who = tuple(self._blockers(statement))
            if index + 1 >= len(rungs) or committed:  # the last try
                gave_up = LockWaitGaveUp(statement=statement, attempts=index + 1, waited_ms=waited, blockers=who,
                                         resumable=not committed)
                raise StepFailed(gave_up, failed.started_at, failed.duration_ms) from failed.cause
            following = rungs[index + 1]
            allowed = int(server_wait(self.dialect, rungs[index].lock_timeout) * 1000)
            self.report(step, Retry(index + 1, waited, allowed, int(following.sleep * 1000), statement, who,
                                    failed.text, whole_plan), record=record)
            time.sleep(following.sleep)
        except KeyboardInterrupt as interrupted:  # nothing waits on the server between tries
            raise StepFailed(interrupted, failed.started_at, failed.duration_ms) from None

    def _blockers(self, statement: str) -> list[found.Blocker]:
        try:
            with self.engine.connect() as connection:
                cursor = connection.connection.cursor()
                try:
                    return found.blockers(self.dialect, cursor, statement)
                finally:
                    connection.rollback()
        except Exception:  # naming the blocker must not hide the timeout itself
            return []

    def _attach(self, connection: Connection, step: Step, settings: GuardSettings, rung: Rung,
                *, local: bool) -> _StepState:
        state = _StepState(self, step, settings, rung, local=local)
        state.pending = timeout_sql(self.dialect, rung.lock_timeout, settings.statement_timeout, local=local,
                                    idle=settings.idle_in_transaction_timeout)
        _ACTIVE[_dbapi_id(connection)] = state
        return state

    @contextmanager
    def in_place(self, step: Step, connection: Connection) -> Iterator[None]:
        """Guard ``connection`` while someone else runs ``step`` on it (plain ``alembic``, no transaction of
        ours): every statement under the timeouts, one that commits by itself retried in place."""
        if not self.active:
            yield
            return
        settings = self.settings_for(step)
        self._attach(connection, step, settings, Ladder(settings).first, local=False)
        key = _dbapi_id(connection)
        try:
            yield
        finally:
            _ACTIVE.pop(key, None)
            with suppress(Exception):  # an aborted transaction: its session is rolled back or discarded
                connection.exec_driver_sql(_RESET[self.dialect == "postgresql"])

    @contextmanager
    def outside(self, connection: Connection) -> Iterator[None]:
        """Guard a step's own connection (no transaction open yet) for the block.

        Its statements get the timeouts at session level and are retried in place when they
        commit by themselves. The session's settings are reset at the end (pooled connections).
        """
        if not self.active or self._current is None:
            yield
            return
        step, settings, rung, _ = self._current
        state = self._attach(connection, step, settings, rung, local=False)
        key = _dbapi_id(connection)
        try:
            yield
        finally:
            _ACTIVE.pop(key, None)
            self._outside_timeout = state.timed_out
            self._outside_committed = state.committed
            try:
                connection.exec_driver_sql(_RESET[self.dialect == "postgresql"])
                if connection.in_transaction():
                    connection.commit()
            except Exception:  # a broken session is discarded anyway
                pass


def _dbapi_id(connection: Connection) -> int:
    return id(connection.connection.dbapi_connection)


def _do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
    state = _ACTIVE.get(id(cursor.connection))
    if state is None:
        return None  # not a guarded step: SQLAlchemy executes it
    state.execute(cursor, statement, parameters)
    return True
