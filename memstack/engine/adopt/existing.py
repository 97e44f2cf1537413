"""A database whose tables exist but whose revisions were never recorded (the old ``create_all``).

Migrating such a database from nothing would fail at its first CREATE TABLE with "relation ...
already exists", which reads like a broken revision. It is recognised before the first step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import inspect

from memstack.core.components import is_bookkeeping_table
from memstack.engine.errors import UnrecordedSchema

if TYPE_CHECKING:
    from memstack.engine.tree.graph import Step
    from memstack.engine.workspace import Workspace


def refuse_unrecorded_schema(ws: Workspace, applied: set[str], steps: Sequence[Step]) -> None:
    """Raise :class:`UnrecordedSchema` when a first migrate meets tables the components own."""
    if applied or not any(s.direction == "up" for s in steps):
        return


    owned = set(ws.registry.load_models())
    with ws.engine.connect() as connection:
        present = {t for t in inspect(connection).get_table_names() if not is_bookkeeping_table(t)}
    clashing = present & owned
    if clashing:
        raise UnrecordedSchema(sorted(clashing))
