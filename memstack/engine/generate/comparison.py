"""Models compared with a database, component by component, the way Alembic's autogenerate compares.

Only the tables a component owns are compared (contract: Ownership); the operations come
without a downgrade, which :func:`memstack.engine.generate.downgrades.downgrade_for` computes once the
upgrade is final.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from alembic.operations import ops as alembic_ops
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from memstack.engine.alembic_compat import upgrade_ops_of


def compare_component(connection: Connection, label: str, owners: dict[str, str],
                      metadata: MetaData) -> alembic_ops.UpgradeOps:
    """Alembic's autogenerate, restricted to the tables ``label`` owns."""
    return compare_components(connection, [label], owners, metadata)[label]


def compare_components(connection: Connection, labels: Collection[str], owners: dict[str, str],
                       metadata: MetaData) -> dict[str, alembic_ops.UpgradeOps]:
    """Alembic's autogenerate over the tables ``labels`` own, each component's operations apart.

    One pass, as one ``alembic check`` makes, then split by the owner of each operation's table:
    Alembic visits tables in one order (the metadata's, then the sorted existing ones) whatever
    the filter, so each component's operations come in the order a pass of its own gives.
    """
    wanted = set(labels)
    upgrade = _autogenerate(connection, metadata, lambda name: owners.get(name) in wanted)
    split = {label: alembic_ops.UpgradeOps(ops=[]) for label in labels}
    for op in upgrade.ops:
        owner = owners.get(getattr(op, "table_name", None) or "")
        if owner not in split:  # an operation of no table (a newer Alembic?): one pass per component
            return {label: _autogenerate(connection, metadata, _owned_by(owners, label)) for label in labels}
        split[owner].ops.append(op)
    return split


def _autogenerate(connection: Connection, metadata: MetaData, compared: Callable[[str], bool]
                  ) -> alembic_ops.UpgradeOps:
    """Alembic's autogenerate upgrade operations for the tables ``compared`` accepts."""
    from alembic.runtime.migration import MigrationContext

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or compared(name or "")

    def include_object(obj: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        return type_ != "table" or compared(name or "")

    context = MigrationContext.configure(
        connection=connection,
        opts={
            "compare_type": True,
            "target_metadata": metadata,
            "include_name": include_name,
            "include_object": include_object,
        },
    )
    # without the downgrade: downgrade_for() computes it once the upgrade is final (renames and
    # deferred foreign keys change it)
    return upgrade_ops_of(context, metadata)


def _owned_by(owners: dict[str, str], label: str) -> Callable[[str], bool]:
    return lambda name: owners.get(name) == label


def type_family(type_: Any) -> str:
    """A coarse family of a reflected type: what decides compatibility, not the exact spelling."""
    name = type(type_).__name__.upper()
    text = str(getattr(type_, "__visit_name__", "")).upper() + " " + name
    for family, words in (
        ("json", ("JSON",)),
        ("boolean", ("BOOL",)),
        ("integer", ("INT", "SERIAL")),
        ("datetime", ("TIMESTAMP", "DATETIME")),
        ("date", ("DATE",)),
        ("float", ("FLOAT", "REAL", "DOUBLE", "NUMERIC", "DECIMAL")),
        ("string", ("CHAR", "TEXT", "STRING", "CLOB")),
    ):
        if any(word in text for word in words):
            return family
    return name.lower()
