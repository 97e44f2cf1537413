"""PostgreSQL and MariaDB scratch builds kept as the SQL they sent, replayed in one go.

A scratch database on a server cannot be copied like a SQLite file, but a build changes it
only through the statements it sends. The statements of a build (with their parameters,
exactly as the driver received them) are kept with the cache entry; a later comparison with
the same key replays them on a new scratch database in one transaction (on MariaDB, whose
DDL commits itself, one after another), as ``psql -1 -f`` would run the tree's SQL. Any
statement that fails (one that cannot run in a transaction, a server that changed) makes
the caller build afresh on another new database: a replay is never half-trusted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

Statement = list[Any]  # [SQL, parameters, executemany]
# the scratch database's own name (random: memstack_scratch_<hex>) as kept; MariaDB's reflection
# names it (SHOW FULL TABLES FROM `...`, information_schema filters), so a replay names its own
DATABASE_NAME = "{memstack scratch database}"


def _renamed(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, (list, tuple)):
        return [_renamed(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _renamed(v, old, new) for k, v in value.items()}
    return value


def _plain(value: Any) -> bool:
    """Kept as JSON without losing anything: no dates, bytes or decimals (those builds are not kept)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


class StatementLog:
    """Every statement ``engine`` sends while the log is open, but those that failed."""
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.database = engine.url.database or ""
        self.statements: list[Statement] = []
        self.keepable = True
        event.listen(engine, "before_cursor_execute", self._sent)
        event.listen(engine, "handle_error", self._failed)

    def _sent(self, _connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              executemany: bool) -> None:
        if not _plain(parameters):
            self.keepable = False
        if self.database:
            statement, parameters = statement.replace(self.database, DATABASE_NAME), _renamed(
                parameters, self.database, DATABASE_NAME)
        self.statements.append([statement, parameters, bool(executemany)])

    def _failed(self, _context: Any) -> None:
        """A statement the build survived failing (MariaDB's reflection probes with DESCRIBE) changed
        nothing: it is not replayed (it would fail the replay)."""
        if self.statements:
            self.statements.pop()

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._sent)
        event.remove(self.engine, "handle_error", self._failed)


def replay(engine: Engine, statements: list[Statement]) -> bool:
    """Send ``statements`` to the empty database of ``engine``; False (nothing trusted) when one fails."""
    database = engine.url.database or ""
    try:
        with engine.connect() as connection, connection.begin():
            cursor = connection.connection.cursor()
            try:
                for kept, kept_parameters, many in statements:
                    statement = kept.replace(DATABASE_NAME, database)
                    parameters = _renamed(kept_parameters, DATABASE_NAME, database)
                    if many:
                        cursor.executemany(statement, parameters)
                    else:
                        cursor.execute(statement, parameters)
            finally:
                cursor.close()
    except Exception:
        return False
    return True


def server_version(engine: Engine) -> str:
    """Part of the key: the same statements may build another schema on another server version."""
    with engine.connect() as connection:
        return f"{connection.dialect.name} {connection.dialect.server_version_info}"
