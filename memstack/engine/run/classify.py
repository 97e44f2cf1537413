"""The revision classifier: what one step does to data, told without running it.

One rule for every caller (the confirmation before a run, ``--plan``, plain ``alembic``
through env.py, ``makemigrations``, ``check``, ``lintmigrations``; later replaying DDL and
squash). A step's function is called against a recording ``op`` (Alembic's offline context:
nothing executed, nothing rendered) and its source is read; each thing it does becomes a
:class:`Fact` with one of four effects:

* ``destructive``: drops a table or a column, changes a column's type in a way that can lose
  or alter values (on SQLite every type change is a table rebuild that copies each value with
  ``CAST``), ``TRUNCATE``, ``DELETE``, ``DROP SCHEMA`` (raw SQL: see classify_sql.py);
* ``ddl``: schema only, no rows lost (creates, adds, renames, indexes, constraints, a type
  change that only widens: a longer string, a bigger integer, more numeric precision);
* ``data``: writes rows without removing any (``bulk_insert``, ``INSERT``, ``UPDATE``);
* ``code``: what cannot be classified without running it: Python between the ``op`` calls,
  reads through ``op.get_bind()``, ``context.get_x_argument()``, ``autocommit_block``, a custom
  operation, or a function that stops when recorded. Shown as such; not by itself destructive.

A function is called only when it holds nothing but ``op`` calls and harmless assignments
(``classify_code.safe_to_record``): any other Python would run before the lock and again in the
step. Such a function is read from its source instead: its literal ``drop_table``,
``drop_column`` and ``execute`` calls (``classify_code.static_facts``).

A revision may declare ``destroys_data = "why"`` at module level: the destruction was
reviewed. :attr:`Classification.declared` carries it; it is shown, and the step still asks.
"""

from __future__ import annotations

import functools
import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from alembic.operations import BatchOperations, Operations, ops
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import types as t
from sqlalchemy.dialects import registry
from sqlalchemy.engine import default
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import to_instance

from memstack.engine.alembic_compat import environment_kept, installed_as_op
from memstack.engine.run.alembic_config import (
    AlembicSetup,
    load_revision_module,
    read_revision_bytes,
    revision_function,
)
from memstack.engine.run.classify_cache import ClassificationCache
from memstack.engine.run.classify_code import code_facts, safe_to_record, static_facts
from memstack.engine.run.classify_sql import Fact, classify_sql
from memstack.engine.run.offline import explain_render_failure

if TYPE_CHECKING:
    from memstack.engine.tree.graph import Step
    from memstack.engine.tree.loader import LoadedTree

__all__ = ["Classification", "Classifier", "PlanClassifier", "classifier", "classify_module", "classify_operations",
           "classify_source", "classify_step", "declared_reason", "describe_fact", "recording_op"]

DESTRUCTIVE_KINDS = ("drop_table", "drop_column", "type_change", "truncate", "delete_rows", "drop_schema")


@dataclass(frozen=True)
class Classification:
    """Everything one step of one revision does, in the order it does it."""
    facts: tuple[Fact, ...] = ()
    declared: str | None = None  # the revision's ``destroys_data``

    @property
    def destructive(self) -> bool:
        return any(f.effect == "destructive" for f in self.facts)

    @property
    def destroys(self) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if f.effect == "destructive")

    @property
    def code(self) -> tuple[Fact, ...]:
        return tuple(f for f in self.facts if f.effect == "code")


# --------------------------------------------------------------------------- the recording op


@dataclass
class _Recording:
    operations: list[Any] = field(default_factory=list)

    def invoke(self, operation: Any) -> None:
        self.operations.append(operation)


@contextmanager
def recording_op(setup: AlembicSetup, dialect_name: str) -> Iterator[list[Any]]:
    """Alembic's ``op`` bound to an offline context whose every operation is only recorded.

    ``batch_alter_table`` records its operations one by one, as the table rebuild it would do
    on SQLite needs the live table. Inside env.py a real run's ``context`` and ``op`` are
    installed: they are put back afterwards (Alembic's proxies do not nest).
    """


    recording = _Recording()
    environment = EnvironmentContext(setup.config, setup.script, as_sql=True)
    with environment_kept(), environment:
        environment.configure(dialect_name=dialect_name, output_buffer=io.StringIO(), literal_binds=True)
        context = environment.get_context()
        operations = Operations(context)

        @contextmanager
        def batch_alter_table(table_name: str, schema: str | None = None, **_: Any) -> Iterator[BatchOperations]:
            batch = BatchOperations(context, impl=SimpleNamespace(table_name=table_name, schema=schema))  # type: ignore[arg-type]
            batch.invoke = recording.invoke  # type: ignore[method-assign, assignment]
            yield batch

        operations.invoke = recording.invoke  # type: ignore[method-assign, assignment]
        operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign, assignment]
        with installed_as_op(operations):
            yield recording.operations


