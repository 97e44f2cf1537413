"""Runs a plan: one step routine, wrapped by three transaction strategies.

* per revision (default): each step in its own transaction, recorded in it;
* atomic: the whole plan in one transaction;
* rehearsal (``--dry-run``): the whole plan in one transaction, then rolled back.

A step that cannot run in a transaction (MariaDB, whose DDL commits itself, or a revision
declaring ``atomic = False``) runs outside one: it is marked while it runs and recorded
after. Every revision runs inside an Alembic ``EnvironmentContext`` built from the project's
configuration (see :mod:`memstack.engine.run.alembic_config`). On SQLite the migration engine
makes DDL transactional (``memstack.core.db.create_engine``); foreign keys are off while a
step runs and ``PRAGMA foreign_key_check`` guards the commit.

A run keeps one database session for its transactional steps, as ``alembic upgrade`` does,
with one Alembic environment on it; each step still commits on its own, with its records.
On PostgreSQL a step's records are one statement, and every commit but the last is
asynchronous (why that is safe: :meth:`Executor._run_steps`).

Nothing here is module-global state: an executor can run in many processes at once (not
threads: Alembic's ``op`` and ``context`` are module-global proxies).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from memstack.core.errors import MemstackError
from memstack.core.guardsettings import GuardSettings
from memstack.engine.errors import NonAtomicInPlan
from memstack.engine.records.recorder import Recorder, StepWrite, touch_meta, utcnow, write_step
from memstack.engine.run import crash, fencing, lock, verify
from memstack.engine.run.alembic_config import (
    AlembicSetup,
    SharedEnvironment,
    alembic_setup,
    load_revision_module,
    revision_function,
    step_environment,
)
from memstack.engine.run.guard import Guard
from memstack.engine.run.ladder import set_session_lock_timeout
from memstack.engine.run.steps import (
    ProgressCallback,
    StepFailed,
    StepResult,
    VersionRows,
    after_step,
    as_migration_failed,
    check_foreign_keys,
    elapsed_ms,
    in_revision_search_path,
    interruption,
    transactional_ddl,
)
from memstack.engine.tree.graph import MigrationGraph, Step
from memstack.engine.tree.loader import LoadedTree, checksum_file

if TYPE_CHECKING:  # kept out of the import, so the CLI's error wording stays cheap to load
    from types import ModuleType

    from sqlalchemy.engine import Connection, Engine

    from memstack.engine.records.recorder import Recorder


class Executor:
    """Applies plans to one database; the caller holds the migration lock."""
    def __init__(self, engine: Engine, tree: LoadedTree, progress: ProgressCallback | None = None, *,
                 ddl_lock_timeout: float | None = None, record: bool = True,
                 alembic: AlembicSetup | None = None, keep_modules: bool = True,
                 guard: GuardSettings | None = None, fleet_run: str | None = None) -> None:
        self.engine = engine
        self.fleet_run = fleet_run  # every history row of the run carries it (migrate --targets)
        self.tree = tree
        self.progress = progress or (lambda *_: None)
        self.ddl_lock_timeout = ddl_lock_timeout
        self.record = record  # False for scratch databases: no bookkeeping tables
        self.alembic = alembic or alembic_setup()
        self._modules: dict[tuple[str, bytes], ModuleType] = {}  # per run, by path and text: nothing shared
        # a walk that runs revisions more than once (the pytest plugin's up/down/up) keeps each
        # module; a migrate runs each once, and keeping 10,000 modules costs tens of MiB
        self._keep_modules = keep_modules
        self._rows: VersionRows | None = None  # version rows as of the last recorded step
        self._unflushed = False  # a step was committed asynchronously since the last synchronous commit
        self._shared: SharedEnvironment | None = None  # see _environment_per_run
        self.guard = Guard(engine, guard or GuardSettings(enabled=False), tree.guards,
                           lambda *event: self.progress(*event), record=record)
        self.ddl_lock_timeout, self._plan_lock_timeout = self.guard.session_lock_timeouts(ddl_lock_timeout)

    @property
    def graph(self) -> MigrationGraph:
        return self.tree.graph

    @property
    def transactional_ddl(self) -> bool:
        return transactional_ddl(self.engine.dialect.name)

    def checksum(self, revision_id: str) -> str:
        return checksum_file(self.tree.path_of(revision_id))

    def _declared_atomic(self, step: Step) -> bool:
        return step.revision.id not in self.tree.non_atomic

    def _outside_transaction(self, step: Step, fake: bool) -> bool:
        """True when the step's DDL cannot be rolled back with its record, so it gets a mark."""
        return not fake and (not self.transactional_ddl or not self._declared_atomic(step))

    # ------------------------------------------------------------------ connections
    def _connect(self) -> Connection:
        connection = self.engine.connect()
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return connection

    @contextmanager
    def _transaction(self, *, whole_plan: bool = False) -> Iterator[Connection]:
        with self._connect() as connection:
            self._set_ddl_lock_timeout(connection, whole_plan=whole_plan)
            with connection.begin():
                yield connection

    def _set_ddl_lock_timeout(self, connection: Connection, *, whole_plan: bool = False) -> None:
        set_session_lock_timeout(connection, self._plan_lock_timeout if whole_plan else self.ddl_lock_timeout)

    def _prepare(self, connection: Connection) -> Recorder:
        """Once per run: the version table (and bookkeeping tables) exist; the recorder knows them."""
        recorder = Recorder(connection)
        recorder.ensure_version_table()
        if self.record:
            recorder.ensure_bookkeeping()
        recorder.tables()  # inspects once, now: later steps bind it to their own connections
        return recorder

    # ------------------------------------------------------------------ strategies
    def run(self, plan: Sequence[Step], applied: set[str], *, fake: bool = False, event: str | None = None,
            atomic: bool = False) -> list[StepResult]:
        """Run ``plan`` from state ``applied``; returns one result per finished step.

        ``event`` names what history records for each step (default: apply/unapply, or fake).
        """
        if atomic:
            return self._run_atomic(plan, applied, fake=fake, event=event)
        if not plan:
            return []
        with self._connect() as connection:  # one session for the run's steps, as ``alembic upgrade`` has
            self._set_ddl_lock_timeout(connection)
            with connection.begin():
                recorder = self._prepare(connection)
            return self._run_steps(connection, recorder, plan, applied, fake=fake, event=event)

    def _run_steps(self, connection: Connection, recorder: Recorder, plan: Sequence[Step], applied: set[str], *,
                   fake: bool, event: str | None) -> list[StepResult]:
        """Each step in its own transaction on ``connection`` (or outside one), the lock checked before each.

        On PostgreSQL every step's commit but the last is asynchronous (``synchronous_commit``
        off for that transaction only): PostgreSQL's WAL is one sequence, so the last, synchronous
        commit makes every earlier one durable with it. A server crash before then loses whole
        steps only (each step's DDL and records commit together), never the database's
        consistency, and the run does not finish: the next migrate runs those steps again. A
        run that stops early (failure, lost lock, Ctrl-C) first makes its earlier steps durable,
        since it reports them as finished.
        """
        results: list[StepResult] = []
        state = set(applied)
        self._unflushed = False
        try:
            with self._environment_per_run(), crash.confirming(self.engine, self.graph, results):  # after a lost link
                for index, step in enumerate(plan, start=1):
                    lock.verify_held(self.engine, before=step.revision.label, completed=index - 1, total=len(plan))
                    results.append(self._run_one(connection, recorder, step, state, index, len(plan), fake=fake,
                                                 event=event))
                    state = after_step(state, step)
        finally:
            if self._unflushed:
                self._flush_commits(connection)
        return results

    def _run_one(self, connection: Connection, recorder: Recorder, step: Step, state: set[str], index: int,
                 total: int, *, fake: bool, event: str | None) -> StepResult:
        outside = self._outside_transaction(step, fake)
        lazy = self.record and index < total and connection.dialect.name == "postgresql"
        def attempt() -> StepResult:  # one try; the guard tries again after a lock timeout (run/guard.py)
            with nullcontext() if outside else connection.begin():  # (outside: the step opens its own)
                return self._step(recorder, None if outside else connection, step, state, fake=fake, event=event,
                                  durable=not lazy)
        try:
            try:
                result = self.guard.run_step(step, None if outside or fake else connection, attempt)
            except DBAPIError as exc:  # the session ended between tries (BEGIN, the guard's SET): the step failed
                if not crash.connection_lost(exc):
                    raise
                raise StepFailed(exc, utcnow(), 0) from exc
            except KeyboardInterrupt as exc:  # Ctrl-C there too: recorded as the step's failure
                raise StepFailed(exc, utcnow(), 0) from None
            self._unflushed = not outside and lazy  # (outside: recorded synchronously, after every earlier step)
        except StepFailed as failed:
            untouched = getattr(failed.cause, "resumable", False)  # the guard stopped it before anything committed
            self._record_failure(recorder, step, failed, marked=outside and self.record)
            if isinstance(failed.cause, KeyboardInterrupt):  # Ctrl-C: recorded, then exit 130
                raise failed.cause from None
            outcome = "maybe_half_applied" if outside and not untouched else "step_rolled_back"
            dialect = self.engine.dialect.name
            raise as_migration_failed(step, index, total, failed.cause, outcome, dialect) from failed.cause
        self.progress("done", step, result)
        return result

    def _flush_commits(self, connection: Connection) -> None:
        """Make the run's asynchronous commits durable: a synchronous commit that wrote WAL flushes all before it."""
        self._unflushed = False
        try:
            with connection.begin():
                touch_meta(connection)
            return
        except Exception:  # the run's session failed with its step: a new one flushes as well
            pass
        try:
            with self._transaction() as fresh:
                touch_meta(fresh)
        except Exception:  # the server is gone: nothing more can be made durable; the run's error says so
            pass

    def _run_atomic(self, plan: Sequence[Step], applied: set[str], *, fake: bool,
                    event: str | None) -> list[StepResult]:
        if not self.transactional_ddl:
            raise MemstackError(
                f"--atomic needs transactional DDL, which {self.engine.dialect.name} does not have",
                hint="run without --atomic: each revision then runs on its own, with a running mark",
            )
        blocked = [s.revision.label for s in plan if not fake and not self._declared_atomic(s)]
        if blocked:
            raise NonAtomicInPlan(blocked)
        index = 0

        def attempt(attach: Callable[[Connection], None]) -> list[StepResult]:  # one try: the guard may restart it
            nonlocal index
            results: list[StepResult] = []
            state, index = set(applied), 0
            with self._transaction(whole_plan=True) as connection:
                attach(connection)
                recorder = self._prepare(connection)
                for step in plan:
                    index += 1  # kept outside the loop header: the failure below names the step
                    self.guard.now_running(step)
                    lock.verify_held(self.engine, before=step.revision.label, completed=index - 1,  # rolls all back
                                total=len(plan))
                    results.append(self._step(recorder, connection, step, state, fake=fake, event=event))
                    state = after_step(state, step)
            return results

        try:
            try:
                results = self.guard.run_plan(plan[0], attempt, record=True) if plan else []
            except KeyboardInterrupt as exc:  # Ctrl-C as a try begins (BEGIN, the lock check): the failure too
                raise StepFailed(exc, utcnow(), 0) from None
        except StepFailed as failed:
            step = plan[max(index, 1) - 1]
            self._record_failure(None, step, failed, marked=False)
            if isinstance(failed.cause, KeyboardInterrupt):  # Ctrl-C: recorded, then exit 130
                raise failed.cause from None
            raise as_migration_failed(step, index, len(plan), failed.cause, "plan_rolled_back",
                                      self.engine.dialect.name) from failed.cause
        for result in results:
            self.progress("done", result.step, result)
        return results

    def rehearse(self, plan: Sequence[Step], applied: set[str]) -> tuple[list[StepResult], str | None]:
        """Run ``plan`` for real in one transaction, then roll it all back (see :mod:`.rehearsal`)."""
        from memstack.engine.run.rehearsal import rehearse  # lazy: only --dry-run uses it

        return rehearse(self, plan, applied)

    # ------------------------------------------------------------------ the one step routine
    def _step(self, recorder: Recorder, connection: Connection | None, step: Step, before: set[str], *,
              fake: bool, event: str | None, durable: bool = True) -> StepResult:
        """Time the step, run it, record it, check foreign keys; raises :class:`StepFailed`.

        ``connection``: the strategy's open transaction; ``None``: the step runs outside one
        (marked while it runs, recorded after).
        """

        self.progress("start", step, None)
        started_at, clock = utcnow(), time.perf_counter()
        after = after_step(before, step)
        try:
            if connection is not None:
                with fencing.fenced_step(self.engine, connection, in_transaction=True) as fence:  # before commit
                    if not fake:
                        self._run_revision(connection, step, in_transaction=True)
                    self._record_step(recorder.bound_to(connection), step, before, after, fake=fake, event=event,
                                      started=started_at, duration_ms=elapsed_ms(clock), durable=durable,
                                      fence=fence)
                    check_foreign_keys(connection, step)
            else:
                if self.record:  # say what is running before it starts: its DDL commits itself
                    with self._transaction() as marking:
                        rev = step.revision
                        recorder.bound_to(marking).set_mark(rev.id, rev.component, rev.name, step.direction)
                with self._connect() as outside, \
                        verify.checked_outside(self.engine, outside, step, marked=self.record), \
                        self.guard.outside(outside):  # per-statement timeouts and retries, what it built checked
                    self._set_ddl_lock_timeout(outside)
                    self._run_revision(outside, step, in_transaction=False)
                with self._transaction() as recording:
                    check_foreign_keys(recording, step)
                    self._record_step(recorder.bound_to(recording), step, before, after, fake=fake, event=event,
                                      started=started_at, duration_ms=elapsed_ms(clock), clear_mark=True)
        except (Exception, KeyboardInterrupt) as exc:  # Ctrl-C too: the run records the interruption
            exc = interruption(exc) or exc  # an error that replaced a Ctrl-C is the Ctrl-C: never retried
            failed = StepFailed(exc, started_at, elapsed_ms(clock))
            if not self.guard.will_retry(exc):
                self.progress("failed", step, StepResult(step, failed.duration_ms, success=False, error=failed.text))
            raise failed from exc
        return StepResult(step, elapsed_ms(clock))

    def _run_revision(self, connection: Connection, step: Step, *, in_transaction: bool) -> None:
        """Call the revision's function inside an Alembic environment on ``connection``.

        Outside a transaction, Alembic's own per-revision transaction is opened, as
        ``alembic upgrade`` does, so ``autocommit_block()`` can commit it.
        """
        if step.direction == "down" and step.revision.irreversible:
            raise MemstackError(f"{step.revision.label} is irreversible: it has no downgrade")
        function = in_revision_search_path(connection, self.alembic.with_baseline(step, revision_function(
            load_revision_module(self.tree.path_of(step.revision.id), self._modules if self._keep_modules else None),
            step.direction)))  # + the component's pre-revision tables; a fleet's tenant also sees the shared schema
        if in_transaction and self._shared is not None:
            self._shared.enter(connection, step.revision.component)
            function()
            return
        if self._shared is not None:
            self._shared.close()  # Alembic's ``context`` and ``op`` are global: one environment at a time
        with step_environment(self.alembic, connection, step, atomic=self._declared_atomic(step)) as context:
            if in_transaction:
                function()
            else:
                with context.begin_transaction(_per_migration=True):
                    function()

    @contextmanager
    def _environment_per_run(self) -> Iterator[None]:
        """Transactional steps share one Alembic environment on the run's session (see SharedEnvironment)."""
        self._shared = SharedEnvironment(self.alembic)
        try:
            yield
        finally:
            self._shared.close()
            self._shared = None

    def _record_step(self, recorder: Recorder, step: Step, before: set[str], after: set[str], *, fake: bool,
                     event: str | None, started: dt.datetime, duration_ms: int, clear_mark: bool = False,
                     durable: bool = True, fence: fencing.StepFence | None = None) -> None:
        """The step's bookkeeping; ``fence``: its lock fence, asked by the same statement where it can be."""
        gone, added = self._move_rows(before, step)  # kept incrementally
        if not self.record:
            return recorder.move_rows(gone, added)
        rev, up = step.revision, step.direction == "up"
        asked = write_step(recorder.connection, StepWrite(
            revision=rev.id, component=rev.component, name=rev.name, direction=step.direction,
            event=event or ("fake" if fake else "apply" if up else "unapply"), started_at=started,
            finished_at=utcnow(), duration_ms=duration_ms, checksum=self.checksum(rev.id) if up else None,
            gone=tuple(sorted(gone)), added=tuple(sorted(added)), fleet_run=self.fleet_run,
            clear_mark=clear_mark or fake, durable=durable),  # faking a marked step resolves its mark
            ask=fence.carry() if fence is not None else None)
        if fence is not None:
            fence.held = asked

    def _move_rows(self, before: set[str], step: Step) -> tuple[set[str], set[str]]:
        if self._rows is None or self._rows.applied != before:  # first step, or a rolled-back one
            self._rows = VersionRows(self.graph, before)
        gone, added = self._rows.move(step.revision.id, step.direction)
        return self.graph.with_aliases(gone) if self.graph.row_aliases else gone, added

    def _record_failure(self, recorder: Recorder | None, step: Step, failed: StepFailed, *, marked: bool) -> None:
        if not self.record:
            return
        rev = step.revision
        try:
            with self._transaction() as connection:
                # after an atomic rollback the bookkeeping tables may be gone with the plan
                bound = recorder.bound_to(connection) if recorder is not None else self._prepare(connection)
                bound.add_history(event="failure", component=rev.component, revision=rev.id, name=rev.name,
                                  direction=step.direction, started_at=failed.started_at,
                                  duration_ms=failed.duration_ms, success=False, error=failed.text,
                                  fleet_run=self.fleet_run)
                if marked:  # a step the guard stopped before anything of it ran leaves nothing to repair
                    untouched = getattr(failed.cause, "resumable", False)
                    bound.clear_marks([rev.id]) if untouched else bound.fail_mark(rev.id, failed.text)
        except Exception:  # the database may be gone; the original error matters more
            pass

