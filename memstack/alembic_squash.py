"""Plain ``alembic`` on a squashed tree: the revision map Alembic sees is the one memstack plans with.

Alembic knows nothing of ``replaces``: reading a folder that holds a squash and the revisions it
replaces, it would see two bases and two heads in one branch, and one branch label twice. So
memstack's env.py hands Alembic the view of the tree this database needs (tree/replaces.py):
the squash and not its revisions for a new database or one that ran the squash, the old
revisions and not the squash for a database that still names one of them in ``alembic_version``
(part-way through the range, or past it through the old files). Each kept script's
``down_revision`` and ``depends_on`` are those of the view, so a later revision that named a
replaced one builds on the squash.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from memstack.engine.alembic_compat import environment_behind, present_revisions, set_branch_labels
from memstack.engine.records.status import read_version_rows, squash_evidence
from memstack.engine.tree.loader import LoadedTree
from memstack.engine.workspace import Workspace


def _scalar(ids: tuple[str, ...]) -> str | tuple[str, ...] | None:
    """How Alembic keeps ``down_revision``: None, one id, or a tuple of several."""
    return None if not ids else ids[0] if len(ids) == 1 else ids


def alembic_view(ws: Workspace, rows: list[str], evidence: list[str]) -> LoadedTree:
    """The view for Alembic: memstack's (from ``evidence``: the rows and the squashes' records), except
    that a squash whose replaced revision is named by a version row is left out (Alembic reads rows
    literally and cannot alias them)."""
    view = ws.loaded_tree.view_for(evidence)
    named = {view.graph.row_aliases[r] for r in rows if r in view.graph.row_aliases}
    return ws.loaded_tree.view_for(evidence, keep_old=named) if named else view


def present_view(script_directory: Any, view: LoadedTree) -> None:
    """Make ``script_directory``'s revision map the ``view``'s (only when the tree has squashes)."""
    graph = view.graph

    def keep(script: Any) -> bool:
        revision = graph.revisions.get(script.revision)
        if revision is None:
            return script.revision not in view.every_revision  # a file memstack does not load: Alembic's call
        # a parent that is another parent's ancestor goes: a merge that named two replaced revisions
        # reads (squash, later revision) in a new database's view, and Alembic, stepping through the
        # merge, would remove the squash from heads it already left
        parents = revision.down_revisions
        script.down_revision = _scalar(tuple(p for p in parents
                                             if not any(p in graph.ancestors(o) for o in parents if o != p)))
        script.dependencies = _scalar(revision.depends_on)
        if script.revision in view.squashes and not revision.down_revisions:
            set_branch_labels(script, (revision.component,))  # the base it stands in for had the label
        return True

    present_revisions(script_directory, keep)


def present_for_database(context: Any, ws: Workspace, connection: Connection | None) -> None:
    """Before Alembic reads its revision map: the view for the database on ``connection`` (None:
    offline, a new database's view), also made the workspace's so its bookkeeping agrees."""
    if not ws.loaded_tree.squashes:
        return
    view = ws.loaded_tree if connection is None else alembic_view(
        ws, read_version_rows(connection), squash_evidence(connection, ws.loaded_tree))
    ws.__dict__["tree"] = view
    present_view(environment_behind(context).script, view)
