"""How far a marked (failed or interrupted) revision got: which of its objects exist.

On a database without transactional DDL (MariaDB) a revision that failed half-way leaves
some of its tables, columns and indexes behind. Before ``repair`` or ``migrate --fake`` the
user has to know which. We learn what the revision does by calling its function with a
recording ``op`` (nothing is executed or rendered; no scratch database is needed, unlike
adoption) and compare each object with the live database.

Only objects with a name are checked, in plain operations and in ``batch_alter_table``
blocks alike; what a name cannot show (``op.execute``, data, type changes) is listed as not
checked.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.migration import MigrationContext
from alembic.operations import Operations, ops
from sqlalchemy import inspect

from memstack.engine.alembic_compat import installed_as_op
from memstack.engine.run.alembic_config import load_revision_module, revision_function
from memstack.engine.run.verify import invalid_indexes

if TYPE_CHECKING:
    from alembic.operations.ops import MigrateOperation
    from sqlalchemy.engine import Connection, Inspector

    from memstack.engine.errors import InvalidObject
    from memstack.engine.tree.graph import Revision


@dataclass(frozen=True)
class Expected:
    """One object the revision touches: ``kind`` (table/column/index/constraint), where, and
    whether it exists once the revision is complete."""

    kind: str
    table: str
    name: str
    exists_after: bool

    def describe(self) -> str:
        where = self.table if self.kind == "table" else f"{self.table}.{self.name}" if self.kind == "column" \
            else f"{self.name} on {self.table}"
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class MarkProgress:
    """What of a marked revision is done (``done``), not done (``pending``), and not checked."""
    done: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    error: str | None = None  # why nothing could be compared
    invalid: list[str] = field(default_factory=list)  # statements that drop the INVALID indexes it left

    def describe(self) -> str:
        if self.error:
            return f"which of its objects exist could not be told ({self.error})"
        parts = [f"done: {', '.join(self.done) or 'nothing'}", f"not done: {', '.join(self.pending) or 'nothing'}"]
        if self.unchecked:
            parts.append(f"not checked: {', '.join(self.unchecked)}")
        return "; ".join(parts)


def mark_progress(connection: Connection, revision: Revision, direction: str) -> MarkProgress:
    """Compare what ``revision`` does in ``direction`` with the live database on ``connection``."""
    if not revision.path:
        return MarkProgress(error="its file is not known")
    try:
        expected, unchecked = expected_objects(Path(revision.path), direction, connection.dialect.name)
        inspector = inspect(connection)
        done: list[str] = []
        pending: list[str] = []
        unusable = _invalid_indexes(connection)
        invalid: list[str] = []
        for item in expected:
            exists = _exists(inspector, item)
            bad = unusable.get(item.name) if item.kind == "index" and exists else None
            if bad is not None:  # exists, but no query uses it: not done, and it has to go first
                pending.append(f"{item.describe()} exists but is INVALID (drop it: {bad.fix})")
                invalid.append(bad.fix)
                continue
            text = f"{item.describe()} {_state_word(item, exists)}"
            (done if exists == item.exists_after else pending).append(text)
    except Exception as exc:  # a revision that needs a live database, or a bug in it: say so, do not crash
        detail = str(exc).strip().splitlines()
        return MarkProgress(error=f"{type(exc).__name__}: {detail[0] if detail else ''}".rstrip(": "))
    return MarkProgress(done, pending, unchecked, invalid=invalid)


def _invalid_indexes(connection: Connection) -> dict[str, InvalidObject]:
    """PostgreSQL's INVALID indexes by name (an interrupted ``CREATE INDEX CONCURRENTLY`` leaves one)."""
    if connection.dialect.name != "postgresql":
        return {}

    return {o.name: o for o in invalid_indexes(connection)}


def _state_word(item: Expected, exists: bool) -> str:
    if item.exists_after:
        return "exists" if exists else "is missing"
    return "is gone" if not exists else "is still there"


def expected_objects(path: Path, direction: str, dialect_name: str) -> tuple[list[Expected], list[str]]:
    """The named objects the revision creates or drops, in order, and what cannot be checked."""
    function = revision_function(load_revision_module(path), direction)
    recorded: list[MigrateOperation] = []
    unchecked: list[str] = []
    with _recording_op(dialect_name, recorded, unchecked):
        function()
    expected: list[Expected] = []
    for operation in recorded:
        found = _expectations(operation)
        if found is None:
            unchecked.append(_unchecked_text(operation))
        expected += found or []
    return expected, unchecked


