"""Models compared with a database, component by component, the way Alembic's autogenerate compares.

Only the tables a component owns are compared (contract: Ownership); the operations come
without a downgrade, which :func:`memstack.engine.generate.downgrades.downgrade_for` computes once the
upgrade is final.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any

from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from memstack.core.db import metadata as ours
from memstack.engine.alembic_compat import upgrade_ops_of


def compare_component(connection: Connection, label: str, owners: dict[str, str],
                      metadata: MetaData) -> alembic_ops.UpgradeOps:
    """Alembic's autogenerate, restricted to the tables ``label`` owns."""
    return compare_components(connection, [label], owners, metadata)[label]


def compare_components(connection: Connection, labels: Collection[str], owners: dict[str, str],
                       metadata: MetaData, options: Mapping[str, dict[str, Any]] | None = None,
                       ) -> dict[str, alembic_ops.UpgradeOps]:
    """Alembic's autogenerate over the tables ``labels`` own, each component's operations apart.

    One pass, as one ``alembic check`` makes, then split by the owner of each operation's table:
    Alembic visits tables in one order (the metadata's, then the sorted existing ones) whatever
    the filter, so each component's operations come in the order a pass of its own gives.
    ``options``: a component's ``context.configure()`` options from its environment hook
    (``compare_type``, ``compare_server_default``, ``include_object``, ``include_name``): such a
    component is compared in a pass of its own, with them.
    """
    own = {label: dict(options[label]) for label in labels if options and options.get(label)}
    if own:
        shared = compare_components(connection, [label for label in labels if label not in own], owners, metadata)
        return {**shared, **{label: _autogenerate(connection, metadata, _owned_by(owners, label), own[label])
                             for label in own}}
    wanted = set(labels)
    upgrade = _autogenerate(connection, metadata, lambda name: owners.get(name) in wanted)
    split = {label: alembic_ops.UpgradeOps(ops=[]) for label in labels}
    for op in upgrade.ops:
        owner = owners.get(getattr(op, "table_name", None) or "")
        if owner not in split:  # an operation of no table (a newer Alembic?): one pass per component
            return {label: _autogenerate(connection, metadata, _owned_by(owners, label)) for label in labels}
        split[owner].ops.append(op)
    return split


def _autogenerate(connection: Connection, metadata: MetaData, compared: Callable[[str], bool],
                  extra: dict[str, Any] | None = None) -> alembic_ops.UpgradeOps:
    """Alembic's autogenerate upgrade operations for the tables ``compared`` accepts (and ``extra``'s
    ``include_name``/``include_object`` accept too)."""
    extra = dict(extra or {})
    their_name = extra.pop("include_name", None)
    their_object = extra.pop("include_object", None)

    def include_name(name: str | None, type_: str, parents: Any) -> bool:
        ours = type_ != "table" or compared(name or "")
        return ours and (their_name is None or bool(their_name(name, type_, parents)))

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        ours = type_ != "table" or compared(name or "")
        return ours and (their_object is None or bool(their_object(obj, name, type_, reflected, compare_to)))

    compare_keys = ("compare_type", "compare_server_default")
    context = MigrationContext.configure(
        connection=connection,
        opts={
            "compare_type": True,
            **{key: extra[key] for key in compare_keys if key in extra},
            "target_metadata": metadata,
            "include_name": include_name,
            "include_object": include_object,
        },
    )
    # without the downgrade: downgrade_for() computes it once the upgrade is final (renames and
    # deferred foreign keys change it)
    return upgrade_ops_of(context, metadata)


def per_owner_options(compared: Callable[[str], bool], owners: Mapping[str, str],
                      hooked: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``context.configure()`` options for ONE comparison of every component's tables (plain
    ``alembic check`` through memstack's env.py): only tables ``compared`` accepts, and each table
    under its owner's environment-hook options (``include_name``/``include_object`` and
    ``compare_type``/``compare_server_default``, a flag or Alembic's callable), as
    :func:`compare_components` compares each hooked component in a pass of its own."""

    def hook_of(table: str | None) -> Mapping[str, Any]:
        return hooked.get(owners.get(str(table or ""), ""), {})

    def include_name(name: str | None, type_: str, parents: Any) -> bool:
        table = name if type_ == "table" else (parents or {}).get("table_name")
        if type_ == "table" and not compared(str(name or "")):
            return False
        theirs = hook_of(table).get("include_name")
        return theirs is None or bool(theirs(name, type_, parents))

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        if type_ == "table" and not compared(str(name or "")):
            return False
        theirs = hook_of(table).get("include_object")
        return theirs is None or bool(theirs(obj, name, type_, reflected, compare_to))

    options: dict[str, Any] = {"include_name": include_name, "include_object": include_object}
    for key, default in (("compare_type", True), ("compare_server_default", False)):
        if any(key in hook for hook in hooked.values()):
            options[key] = _per_owner_compare(key, default, hook_of)
    return options


def _per_owner_compare(key: str, default: bool, hook_of: Callable[[str | None], Mapping[str, Any]]
                       ) -> Callable[..., bool | None]:
    """Alembic's ``compare_type``/``compare_server_default`` callable, answering with the column's owner's
    setting: False: no difference; True: Alembic's own comparison (None); a callable: its answer."""

    def compare(context: Any, inspected_column: Any, metadata_column: Any, *values: Any) -> bool | None:
        setting = hook_of(getattr(metadata_column.table, "name", None)).get(key, default)
        if callable(setting):
            return setting(context, inspected_column, metadata_column, *values)  # type: ignore[no-any-return]
        return None if setting else False

    return compare


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


def models_of_their_own(package: str) -> bool:
    """True when ``package.models`` declares tables on a MetaData other than memstack's (a project
    taken over with its own declarative base): memstack cannot compare those, so the component is
    treated as one without models. A models module declaring nothing at all still counts as
    models (its tables are meant to go)."""


    module = sys.modules.get(f"{package}.models")
    if module is None:
        try:
            module = importlib.import_module(f"{package}.models")
        except ImportError:
            return False
    for value in vars(module).values():
        found = value if isinstance(value, MetaData) else getattr(value, "metadata", None)
        if isinstance(found, MetaData) and found is not ours and found.tables:
            return True
    return False
