"""Tags: the applied heads of every component stored under a name, to move back to later."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from memstack.engine.errors import InvalidTagName, TagExists, TagRevisionsMissing, UnknownTag
from memstack.engine.records.recorder import Recorder, tags_table, utcnow
from memstack.engine.records.status import read_status_on, reading, typed
from memstack.engine.review.show import iso
from memstack.engine.run.lock import migration_lock
from memstack.engine.run.safety import unknown_rows_error
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
            state = read_status_on(connection, ws.tree)
            if state.unknown:
                raise unknown_rows_error(state, ws.registry.labels)
            recorder = Recorder(connection)
            recorder.ensure_bookkeeping()
            if name in read_tags(connection):
                raise TagExists(name)
            snapshot = {label: component_heads(ws.graph, label, state.applied) for label in ws.registry.labels}
            recorder.save_tag(name, snapshot)
    return Tag(name, iso(utcnow()), snapshot)


def read_tags(connection: Connection) -> dict[str, tuple[dt.datetime, dict[str, list[str]]]]:
    """{name: (created at, {component: heads})}, oldest first."""
    if tags_table.name not in Recorder(connection).tables():
        return {}
    with reading(tags_table.name):
        query = select(tags_table).order_by(tags_table.c.created_at, tags_table.c.name)
        tags = {r.name: (r.created_at, json.loads(r.state)) for r in typed(tags_table, connection.execute(query))}
        for name, (_, state) in tags.items():  # {component: [heads]}, as save_tag writes it
            if not isinstance(state, dict) or not all(isinstance(v, list) for v in state.values()):
                raise TypeError(f"the state of tag {name!r} is not {{component: [revisions]}}: {state!r}"[:200])
    return tags


def list_tags(ws: Workspace) -> list[Tag]:
    with ws.engine.connect() as connection:
        return [Tag(name, iso(created), state) for name, (created, state) in read_tags(connection).items()]


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
