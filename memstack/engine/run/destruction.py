"""What a plan destroys, read before the first step so a person can be asked about real figures.

Every backwards step destroys (the contract); a forward step destroys when the revision
classifier (classify.py) finds a destructive fact in it: a dropped table or column, a type
change that can alter values, deleted rows. A downgrade is never run to find out what it
drops: it is called against a recording ``op`` (Alembic's offline context, nothing
executed, nothing rendered) that collects the drop_table / drop_column / drop_index /
drop_constraint operations, batch ones included. Then the live database is asked how
much data sits there: one ``SELECT COUNT(*), COUNT(col), ...`` per table, only for tables
and columns that exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from alembic.operations import ops
from sqlalchemy import column, func, inspect, select, table, text
from sqlalchemy.engine import Connection

from memstack.core.urls import missing_sqlite_file
from memstack.engine.run.alembic_config import AlembicSetup, load_revision_module, revision_function
from memstack.engine.run.classify import PlanClassifier, classifier, classify_step, recording_op
from memstack.engine.run.classify_sql import Fact
from memstack.engine.tree.graph import Step
from memstack.engine.tree.loader import LoadedTree

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace

__all__ = ["DestructionCallback", "Loss", "StepDestruction", "count_losses", "describe_loss", "planned_destruction",
           "read_destruction"]


@dataclass(frozen=True)
class Loss:
    """One schema object a step drops; ``rows`` is the data it holds (None: not counted).

    For a table, its row count; for a column, the rows where it is not NULL. Indexes and
    constraints hold no data of their own. Forward steps add ``type`` (a column whose type
    changes: ``change`` says from what to what; ``altered``, on SQLite, counts the values its
    ``CAST`` would not keep), ``rows`` (a DELETE or TRUNCATE: the rows it matches) and
    ``schema`` (not counted).
    """

    kind: str  # "table" | "column" | "index" | "constraint" | "type" | "rows" | "schema"
    table: str | None
    name: str | None = None
    schema: str | None = None
    rows: int | None = None
    exists: bool = True
    change: str | None = None  # type: "VARCHAR(40) -> INTEGER"
    condition: str | None = None  # rows: the DELETE's WHERE clause (None: every row)
    altered: int | None = None  # type, SQLite: values the copy-and-cast would not keep
    to_type: str | None = None

    @property
    def qualified(self) -> str:
        where = f"{self.schema}.{self.table}" if self.schema and self.table else (self.table or "")
        if self.kind == "table":
            return where
        if self.kind in ("column", "type"):
            return f"{where}.{self.name}"
        if self.kind in ("rows", "schema"):
            return where or str(self.schema)
        return f"{self.name} on {where}" if where else str(self.name)

    def as_json(self) -> dict[str, object]:
        extra = {"change": self.change, "condition": self.condition, "altered": self.altered}
        return {"kind": self.kind, "table": self.table, "name": self.name, "schema": self.schema,
                "rows": self.rows, "exists": self.exists, **{k: v for k, v in extra.items() if v is not None}}


@dataclass(frozen=True)
class StepDestruction:
    """What one step drops; ``unreadable`` says why it could not be told offline.

    ``code``: what the classifier could not tell without running it (shown, not destructive
    by itself); ``declared``: the revision's ``destroys_data`` reason.
    """

    step: Step
    losses: tuple[Loss, ...] = ()
    unreadable: str | None = None
    unapplies_only: bool = False  # --fake / stamp: the schema stays, only the record changes
    code: tuple[str, ...] = ()
    declared: str | None = None

    @property
    def asks(self) -> bool:
        """Whether running this step needs a confirmation: every backwards step, and a forward one
        that destroys something the database holds now (an empty table still asks; a column an
        earlier step of the same plan adds, or a fresh database, has nothing to lose)."""
        return self.step.direction == "down" or any(loss.exists for loss in self.losses)

    def as_json(self) -> dict[str, object]:
        return {"destroys": [loss.as_json() for loss in self.losses], "destroys_unknown": self.unreadable,
                "record_only": self.unapplies_only, "runs_code": list(self.code), "destroys_data": self.declared}


def _name(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_loss(operation: Any) -> Loss | None:
    if isinstance(operation, ops.DropTableOp):
        return Loss("table", operation.table_name, schema=operation.schema)
    if isinstance(operation, ops.DropColumnOp):
        return Loss("column", operation.table_name, operation.column_name, operation.schema)
    if isinstance(operation, ops.DropIndexOp):
        return Loss("index", _name(operation.table_name), _name(operation.index_name), operation.schema)
    if isinstance(operation, ops.DropConstraintOp):
        return Loss("constraint", operation.table_name, _name(operation.constraint_name), operation.schema)
    return None


def _fact_loss(fact: Fact) -> Loss:
    if fact.kind == "drop_table":
        return Loss("table", fact.table, schema=fact.schema)
    if fact.kind == "drop_column":
        return Loss("column", fact.table, fact.column, fact.schema)
    if fact.kind == "type_change":
        change = f"{fact.from_type or 'its current type'} -> {fact.to_type or 'another type'}"
        return Loss("type", fact.table, fact.column, fact.schema, change=change, to_type=fact.to_type)
    if fact.kind in ("delete_rows", "truncate"):
        return Loss("rows", fact.table, schema=fact.schema, condition=fact.condition)
    return Loss("schema", None, schema=fact.schema)


def describe_code(fact: Fact) -> str:
    """One thing a step does that cannot be classified without running it, with its line."""
    where = f" (line {fact.line})" if fact.line else ""
    sql = f": {fact.sql}" if fact.sql else ""
    return f"{fact.why}{where}{sql}"


def forward_destruction(tree: LoadedTree, setup: AlembicSetup, step: Step, dialect_name: str,
                        classify: PlanClassifier | None = None) -> StepDestruction:
    """What a forward step destroys, from the classifier; a revision that cannot be imported raises."""
    classified = classify_step(tree, setup, step, dialect_name, classify)
    return StepDestruction(step, tuple(_fact_loss(f) for f in classified.destroys),
                           code=tuple(describe_code(f) for f in classified.code), declared=classified.declared)


def planned_destruction(tree: LoadedTree, setup: AlembicSetup, step: Step, dialect_name: str,
                        classify: PlanClassifier | None = None) -> StepDestruction:
    """What ``step`` drops, from its function called against a recording ``op``; nothing runs."""
    if step.direction != "down":
        return forward_destruction(tree, setup, step, dialect_name, classify)
    try:
        function = revision_function(load_revision_module(tree.path_of(step.revision.id)), "down")
        with recording_op(setup, dialect_name) as recorded:
            function()
    except Exception as exc:  # a downgrade that reads the database cannot be told offline
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return StepDestruction(step, unreadable=f"{type(exc).__name__}: {first}" if first else type(exc).__name__)
    losses = [loss for loss in map(_as_loss, recorded) if loss is not None]
    return StepDestruction(step, tuple(losses))


def count_losses(connection: Connection, losses: Sequence[Loss]) -> list[Loss]:
    """``losses`` with their figures from the live database: one COUNT query per table."""
    inspector = inspect(connection)
    wanted: dict[tuple[str | None, str], set[str]] = {}
    present: dict[tuple[str | None, str], set[str]] = {}
    for loss in losses:
        if loss.kind not in ("table", "column", "type", "rows") or loss.table is None:
            continue
        key = (loss.schema, loss.table)
        if key not in present:
            has = inspector.has_table(loss.table, schema=loss.schema)
            present[key] = {c["name"] for c in inspector.get_columns(loss.table, schema=loss.schema)} if has else set()
            if has:
                wanted[key] = set()
        if loss.kind in ("column", "type") and loss.name in present[key] and key in wanted:
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
        if loss.kind == "table" or (loss.kind == "rows" and loss.condition is None):
            rows = figures.get(key, {}).get(None)
            counted.append(replace(loss, rows=rows, exists=key in figures))
        elif loss.kind == "rows":
            counted.append(replace(loss, rows=_count_where(connection, loss), exists=key in figures))
        elif loss.kind in ("column", "type"):
            rows = figures.get(key, {}).get(loss.name)
            counted.append(replace(loss, rows=rows, exists=rows is not None))
            if loss.kind == "type" and rows and connection.dialect.name == "sqlite":
                counted[-1] = replace(counted[-1], altered=_not_surviving_cast(connection, loss))
        else:
            counted.append(loss)
    return counted


def _count_where(connection: Connection, loss: Loss) -> int | None:
    """The rows a DELETE's WHERE clause matches now; None when the clause cannot be read alone."""
    preparer = connection.dialect.identifier_preparer
    name = preparer.quote(loss.table or "")
    name = f"{preparer.quote_schema(loss.schema)}.{name}" if loss.schema else name
    try:
        with connection.begin_nested():
            return int(connection.execute(text(f"SELECT COUNT(*) FROM {name} WHERE {loss.condition}")).scalar_one())
    except Exception:  # a clause naming an alias or a USING table: shown uncounted
        return None


