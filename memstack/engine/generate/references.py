"""What operations reference: foreign-key targets, the revisions that created them, reference cycles.

Pure functions over Alembic operations, shared by the autodetector's dependency inference and
its FK-cycle split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alembic.operations import ops as alembic_ops
from sqlalchemy import ForeignKeyConstraint, MetaData

from memstack.core.db import NAMING_CONVENTION


@dataclass
class Creators:
    """Which revision created each table and each column of the scratch database (by revision id)."""
    tables: dict[str, str] = field(default_factory=dict)
    columns: dict[tuple[str, str], str] = field(default_factory=dict)

    def of(self, table: str, column: str | None) -> str | None:
        """The revision a reference to ``table.column`` needs: the column's, else the table's."""
        return self.columns.get((table, column or "")) or self.tables.get(table)


def referenced_tables(op: Any) -> set[str]:
    """Tables an operation's foreign keys point to."""
    found: set[str] = set()
    if isinstance(op, alembic_ops.ModifyTableOps):
        for inner in op.ops:
            found |= referenced_tables(inner)
    elif isinstance(op, alembic_ops.CreateTableOp):
        for item in op.columns:
            for fk in getattr(item, "foreign_keys", ()) or ():
                found.add(target_table(fk))
            if isinstance(item, ForeignKeyConstraint):
                for element in item.elements:
                    found.add(target_table(element))
    elif isinstance(op, alembic_ops.AddColumnOp):
        for fk in op.column.foreign_keys:
            found.add(target_table(fk))
    elif isinstance(op, alembic_ops.CreateForeignKeyOp):
        found.add(op.referent_table)
    return found


def referenced_columns(op: Any) -> set[tuple[str, str]]:
    """(table, column) pairs an operation's foreign keys point to."""
    found: set[tuple[str, str]] = set()
    if isinstance(op, alembic_ops.ModifyTableOps):
        for inner in op.ops:
            found |= referenced_columns(inner)
    elif isinstance(op, alembic_ops.CreateTableOp):
        for item in op.columns:
            for fk in getattr(item, "foreign_keys", ()) or ():
                found.add(_target(fk))
            if isinstance(item, ForeignKeyConstraint):
                found |= {_target(element) for element in item.elements}
    elif isinstance(op, alembic_ops.AddColumnOp):
        found |= {_target(fk) for fk in op.column.foreign_keys}
    elif isinstance(op, alembic_ops.CreateForeignKeyOp):
        found |= {(op.referent_table, column) for column in op.remote_cols}
    return found


def _target(element: Any) -> tuple[str, str]:
    table, column = str(element.target_fullname).rsplit(".", 2)[-2:]
    return table, column


def target_table(element: Any) -> str:
    return str(element.target_fullname.rsplit(".", 2)[-2])


def created_tables(upgrade: alembic_ops.UpgradeOps) -> set[str]:
    return {op.table_name for op in upgrade.ops if isinstance(op, alembic_ops.CreateTableOp)}


def defer_foreign_keys(upgrade: alembic_ops.UpgradeOps, deferred_tables: set[str]) -> list[Any]:
    """Strip FKs to ``deferred_tables`` from CREATE TABLE ops; return ops that add them later."""
    later: list[Any] = []
    new_ops: list[Any] = []
    for op in upgrade.ops:
        if not isinstance(op, alembic_ops.CreateTableOp):
            new_ops.append(op)
            continue
        table = op.to_table()
        copy = table.to_metadata(MetaData(naming_convention=NAMING_CONVENTION))
        moved: list[ForeignKeyConstraint] = []
        for constraint in list(copy.foreign_key_constraints):
            if target_table(constraint.elements[0]) in deferred_tables:
                copy.constraints.discard(constraint)
                for element in constraint.elements:
                    element.parent.foreign_keys.discard(element)
                    copy.foreign_keys.discard(element)
                moved.append(constraint)
        if not moved:
            new_ops.append(op)
            continue
        new_ops.append(alembic_ops.CreateTableOp.from_table(copy))
        adds = []
        for constraint in moved:
            name = f"{table.name}_{constraint.column_keys[0]}_fkey"
            adds.append(alembic_ops.CreateForeignKeyOp(
                name, table.name, target_table(constraint.elements[0]),
                list(constraint.column_keys), [e.target_fullname.rsplit(".", 1)[-1] for e in constraint.elements],
            ))
        later.append(alembic_ops.ModifyTableOps(table.name, adds))
    upgrade.ops = new_ops
    return later


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            result.append(component)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return result
