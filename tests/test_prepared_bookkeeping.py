"""PostgreSQL: each step's bookkeeping statement is prepared once per session (engine/records/prepared.py).

Checked on a real server: one ``PREPARE`` per statement and session whatever the number of steps;
the same rows as the unprepared statement; a revision that runs ``DEALLOCATE ALL``, widens
``alembic_version.version_num`` or adds a column to a table the statement writes does not break
the steps after it; a statement the server cannot prepare, and a session whose psycopg prepares on
its own, are sent as they are (failing as they would).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from support.inspect import history_rows, version_rows
from support.revisions import chain_component

from memstack.core.db import create_engine
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.records.prepared import execute_once_prepared
from memstack.engine.workspace import Workspace

pytestmark = pytest.mark.postgres

STATEMENT = ("WITH added AS (INSERT INTO notes (id, body) VALUES (%(id)s, %(body)s)) "
             "SELECT set_config('synchronous_commit', 'off', true), %(id)s > 0")


@pytest.fixture
def session(postgres_url: str) -> Iterator[Connection]:
    """A migration session as memstack opens one (psycopg's automatic preparing off)."""
    engine = create_engine(postgres_url, for_migrations=True)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (id integer PRIMARY KEY, body varchar(10))")
            yield connection
    finally:
        engine.dispose()


def _prepared(connection: Connection) -> list[str]:
    return list(connection.exec_driver_sql(
        "SELECT name FROM pg_prepared_statements WHERE name LIKE 'memstack%%' ORDER BY name").scalars())


def _bodies(connection: Connection) -> list[tuple[int, str | None]]:
    return [(row[0], row[1]) for row in connection.exec_driver_sql("SELECT id, body FROM notes ORDER BY id")]


def test_prepared_once_then_executed_with_any_value(session: Connection) -> None:
    odd = "50% o'k\\"  # quoting: a percent sign, a quote and a backslash reach the row as written
    for number, body in enumerate(["a", None, odd, "x" * 10], start=1):
        row = execute_once_prepared(session, STATEMENT, {"id": number, "body": body})
        assert tuple(row) == ("off", True)
    assert len(_prepared(session)) == 1
    assert _bodies(session) == [(1, "a"), (2, None), (3, odd), (4, "x" * 10)]


def test_a_value_the_column_refuses_fails_as_the_plain_statement_would(session: Connection) -> None:
    execute_once_prepared(session, STATEMENT, {"id": 1, "body": "short"})
    with pytest.raises(Exception, match="too long"):
        execute_once_prepared(session, STATEMENT, {"id": 2, "body": "far too long for ten"})


def test_deallocate_all_and_changed_tables_are_survived(session: Connection) -> None:
    execute_once_prepared(session, STATEMENT, {"id": 1, "body": "one"})
    session.exec_driver_sql("DEALLOCATE ALL")  # a revision may run it: prepared again next time
    execute_once_prepared(session, STATEMENT, {"id": 2, "body": "two"})
    session.exec_driver_sql("ALTER TABLE notes ALTER COLUMN body TYPE varchar(40)")  # the server re-plans
    session.exec_driver_sql("ALTER TABLE notes ADD COLUMN extra integer")
    execute_once_prepared(session, STATEMENT, {"id": 3, "body": "now longer than ten characters"})
    assert [body for _, body in _bodies(session)] == ["one", "two", "now longer than ten characters"]
    assert len(_prepared(session)) == 1


def test_a_statement_the_server_cannot_prepare_fails_as_the_plain_statement_would(session: Connection) -> None:
    untyped = "SELECT %(anything)s IS NULL"  # nothing says what $1 is
    with pytest.raises(Exception, match="could not determine data type of parameter"):
        execute_once_prepared(session, untyped, {"anything": None})
    session.rollback()
    assert _prepared(session) == []


def test_a_session_where_psycopg_prepares_on_its_own_is_left_alone(postgres_url: str) -> None:
    engine = create_engine(postgres_url, for_migrations=True, connect_args={"prepare_threshold": 5})
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE notes (id integer PRIMARY KEY, body varchar(10))")
            for number in range(1, 4):
                execute_once_prepared(connection, STATEMENT, {"id": number, "body": "b"})
            assert _prepared(connection) == [] and len(_bodies(connection)) == 3
    finally:
        engine.dispose()


def test_a_run_prepares_each_shape_once_and_survives_revisions_that_undo_it(
        project: Path, postgres_url: str, make_component: Any) -> None:
    chain = chain_component(make_component, project, 6, prefix="prep", bodies={
        3: 'op.execute("DEALLOCATE ALL")',
        4: 'op.alter_column("alembic_version", "version_num", type_=sa.String(64))',  # as public projects do
    })
    prepares: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("PREPARE memstack_"):
            prepares.append(statement.split()[1])

    event.listen(Engine, "before_cursor_execute", record)
    try:
        with Workspace.load(project, database_url=postgres_url) as ws:
            results = migrate(ws, options=RunOptions())
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert [r.step.revision.id for r in results] == chain.ids
    assert version_rows(postgres_url) == {chain.ids[-1]}
    applied = [h["revision"] for h in history_rows(postgres_url) if h["component"] == chain.label]
    assert applied == chain.ids
    # shapes: the first row, a row moved lazily, the last (durable) one; the middle shape again after DEALLOCATE
    assert len(prepares) < len(chain.ids) and prepares.count(prepares[1]) == 2, prepares
    with create_engine(postgres_url).connect() as connection:
        assert connection.execute(text("SELECT character_maximum_length FROM information_schema.columns "
                                       "WHERE table_name = 'alembic_version'")).scalar() == 64
