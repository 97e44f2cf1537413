"""PostgreSQL: the step bookkeeping statement parsed and planned once per session.

A step's bookkeeping is one data-modifying ``WITH`` of about 25 parameters (recorder.write_step).
Sent as an unnamed statement, the server parsed and planned it again for every revision: 0.26 of
its 0.4 ms, more than the ``ALTER TABLE`` it records. psycopg's own prepared statements cannot keep
it: psycopg forgets them after every ``ALTER`` or ``DROP``, which is what revisions run. An SQL
``PREPARE`` belongs to the session instead: the server re-plans it by itself when a table it
touches changes (a revision widening ``alembic_version.version_num``, say), and its result, two
plain values, never changes type.

``EXECUTE``'s arguments are sent as quoted literals cast to the parameter types the server inferred
(a utility statement's parameters would reach the server untyped), rendered by psycopg's own
client-side binding. Used only where nothing else can deallocate the statement: a psycopg session
with automatic preparing off (memstack's migration sessions), and forgotten when a statement of the
session starts with ``DISCARD`` or ``DEALLOCATE``. The statement's text decides its name, so a
changed statement (another shape of step, another memstack) is prepared anew.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError

_KEY = "memstack_prepared"
"""Key in the DBAPI connection's ``info`` (cleared by SQLAlchemy when it reconnects): statement -> EXECUTE text."""

STATEMENT_OPTION = "memstack_prepared_statement"
"""Execution option of each ``EXECUTE``: (the statement it stands for, its parameters), for listeners
that read what a session ran (tests comparing ``--sql`` with a real run, say)."""

_UNPREPARABLE = ""
"""Kept for a statement whose parameter types the server could not infer: sent as it is."""

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_FORGETS = re.compile(r"\s*(DISCARD|DEALLOCATE)\b", re.IGNORECASE)


def execute_once_prepared(connection: Connection, statement: str, parameters: Mapping[str, Any]) -> Row[Any]:
    """The one row ``statement`` (pyformat placeholders) returns, run as a prepared statement when safe."""
    driver = connection.connection.driver_connection
    if getattr(driver, "prepare_threshold", 0) is not None:  # psycopg may DEALLOCATE ALL on its own
        return connection.exec_driver_sql(statement, dict(parameters)).one()
    prepared: dict[str, str] = connection.info.setdefault(_KEY, {})
    execute = prepared.get(statement)
    if execute is None:
        execute = prepared[statement] = _prepare(connection, statement)
    if execute == _UNPREPARABLE:
        return connection.exec_driver_sql(statement, dict(parameters)).one()
    import psycopg  # lazy: only a psycopg session gets here (the driver is imported already)

    rendered = psycopg.ClientCursor(driver).mogrify(execute, dict(parameters))  # type: ignore[arg-type]
    return connection.exec_driver_sql(rendered.replace("%", "%%"), {},
                                      execution_options={STATEMENT_OPTION: (statement, dict(parameters))}).one()


def _prepare(connection: Connection, statement: str) -> str:
    names = list(dict.fromkeys(_PLACEHOLDER.findall(statement)))
    positional = _PLACEHOLDER.sub(lambda m: f"${names.index(m.group(1)) + 1}", statement)
    name = "memstack_" + hashlib.sha256(statement.encode()).hexdigest()[:20]
    _forget_on_discard(connection.engine)
    try:  # (in a savepoint: a statement the server cannot prepare must not end the step's transaction)
        with connection.begin_nested() if connection.in_transaction() else contextlib.nullcontext():
            connection.exec_driver_sql(f"PREPARE {name} AS {positional}".replace("%", "%%"), {})
    except DBAPIError:
        return _UNPREPARABLE  # (the plain statement will say what is wrong with it, if anything)
    types = connection.exec_driver_sql("SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = %(n)s",
                                       {"n": name}).scalar_one()
    if len(types) != len(names) or "unknown" in types:
        connection.exec_driver_sql(f"DEALLOCATE {name}", {})
        return _UNPREPARABLE
    return f"EXECUTE {name}(" + ", ".join(f"%({n})s::{t}" for n, t in zip(names, types, strict=True)) + ")"


def _forget_on_discard(engine: Engine) -> None:
    if not event.contains(engine, "before_cursor_execute", _forgotten):
        event.listen(engine, "before_cursor_execute", _forgotten)


def _forgotten(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    """A revision's ``DISCARD ALL`` or ``DEALLOCATE``: prepare again next time."""
    if _FORGETS.match(statement):
        connection.info.pop(_KEY, None)
