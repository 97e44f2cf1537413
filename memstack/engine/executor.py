"""Runs a plan: each revision in its own transaction, progress reported by callback.

On SQLite the migration engine makes DDL transactional (see ``memstack.core.db.create_engine``);
foreign keys are off while a step runs and ``PRAGMA foreign_key_check`` guards the commit.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy.engine import Connection, Engine

from memstack.core.errors import MemstackError
from memstack.engine.graph import MigrationGraph, Step
from memstack.engine.loader import LoadedTree
from memstack.engine.recorder import Recorder, utcnow


class MigrationFailed(MemstackError):
    """A revision raised while running; earlier steps stay applied, this one was rolled back."""

    def __init__(self, message: str, *, step: Step, index: int, total: int, error: BaseException,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.index = index
        self.total = total
        self.error = error


@dataclass(frozen=True)
class StepResult:
    step: Step
    duration_ms: int
    success: bool = True
    error: str | None = None


ProgressCallback = Callable[[str, Step, "StepResult | None"], None]
"""Called with ("start", step, None) and ("done" | "failed", step, result)."""


_module_cache: dict[tuple[str, float], ModuleType] = {}


def load_revision_module(path: Path) -> ModuleType:
    """Import a revision file under a private name (cached by path and modification time)."""
    key = (str(path), path.stat().st_mtime)
    cached = _module_cache.get(key)
    if cached is not None:
        return cached
    name = f"_memstack_revision_{abs(hash(str(path)))}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise MemstackError(f"cannot load revision file {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise MemstackError(f"importing revision file {path} failed: {type(exc).__name__}: {exc}",
                            hint="fix the file (run with --traceback for the stack)") from exc
    sys.modules.pop(name, None)
    _module_cache[key] = module
    return module


def run_revision_function(module: ModuleType, direction: str, connection: Connection | None = None,
                          *, dialect_name: str | None = None, buffer: io.StringIO | None = None) -> None:
    """Call ``upgrade``/``downgrade`` with Alembic's ``op`` bound to a context.

    Online with ``connection``; offline (SQL into ``buffer``) with ``dialect_name``.
    """
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from memstack.core.db import metadata

    opts: dict[str, Any] = {"target_metadata": metadata}
    if connection is not None:
        context = MigrationContext.configure(connection=connection, opts=opts)
    else:
        opts.update(as_sql=True, output_buffer=buffer, literal_binds=True)
        context = MigrationContext.configure(dialect_name=dialect_name, opts=opts)
    function = getattr(module, "upgrade" if direction == "up" else "downgrade", None)
    if function is None:
        raise MemstackError(f"revision module {module.__name__} has no {direction}grade() function")
    with Operations.context(context):
        function()


class Executor:
    """Applies plans to one database; the caller holds the migration lock."""

    def __init__(self, engine: Engine, tree: LoadedTree, progress: ProgressCallback | None = None, *,
                 ddl_lock_timeout: float | None = None, record: bool = True) -> None:
        self.engine = engine
        self.tree = tree
        self.progress = progress or (lambda *_: None)
        self.ddl_lock_timeout = ddl_lock_timeout
        self.record = record  # False for scratch databases: no bookkeeping tables

    @property
    def graph(self) -> MigrationGraph:
        return self.tree.graph

    @property
    def transactional_ddl(self) -> bool:
        return self.engine.dialect.name in ("postgresql", "sqlite")

    def _connect(self) -> Connection:
        connection = self.engine.connect()
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return connection

    def _set_ddl_lock_timeout(self, connection: Connection) -> None:
        if self.ddl_lock_timeout is None:
            return
        name = connection.dialect.name
        if name == "postgresql":
            connection.exec_driver_sql(f"SET lock_timeout = '{int(self.ddl_lock_timeout * 1000)}ms'")
        elif name in ("mysql", "mariadb"):
            connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {max(1, int(self.ddl_lock_timeout))}")
        if connection.in_transaction():  # the SET autobegan one; the session setting outlives it
            connection.commit()

    def checksum(self, revision_id: str) -> str:
        from memstack.engine.loader import checksum_file

        return checksum_file(self.tree.path_of(revision_id))

    def run(self, plan: Sequence[Step], applied: set[str], *, fake: bool = False, event: str | None = None,
            atomic: bool = False) -> list[StepResult]:
        """Run ``plan`` from state ``applied``; returns one result per finished step.

        ``event`` names what history records for each step (default: apply/unapply, or fake).
        """
        if atomic and not self.transactional_ddl:
            raise MemstackError(
                f"--atomic needs transactional DDL, which {self.engine.dialect.name} does not have",
                hint="run without --atomic: each revision then runs on its own, with a running mark",
            )
        if atomic:
            return self._run_atomic(plan, applied, fake=fake, event=event)
        results: list[StepResult] = []
        state = set(applied)
        for index, step in enumerate(plan, start=1):
            results.append(self._run_one(step, index, len(plan), state, fake=fake, event=event))
            state = state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}
        return results

    def _event_for(self, step: Step, fake: bool, event: str | None) -> str:
        if event:
            return event
        if fake:
            return "fake"
        return "apply" if step.direction == "up" else "unapply"

    def _record_step(self, recorder: Recorder, step: Step, before: set[str], after: set[str], *,
                     event: str, started: dt.datetime, duration_ms: int) -> None:
        recorder.replace_rows(self.graph.rows_for(before), self.graph.rows_for(after))
        if not self.record:
            return
        rev = step.revision
        checksum = self.checksum(rev.id) if step.direction == "up" else None
        if step.direction == "up":
            recorder.record_applied(rev.id, rev.component, rev.name, checksum, verified=True)
        else:
            recorder.forget_applied([rev.id])
        recorder.add_history(event=event, component=rev.component, revision=rev.id, name=rev.name,
                             direction=step.direction, started_at=started, duration_ms=duration_ms, success=True,
                             checksum=checksum)

    def _prepare(self, connection: Connection) -> Recorder:
        recorder = Recorder(connection)
        recorder.ensure_version_table()
        if self.record:
            recorder.ensure_bookkeeping()
        return recorder

    def _run_one(self, step: Step, index: int, total: int, state: set[str], *, fake: bool,
                 event: str | None) -> StepResult:
        self.progress("start", step, None)
        rev = step.revision
        after = state | {rev.id} if step.direction == "up" else state - {rev.id}
        started_at = utcnow()
        started = time.perf_counter()
        marked = self.record and not self.transactional_ddl and not fake
        try:
            if marked:  # MariaDB: DDL commits itself, so say what is running before it starts
                with self._connect() as connection, connection.begin():
                    self._prepare(connection).set_mark(rev.id, rev.component, rev.name, step.direction)
            with self._connect() as connection:
                self._set_ddl_lock_timeout(connection)
                with connection.begin():
                    recorder = self._prepare(connection)
                    if not fake:
                        self._run_step(connection, step)
                    duration = int((time.perf_counter() - started) * 1000)
                    self._record_step(recorder, step, state, after, event=self._event_for(step, fake, event),
                                      started=started_at, duration_ms=duration)
                    if marked or (fake and self.record):  # faking a marked step resolves its mark
                        recorder.clear_marks([rev.id])
                    self._check_foreign_keys(connection, step)
        except Exception as exc:
            duration = int((time.perf_counter() - started) * 1000)
            error = _error_text(exc)
            result = StepResult(step, duration, success=False, error=error)
            self._record_failure(step, started_at, duration, error, marked=marked)
            self.progress("failed", step, result)
            raise self._failure(step, index, total, exc, marked=marked) from exc
        result = StepResult(step, int((time.perf_counter() - started) * 1000))
        self.progress("done", step, result)
        return result

    def _run_atomic(self, plan: Sequence[Step], applied: set[str], *, fake: bool,
                    event: str | None) -> list[StepResult]:
        results: list[StepResult] = []
        state = set(applied)
        current: tuple[Step, int, dt.datetime, float] | None = None
        try:
            with self._connect() as connection:
                self._set_ddl_lock_timeout(connection)
                with connection.begin():
                    recorder = self._prepare(connection)
                    for index, step in enumerate(plan, start=1):
                        current = (step, index, utcnow(), time.perf_counter())
                        self.progress("start", step, None)
                        after = state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}
                        if not fake:
                            self._run_step(connection, step)
                        duration = int((time.perf_counter() - current[3]) * 1000)
                        self._record_step(recorder, step, state, after, event=self._event_for(step, fake, event),
                                          started=current[2], duration_ms=duration)
                        self._check_foreign_keys(connection, step)
                        state = after
                        results.append(StepResult(step, duration))
                    current = None
        except Exception as exc:
            if current is None:
                raise
            step, index, started_at, started = current
            duration = int((time.perf_counter() - started) * 1000)
            error = _error_text(exc)
            self._record_failure(step, started_at, duration, error, marked=False)
            self.progress("failed", step, StepResult(step, duration, success=False, error=error))
            raise self._failure(step, index, len(plan), exc, marked=False, atomic=True) from exc
        for result in results:
            self.progress("done", result.step, result)
        return results

    def rehearse(self, plan: Sequence[Step], applied: set[str]) -> tuple[list[StepResult], str | None]:
        """Run ``plan`` for real in one transaction, then roll it all back.

        Returns each step's outcome and the first error (None when every step worked).
        """
        if not self.transactional_ddl:
            raise MemstackError(
                f"--dry-run needs transactional DDL; {self.engine.dialect.name} commits every DDL statement "
                "itself, so a rehearsal could not be rolled back",
                hint="use --plan to see the steps, or --sql to review the SQL",
            )
        results: list[StepResult] = []
        state = set(applied)
        error: str | None = None
        with self._connect() as connection:
            self._set_ddl_lock_timeout(connection)
            transaction = connection.begin()
            try:
                recorder = self._prepare(connection)
                for step in plan:
                    self.progress("start", step, None)
                    started_at, started = utcnow(), time.perf_counter()
                    after = state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}
                    savepoint_ok = True
                    try:
                        self._run_step(connection, step)
                        self._record_step(recorder, step, state, after, event=self._event_for(step, False, None),
                                          started=started_at, duration_ms=0)
                        self._check_foreign_keys(connection, step)
                    except Exception as exc:
                        savepoint_ok = False
                        error = _error_text(exc)
                    duration = int((time.perf_counter() - started) * 1000)
                    result = StepResult(step, duration, success=savepoint_ok, error=None if savepoint_ok else error)
                    results.append(result)
                    self.progress("done" if savepoint_ok else "failed", step, result)
                    if not savepoint_ok:
                        break
                    state = after
            finally:
                transaction.rollback()
        return results, error

    def _record_failure(self, step: Step, started_at: dt.datetime, duration: int, error: str, *,
                        marked: bool) -> None:
        if not self.record:
            return
        rev = step.revision
        try:
            with self._connect() as connection, connection.begin():
                recorder = self._prepare(connection)
                recorder.add_history(event="failure", component=rev.component, revision=rev.id, name=rev.name,
                                     direction=step.direction, started_at=started_at, duration_ms=duration,
                                     success=False, error=error)
                if marked:
                    recorder.fail_mark(rev.id, error)
        except Exception:  # the database may be gone; the original error matters more
            pass

    def _failure(self, step: Step, index: int, total: int, exc: Exception, *, marked: bool,
                 atomic: bool = False) -> MigrationFailed:
        if isinstance(exc, MigrationFailed):
            return exc
        detail = str(getattr(exc, "orig", None) or exc).strip()
        if atomic:
            hint = "the whole plan was rolled back; nothing changed. Fix the revision or the data and run it again"
        elif marked:
            hint = (f"{self.engine.dialect.name} cannot roll back DDL: the revision may be half-applied. "
                    f"Fix the schema by hand, then run 'manage.py repair' (if its effect is undone) or "
                    f"'manage.py migrate --fake {step.revision.component} {step.revision.name}' (if it is complete)")
        else:
            hint = ((f"steps 1..{index - 1} stayed applied; this step was rolled back. " if index > 1
                     else "this step was rolled back; nothing changed. ")
                    + "Fix the revision or the data, then run migrate again")
        return MigrationFailed(
            f"step {index} of {total} failed: {step.revision.label} ({step.direction}): {detail}",
            step=step, index=index, total=total, error=exc, hint=hint,
        )

    def _run_step(self, connection: Connection, step: Step) -> None:
        if step.direction == "down" and step.revision.irreversible:
            raise MemstackError(f"{step.revision.label} is irreversible: it has no downgrade")
        module = load_revision_module(self.tree.path_of(step.revision.id))
        run_revision_function(module, step.direction, connection)

    @staticmethod
    def _check_foreign_keys(connection: Connection, step: Step) -> None:
        if connection.dialect.name != "sqlite":
            return
        problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if problems:
            table, rowid, parent, _ = problems[0]
            raise MemstackError(
                f"{step.revision.label} left {len(problems)} row(s) violating foreign keys "
                f"(first: {table} rowid {rowid} -> {parent})",
            )


def _error_text(exc: BaseException) -> str:
    original = getattr(exc, "orig", None)
    return f"{type(original or exc).__name__}: {str(original or exc).strip()}"


def render_sql(tree: LoadedTree, step: Step, dialect_name: str) -> str:
    """The SQL of one step for ``dialect_name`` without a database; raises when it cannot render."""
    buffer = io.StringIO()
    module = load_revision_module(tree.path_of(step.revision.id))
    run_revision_function(module, step.direction, dialect_name=dialect_name, buffer=buffer)
    return buffer.getvalue()
