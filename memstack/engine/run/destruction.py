"""What a plan destroys, read before the first step so a person can be asked about real figures.

A downgrade is never run to find out what it drops: it is called against a recording
``op`` (Alembic's offline context, nothing executed, nothing rendered) that collects the
drop_table / drop_column / drop_index / drop_constraint operations, batch ones included.
Then the live database is asked how much data sits there: one ``SELECT COUNT(*),
COUNT(col), ...`` per table, only for tables and columns that exist.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import column, func, inspect, select, table
from sqlalchemy.engine import Connection

from memstack.engine.alembic_compat import installed_as_op
from memstack.engine.run.alembic_config import AlembicSetup, load_revision_module, revision_function
from memstack.engine.tree.graph import Step
from memstack.engine.tree.loader import LoadedTree

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace

__all__ = ["DestructionCallback", "Loss", "StepDestruction", "count_losses", "planned_destruction", "read_destruction"]


@dataclass(frozen=True)
class Loss:
    """One schema object a step drops; ``rows`` is the data it holds (None: not counted).

    For a table, its row count; for a column, the rows where it is not NULL. Indexes and
    constraints hold no data of their own.
    """

    kind: str  # "table" | "column" | "index" | "constraint"
    table: str | None
    name: str | None = None
    schema: str | None = None
    rows: int | None = None
    exists: bool = True

    @property
    def qualified(self) -> str:
        where = f"{self.schema}.{self.table}" if self.schema and self.table else (self.table or "")
        if self.kind == "table":
            return where
        if self.kind == "column":
            return f"{where}.{self.name}"
        return f"{self.name} on {where}" if where else str(self.name)

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "table": self.table, "name": self.name, "schema": self.schema,
                "rows": self.rows, "exists": self.exists}


@dataclass(frozen=True)
class StepDestruction:
    """What one step drops; ``unreadable`` says why it could not be told offline."""

    step: Step
    losses: tuple[Loss, ...] = ()
    unreadable: str | None = None
    unapplies_only: bool = False  # --fake / stamp: the schema stays, only the record changes

    def as_json(self) -> dict[str, object]:
        return {"destroys": [loss.as_json() for loss in self.losses], "destroys_unknown": self.unreadable,
                "record_only": self.unapplies_only}


@dataclass
class _Recording:
    operations: list[Any] = field(default_factory=list)

    def invoke(self, operation: Any) -> None:
        self.operations.append(operation)


@contextmanager
def _recording_op(setup: AlembicSetup, dialect_name: str) -> Iterator[_Recording]:
    """Alembic's ``op`` bound to an offline context whose every operation is only recorded."""
    from alembic.operations import BatchOperations, Operations
    from alembic.runtime.environment import EnvironmentContext

    recording = _Recording()
    environment = EnvironmentContext(setup.config, setup.script, as_sql=True)
    with environment:
        environment.configure(dialect_name=dialect_name, output_buffer=io.StringIO(), literal_binds=True)
        context = environment.get_context()
        operations = Operations(context)

        @contextmanager
        def batch_alter_table(table_name: str, schema: str | None = None, **_: Any) -> Iterator[BatchOperations]:
            batch = BatchOperations(context, impl=SimpleNamespace(table_name=table_name, schema=schema))  # type: ignore[arg-type]
            batch.invoke = recording.invoke  # type: ignore[method-assign, assignment]
            yield batch

        operations.invoke = recording.invoke  # type: ignore[method-assign, assignment]
        operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign, assignment]
        with installed_as_op(operations):
            yield recording


