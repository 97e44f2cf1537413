"""Shared and tenant components (``tenant_components`` in ``[tool.memstack]``), as django-tenants splits them.

Shared components migrate once, in the configured database; tenant components in every target.
On PostgreSQL a schema target's revisions run with ``search_path`` the tenant schema, then the
configured database's schema (:func:`shared_schema`), so a tenant table's foreign key to a shared
table needs no schema name; memstack's own tables stay in the tenant schema.
Each side gets a workspace whose tree holds only its components, cut from the one loaded tree:
a tenant revision's dependency on a shared revision is dropped from the tenant tree (a target
never holds shared revisions) and checked instead against the configured database's state,
before any target runs (:func:`missing_shared`). Without the setting every component goes to
every target and nothing is cut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from typing import TYPE_CHECKING

from memstack.core.components import Registry
from memstack.engine.errors import UnknownTenantComponent

if TYPE_CHECKING:
    from memstack.engine.tree.loader import LoadedTree
    from memstack.engine.workspace import Workspace


def tenant_labels(ws: Workspace) -> tuple[str, ...] | None:
    """The configured tenant components (None: every component is a tenant component)."""
    labels = ws.settings.tenant_components
    if labels is None:
        return None
    for label in labels:
        if label not in ws.registry.labels:
            raise UnknownTenantComponent(label, ws.registry.labels)
    return tuple(labels)


def cut_tree(tree: LoadedTree, labels: Collection[str]) -> LoadedTree:
    """The revisions of ``labels`` only; dependencies on the others dropped (checked elsewhere)."""
    from memstack.engine.tree.graph import MigrationGraph  # lazy: kept off --help
    from memstack.engine.tree.loader import LoadedTree  # lazy: kept off --help

    full = tree.graph
    graph = MigrationGraph(component_order=[label for label in full.component_order if label in labels])
    for revision in full.revisions.values():
        if revision.component in labels:
            kept = tuple(d for d in revision.depends_on if d in full.revisions and full.get(d).component in labels)
            graph.add(dataclasses.replace(revision, depends_on=kept))
    every = {r: rev for r, rev in tree.every_revision.items() if rev.component in labels}
    ids = set(graph.revisions) | set(every)
    return LoadedTree(graph, {r: p for r, p in tree.paths.items() if r in ids}, tree.non_atomic & ids,
                      {r: g for r, g in tree.guards.items() if r in ids},
                      {r: kept for r, kept in tree.squashes.items() if r in ids}, tree.elidable & ids, every)


def part(ws: Workspace, labels: Collection[str]) -> Workspace:
    """``ws`` with only the components ``labels`` and their cut tree (same settings and database)."""
    from memstack.engine.workspace import Workspace  # lazy: kept off --help

    registry = Registry(ws.registry.project_dir, [c for c in ws.registry if c.label in labels])
    other = Workspace(settings=ws.settings, registry=registry)
    other.__dict__["loaded_tree"] = cut_tree(ws.loaded_tree, labels)  # each database's view is cut from it
    return other


def split(ws: Workspace) -> tuple[Workspace | None, Workspace]:
    """(the shared part for the configured database or None, the part every target gets)."""
    labels = tenant_labels(ws)
    if labels is None:
        return None, ws
    shared = [label for label in ws.registry.labels if label not in labels]
    return (part(ws, shared) if shared else None), part(ws, labels)


def missing_shared(ws: Workspace, shared: Workspace) -> list[tuple[str, str]]:
    """(tenant revision, shared revision it depends on) pairs the configured database lacks."""
    from memstack.engine.records.status import read_status  # lazy: kept off --help

    labels = set(tenant_labels(ws) or ())
    graph = ws.graph
    applied = read_status(shared).applied
    missing = []
    for revision in graph.revisions.values():
        if revision.component in labels:
            for dep in revision.depends_on:
                if dep in graph.revisions and graph.get(dep).component not in labels and dep not in applied:
                    missing.append((revision.label, graph.get(dep).label))
    return missing


def shared_schema(shared: Workspace) -> str | None:
    """PostgreSQL: the schema the shared components' tables are in (the configured database's current one)."""
    if shared.dialect_name != "postgresql":
        return None
    with shared.engine.connect() as connection:
        return str(connection.exec_driver_sql("SELECT current_schema()").scalar())
