"""Runs a plan: each revision in its own transaction, progress reported by callback.

On SQLite the migration engine makes DDL transactional (see ``memstack.db.create_engine``);
foreign keys are off while a step runs and ``PRAGMA foreign_key_check`` guards the commit.
"""

from __future__ import annotations

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

from memstack.engine.graph import MigrationGraph, Step
from memstack.engine.loader import LoadedTree
from memstack.engine.recorder import Recorder
from memstack.errors import MemstackError


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

    from memstack.db import metadata

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
    """Applies plans to one database."""

    def __init__(self, engine: Engine, tree: LoadedTree, progress: ProgressCallback | None = None) -> None:
        self.engine = engine
        self.tree = tree
        self.progress = progress or (lambda *_: None)

    @property
    def graph(self) -> MigrationGraph:
        return self.tree.graph

    def read_applied(self) -> tuple[list[str], set[str]]:
        from memstack.engine.loader import applied_state

        with self.engine.connect() as connection:
            rows = Recorder(connection).version_rows()
        return rows, applied_state(self.graph, rows)

    def run(self, plan: Sequence[Step], applied: set[str], *, fake: bool = False) -> list[StepResult]:
        """Run ``plan`` from state ``applied``; returns one result per finished step."""
        results: list[StepResult] = []
        state = set(applied)
        for index, step in enumerate(plan, start=1):
            self.progress("start", step, None)
            started = time.perf_counter()
            after = state | {step.revision.id} if step.direction == "up" else state - {step.revision.id}
            try:
                with self.engine.connect() as connection:
                    with connection.begin():
                        recorder = Recorder(connection)
                        recorder.ensure_version_table()
                        if not fake:
                            self._run_step(connection, step)
                        recorder.replace_rows(self.graph.rows_for(state), self.graph.rows_for(after))
                        self._check_foreign_keys(connection, step)
            except Exception as exc:
                duration = int((time.perf_counter() - started) * 1000)
                result = StepResult(step, duration, success=False, error=f"{type(exc).__name__}: {exc}")
                self.progress("failed", step, result)
                if isinstance(exc, MigrationFailed):
                    raise
                detail = str(getattr(exc, "orig", None) or exc).strip()
                raise MigrationFailed(
                    f"step {index} of {len(plan)} failed: {step.revision.label} ({step.direction}): {detail}",
                    step=step, index=index, total=len(plan), error=exc,
                    hint=(f"steps 1..{index - 1} stayed applied; this step was rolled back. "
                          if index > 1 else "nothing was applied; ")
                    + "fix the revision or the data, then run migrate again",
                ) from exc
            state = after
            result = StepResult(step, int((time.perf_counter() - started) * 1000))
            results.append(result)
            self.progress("done", step, result)
        return results

    def _run_step(self, connection: Connection, step: Step) -> None:
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


def render_sql(tree: LoadedTree, step: Step, dialect_name: str) -> str:
    """The SQL of one step for ``dialect_name`` without a database; raises when it cannot render."""
    buffer = io.StringIO()
    module = load_revision_module(tree.path_of(step.revision.id))
    run_revision_function(module, step.direction, dialect_name=dialect_name, buffer=buffer)
    return buffer.getvalue()
