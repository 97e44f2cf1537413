"""Tags: the applied heads of every component stored under a name, to move back to later."""

from __future__ import annotations

from dataclasses import dataclass

from memstack.engine.errors import InvalidTagName, TagExists, TagRevisionsMissing, UnknownTag
from memstack.engine.records.recorder import Recorder, iso, utcnow
from memstack.engine.run.lock import migration_lock
from memstack.engine.run.safety import read_database_state, unknown_rows_error
from memstack.engine.tree.planner import component_heads
from memstack.engine.workspace import Workspace


@dataclass(frozen=True)
class Tag:
    name: str
    created_at: str | None
    state: dict[str, list[str]]

    def as_json(self, names: dict[str, str]) -> dict[str, object]:
        return {"tag": self.name, "created_at": self.created_at,
                "components": {c: [{"revision": r, "name": names.get(r)} for r in heads]
                               for c, heads in sorted(self.state.items())}}


def valid_tag_name(name: str) -> bool:
    """Letters, digits, '-', '_' and '.', at most 128: safe in a shell and in a JSON key."""
    return bool(name) and len(name) <= 128 and all(ch.isalnum() or ch in "-_." for ch in name)


def create_tag(ws: Workspace, name: str) -> Tag:
    """Store the applied heads of every component (``[]`` = zero) under ``name``."""
    if not valid_tag_name(name):
        raise InvalidTagName(name)
    with migration_lock(ws.engine, ws.settings.lock_timeout):
        with ws.engine.connect() as connection, connection.begin():
            state = read_database_state(connection, ws.graph)
            if state.unknown:
                raise unknown_rows_error(state, ws.registry.labels)
            recorder = Recorder(connection)
            recorder.ensure_bookkeeping()
            if name in recorder.tags():
                raise TagExists(name)
            snapshot = {label: component_heads(ws.graph, label, state.applied) for label in ws.registry.labels}
            recorder.save_tag(name, snapshot)
    return Tag(name, iso(utcnow()), snapshot)


def list_tags(ws: Workspace) -> list[Tag]:
    with ws.engine.connect() as connection:
        return [Tag(name, iso(created), state) for name, (created, state) in Recorder(connection).tags().items()]


def delete_tag(ws: Workspace, name: str) -> None:
    with ws.engine.connect() as connection, connection.begin():
        if not Recorder(connection).has_bookkeeping() or not Recorder(connection).delete_tag(name):
            raise UnknownTag(name)


def tag_targets(ws: Workspace, name: str) -> dict[str, list[str]]:
    """{component: heads} of a tag, for the components still configured."""
    tags = {t.name: t for t in list_tags(ws)}
    if name not in tags:
        raise UnknownTag(name)
    wanted: dict[str, list[str]] = {}
    for label, heads in tags[name].state.items():
        if label not in ws.registry.labels:
            continue  # a component removed since: nothing to move
        missing = [h for h in heads if h not in ws.graph]
        if missing:
            raise TagRevisionsMissing(name, label, missing)
        wanted[label] = list(heads)
    return wanted
