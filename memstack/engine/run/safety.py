"""What must hold before schema work starts: known version rows, unchanged applied files, no
half-applied revision. The status is read by :mod:`memstack.engine.records.status`; this module
turns it into refusals (and records what an older memstack left unrecorded).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.engine import Connection

from memstack.engine.errors import ChecksumDrift, FailureMark, RemovedComponent, UnknownRows
from memstack.engine.records.recorder import Recorder
from memstack.engine.records.status import DatabaseStatus, legacy_of_same_code
from memstack.engine.tree.loader import LoadedTree, checksum_file


def unknown_rows_error(state: DatabaseStatus, labels: list[str]) -> UnknownRows:
    """The error for version rows no file provides, naming a removed component when we can tell."""
    removed: dict[str, list[str]] = {}
    for row in state.unknown:
        record = state.records.get(row)
        if record is not None and record.component not in labels:
            removed.setdefault(record.component, []).append(record.name)
    if removed:
        component, names = next(iter(sorted(removed.items())))
        applied_names = sorted(r.name for r in state.records.values() if r.component == component)
        return RemovedComponent(list(state.unknown), component, applied_names or names)
    return UnknownRows(list(state.unknown))


def legacy_checksums(state: DatabaseStatus) -> dict[str, str]:
    """{revision: algorithm-2 checksum} for applied rows still recorded by algorithm 1."""
    found: dict[str, str] = {}
    for rid, path, recorded in state.recorded_checksums():
        current = checksum_file(path)
        if current != recorded and legacy_of_same_code(recorded, path, current):
            found[rid] = current
    return found


def unverified(state: DatabaseStatus) -> list[str]:
    """Applied revisions with no checksum recorded when they were applied."""
    return sorted(rid for rid in state.applied
                  if rid not in state.records or not state.records[rid].verified or not state.records[rid].checksum)


def ensure_safe(state: DatabaseStatus, labels: list[str], resolving: Collection[tuple[str, str]] = ()) -> None:
    """Refuse schema work on a database that is not in a known, intact state.

    ``resolving``: (revision, direction) pairs the caller is about to fake; their marks are the
    ones that fake resolves (a fix :class:`FailureMark` suggests), so they do not block it.
    """
    if state.unknown:
        raise unknown_rows_error(state, labels)
    blocking = [m for m in state.marks if (m.revision, m.direction) not in resolving]
    if blocking:
        raise FailureMark(blocking[0], state.progress.get(blocking[0].revision))
    if state.drift:
        raise ChecksumDrift(state.drift)


def record_unverified(connection: Connection, tree: LoadedTree, state: DatabaseStatus) -> list[str]:
    """Give applied revisions without a record one now, marked unverified."""
    recorder = Recorder(connection)
    missing = [rid for rid in sorted(state.applied) if rid not in state.records and rid in tree.paths]
    for rid in missing:
        rev = tree.graph.get(rid)
        recorder.record_applied(rid, rev.component, rev.name, checksum_file(tree.paths[rid]), verified=False)
    for rid, current in legacy_checksums(state).items():  # re-recorded once, verified status kept
        recorder.update_checksum(rid, current, verified=state.records[rid].verified)
    return missing
