"""Renames instead of drop + add, and NOT NULL columns that existing rows would refuse.

Alembic's autogenerate sees a renamed column or table as one dropped and one added, which
loses the data in it. Like Django, ``makemigrations`` asks whether a likely pair (same type,
in the same table; for tables, the same columns) is a rename; without a terminal the choice
must be given (``--rename``, or ``--no-renames`` for the drop + add).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.autogenerate.render import renderers
from alembic.operations import ops as alembic_ops
from sqlalchemy import func, inspect, select
from sqlalchemy import table as table_clause

from memstack.engine.alembic_compat import table_dropped_by
from memstack.engine.errors import NotNullWithoutDefault, RenameCandidate, UndecidedRenames, UnknownRename
from memstack.engine.generate.comparison import type_family
from memstack.engine.generate.writer import portable_type

__all__ = ["NotNullWithoutDefault", "RenameCandidate", "RenameChoices", "UndecidedRenames", "UnknownRename",
           "apply_renames", "settle"]


@dataclass
class RenameChoices:
    """What the user decided: renames given up front, drop + add accepted, or a question to ask."""
    accepted: set[str] = field(default_factory=set)  # RenameCandidate.key values
    no_renames: bool = False
    ask: Callable[[RenameCandidate], bool] | None = None
    allow_not_null: bool = False
    seen: set[str] = field(default_factory=set)  # every candidate's key, to catch a --rename that matches none

    def decide(self, candidate: RenameCandidate) -> bool | None:
        """True: a rename; False: drop + add; None: nobody decided."""
        self.seen.add(candidate.key)
        if candidate.key in self.accepted:
            return True
        if self.no_renames:
            return False
        if self.ask is not None:
            return self.ask(candidate)
        return None


class RenameColumnOp(alembic_ops.AlterColumnOp):
    """``alter_column(new_column_name=...)`` that can be reversed (Alembic's own cannot)."""
    def reverse(self) -> RenameColumnOp:
        return RenameColumnOp(self.table_name, str(self.modify_name), modify_name=self.column_name,
                              existing_type=self.existing_type, existing_nullable=self.existing_nullable,
                              existing_server_default=self.existing_server_default)


class RenameTableOp(alembic_ops.RenameTableOp):
    """``rename_table`` that can be reversed."""
    def reverse(self) -> RenameTableOp:
        return RenameTableOp(self.new_table_name, self.table_name)


def _render_rename_table(_autogen: Any, op: RenameTableOp) -> str:
    return f"op.rename_table({op.table_name!r}, {op.new_table_name!r})"


def _register_renderer() -> None:
    """Alembic's autogenerate renders no rename_table; registered when renames are settled."""
    renderers.dispatch_for(RenameTableOp, replace=True)(_render_rename_table)


def _family(type_: Any) -> str:
    return type_family(portable_type(type_) or type_)


def _column_shape(columns: Sequence[Any]) -> frozenset[tuple[str, str]]:
    return frozenset((str(c.name), _family(c.type)) for c in columns if hasattr(c, "type"))


def apply_renames(upgrade: alembic_ops.UpgradeOps, choices: RenameChoices) -> list[RenameCandidate]:
    """Turn decided drop + add pairs in ``upgrade`` into renames; return the undecided candidates."""
    undecided = _column_renames(upgrade, choices)
    undecided += _table_renames(upgrade, choices)
    return undecided


def _column_renames(upgrade: alembic_ops.UpgradeOps, choices: RenameChoices) -> list[RenameCandidate]:
    undecided: list[RenameCandidate] = []
    for modify in [op for op in upgrade.ops if isinstance(op, alembic_ops.ModifyTableOps)]:
        drops = [op for op in modify.ops if isinstance(op, alembic_ops.DropColumnOp)]
        adds = [op for op in modify.ops if isinstance(op, alembic_ops.AddColumnOp)]
        for drop in drops:
            old = drop.to_column()
            for add in [a for a in adds if _family(a.column.type) == _family(old.type)]:
                candidate = RenameCandidate("column", modify.table_name, drop.column_name, add.column.name)
                decision = choices.decide(candidate)
                if decision is None:
                    undecided.append(candidate)
                    continue
                if decision:
                    rename = RenameColumnOp(modify.table_name, drop.column_name, modify_name=add.column.name,
                                            existing_type=old.type, existing_nullable=old.nullable,
                                            existing_server_default=old.server_default)
                    modify.ops[modify.ops.index(add)] = rename
                    modify.ops.remove(drop)
                    adds.remove(add)
                    break
    return undecided


def _table_renames(upgrade: alembic_ops.UpgradeOps, choices: RenameChoices) -> list[RenameCandidate]:
    undecided: list[RenameCandidate] = []
    creates = [op for op in upgrade.ops if isinstance(op, alembic_ops.CreateTableOp)]
    for drop in [op for op in upgrade.ops if isinstance(op, alembic_ops.DropTableOp)]:
        dropped = table_dropped_by(drop)
        if dropped is None:
            continue
        shape = _column_shape(dropped.columns)
        for create in [c for c in creates if _column_shape(c.columns) == shape]:
            candidate = RenameCandidate("table", drop.table_name, drop.table_name, create.table_name)
            decision = choices.decide(candidate)
            if decision is None:
                undecided.append(candidate)
                continue
            if decision:
                _rename_table(upgrade, drop, create)
                creates.remove(create)
                break
    return undecided


def _rename_table(upgrade: alembic_ops.UpgradeOps, drop: alembic_ops.DropTableOp,
                  create: alembic_ops.CreateTableOp) -> None:
    """Replace the drop + create with a rename: the old names' indexes go first, the new ones come after."""
    old, new = drop.table_name, create.table_name

    def index_ops(table: str) -> list[Any]:
        return [op for op in upgrade.ops if isinstance(op, alembic_ops.ModifyTableOps) and op.table_name == table]

    before, after = index_ops(old), index_ops(new)
    replaced = [drop, create, *before, *after]
    position = min(upgrade.ops.index(op) for op in replaced)
    kept = [op for op in upgrade.ops if not any(op is r for r in replaced)]
    kept[position:position] = [*before, RenameTableOp(old, new), *after]
    upgrade.ops = kept


# --------------------------------------------------------------------------- NOT NULL without a default


def not_null_additions(upgrade: alembic_ops.UpgradeOps) -> list[tuple[str, str]]:
    """(table, column) of every NOT NULL column without a server default added to an existing table."""
    found: list[tuple[str, str]] = []
    for op in upgrade.ops:
        if not isinstance(op, alembic_ops.ModifyTableOps):
            continue
        for inner in op.ops:
            if isinstance(inner, alembic_ops.AddColumnOp) and type(inner) is alembic_ops.AddColumnOp:
                column = inner.column
                if not column.nullable and column.server_default is None and not column.primary_key:
                    found.append((op.table_name, str(column.name)))
    return found


def count_rows(engine: Any, table: str) -> int | None:
    """Rows in ``table`` of the developer's database; None when it cannot tell (no database, no table)."""

    url = engine.url
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None  # do not create the file just to look into it
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(table):
                return None
            return int(connection.execute(select(func.count()).select_from(table_clause(table))).scalar_one())
    except Exception:  # an unreachable database is a "cannot tell", never a crash of makemigrations
        return None


def settle(changes: dict[str, alembic_ops.UpgradeOps], labels: Sequence[str], choices: RenameChoices,
           engine: Any) -> None:
    """Apply the rename decisions to ``labels``' changes; refuse undecided renames and unsafe NOT NULLs."""
    _register_renderer()
    undecided: list[RenameCandidate] = []
    for label in labels:
        undecided += apply_renames(changes[label], choices)
    unknown = choices.accepted - choices.seen
    if unknown:
        raise UnknownRename(sorted(unknown), undecided)
    if undecided:
        raise UndecidedRenames(undecided)
    if choices.allow_not_null:
        return
    for label in labels:
        for table, column in not_null_additions(changes[label]):
            rows = count_rows(engine, table)
            if rows != 0:
                raise NotNullWithoutDefault(table, column, rows)
