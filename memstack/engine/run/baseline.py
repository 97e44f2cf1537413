"""Component baselines: the tables a project has before its first revision.

Many projects create their base tables with ``create_all`` (or a SQL dump) and write revisions
only for what came after; their first revision then alters tables no revision creates, so a
scratch build or a new database fails at it. A component may declare ``baseline`` in its
configuration entry:

* ``"models"``: ``create_all`` of the tables the component's models declare;
* ``"pkg.module:attribute"``: ``create_all`` of that ``MetaData`` (or of ``.metadata`` of it,
  e.g. a declarative base), for projects whose models moved on since the baseline;
* a path ending in ``.sql`` (relative to the project root): its statements, split on ``;`` at
  line ends.

The baseline runs in the root revision's step, just before its ``upgrade()`` (same transaction,
same records), and, for the ``create_all`` kinds, its tables are dropped just after the root's
``downgrade()``. ``create_all`` skips tables that exist, so a database that already has them
(built before memstack) is left as it is; an SQL baseline should use ``IF NOT EXISTS``.

Offline (``migrate --sql``, ``sqlmigrate``, ``alembic upgrade --sql``) nothing can be looked at,
so the ``create_all`` kinds are written as ``CREATE TABLE IF NOT EXISTS`` / ``CREATE INDEX IF NOT
EXISTS`` (the script then skips what exists, as ``create_all`` does) and an SQL file's
statements as they are.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import op
from sqlalchemy import MetaData
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from memstack.core.db import metadata
from memstack.engine.errors import BaselineUnusable

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection

    from memstack.core.components import Registry
    from memstack.engine.tree.graph import Step

_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Baseline:
    component: str
    package: str
    value: str
    project_dir: Path

    @property
    def is_sql(self) -> bool:
        return self.value.endswith(".sql")

    def tables(self) -> list[Table]:
        """The ``create_all`` kinds' tables (dependencies first)."""
        metadata, names = self._metadata()
        return [t for t in metadata.sorted_tables if names is None or t.name in names]

    def _metadata(self) -> tuple[MetaData, set[str] | None]:
        if self.value == "models":

            owned = {t for t, label in _owners(self.package, self.component).items() if label == self.component}
            return metadata, owned
        module_name, _, attribute = self.value.partition(":")
        try:
            found: Any = getattr(importlib.import_module(module_name), attribute or "metadata")
        except (ImportError, AttributeError) as exc:
            raise BaselineUnusable(self.component, self.value, f"cannot be imported: {exc}") from exc
        found = found if isinstance(found, MetaData) else getattr(found, "metadata", None)
        if not isinstance(found, MetaData):
            raise BaselineUnusable(self.component, self.value, "is neither a MetaData nor has .metadata")
        return found, None

    def create(self, connection: Connection) -> None:
        if not self.is_sql:
            for table in self.tables():
                table.create(connection, checkfirst=True)
            return
        for statement in self.statements():
            connection.exec_driver_sql(statement)

    def statements(self) -> list[str]:
        """The SQL file's statements, split at a ``;`` ending a line."""
        path = self.project_dir / self.value
        try:
            script = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BaselineUnusable(self.component, self.value, f"cannot be read: {exc.strerror}") from exc
        return [statement for statement in _STATEMENT_END.split(script) if statement.strip()]

    def drop(self, connection: Connection) -> None:
        if not self.is_sql:
            for table in reversed(self.tables()):
                table.drop(connection, checkfirst=True)

    def emit_create(self) -> None:
        """:meth:`create` into an offline script (Alembic's ``--sql`` context): nothing to inspect."""
        if not self.is_sql:
            for table in self.tables():
                op.execute(CreateTable(table, if_not_exists=True))
                for index in sorted(table.indexes, key=lambda index: str(index.name)):
                    op.execute(CreateIndex(index, if_not_exists=True))
            return
        impl = op.get_context().impl
        for statement in self.statements():
            impl.static_output(statement.strip() + impl.command_terminator)  # as written: no bind parameters

    def emit_drop(self) -> None:
        if not self.is_sql:
            for table in reversed(self.tables()):
                op.execute(DropTable(table, if_exists=True))


def _owners(package: str, label: str) -> dict[str, str]:
    """The component's model tables (its models module imported; memstack's one metadata)."""
    from memstack.core import db

    importlib.import_module(f"{package}.models")
    found: dict[str, str] = {}
    base = vars(db).get("Base")  # made by the first models module that uses it: none, no ORM to import
    for mapper in base.registry.mappers if base is not None else ():
        module = mapper.class_.__module__
        if module == package or module.startswith(package + "."):
            for table in mapper.tables:
                found[table.name] = label
    return found


def load_baselines(registry: Registry) -> dict[str, Baseline]:
    return {c.label: Baseline(c.label, c.package, c.baseline, registry.project_dir)
            for c in registry if c.baseline}


def with_baseline(baselines: dict[str, Baseline], step: Step, function: Callable[[], None]) -> Callable[[], None]:
    """``function`` (the step's upgrade/downgrade), with the component's baseline around its root."""
    baseline = baselines.get(step.revision.component)
    if baseline is None or step.revision.down_revisions:
        return function

    def run() -> None:
        offline = op.get_context().as_sql
        if step.direction == "up":
            baseline.emit_create() if offline else baseline.create(op.get_bind())
            function()
        else:
            function()
            baseline.emit_drop() if offline else baseline.drop(op.get_bind())

    return run
