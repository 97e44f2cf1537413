"""The only code that reads or writes ``alembic_version`` and memstack's own tables.

``alembic_version`` keeps Alembic's own layout so the plain ``alembic`` command keeps working
on a database memstack migrated; rows are the applied set's members that no other applied
revision builds on (exactly what Alembic stores).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect
from sqlalchemy.engine import Connection

VERSION_TABLE = "alembic_version"

_version_metadata = MetaData()
version_table = Table(
    VERSION_TABLE,
    _version_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


class Recorder:
    """Reads and writes state on one connection; the caller owns the transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def has_version_table(self) -> bool:
        return inspect(self.connection).has_table(VERSION_TABLE)

    def version_rows(self) -> list[str]:
        if not self.has_version_table():
            return []
        return sorted(row[0] for row in self.connection.execute(version_table.select()))

    def ensure_version_table(self) -> None:
        version_table.create(self.connection, checkfirst=True)

    def replace_rows(self, old: Iterable[str], new: Iterable[str]) -> None:
        """Move the version rows from ``old`` to ``new`` (only the difference is written)."""
        old_set, new_set = set(old), set(new)
        gone, added = old_set - new_set, new_set - old_set
        if gone:
            self.connection.execute(version_table.delete().where(version_table.c.version_num.in_(sorted(gone))))
        for row in sorted(added):
            self.connection.execute(version_table.insert().values(version_num=row))