def _not_surviving_cast(connection: Connection, loss: Loss) -> int | None:
    """SQLite: the values of a column that ``CAST(value AS new type)`` would not keep as they are.

    Alembic's batch rebuild copies ``CAST(col AS type)``; SQLite compares the cast value with
    the original after type affinity, so '12' -> 12 counts as kept and 'abc' -> 0 as lost.
    """

    if not loss.to_type:
        return None
    quote = connection.dialect.identifier_preparer.quote
    col, name = quote(loss.name or ""), quote(loss.table or "")
    query = f"SELECT COUNT(*) FROM {name} WHERE {col} IS NOT NULL AND CAST({col} AS {loss.to_type}) IS NOT {col}"
    try:
        return int(connection.execute(text(query)).scalar_one())
    except Exception:
        return None


def read_destruction(ws: Workspace, steps: Sequence[Step], *, record_only: bool = False) -> list[StepDestruction]:
    """Per step of ``steps`` that drops, deletes or runs code it cannot classify: what, and how much data.

    Every backwards step is listed; a forward one when the classifier finds something to
    show (see :attr:`StepDestruction.asks` for which need a question). ``record_only``
    (``--fake``, ``stamp``): nothing is dropped, the steps are only recorded, so nothing is read.
    """
    if record_only:
        return [StepDestruction(s, unapplies_only=True) for s in steps if s.direction == "down"]
    setup = ws.alembic_setup()
    with classifier(setup, ws.dialect_name) as classify:
        planned = [planned_destruction(ws.tree, setup, s, ws.dialect_name, classify) for s in steps]
    planned = [p for p in planned if p.step.direction == "down" or p.losses or p.code or p.declared]
    everything = [loss for p in planned for loss in p.losses]
    if not everything:
        return planned

    if missing_sqlite_file(ws.settings.database_url):  # a database not created yet holds nothing
        return [p if p.step.direction == "down" else replace(p, losses=tuple(
            replace(loss, exists=False) for loss in p.losses)) for p in planned]
    with ws.engine.connect() as connection:
        counted = iter(count_losses(connection, everything))
    return [replace(p, losses=tuple(next(counted) for _ in p.losses)) for p in planned]


