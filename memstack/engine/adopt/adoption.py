"""Adoption of databases built by MemStack's old code (``create_all`` + hand-written steps).

Such a database has MemStack's tables but no version table (or a version row like ``001``
that no file provides). We learn what each revision creates by applying the tree to a scratch
database and diffing its schema after each step; then each revision whose effect is already
present in the real database is recorded as applied (event ``adopt``), missing indexes of
half-present revisions are created, and the rest is applied normally. A database that matches
no state of the graph (an incompatible column type, a table missing in the middle) is refused,
with the difference shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from memstack.core.components import is_bookkeeping_table
from memstack.core.errors import DeclinedError
from memstack.engine.errors import AlreadyManaged, NoMatchingState, NothingToAdopt
from memstack.engine.generate.comparison import type_family
from memstack.engine.generate.scratch import scratch_engine
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.records.recorder import Recorder, utcnow
from memstack.engine.records.status import read_version_rows
from memstack.engine.run.executor import Executor
from memstack.engine.run.lock import WaitCallback, migration_lock
from memstack.engine.run.steps import ProgressCallback
from memstack.engine.tree.graph import Step
from memstack.engine.tree.loader import checksum_file
from memstack.engine.tree.planner import ConfirmCallback, forwards_plan
from memstack.engine.workspace import Workspace

# --------------------------------------------------------------------------- schema snapshots


@dataclass
class TableShape:
    columns: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # name -> (family, spelled, has default)
    indexes: dict[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)  # name -> (columns, unique)
    foreign_keys: set[tuple[tuple[str, ...], str]] = field(default_factory=set)  # (columns, referred table)
    uniques: set[tuple[str, ...]] = field(default_factory=set)


def snapshot(connection: Connection) -> dict[str, TableShape]:
    inspector = inspect(connection)
    shapes: dict[str, TableShape] = {}
    for table in inspector.get_table_names():
        if is_bookkeeping_table(table):
            continue
        shape = TableShape()
        for column in inspector.get_columns(table):
            shape.columns[column["name"]] = (type_family(column["type"]), str(column["type"]),
                                             column.get("default") is not None)
        for index in inspector.get_indexes(table):
            columns = tuple(c for c in index["column_names"] if c)
            name = index.get("name")
            if name:
                shape.indexes[name] = (columns, bool(index.get("unique")))
            if index.get("unique"):
                shape.uniques.add(columns)
        for fk in inspector.get_foreign_keys(table):
            shape.foreign_keys.add((tuple(fk["constrained_columns"]), fk["referred_table"]))
        for unique in inspector.get_unique_constraints(table):
            shape.uniques.add(tuple(unique["column_names"]))
        shapes[table] = shape
    return shapes


# --------------------------------------------------------------------------- effects of revisions


@dataclass(frozen=True)
class Effect:
    kind: str  # table | column | index | foreign_key | unique
    table: str
    name: str
    detail: Any = None  # column: (family, spelled); index: (columns, unique); fk: (columns, referred)

    def describe(self) -> str:
        if self.kind == "table":
            return f"table {self.table}"
        if self.kind == "column":
            return f"column {self.table}.{self.name} ({self.detail[1]})"
        if self.kind == "index":
            return f"index {self.name} on {self.table} ({', '.join(self.detail[0])})"
        if self.kind == "foreign_key":
            return f"foreign key {self.table}({', '.join(self.detail[0])}) -> {self.detail[1]}"
        return f"unique constraint on {self.table} ({', '.join(self.detail)})"


def diff_effects(before: dict[str, TableShape], after: dict[str, TableShape]) -> list[Effect]:
    """What a step added (drops are not effects we look for)."""
    effects: list[Effect] = []
    for table, shape in after.items():
        old = before.get(table)
        if old is None:
            effects.append(Effect("table", table, table))
            old = TableShape()
        for column, (family, spelled, _) in shape.columns.items():
            if column not in old.columns:
                effects.append(Effect("column", table, column, (family, spelled)))
        for name, spec in shape.indexes.items():
            if name not in old.indexes:
                effects.append(Effect("index", table, name, spec))
        for fk in shape.foreign_keys - old.foreign_keys:
            effects.append(Effect("foreign_key", table, "_".join(fk[0]), fk))
        for unique in shape.uniques - old.uniques:
            if not any(spec[0] == unique for spec in shape.indexes.values()):
                effects.append(Effect("unique", table, "_".join(unique), unique))
    return effects


def revision_effects(ws: Workspace) -> tuple[dict[str, list[Effect]], dict[str, TableShape]]:
    """{revision: what it adds}, and the fully migrated schema, learned on a scratch database."""
    effects: dict[str, list[Effect]] = {}
    with scratch_engine(ws.settings.database_url, ws.settings.scratch_database_url) as engine:
        shapes: dict[str, dict[str, TableShape]] = {"now": {}}

        def track(event: str, step: Step, _result: object) -> None:
            if event != "done":
                return
            with engine.connect() as connection:
                current = snapshot(connection)
            effects[step.revision.id] = diff_effects(shapes["now"], current)
            shapes["now"] = current

        heads = [h.id for label in ws.registry.labels for h in ws.graph.heads(label)]
        plan = forwards_plan(ws.graph, heads, set())
        # unguarded: a scratch database nothing else uses (generate/scratch.py)
        Executor(engine, ws.tree, track, record=False, alembic=ws.alembic_setup()).run(plan, set())
    return effects, shapes["now"]


# --------------------------------------------------------------------------- analysis


@dataclass
class AdoptionPlan:
    present: set[str]
    create_indexes: list[tuple[str, Effect]]  # (revision, missing index) created during adoption
    variants: list[str]  # compatible differences accepted
    foreign_rows: list[str]  # version rows that no file provides (e.g. "001"), replaced
    ignored_tables: list[str]
    pending: list[Step]

    @property
    def empty(self) -> bool:
        return not self.present


def _present(effect: Effect, shapes: dict[str, TableShape], dialect: str,
             variants: list[str]) -> tuple[bool, str | None]:
    """(present?, incompatibility) of one effect in the real database."""
    shape = shapes.get(effect.table)
    if effect.kind == "table":
        return shape is not None, None
    if shape is None:
        return False, None
    if effect.kind == "column":
        actual = shape.columns.get(effect.name)
        if actual is None:
            return False, None
        family, spelled = effect.detail
        if actual[0] != family:
            return True, (f"column {effect.table}.{effect.name} is {actual[1]} in the database, "
                          f"but the migrations make it {spelled}")
        if actual[1].upper() != spelled.upper():
            variants.append(f"column {effect.table}.{effect.name} is {actual[1]} where a fresh database has "
                            f"{spelled} (compatible)")
        return True, None
    if effect.kind == "index":
        columns, unique = effect.detail
        if effect.name in shape.indexes:
            return True, None
        same = [n for n, spec in shape.indexes.items() if spec == (columns, unique)]
        if same:
            variants.append(f"index {same[0]} on {effect.table} stands for {effect.name} (same columns)")
            return True, None
        return False, None
    if effect.kind == "foreign_key":
        if effect.detail in shape.foreign_keys:
            return True, None
        return False, None
    return effect.detail in shape.uniques or any(spec == (effect.detail, True) for spec in shape.indexes.values()), None


def analyse(ws: Workspace, connection: Connection, rows: Sequence[str]) -> AdoptionPlan:
    """Which revisions a database built by the old code already holds; refuse when none fits."""
    effects, fresh = revision_effects(ws)
    shapes = snapshot(connection)
    dialect = connection.dialect.name
    graph = ws.graph
    variants: list[str] = []
    problems: list[str] = []
    present: set[str] = set()
    create_indexes: list[tuple[str, Effect]] = []
    order = graph.toposort(set(graph.revisions))
    for rid in order:
        rev = graph.get(rid)
        found = [(effect, *_present(effect, shapes, dialect, variants)) for effect in effects.get(rid, [])]
        problems += [problem for _, _, problem in found if problem]
        if not found:  # a merge or an empty revision: present when all it builds on is
            if all(p in present for p in rev.parents) and rev.parents:
                present.add(rid)
            continue
        have = [effect for effect, ok, _ in found if ok]
        missing = [effect for effect, ok, _ in found if not ok]
        if not have:
            continue
        structural = [m for m in missing if m.kind in ("table", "column")]
        if structural:
            problems.append(f"{rev.label} is only partly present: has {', '.join(e.describe() for e in have)}, "
                            f"lacks {', '.join(e.describe() for e in structural)}")
            continue
        for effect in missing:
            if effect.kind == "index":
                create_indexes.append((rid, effect))
            elif dialect == "sqlite":
                variants.append(f"{effect.describe()} is missing (SQLite databases of the old code were built "
                                "without it; accepted)")
            else:
                problems.append(f"{rev.label}: {effect.describe()} is missing")
        present.add(rid)
    for rid in sorted(present):
        missing_parents = [p for p in graph.ancestors(rid) if p not in present]
        if missing_parents:
            rev = graph.get(rid)
            needs = ", ".join(sorted(graph.get(p).label for p in missing_parents))
            problems.append(f"{rev.label} is present but what it builds on is not: {needs}")
    for table, shape in shapes.items():
        expected = fresh.get(table)
        if expected is None:
            continue
        for column, (_, _spelled, has_default) in shape.columns.items():
            if column in expected.columns and has_default and not expected.columns[column][2]:
                variants.append(f"column {table}.{column} carries an SQL DEFAULT that a fresh database does not "
                                "have (harmless)")
    if problems:
        raise NoMatchingState(list(dict.fromkeys(problems)))
    known_tables = {e.table for effs in effects.values() for e in effs if e.kind == "table"}
    ignored = sorted(t for t in shapes if t not in known_tables)
    foreign = [r for r in rows if r not in graph]
    heads = [h.id for label in ws.registry.labels for h in graph.heads(label)]
    pending = forwards_plan(graph, heads, present)
    return AdoptionPlan(present, create_indexes, list(dict.fromkeys(variants)), foreign, ignored, pending)


# --------------------------------------------------------------------------- the whole adoption


def adopt(ws: Workspace, *, confirm: ConfirmCallback | None = None, progress: ProgressCallback | None = None,
          on_wait: WaitCallback | None = None, report: Callable[[AdoptionPlan], None] | None = None) -> AdoptionPlan:
    """Record what the old code built as applied, create missing indexes, then migrate the rest."""

    with migration_lock(ws.engine, ws.settings.lock_timeout, on_wait):
        with ws.engine.connect() as connection:
            rows = read_version_rows(connection)
            known = [r for r in rows if r in ws.graph]
            if known:
                raise AlreadyManaged(known)
            plan = analyse(ws, connection, rows)
        if plan.empty:  # checked before the report: a plan of "0 present, all pending" only confuses
            raise NothingToAdopt()
        if report is not None:
            report(plan)
        if confirm is None:
            raise DeclinedError("adoption needs confirmation", hint="pass --yes")
        confirm("Record the revisions above as applied (event adopt)?", [])
        with ws.engine.connect() as connection, connection.begin():
            recorder = Recorder(connection)
            recorder.ensure_version_table()
            recorder.ensure_bookkeeping()
            context = MigrationContext.configure(connection=connection)
            operations = Operations(context)
            for _rid, effect in plan.create_indexes:
                columns, unique = effect.detail
                operations.create_index(effect.name, effect.table, list(columns), unique=unique)
            recorder.replace_rows(rows, ws.graph.rows_for(plan.present))
            for rid in ws.graph.toposort(plan.present):
                rev = ws.graph.get(rid)
                checksum = checksum_file(ws.tree.path_of(rid))
                recorder.record_applied(rid, rev.component, rev.name, checksum, verified=False)
                recorder.add_history(event="adopt", component=rev.component, revision=rid, name=rev.name,
                                     direction="up", started_at=utcnow(), duration_ms=0, success=True,
                                     checksum=checksum,
                                     note="; ".join(plan.variants) if plan.variants else None)
    if plan.pending:

        migrate(ws, options=RunOptions(progress=progress, on_wait=on_wait, confirm=confirm))
    return plan
