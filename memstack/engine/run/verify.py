"""Steps outside a transaction are checked, not assumed.

A step declaring ``atomic = False`` (``CREATE INDEX CONCURRENTLY``, ``VALIDATE CONSTRAINT``
in an ``autocommit_block()``), and every MariaDB step, commits statement by statement. Its
statements can succeed, or fail, and leave something unusable behind:

* ``CREATE INDEX CONCURRENTLY`` interrupted after its first phase leaves the index INVALID
  (never used by queries, still maintained on every write); ``... IF NOT EXISTS`` over such
  an index succeeds without building it;
* a ``VALIDATE CONSTRAINT`` interrupted leaves the constraint not validated.

:func:`verified_outside` watches the statements a step runs; afterwards (failed or not) it
reads the catalog and raises :class:`~memstack.engine.errors.InvalidObjectsLeft`, naming the
statement that clears each object, so the step is never recorded as applied. A failed step
keeps its real cause: a session ended mid-statement makes Alembic's ``autocommit_block()``
fail again on the way out (``PendingRollbackError``), which hides the first error. A step
whose every statement failed before taking effect (a MariaDB lock-wait timeout on its first
DDL) raises :class:`~memstack.engine.errors.StepNotApplied` and leaves no failure mark.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.exc import PendingRollbackError

from memstack.engine.errors import InvalidObject, InvalidObjectsLeft, StepNotApplied
from memstack.engine.records.recorder import Recorder
from memstack.engine.run.fencing import fenced_step

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from memstack.engine.tree.graph import Step

_NAME = r'("(?:[^"]|"")+"|[\w$]+)'
_CREATE_INDEX = re.compile(rf"\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                           rf"(?:{_NAME}\.)?{_NAME}", re.IGNORECASE)
_VALIDATE = re.compile(rf"\bVALIDATE\s+CONSTRAINT\s+{_NAME}", re.IGNORECASE)
#: statements that change nothing (a step that completed only these did not take effect)
_HARMLESS = re.compile(r"^\s*(SELECT|SHOW|SET|DESCRIBE|EXPLAIN|BEGIN|START\s+TRANSACTION|ROLLBACK|COMMIT)\b",
                       re.IGNORECASE)

_INVALID_INDEXES = (
    "SELECT n.nspname, c.relname, t.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE NOT i.indisvalid AND n.nspname = ANY(current_schemas(false))")
_UNVALIDATED = (
    "SELECT n.nspname, c.conname, t.relname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
    "JOIN pg_namespace n ON n.oid = c.connamespace "
    "WHERE NOT c.convalidated AND n.nspname = ANY(current_schemas(false))")


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def invalid_indexes(connection: Connection) -> list[InvalidObject]:
    """Every INVALID index in the schemas on the search path (``doctor`` reports them too)."""
    return [InvalidObject("index", schema, name, table)
            for schema, name, table in connection.exec_driver_sql(_INVALID_INDEXES)]


def _unvalidated(connection: Connection, names: set[str]) -> list[InvalidObject]:
    return [InvalidObject("constraint", schema, name, table)
            for schema, name, table in connection.exec_driver_sql(_UNVALIDATED) if name in names]


class _Watch:
    """The statements a session started and the ones it completed."""
    def __init__(self, connection: Connection) -> None:
        self.started: list[str] = []
        self.completed: list[str] = []
        self._connection = connection
        event.listen(connection, "before_cursor_execute", self._before)
        event.listen(connection, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.started.append(statement)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.completed.append(statement)

    def stop(self) -> None:
        for name, listener in (("before_cursor_execute", self._before), ("after_cursor_execute", self._after)):
            if event.contains(self._connection, name, listener):
                event.remove(self._connection, name, listener)

    def took_effect(self) -> bool:
        return any(not _HARMLESS.match(statement) for statement in self.completed)

    def claims(self) -> tuple[set[str], set[str]]:
        """(index names, constraint names) the step's statements meant to build or validate."""
        text = "\n".join(self.started)
        return ({_unquote(m.group(2)) for m in _CREATE_INDEX.finditer(text)},
                {_unquote(m.group(1)) for m in _VALIDATE.finditer(text)})


def real_cause(exc: BaseException) -> BaseException:
    """The first error of a failed step: not the ``PendingRollbackError`` a dead session raises later."""
    seen: BaseException | None = exc
    while isinstance(seen, PendingRollbackError):
        earlier = seen.__context__ or seen.__cause__
        if earlier is None:
            break
        seen = earlier
    return seen if seen is not None else exc


@contextmanager
def verified_outside(engine: Engine, connection: Connection, step: Step, *, marked: bool) -> Iterator[None]:
    """Run a step outside a transaction on ``connection``; check what it built (see the module's doc).

    ``marked``: the step carries a running mark, cleared here when nothing of it took effect.
    """
    postgres = engine.dialect.name == "postgresql"
    before = {(o.schema, o.name) for o in _read(engine, invalid_indexes)} if postgres else set()
    watch = _Watch(connection)
    try:
        yield
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the executor records it; a MariaDB step that did nothing is unmarked
        watch.stop()
        if marked and not watch.took_effect() and engine.dialect.name in ("mysql", "mariadb"):
            _clear_mark(engine, step)
        raise
    except Exception as exc:
        watch.stop()
        cause = real_cause(exc)
        left = _left_behind(engine, watch, before) if postgres else []
        if left:
            raise InvalidObjectsLeft(left, cause) from cause
        if not watch.took_effect() and engine.dialect.name in ("mysql", "mariadb"):
            if marked:
                _clear_mark(engine, step)
            raise StepNotApplied(cause) from cause
        if cause is not exc:
            raise cause from None
        raise
    watch.stop()
    left = _left_behind(engine, watch, before) if postgres else []
    if left:
        raise InvalidObjectsLeft(left, None)


@contextmanager
def checked_outside(engine: Engine, connection: Connection, step: Step, *, marked: bool) -> Iterator[None]:
    """A step outside a transaction: the step barrier held (:mod:`.fencing`), what it built checked."""
    with fenced_step(engine, connection, in_transaction=False), verified_outside(engine, connection, step,
                                                                                 marked=marked):
        yield


def _read(engine: Engine, reader: Any) -> list[InvalidObject]:
    with engine.connect() as fresh:  # the step's own session may have been ended
        found: list[InvalidObject] = reader(fresh)
        return found


def _left_behind(engine: Engine, watch: _Watch, before: set[tuple[str, str]]) -> list[InvalidObject]:
    indexes, constraints = watch.claims()
    try:
        with engine.connect() as fresh:
            left = [o for o in invalid_indexes(fresh) if (o.schema, o.name) not in before or o.name in indexes]
            if constraints:
                left += _unvalidated(fresh, constraints)
    except Exception:  # the server is gone: the step's own error says more
        return []
    return left


def _clear_mark(engine: Engine, step: Step) -> None:
    try:
        with engine.connect() as fresh, fresh.begin():
            Recorder(fresh).clear_marks([step.revision.id])
    except Exception:  # the mark stays: safe, the next migrate asks for a repair
        pass
