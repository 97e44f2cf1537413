"""The scratch databases of a squash: its operations generated, then the squash proven.

Generating: the tables of the component are built twice on a scratch database, to the squash's
parents and to its end; the end's tables, reflected, are compared with the start by the
comparison ``makemigrations`` uses, and rendered by its writer (portable types and defaults).
PostgreSQL is preferred as the source when a URL is given: SQLite's reflection cannot tell
``DateTime(timezone=True)`` from ``DateTime()``.

Proving: on every dialect given (SQLite always), the old tree and the squashed one are each built
from empty and their catalogs compared (tables, columns with types, nullability and defaults,
primary keys, foreign keys, indexes, unique constraints); then a sample of databases stopped at
a replaced revision are migrated to every head by the squashed tree and compared too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alembic.operations import ops as alembic_ops
from sqlalchemy import MetaData, String, inspect
from sqlalchemy.engine import Engine, make_url

from memstack.core.redaction import mask_url
from memstack.engine.generate.autodetect import build_scratch
from memstack.engine.generate.comparison import compare_component
from memstack.engine.generate.downgrades import downgrade_for
from memstack.engine.generate.scratch import scratch_engine, table_columns
from memstack.engine.run.executor import Executor
from memstack.engine.tree import replaces
from memstack.engine.tree.graph import MigrationGraph, Step
from memstack.engine.tree.loader import LoadedTree
from memstack.engine.tree.planner import forwards_plan
from memstack.engine.workspace import Workspace
from memstack.testing.snapshot import Snapshot, describe_difference, take_snapshot

SQLITE_SCRATCH = "sqlite:///memstack-squash-scratch.db"  # scratch_engine makes a temporary file of it


def dialect_of(url: str) -> str:
    return make_url(url).get_backend_name()


def source_url(urls: Sequence[str]) -> str:
    """Where the operations are generated: PostgreSQL when given (it reflects every type), else SQLite."""
    return next((u for u in urls if dialect_of(u) == "postgresql"), SQLITE_SCRATCH)


def all_heads(graph: MigrationGraph) -> list[str]:
    return [h.id for label in graph.component_order for h in graph.heads(label)]


def run_plan(ws: Workspace, tree: LoadedTree, engine: Engine, plan: list[Step], applied: set[str]) -> None:
    if plan:
        Executor(engine, tree, None, record=False, alembic=ws.alembic_setup()).run(plan, set(applied))


def mysql_lengths(ws: Workspace, tree: LoadedTree, after: Sequence[str], tables: Sequence[str],
                  url: str) -> dict[tuple[str, str], int]:
    """{(table, column): VARCHAR length} as MariaDB builds ``tables``: the other dialects' reflection
    cannot see a ``with_variant(String(n), 'mysql', 'mariadb')``."""
    with scratch_engine(url) as engine:
        build_scratch(ws, engine, None, forwards_plan(tree.graph, after, set()))
        reflected = MetaData()
        with engine.connect() as connection:
            reflected.reflect(connection, only=[t for t in tables if t in table_columns(connection)])
    return {(table.name, column.name): column.type.length for table in reflected.tables.values()
            for column in table.columns if isinstance(column.type, String) and column.type.length}


def _with_mysql_lengths(reflected: MetaData, lengths: dict[tuple[str, str], int]) -> None:
    for table in reflected.tables.values():
        for column in table.columns:
            length = lengths.get((table.name, column.name))
            if isinstance(column.type, String) and not column.type.length and length:
                column.type = String().with_variant(String(length), "mysql", "mariadb")


def _without_serial_defaults(reflected: MetaData) -> None:
    """PostgreSQL reflects an autoincrementing integer key (SERIAL) with its sequence's default,
    ``nextval('t_id_seq'::regclass)``: rendered, it would fail on the other dialects, and the squash
    creating the table makes the sequence itself again. Only a column's own SERIAL sequence is dropped."""
    for table in reflected.tables.values():
        for column in table.columns:
            default = getattr(column.server_default, "arg", None)
            text = "" if default is None else str(getattr(default, "text", default))
            own = {f"nextval('{table.name}_{column.name}_seq'::regclass)",
                   f"nextval('\"{table.name}_{column.name}_seq\"'::regclass)"}
            if text in own:
                column.server_default = None


def generate_ops(ws: Workspace, tree: LoadedTree, component: str, before: Sequence[str], after: Sequence[str],
                 urls: Sequence[str]) -> tuple[alembic_ops.UpgradeOps, alembic_ops.DowngradeOps, bool]:
    """The net change of ``component``'s tables from the state ``before`` to the state ``after``."""
    graph = tree.graph
    url = source_url(urls)
    mysql = next((u for u in urls if dialect_of(u) in ("mysql", "mariadb")), None)
    with scratch_engine(url) as start, scratch_engine(url) as end:
        owners_before = build_scratch(ws, start, None, forwards_plan(graph, before, set()))
        owners_after = build_scratch(ws, end, None, forwards_plan(graph, after, set()))
        owners = {**owners_before, **owners_after}
        mine = sorted(t for t, owner in owners_after.items() if owner == component)
        reflected = MetaData()
        with end.connect() as connection:
            reflected.reflect(connection, only=mine)
        _without_serial_defaults(reflected)
        if mysql is not None:
            _with_mysql_lengths(reflected, mysql_lengths(ws, tree, after, mine, mysql))
        with start.connect() as connection:
            upgrade = compare_component(connection, component, owners, reflected)
    downgrade, irreversible = downgrade_for(upgrade)
    return upgrade, downgrade, irreversible