# --------------------------------------------------------------------------- operations


def _type_text(type_: Any, dialect: Any) -> str | None:
    if type_ is None:
        return None

    instance = to_instance(type_)
    try:
        return str(instance.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot render: its Python spelling
        return repr(instance)


def widens(old: Any, new: Any) -> bool:
    """Every value of type ``old`` survives as the same value in ``new`` (a string grown, ...)."""
    old, new = t.to_instance(old), t.to_instance(new)
    if isinstance(new, t.Enum) or isinstance(old, t.Enum):
        return isinstance(old, t.Enum) and isinstance(new, t.Enum) and set(old.enums) <= set(new.enums)
    if isinstance(old, t.String) and isinstance(new, t.String):
        return new.length is None or (old.length is not None and new.length >= old.length)
    if isinstance(old, t.Integer) and isinstance(new, t.Integer):
        return _rank(new) >= _rank(old)
    if isinstance(old, t.Numeric) and isinstance(new, t.Numeric) and not isinstance(old, t.Float) \
            and not isinstance(new, t.Float):
        if new.precision is None:
            return True
        if old.precision is None:
            return False
        old_scale, new_scale = old.scale or 0, new.scale or 0
        return new_scale >= old_scale and new.precision - new_scale >= old.precision - old_scale
    if isinstance(old, t.Float) and isinstance(new, t.Float):
        return (new.precision or 53) >= (old.precision or 53)
    if isinstance(old, t.DateTime) and isinstance(new, t.DateTime):
        return bool(old.timezone) == bool(new.timezone)
    return type(old) is type(new) and repr(old) == repr(new)


def _rank(type_: Any) -> int:
    return 2 if isinstance(type_, t.BigInteger) else 0 if isinstance(type_, t.SmallInteger) else 1


def _alter_column(operation: Any, dialect: Any) -> Fact:
    table, column, schema = operation.table_name, operation.column_name, operation.schema
    new = operation.modify_type
    if new is None:
        return Fact("ddl", "alter_column", table, column, schema, why="alters a column, not its type")
    old = operation.existing_type
    before, after = _type_text(old, dialect), _type_text(new, dialect)
    if old is not None and widens(old, new):
        return Fact("ddl", "alter_column", table, column, schema, before, after, why="a type change that widens")
    if dialect.name == "sqlite":
        why = "SQLite rebuilds the table and copies each value with CAST, which can turn values into others"
    else:
        why = "a type change that can lose or alter values" if old is not None else \
            "a type change from a type the revision does not record"
    return Fact("destructive", "type_change", table, column, schema, before, after, why=why)


def classify_operations(operations: Sequence[Any], dialect_name: str) -> list[Fact]:
    """One or more facts per recorded Alembic operation, in order."""
    dialect = _dialect(dialect_name) or default.DefaultDialect()
    facts: list[Fact] = []
    for operation in operations:
        name = type(operation).__name__
        if isinstance(operation, ops.DropTableOp):
            facts.append(Fact("destructive", "drop_table", operation.table_name, schema=operation.schema,
                              why="drops the table and its rows"))
        elif isinstance(operation, ops.DropColumnOp):
            facts.append(Fact("destructive", "drop_column", operation.table_name, operation.column_name,
                              operation.schema, why="drops the column and its values"))
        elif isinstance(operation, ops.AlterColumnOp):
            facts.append(_alter_column(operation, dialect))
        elif isinstance(operation, ops.BulkInsertOp):
            facts.append(Fact("data", "insert", operation.table.name, why="bulk_insert writes rows"))
        elif isinstance(operation, ops.ExecuteSQLOp):
            facts.extend(_executed(operation.sqltext, dialect))
        elif type(operation).__module__.startswith("alembic."):
            facts.append(Fact("ddl", name.removesuffix("Op").lower() or "ddl", getattr(operation, "table_name", None),
                              why=name))
        else:
            facts.append(Fact("code", "code", why=f"a custom operation ({name})"))
    return facts


@functools.lru_cache(maxsize=8)
def _dialect(name: str) -> Any:
    try:
        return registry.load(name)()
    except Exception:
        return None


def _executed(sqltext: Any, dialect: Any) -> list[Fact]:
    if isinstance(sqltext, str):
        return classify_sql(sqltext)
    if isinstance(sqltext, TextClause):
        return classify_sql(sqltext.text)
    if isinstance(sqltext, Delete):
        where = sqltext.whereclause
        condition = str(where.compile(dialect=dialect, compile_kwargs={"literal_binds": True})) if where is not None \
            else None
        return [Fact("destructive", "delete_rows", sqltext.table.name, schema=getattr(sqltext.table, "schema", None),  # type: ignore[union-attr]
                     why="DELETE with a WHERE clause" if condition else "DELETE of every row", condition=condition)]
    if isinstance(sqltext, Insert | Update):
        return [Fact("data", "update" if isinstance(sqltext, Update) else "insert", sqltext.table.name,  # type: ignore[union-attr]
                     why="writes rows and removes none")]
    try:
        rendered = str(sqltext.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:
        return [Fact("code", "code", why=f"executes a {type(sqltext).__name__} memstack cannot render")]
    return classify_sql(rendered)


# --------------------------------------------------------------------------- a whole step


def declared_reason(module: ModuleType) -> str | None:
    """The revision's ``destroys_data = "why"`` (a non-string true value reads as "yes")."""
    value = getattr(module, "destroys_data", None)
    if not value:
        return None
    return value.strip() if isinstance(value, str) else "yes"


Classifier = Callable[[ModuleType, str], Classification]
"""Classifies ``upgrade()`` ("up") or ``downgrade()`` ("down") of a loaded revision module."""


class PlanClassifier:
    """A plan's :data:`Classifier`, with the answers kept between runs (classify_cache.py)."""

    def __init__(self, classify: Classifier, cache: ClassificationCache) -> None:
        self._classify = classify
        self.cache = cache

    def __call__(self, module: ModuleType, direction: str) -> Classification:
        return self._classify(module, direction)


@contextmanager
def classifier(setup: AlembicSetup, dialect_name: str) -> Iterator[PlanClassifier]:
    """One recording ``op`` for many revisions (a plan): set up once, not per revision; the
    answers :func:`classify_step` finds are kept for the next run when the block ends."""

    cache = ClassificationCache()
    with recording_op(setup, dialect_name) as operations:

        def classify(module: ModuleType, direction: str) -> Classification:
            function = revision_function(module, direction)
            facts = code_facts(function)  # what in its source is more than op calls
            if not safe_to_record(function):  # never run a revision's own code before its step
                return Classification(tuple(facts + static_facts(function)), declared_reason(module))
            operations.clear()
            try:
                function()
            except Exception as exc:  # what it did up to there still counts
                failure = explain_render_failure(exc, Path(getattr(module, "__file__", "") or "."))
                facts.append(Fact("code", "code", why=f"stops when recorded without a database: {failure.detail}",
                                  line=failure.line))
            return Classification(tuple(facts + classify_operations(operations, dialect_name)),
                                  declared_reason(module))

        try:
            yield PlanClassifier(classify, cache)
        finally:
            cache.save()


def classify_module(module: ModuleType, direction: str, setup: AlembicSetup, dialect_name: str) -> Classification:
    """Classify ``upgrade()`` (``direction`` "up") or ``downgrade()`` of a loaded revision module."""
    with classifier(setup, dialect_name) as classify:
        return classify(module, direction)


def classify_step(tree: LoadedTree, setup: AlembicSetup, step: Step, dialect_name: str,
                  classify: PlanClassifier | None = None) -> Classification:
    """Classify one planned step (``classify``: a plan's shared :func:`classifier`, whose kept answer
    for the file's current bytes is used without loading it); raises only when the revision file
    cannot be read or imported."""
    path = tree.path_of(step.revision.id)
    if classify is None:  # one step alone (lintmigrations): nothing kept
        return classify_module(load_revision_module(path), step.direction, setup, dialect_name)
    data = read_revision_bytes(path)
    kept = classify.cache.get(path, data, dialect_name, step.direction)
    if kept is not None:
        return Classification(*kept)
    classified = classify(load_revision_module(path, data=data), step.direction)
    classify.cache.put(path, data, dialect_name, step.direction, classified.facts, classified.declared)
    return classified


def classify_source(text: str, setup: AlembicSetup, dialect_name: str, direction: str = "up") -> Classification:
    """Classify a revision not written yet (``makemigrations --dry-run``): its text, imported from a temporary file."""
    with tempfile.TemporaryDirectory(prefix="memstack-classify-") as folder:
        path = Path(folder) / "revision.py"
        path.write_text(text, encoding="utf-8")
        return classify_module(load_revision_module(path), direction, setup, dialect_name)


def describe_fact(fact: Fact) -> str:
    """A destructive fact in words, without figures: ``drops column notes.body``."""
    where = f"{fact.schema}.{fact.table}" if fact.schema and fact.table else (fact.table or "")
    if fact.kind == "drop_table":
        return f"drops table {where}"
    if fact.kind == "drop_column":
        return f"drops column {where}.{fact.column}"
    if fact.kind == "type_change":
        sqlite = " (SQLite copies each value with CAST)" if "SQLite" in fact.why else ""
        before = fact.from_type or "an unrecorded type"
        return f"changes column {where}.{fact.column} from {before} to {fact.to_type}{sqlite}"
    if fact.kind == "truncate":
        return f"empties table {where} (TRUNCATE)"
    if fact.kind == "delete_rows":
        return f"deletes rows of {where}" + (f" where {fact.condition}" if fact.condition else " (every row)")
    if fact.kind == "drop_schema":
        return f"drops schema {fact.schema}"
    return fact.why