def _name(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_loss(operation: Any) -> Loss | None:
    from alembic.operations import ops

    if isinstance(operation, ops.DropTableOp):
        return Loss("table", operation.table_name, schema=operation.schema)
    if isinstance(operation, ops.DropColumnOp):
        return Loss("column", operation.table_name, operation.column_name, operation.schema)
    if isinstance(operation, ops.DropIndexOp):
        return Loss("index", _name(operation.table_name), _name(operation.index_name), operation.schema)
    if isinstance(operation, ops.DropConstraintOp):
        return Loss("constraint", operation.table_name, _name(operation.constraint_name), operation.schema)
    return None


def planned_destruction(tree: LoadedTree, setup: AlembicSetup, step: Step, dialect_name: str) -> StepDestruction:
    """What ``step`` drops, from its downgrade called against a recording ``op``; nothing runs."""
    if step.direction != "down":
        return StepDestruction(step)
    try:
        function = revision_function(load_revision_module(tree.path_of(step.revision.id)), "down")
        with _recording_op(setup, dialect_name) as recording:
            function()
    except Exception as exc:  # a downgrade that reads the database cannot be told offline
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return StepDestruction(step, unreadable=f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    losses = [loss for loss in map(_as_loss, recording.operations) if loss is not None]
    return StepDestruction(step, tuple(losses))


def count_losses(connection: Connection, losses: Sequence[Loss]) -> list[Loss]:
    """``losses`` with their figures from the live database: one COUNT query per table."""
    inspector = inspect(connection)
    wanted: dict[tuple[str | None, str], set[str]] = {}
    present: dict[tuple[str | None, str], set[str]] = {}
    for loss in losses:
        if loss.kind not in ("table", "column") or loss.table is None:
            continue
        key = (loss.schema, loss.table)
        if key not in present:
            has = inspector.has_table(loss.table, schema=loss.schema)
            present[key] = {c["name"] for c in inspector.get_columns(loss.table, schema=loss.schema)} if has else set()
            if has:
                wanted[key] = set()
        if loss.kind == "column" and loss.name in present[key] and key in wanted:
            wanted[key].add(loss.name)
    figures: dict[tuple[str | None, str], dict[str | None, int]] = {}
    for (schema, name), columns in wanted.items():
        ordered = sorted(columns)
        target = table(name, *(column(c) for c in ordered), schema=schema)
        counts = select(func.count(), *(func.count(target.c[c]) for c in ordered)).select_from(target)
        row = connection.execute(counts).one()
        figures[(schema, name)] = {None: int(row[0]), **{c: int(v) for c, v in zip(ordered, row[1:], strict=True)}}
    counted: list[Loss] = []
    for loss in losses:
        key = (loss.schema, loss.table or "")
        if loss.kind == "table":
            rows = figures.get(key, {}).get(None)
            counted.append(replace(loss, rows=rows, exists=key in figures))
        elif loss.kind == "column":
            rows = figures.get(key, {}).get(loss.name)
            counted.append(replace(loss, rows=rows, exists=rows is not None))
        else:
            counted.append(loss)
    return counted


def read_destruction(ws: Workspace, steps: Sequence[Step], *, record_only: bool = False) -> list[StepDestruction]:
    """Per backwards step of ``steps``, what it drops and how much data that is, read now.

    ``record_only`` (``--fake``, ``stamp``): nothing is dropped, the steps are only recorded
    as unapplied, so nothing is read.
    """
    down = [s for s in steps if s.direction == "down"]
    if record_only:
        return [StepDestruction(s, unapplies_only=True) for s in down]
    setup = ws.alembic_setup()
    planned = [planned_destruction(ws.tree, setup, s, ws.dialect_name) for s in down]
    everything = [loss for p in planned for loss in p.losses]
    if not everything:
        return planned
    from memstack.core.urls import missing_sqlite_file

    if missing_sqlite_file(ws.settings.database_url):
        return planned
    with ws.engine.connect() as connection:
        counted = iter(count_losses(connection, everything))
    return [replace(p, losses=tuple(next(counted) for _ in p.losses)) for p in planned]


DestructionCallback = Callable[[str, Sequence[StepDestruction]], None]
"""Called with a headline and, per backwards step, what it destroys; raises to decline."""