# --------------------------------------------------------------------------- the proof


@dataclass
class DialectProof:
    """One dialect's verdict: catalog differences of a fresh build, and of each sampled database."""
    dialect: str
    url: str
    tables: int = 0
    differences: list[str] = field(default_factory=list)
    samples: dict[str, list[str]] = field(default_factory=dict)  # replaced revision label -> differences

    @property
    def agrees(self) -> bool:
        return not self.differences and not any(self.samples.values())

    def as_json(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "url": self.url, "tables": self.tables, "agrees": self.agrees,
                "differences": self.differences, "samples": self.samples}

    def lines(self) -> list[str]:
        """The comparison in words, one line per check."""
        verdict = "identical" if not self.differences else f"{len(self.differences)} difference(s)"
        out = [f"{self.dialect}: fresh build, old tree vs squashed: {self.tables} tables, {verdict}"]
        out += [f"  {d}" for d in self.differences]
        for label, found in self.samples.items():
            out.append(f"{self.dialect}: database at {label} migrated to head by the squashed tree: "
                       + ("identical" if not found else f"{len(found)} difference(s)"))
            out += [f"  {d}" for d in found]
        return out


def catalog(engine: Engine) -> Snapshot:
    """The snapshot the pytest plugin compares, plus each table's CHECK constraints (by their SQL)."""
    snapshot = take_snapshot(engine)
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table, entry in snapshot.items():
            entry["checks"] = sorted(" ".join(str(c.get("sqltext", "")).split())
                                     for c in inspector.get_check_constraints(table))
    return snapshot


def built(ws: Workspace, tree: LoadedTree, url: str) -> Snapshot:
    """The catalog of a fresh database migrated to every head of ``tree``."""
    with scratch_engine(url) as engine:
        run_plan(ws, tree, engine, forwards_plan(tree.graph, all_heads(tree.graph), set()), set())
        return catalog(engine)


def from_replaced(ws: Workspace, old: LoadedTree, new: LoadedTree, url: str, revision: str) -> Snapshot:
    """A database built by the old tree up to ``revision``, then migrated to every head by the new one."""
    applied = {revision} | old.graph.ancestors(revision)
    rows = sorted(old.graph.rows_for(applied))
    view = new.view_for(rows)
    known = view.graph.applied_from_rows([r for r in rows if view.graph.knows_row(r)])
    with scratch_engine(url) as engine:
        run_plan(ws, old, engine, forwards_plan(old.graph, [revision], set()), set())
        run_plan(ws, view, engine, forwards_plan(view.graph, all_heads(view.graph), known), known)
        return catalog(engine)


def prove(ws: Workspace, old: LoadedTree, new: LoadedTree, samples: Sequence[str], urls: Sequence[str]
          ) -> list[DialectProof]:
    """Every dialect's verdict (SQLite first, then each URL's server)."""
    proofs: list[DialectProof] = []
    for url in [SQLITE_SCRATCH, *urls]:
        proof = DialectProof(dialect_of(url), "(temporary file)" if url == SQLITE_SCRATCH else mask_url(url))
        expected = built(ws, old, url)
        proof.tables = len(expected)
        proof.differences = describe_difference(expected, built(ws, new, url))
        for revision in samples:
            label = old.graph.get(revision).label
            proof.samples[label] = describe_difference(expected, from_replaced(ws, old, new, url, revision))
        proofs.append(proof)
    return proofs


def sample(ids: Sequence[str], count: int) -> list[str]:
    """``count`` of ``ids`` spread evenly, the first and the last always among them."""
    if count <= 0:
        return []
    if len(ids) <= count:
        return list(ids)
    step = (len(ids) - 1) / max(count - 1, 1)
    return list(dict.fromkeys(ids[round(i * step)] for i in range(count)))


def squashed_tree(old: LoadedTree, new_revisions: dict[str, Any], squashes: dict[str, tuple[str, ...]],
                  paths: dict[str, Any]) -> LoadedTree:
    """The tree once the squash files exist (they may still be in a temporary folder)."""
    tree = LoadedTree(MigrationGraph(component_order=list(old.graph.component_order)), {**old.paths, **paths},
                      old.non_atomic, old.guards, squashes, old.elidable, new_revisions)
    view = replaces.resolve(new_revisions, squashes, [])
    for revision in view.revisions:
        tree.graph.add(revision)
    tree.graph.row_aliases.update(view.row_aliases)
    return tree
