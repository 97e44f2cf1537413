"""What the read-only commands show: revisions with their state, history, one revision's SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from memstack.core.urls import missing_sqlite_file
from memstack.engine.errors import NotOneRevision
from memstack.engine.records.recorder import Recorder, history_table
from memstack.engine.records.status import DatabaseStatus, read_status, reading, typed
from memstack.engine.run.offline import render_step
from memstack.engine.tree.graph import Revision, Step
from memstack.engine.tree.planner import forwards_plan, resolve_target

if TYPE_CHECKING:  # (the running machinery of engine/migrate.py is not imported to list revisions)
    from memstack.engine.workspace import Workspace

AHEAD, REMOVED, UNKNOWN = "ahead", "removed", "unknown"


def iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    value = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class HistoryEntry:
    """One ``memstack_history`` row as ``history`` shows it."""
    id: int
    event: str
    component: str
    revision: str
    name: str
    direction: str
    started_at: dt.datetime
    duration_ms: int | None
    success: bool
    error: str | None
    note: str | None
    checksum: str | None
    user: str | None
    host: str | None
    memstack_version: str | None
    source: str
    fleet_run: str | None = None  # the fleet run (migrate --targets) that wrote the row

    def as_json(self) -> dict[str, Any]:
        number = self.name.split("_", 1)[0]
        return {
            "event": self.event,
            "component": self.component,
            "revision": self.revision,
            "name": self.name,
            "number": int(number) if number.isdigit() else None,
            "direction": self.direction,
            "started_at": iso(self.started_at),
            "duration_ms": self.duration_ms,
            "success": self.success,
            "error": self.error,
            "note": self.note,
            "checksum": self.checksum,
            "user": self.user,
            "host": self.host,
            "memstack_version": self.memstack_version,
            "source": self.source,
            "fleet_run": self.fleet_run,
        }


def read_history(connection: Connection, component: str | None = None, limit: int | None = None,
                 fleet_run: str | None = None) -> list[HistoryEntry]:
    """History rows, oldest first (the newest ``limit``); ``fleet_run``: only that fleet run's rows.

    Columns a newer bookkeeping schema added are read only where they exist: a database last
    migrated by an older memstack still shows its history."""
    if history_table.name not in Recorder(connection).tables():
        return []
    present = {c["name"] for c in inspect(connection).get_columns(history_table.name)}
    if fleet_run is not None and "fleet_run" not in present:
        return []
    query = select(*[c for c in history_table.c if c.name in present]).order_by(history_table.c.id.desc())
    if component:
        query = query.where(history_table.c.component == component)
    if fleet_run is not None:
        query = query.where(history_table.c.fleet_run == fleet_run)
    if limit:
        query = query.limit(limit)
    with reading(history_table.name):
        rows = [r._mapping for r in typed(history_table, connection.execute(query))][::-1]
    return [HistoryEntry(
        id=r["id"], event=r["event"], component=r["component"], revision=r["revision"], name=r["name"],
        direction=r["direction"], started_at=r["started_at"], duration_ms=r["duration_ms"],
        success=bool(r["success"]), error=r["error"], note=r["note"], checksum=r["checksum"], user=r["os_user"],
        host=r["host"], memstack_version=r["memstack_version"], source=r["source"], fleet_run=r.get("fleet_run"),
    ) for r in rows]


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


@dataclass(frozen=True)
class ForeignRevision:
    """A revision the database holds that no file here provides.

    ``why``: ``ahead`` (its component is configured: a newer release or another git branch
    migrated the database), ``removed`` (its component is no longer configured) or
    ``unknown`` (a bare version row, no memstack record says whose it is).
    """

    revision: str
    component: str | None
    name: str | None
    why: str

    def as_json(self) -> dict[str, object]:
        return {"component": self.component, "revision": self.revision, "name": self.name, "number": None,
                "applied": True, "in_code": False, "why": self.why}


@dataclass(frozen=True)
class Listing:
    """``showmigrations``: per component its revisions, and what the database holds beyond them."""
    components: dict[str, list[RevisionState]]
    foreign: list[ForeignRevision]


def foreign_revisions(ws: Workspace, state: DatabaseStatus) -> list[ForeignRevision]:
    """Revisions recorded in the database (version rows or memstack's records) that no file provides."""
    labels = set(ws.registry.labels)
    found: dict[str, ForeignRevision] = {}
    for rid, record in state.records.items():
        if rid not in ws.graph:
            why = AHEAD if record.component in labels else REMOVED
            found[rid] = ForeignRevision(rid, record.component, record.name, why)
    for row in state.unknown:
        found.setdefault(row, ForeignRevision(row, None, None, UNKNOWN))
    return sorted(found.values(), key=lambda f: (f.component or "~", f.name or "", f.revision))


def listing(ws: Workspace, components: Sequence[str] = ()) -> Listing:
    """Every revision per component in graph order, applied or not, and the foreign ones.

    A database holding revisions this code does not know is shown, not refused: applied
    known revisions then come from the version rows and memstack's records together (the
    version row of a component that is ahead names a revision no file provides).
    """
    state = read_status(ws)
    applied = _known_applied(ws, state)
    selected = ws.registry.select(components)
    wanted = {c.label for c in selected}
    foreign = [f for f in foreign_revisions(ws, state) if not components or f.component in wanted]
    return Listing({c.label: [RevisionState(r, r.id in applied) for r in ws.graph.of_component(c.label)]
                    for c in selected}, foreign)


def _known_applied(ws: Workspace, state: DatabaseStatus) -> set[str]:
    """The applied revisions this code knows, also when the database holds some it does not."""
    if not state.unknown:
        return state.applied
    known = [r for r in state.rows if r in ws.graph] + [r for r in state.records if r in ws.graph]
    return ws.graph.applied_from_rows(known)


def plan_listing(ws: Workspace, components: Sequence[str] = ()) -> list[RevisionState]:
    """``showmigrations --plan``: the revisions up to the components' heads (and what they need in other
    components) in the order ``migrate`` applies them: the applied ones first, in the order a migrate
    from empty would have applied them, then the pending ones exactly as ``migrate`` would apply them now.
    """
    applied = _known_applied(ws, read_status(ws))
    labels = [c.label for c in ws.registry.select(components)]
    heads = [h.id for label in labels for h in ws.graph.heads(label)]
    done = [s.revision for s in forwards_plan(ws.graph, heads, set(), requested=labels) if s.revision.id in applied]
    pending = [s.revision for s in forwards_plan(ws.graph, heads, applied, requested=labels)]
    return [RevisionState(r, True) for r in done] + [RevisionState(r, False) for r in pending]


def show_migrations(ws: Workspace, components: Sequence[str] = ()) -> dict[str, list[RevisionState]]:
    """Per component, every revision in graph order and whether it is applied."""
    return listing(ws, components).components


def history(ws: Workspace, component: str | None = None, limit: int | None = None,
            fleet_run: str | None = None) -> list[HistoryEntry]:
    """Recorded events, oldest first; a removed component's events can still be asked for by name."""
    if component is not None:
        component = ws.registry.get(component).label if component in ws.registry.labels else component

    if missing_sqlite_file(ws.settings.database_url):  # no history yet; reading must not create the file
        return []
    with ws.engine.connect() as connection:
        return read_history(connection, component, limit, fleet_run)


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

    sql = render_step(ws.tree, Step(revision, direction), ws.dialect_name,  # type: ignore[arg-type]
                      alembic=ws.alembic_setup())
    return RenderedSQL(revision, direction, sql)
