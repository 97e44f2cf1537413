"""Downgrades of generated revisions that work on every dialect."""

from __future__ import annotations

from typing import Any

from alembic.operations import ops as alembic_ops
from sqlalchemy import ForeignKeyConstraint

from memstack.engine.alembic_compat import table_dropped_by


def _reverse(upgrade: alembic_ops.UpgradeOps) -> tuple[alembic_ops.DowngradeOps, bool]:
    try:
        reversed_ops = upgrade.reverse()
    except NotImplementedError:
        return alembic_ops.DowngradeOps(ops=[]), True
    return alembic_ops.DowngradeOps(ops=reversed_ops.ops), False


def downgrade_for(upgrade: alembic_ops.UpgradeOps) -> tuple[alembic_ops.DowngradeOps, bool]:
    """The downgrade of ``upgrade``, and whether there is none; drops whole tables in either.

    A dropped table's indexes go with the table: dropping them first fails on MariaDB (1553)
    when a foreign key uses one (in the upgrade for a table it drops, in the downgrade for a
    table it creates). The downgrade still recreates them, except the index MariaDB
    made by itself for a foreign key (named as the constraint), which the CREATE TABLE brings back.
    """
    dropped = {op.table_name: op for op in upgrade.ops if isinstance(op, alembic_ops.DropTableOp)}
    downgrade, irreversible = _reverse(upgrade)
    if irreversible:
        return downgrade, irreversible
    # the other way: a table the upgrade creates is dropped with its indexes by the downgrade; dropping
    # its indexes first fails on MariaDB (1553) when one is the only index of a foreign key column
    created = {op.table_name: set[str]() for op in upgrade.ops if isinstance(op, alembic_ops.CreateTableOp)}
    downgrade.ops = _without_index_ops(downgrade.ops, created, alembic_ops.DropIndexOp, only_named=False)
    if not dropped:
        return downgrade, False
    implicit = {name: _foreign_key_names(op) for name, op in dropped.items()}
    downgrade.ops = _without_index_ops(downgrade.ops, implicit, alembic_ops.CreateIndexOp, only_named=True)
    upgrade.ops = _without_index_ops(upgrade.ops, implicit, alembic_ops.DropIndexOp, only_named=False)
    return downgrade, False


def _foreign_key_names(op: alembic_ops.DropTableOp) -> set[str]:
    reverse = table_dropped_by(op)
    items = reverse.columns if reverse is not None else []
    return {str(item.name) for item in items if isinstance(item, ForeignKeyConstraint) and item.name}


def _without_index_ops(ops: list[Any], tables: dict[str, set[str]], kind: type, *, only_named: bool) -> list[Any]:
    """``ops`` without ``kind`` index operations on ``tables`` (only those named in the set when ``only_named``)."""
    kept: list[Any] = []
    for op in ops:
        if isinstance(op, alembic_ops.ModifyTableOps) and op.table_name in tables:
            names = tables[op.table_name]
            op.ops = [inner for inner in op.ops if not (
                isinstance(inner, kind) and (not only_named or str(getattr(inner, "index_name", "")) in names))]
            if not op.ops:
                continue
        kept.append(op)
    return kept
