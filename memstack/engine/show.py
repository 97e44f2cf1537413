"""What the read-only commands show: revisions with their state, history, one revision's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memstack.engine.errors import NotOneRevision
from memstack.engine.graph import Revision, Step
from memstack.engine.migrate import database_state
from memstack.engine.planner import resolve_target
from memstack.engine.recorder import HistoryEntry, Recorder
from memstack.engine.safety import unknown_rows_error
from memstack.engine.workspace import Workspace


@dataclass(frozen=True)
class RevisionState:
    revision: Revision
    applied: bool

    def as_json(self, graph_deps: bool = True) -> dict[str, object]:
        rev = self.revision
        data: dict[str, object] = {
            "component": rev.component,
            "revision": rev.id,
            "name": rev.name,
            "number": rev.number,
            "applied": self.applied,
        }
        if graph_deps:
            data["down_revisions"] = list(rev.down_revisions)
            data["depends_on"] = list(rev.depends_on)
        return data


def show_migrations(ws: Workspace, components: Sequence[str] = ()) -> dict[str, list[RevisionState]]:
    """Per component, every revision in graph order and whether it is applied."""
    state = database_state(ws)
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    applied = state.applied
    selected = ws.registry.select(components)
    return {c.label: [RevisionState(r, r.id in applied) for r in ws.graph.of_component(c.label)] for c in selected}


def history(ws: Workspace, component: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
    """Recorded events, oldest first; a removed component's events can still be asked for by name."""
    if component is not None:
        component = ws.registry.get(component).label if component in ws.registry.labels else component
    from memstack.core.urls import missing_sqlite_file

    if missing_sqlite_file(ws.settings.database_url):  # no history yet; reading must not create the file
        return []
    with ws.engine.connect() as connection:
        return Recorder(connection).history(component, limit)


@dataclass(frozen=True)
class RenderedSQL:
    revision: Revision
    direction: str
    sql: str | None
    problem: str | None = None


def sql_for_revision(ws: Workspace, component: str, target: str, *, backwards: bool = False) -> RenderedSQL:
    """The SQL of exactly one revision for the configured dialect; the database is not touched."""
    label = ws.registry.get(component).label
    revision = resolve_target(ws.graph, label, target)
    if revision is None:
        raise NotOneRevision(label)
    direction = "down" if backwards else "up"
    if backwards and revision.irreversible:
        return RenderedSQL(revision, direction, None, "irreversible: this revision has no downgrade")
    from memstack.engine.offline import render_step  # raises RevisionNotRenderable

    sql = render_step(ws.tree, Step(revision, direction), ws.dialect_name)  # type: ignore[arg-type]
    return RenderedSQL(revision, direction, sql)