def describe_loss(loss: Loss) -> str:
    """One dropped object with the data it holds, e.g. ``table memories: 3 rows``."""
    if not loss.exists and loss.kind in ("table", "column", "type"):
        noun = "table" if loss.kind == "table" else "column"
        return f"{noun} {loss.qualified}: not in the database (nothing to lose)"
    if loss.kind == "table":
        return f"table {loss.qualified}: " + ("empty (0 rows)" if loss.rows == 0 else _rows(loss.rows))
    if loss.kind in ("column", "type"):
        verb = "holds" if loss.rows == 1 else "hold"
        held = "empty (no row holds a value)" if loss.rows == 0 else f"{_rows(loss.rows)} {verb} a value"
        if loss.kind == "column":
            return f"column {loss.qualified}: {held}"
        kept = ""
        if loss.altered is not None and loss.rows:
            kept = f", {loss.altered} of them would not survive SQLite's copy-and-cast" if loss.altered else \
                ", all of them survive SQLite's copy-and-cast as they are"
        return f"column {loss.qualified} changes type {loss.change}: {held}{kept}"
    if loss.kind == "rows":
        which = f"rows of {loss.qualified} where {loss.condition}" if loss.condition else \
            f"every row of {loss.qualified}"
        if not loss.exists:
            return f"deletes {which}: the table is not in the database (nothing to lose)"
        return f"deletes {which}: " + ("none now (0 rows)" if loss.rows == 0 else _rows(loss.rows))
    if loss.kind == "schema":
        return f"schema {loss.schema}: everything in it (not counted)"
    return f"{loss.kind} {loss.qualified}"


def _rows(count: int | None) -> str:
    if count is None:
        return "rows not counted"
    return f"{count} row" if count == 1 else f"{count} rows"


DestructionCallback = Callable[[str, Sequence[StepDestruction]], None]
"""Called with a headline and, per step that asks, what it destroys; raises to decline."""
