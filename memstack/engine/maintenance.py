"""Bookkeeping repairs: accept changed checksums, clear failure marks, forget removed components.

Both change only memstack's records (version rows, checksums, history), never the schema,
and both ask first through ``confirm``.
"""

from __future__ import annotations

from dataclasses import dataclass

from memstack.core.errors import DeclinedError
from memstack.engine.errors import ComponentStillConfigured, NothingRecorded
from memstack.engine.records.recorder import Recorder, utcnow
from memstack.engine.records.status import AppliedRecord, Drift, read_status_on
from memstack.engine.run.lock import WaitCallback, migration_lock
from memstack.engine.run.safety import unknown_rows_error, unverified
from memstack.engine.tree.loader import checksum_file
from memstack.engine.tree.planner import ConfirmCallback
from memstack.engine.workspace import Workspace


def prune(ws: Workspace, component: str, *, confirm: ConfirmCallback | None = None,
          on_wait: WaitCallback | None = None) -> list[AppliedRecord]:
    """Forget the applied revisions of a component that is no longer configured.

    The question names every revision it forgets (the same list is returned, in file order), so
    the answer is given knowing exactly which records go; the tables are left alone.
    """
    if component in ws.registry.labels:
        raise ComponentStillConfigured(component)
    with migration_lock(ws.engine, ws.settings.lock_timeout, on_wait):
        with ws.engine.connect() as connection, connection.begin():
            state = read_status_on(connection, ws.tree)
            records = sorted((r for r in state.records.values() if r.component == component),
                             key=lambda r: (r.name, r.revision))
            if not records:
                raise NothingRecorded(component)
            if confirm is None:
                raise DeclinedError("pruning needs confirmation", hint="pass --yes")
            confirm(_prune_question(component, records), [])
            known_rows = [r for r in state.rows if r in ws.graph]
            applied = ws.graph.applied_from_rows(known_rows) | {r for r in state.records if r in ws.graph}
            recorder = Recorder(connection)
            recorder.replace_rows(state.rows, ws.graph.rows_for(applied))
            recorder.forget_applied(r.revision for r in records)
            for record in records:
                recorder.add_history(event="repair", component=component, revision=record.revision,
                                     name=record.name, direction="down", started_at=utcnow(), duration_ms=0,
                                     success=True, note="pruned: component removed from the configuration")
    return records


def _prune_question(component: str, records: list[AppliedRecord]) -> str:
    """One line (it is also the refusal's text without a terminal) naming every revision forgotten."""
    names = ", ".join(f"{r.name} ({r.revision})" for r in records)
    return (f"Forget {len(records)} applied revision(s) of {component!r}: {names}? "
            "Its tables stay as they are.")


@dataclass
class RepairResult:
    checksums: list[Drift]
    verified: list[str]
    marks: list[str]


def repair(ws: Workspace, *, confirm: ConfirmCallback | None = None,
           on_wait: WaitCallback | None = None) -> RepairResult:
    """Record current checksums of changed or unverified applied files, and clear failure marks."""
    with migration_lock(ws.engine, ws.settings.lock_timeout, on_wait):
        with ws.engine.connect() as connection, connection.begin():
            recorder = Recorder(connection)
            recorder.ensure_bookkeeping()
            state = read_status_on(connection, ws.tree)
            if state.unknown:
                raise unknown_rows_error(state, ws.registry.labels)
            drift = state.drift
            pending_verify = [r for r in unverified(state) if r in ws.tree.paths]
            if not (drift or pending_verify or state.marks):
                return RepairResult([], [], [])
            if drift or state.marks:
                if confirm is None:
                    raise DeclinedError("repair needs confirmation", hint="pass --yes")
                confirm("Record the current checksums and clear the failure marks?", [])
            for item in drift:
                recorder.update_checksum(item.revision, item.current)
                recorder.add_history(event="repair", component=item.component, revision=item.revision,
                                     name=item.name, direction="up", started_at=utcnow(), duration_ms=0,
                                     success=True, checksum=item.current,
                                     note=f"checksum was {item.recorded}")
            for rid in pending_verify:
                rev = ws.graph.get(rid)
                recorder.record_applied(rid, rev.component, rev.name, checksum_file(ws.tree.paths[rid]),
                                        verified=True)
            for mark in state.marks:
                recorder.add_history(event="repair", component=mark.component, revision=mark.revision,
                                     name=mark.name, direction=mark.direction, started_at=utcnow(), duration_ms=0,
                                     success=True, note=f"cleared {mark.state} mark: {mark.error or ''}".strip())
            recorder.clear_marks()
    return RepairResult(drift, pending_verify, [f"{m.component} {m.name}" for m in state.marks])
