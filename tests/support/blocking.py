"""A session that holds a table the way an application's reader does, for the guard's tests.

(The ``net`` branch's ``support/faults.py`` has the same ``reader_holding``; this one keeps the
guard's tests independent of it.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from memstack.core.db import create_engine


@dataclass
class HeldReader:
    connection: Connection
    pid: int

    def release(self) -> None:
        """End the reader's transaction (its locks go with it)."""
        self.connection.rollback()


@contextlib.contextmanager
def reader_holding(url: str, table: str) -> Iterator[HeldReader]:
    """A session holding ACCESS SHARE on ``table`` in an open transaction (MariaDB: a metadata lock)."""
    engine = create_engine(url, poolclass=NullPool)
    connection = engine.connect()
    quoted = engine.dialect.identifier_preparer.quote(table)
    try:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"LOCK TABLE {quoted} IN ACCESS SHARE MODE")
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        else:
            connection.exec_driver_sql(f"SELECT count(*) FROM {quoted}").all()
            pid = connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        yield HeldReader(connection, int(pid or 0))
    finally:
        with contextlib.suppress(Exception):
            connection.rollback()
        with contextlib.suppress(Exception):
            connection.close()
        engine.dispose()