@contextmanager
def _recording_op(dialect_name: str, recorded: list[MigrateOperation], unchecked: list[str]) -> Iterator[None]:
    """Alembic's ``op`` proxy, recording each operation instead of running it."""
    context = MigrationContext.configure(dialect_name=dialect_name,
                                         opts={"as_sql": True, "output_buffer": io.StringIO()})
    operations = Operations(context)

    def record(operation: MigrateOperation) -> Any:
        recorded.append(operation)
        return operation.to_table(context) if isinstance(operation, ops.CreateTableOp) else None

    original_batch = operations.batch_alter_table

    @contextmanager
    def batch(table_name: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """A batch block's operations, recorded one by one like plain ones (each names its table)."""
        with original_batch(table_name, *args, **kwargs) as batch_op:
            batch_op.invoke = record  # type: ignore[method-assign]
            yield batch_op

    operations.invoke = record  # type: ignore[method-assign]
    operations.batch_alter_table = batch  # type: ignore[method-assign]
    with installed_as_op(operations):
        yield


def _expectations(operation: MigrateOperation) -> list[Expected] | None:
    """What ``operation`` leaves behind by name; None when a name cannot show it."""
    handlers: list[tuple[type[Any], Callable[[Any], list[Expected]]]] = [
        (ops.CreateTableOp, lambda o: [Expected("table", o.table_name, o.table_name, True)]),
        (ops.DropTableOp, lambda o: [Expected("table", o.table_name, o.table_name, False)]),
        (ops.RenameTableOp, lambda o: [Expected("table", o.table_name, o.table_name, False),
                                       Expected("table", o.new_table_name, o.new_table_name, True)]),
        (ops.AddColumnOp, lambda o: [Expected("column", o.table_name, o.column.name, True)]),
        (ops.DropColumnOp, lambda o: [Expected("column", o.table_name, o.column_name, False)]),
        (ops.CreateIndexOp, lambda o: [Expected("index", o.table_name, str(o.index_name), True)]),
        (ops.DropIndexOp, lambda o: [Expected("index", o.table_name or "", str(o.index_name), False)]),
        (ops.CreateForeignKeyOp, lambda o: [Expected("foreign key", o.source_table, str(o.constraint_name), True)]),
        (ops.DropConstraintOp, lambda o: [Expected("constraint", o.table_name, str(o.constraint_name), False)]),
    ]
    for kind, handler in handlers:
        if isinstance(operation, kind):
            return handler(operation)
    if isinstance(operation, ops.AddConstraintOp) and getattr(operation, "constraint_name", None):
        return [Expected("constraint", operation.table_name, str(operation.constraint_name), True)]  # type: ignore[attr-defined]
    if isinstance(operation, ops.AlterColumnOp) and operation.modify_name:
        return [Expected("column", operation.table_name, operation.column_name, False),
                Expected("column", operation.table_name, operation.modify_name, True)]
    return None


def _unchecked_text(operation: MigrateOperation) -> str:
    """How a person recognises an operation a name cannot show: ``op.execute`` on ``t``, ..."""
    words = {"ExecuteSQLOp": "op.execute", "BulkInsertOp": "op.bulk_insert", "AlterColumnOp": "op.alter_column"}
    kind = type(operation).__name__
    spelled = words.get(kind, "op." + "".join(f"_{c.lower()}" if c.isupper() else c
                                              for c in kind.removesuffix("Op")).lstrip("_"))
    table = getattr(operation, "table_name", None)
    return f"{spelled} on {table}" if table else f"an {spelled} statement"


def _exists(inspector: Inspector, item: Expected) -> bool:
    if not inspector.has_table(item.table):
        return False
    if item.kind == "table":
        return True
    if item.kind == "column":
        return any(c["name"] == item.name for c in inspector.get_columns(item.table))
    names = {i["name"] for i in inspector.get_indexes(item.table)}
    if item.kind != "index":
        names |= {fk["name"] for fk in inspector.get_foreign_keys(item.table)}
        names |= {u["name"] for u in inspector.get_unique_constraints(item.table)}
        try:
            names |= {c["name"] for c in inspector.get_check_constraints(item.table)}
        except NotImplementedError:
            pass
    return item.name in names
