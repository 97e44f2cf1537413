"""A database's schema as plain data, read by reflection, so two moments can be compared.

The up/down/up and "downgrades leave no trace" checks compare snapshots; the diff names the
tables and columns that differ, because "schemas differ" alone sends people digging.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from memstack.core.components import is_bookkeeping_table

Snapshot = dict[str, dict[str, Any]]
"""{table: {"columns": {...}, "primary_key": [...], "foreign_keys": [...], "indexes": [...], "unique": [...]}}"""


def _column(column: dict[str, Any]) -> str:
    default = column.get("default")
    return f"{column['type']!s} {'NULL' if column['nullable'] else 'NOT NULL'}" + (
        f" DEFAULT {default}" if default is not None else "")


def _foreign_key(fk: dict[str, Any]) -> str:
    return (f"({', '.join(fk['constrained_columns'])}) -> {fk['referred_table']}"
            f"({', '.join(fk['referred_columns'])})")


def _index(index: dict[str, Any]) -> str:
    columns = ", ".join(str(c) for c in index.get("column_names") or [])
    return f"{index.get('name')}({columns}){' unique' if index.get('unique') else ''}"


def take_snapshot(bind: Engine | Connection, cache: SnapshotCache | None = None) -> Snapshot:
    """Every application table of the database (bookkeeping and ``alembic_version`` left out).

    With a ``cache`` on SQLite, only tables whose DDL text (or whose indexes') changed since
    the last snapshot are reflected again: a walk over a thousand revisions stays linear.
    """
    if isinstance(bind, Engine):
        with bind.connect() as connection:  # one connection for every reflection query
            return take_snapshot(connection, cache)
    inspector = inspect(bind)
    tables = sorted(t for t in inspector.get_table_names() if not is_bookkeeping_table(t))
    if cache is None or inspector.dialect.name != "sqlite":
        return _reflect(inspector, tables)
    return cache.refresh(bind, inspector, tables)


class SnapshotCache:
    """Per-table reflections of a SQLite database, keyed by the table's DDL in sqlite_master."""
    def __init__(self) -> None:
        self._tables: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {}

    def refresh(self, connection: Connection, inspector: Any, tables: list[str]) -> Snapshot:
        rows = connection.execute(text("SELECT tbl_name, COALESCE(sql, name) FROM sqlite_master ORDER BY type, name"))
        ddl: dict[str, list[str]] = {}
        for table, sql in rows:
            ddl.setdefault(table, []).append(sql)
        changed = [t for t in tables if t not in self._tables or self._tables[t][0] != tuple(ddl.get(t, ()))]
        fresh = _reflect(inspector, changed)
        self._tables = {t: (tuple(ddl.get(t, ())), fresh[t] if t in fresh else self._tables[t][1]) for t in tables}
        return {t: entry[1] for t, entry in self._tables.items()}


def _reflect(inspector: Any, tables: list[str]) -> Snapshot:
    snapshot: Snapshot = {}
    if not tables:
        return snapshot
    columns = inspector.get_multi_columns(filter_names=tables)
    keys = inspector.get_multi_pk_constraint(filter_names=tables)
    fks = inspector.get_multi_foreign_keys(filter_names=tables)
    indexes = inspector.get_multi_indexes(filter_names=tables)
    uniques = inspector.get_multi_unique_constraints(filter_names=tables)
    for (_, table), cols in sorted(columns.items(), key=lambda item: str(item[0][1])):
        key = (None, table)
        snapshot[table] = {
            "columns": {c["name"]: _column(c) for c in cols},
            "primary_key": list(keys.get(key, {}).get("constrained_columns") or []),
            "foreign_keys": sorted(_foreign_key(fk) for fk in fks.get(key, [])),
            "indexes": sorted(_index(i) for i in indexes.get(key, [])),
            "unique": sorted(", ".join(str(c) for c in u["column_names"]) for u in uniques.get(key, [])),
        }
    return snapshot


def describe_difference(expected: Snapshot, actual: Snapshot) -> list[str]:
    """What ``actual`` has that ``expected`` lacks and the other way round, one line each."""
    lines: list[str] = []
    for table in sorted(set(expected) - set(actual)):
        lines.append(f"table {table} is missing")
    for table in sorted(set(actual) - set(expected)):
        lines.append(f"table {table} is left over (columns: {', '.join(actual[table]['columns'])})")
    for table in sorted(set(expected) & set(actual)):
        lines += _table_difference(table, expected[table], actual[table])
    return lines


def _table_difference(table: str, expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    want, have = expected["columns"], actual["columns"]
    for name in want.keys() - have.keys():
        lines.append(f"column {table}.{name} is missing")
    for name in have.keys() - want.keys():
        lines.append(f"column {table}.{name} is left over ({have[name]})")
    for name in sorted(want.keys() & have.keys()):
        if want[name] != have[name]:
            lines.append(f"column {table}.{name} was {want[name]}, is now {have[name]}")
    for part in ("primary_key", "foreign_keys", "indexes", "unique", "checks"):  # (checks: squash's catalog)
        if expected.get(part) != actual.get(part):
            lines.append(f"{part.replace('_', ' ')} of {table} was {expected[part]}, is now {actual[part]}")
    return lines
