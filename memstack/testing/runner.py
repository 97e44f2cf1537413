"""The migration runner tests hold: one scratch database, the project's tree loaded once.

Everything goes through the engine's own functions (``migrate``, ``rollback``), so a test
exercises what ``manage.py migrate`` does; confirmations are answered yes, because a test
asked for the step it takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import MetaData, Table, select, text
from sqlalchemy.engine import Engine

from memstack.engine.migrate import RunOptions, migrate, rollback
from memstack.engine.records.status import read_status
from memstack.engine.run.steps import StepResult
from memstack.engine.tree.graph import Revision, Step
from memstack.engine.tree.planner import resolve_target
from memstack.engine.workspace import Workspace
from memstack.testing.snapshot import Snapshot, take_snapshot


def _yes(_question: str, _steps: Sequence[Step]) -> None:
    """Confirm every destructive step: the test asked for it."""

class MigrationRunner:
    """Migrate, roll back, seed and read one scratch database of a loaded workspace."""
    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def engine(self) -> Engine:
        return self.workspace.engine

    @property
    def dialect(self) -> str:
        return self.workspace.dialect_name

    @property
    def components(self) -> list[str]:
        return self.workspace.registry.labels

    def _options(self, x_arguments: Sequence[str]) -> RunOptions:
        return RunOptions(confirm=_yes, x_arguments=tuple(x_arguments))

    # ------------------------------------------------------------------ moving
    def migrate(self, component: str | None = None, target: str | None = None,
                x_arguments: Sequence[str] = ()) -> list[StepResult]:
        """``manage.py migrate [COMPONENT [TARGET]]``; backwards moves are confirmed."""
        return migrate(self.workspace, component, target, options=self._options(x_arguments))

    def migrate_before(self, component: str, target: str, x_arguments: Sequence[str] = ()) -> list[StepResult]:
        """Bring ``component`` to just before ``target`` (its parent inside the component, or zero).

        The place to insert rows that a data migration in ``target`` must carry over.
        """
        revision = self.revision(component, target)
        parents = [p for p in revision.down_revisions if self.workspace.graph.get(p).component == revision.component]
        before = parents[0] if parents else "zero"
        return self.migrate(revision.component, before, x_arguments)

    def rollback(self, component: str | None = None, steps: int = 1) -> list[StepResult]:
        """``manage.py rollback [COMPONENT] --steps N --yes``."""
        return rollback(self.workspace, component, steps, options=self._options(()))

    def revision(self, component: str, target: str) -> Revision:
        """The revision TARGET names inside ``component`` (a number, name, slug or id prefix)."""
        label = self.workspace.registry.get(component).label
        found = resolve_target(self.workspace.graph, label, target)
        if found is None:
            raise ValueError(f"{target!r} names no revision of {label} (zero is before the first)")
        return found

    def applied(self) -> set[str]:
        """Ids of the applied revisions."""
        return set(read_status(self.workspace).applied)

    # ------------------------------------------------------------------ data
    def table(self, name: str) -> Table:
        """The table as it is now in the database (reflected, so it matches any revision)."""
        return Table(name, MetaData(), autoload_with=self.engine)

    def insert(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Insert ``rows`` into ``table`` as the schema has it now."""
        rows = [dict(r) for r in rows]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(self.table(table).insert(), rows)

    def rows(self, table: str, *columns: str) -> list[dict[str, Any]]:
        """Every row of ``table`` (only ``columns`` when given), in primary-key order."""
        reflected = self.table(table)
        chosen = [reflected.c[c] for c in columns] if columns else list(reflected.c)
        order = list(reflected.primary_key.columns) or chosen
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(select(*chosen).order_by(*order))]

    def execute(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one SQL statement in its own transaction; returns rows when it yields any."""
        with self.engine.begin() as connection:
            result = connection.execute(text(sql), dict(parameters or {}))
            return [dict(r._mapping) for r in result] if result.returns_rows else []

    def snapshot(self) -> Snapshot:
        """The schema as reflection sees it (see :mod:`memstack.testing.snapshot`)."""
        return take_snapshot(self.engine)
