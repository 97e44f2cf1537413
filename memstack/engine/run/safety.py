"""What must hold before schema work starts: known version rows, unchanged applied files,
no half-applied revision. Shared by ``migrate``, ``check --database``, ``doctor`` and ``repair``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from memstack.engine.errors import ChecksumDrift, FailureMark, RemovedComponent, UnknownRows
from memstack.engine.records.recorder import AppliedRecord, Mark, Recorder
from memstack.engine.run.halfway import MarkProgress
from memstack.engine.tree import checksum
from memstack.engine.tree.graph import MigrationGraph
from memstack.engine.tree.loader import LoadedTree, checksum_file

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace

__all__ = ["ChecksumDrift", "DatabaseState", "Drift", "FailureMark", "RemovedComponent", "UnknownRows",
           "checksum_drift", "database_state", "drift_error", "ensure_safe", "read_database_state", "record_unverified",
           "unknown_rows_error", "unverified"]


@dataclass(frozen=True)
class Drift:
    component: str
    name: str
    revision: str
    path: str
    recorded: str
    current: str


@dataclass
class DatabaseState:
    """Everything memstack knows about one database, read in a fixed number of queries."""

    rows: list[str]
    records: dict[str, AppliedRecord]
    marks: list[Mark]
    unknown: list[str] = field(default_factory=list)
    applied: set[str] = field(default_factory=set)
    progress: dict[str, MarkProgress] = field(default_factory=dict)  # marked revision -> what of it exists


def database_state(ws: Workspace) -> DatabaseState:
    """Version rows, applied set, checksum records and marks, in a fixed number of reads.

    Read without the lock, so another process may be creating memstack's tables meanwhile;
    MariaDB then fails the read with 1412 "Table definition has changed, please retry
    transaction", and we do retry it (a few times, briefly).
    """
    import time

    from sqlalchemy.exc import OperationalError

    from memstack.core.urls import missing_sqlite_file

    if missing_sqlite_file(ws.settings.database_url):  # nothing applied; reading must not create the file
        return DatabaseState([], {}, [], [], set())
    for attempt in range(1, 6):
        try:
            with ws.engine.connect() as connection:
                return read_database_state(connection, ws.graph)
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code != 1412 or attempt == 5:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def read_database_state(connection: Connection, graph: MigrationGraph) -> DatabaseState:
    recorder = Recorder(connection)
    rows = recorder.version_rows()
    records = recorder.applied_records()
    marks = recorder.marks()
    unknown = sorted(r for r in rows if r not in graph)
    known = [r for r in rows if r in graph]
    return DatabaseState(rows, records, marks, unknown, graph.applied_from_rows(known),
                         marks_progress(connection, graph, marks))


def marks_progress(connection: Connection, graph: MigrationGraph, marks: list[Mark]) -> dict[str, MarkProgress]:
    """For each marked revision, which of its objects exist (only read when there are marks: rare)."""
    from memstack.engine.run.halfway import mark_progress

    return {m.revision: mark_progress(connection, graph.get(m.revision), m.direction)
            for m in marks if m.revision in graph}


def unknown_rows_error(state: DatabaseState, labels: list[str]) -> UnknownRows:
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


def checksum_drift(tree: LoadedTree, state: DatabaseState) -> list[Drift]:
    """Applied revisions whose file changed since they were applied."""
    drift: list[Drift] = []
    for rid in sorted(state.applied):
        record = state.records.get(rid)
        if record is None or not record.checksum or rid not in tree.paths:
            continue
        path: Path = tree.paths[rid]
        current = checksum_file(path)
        if current != record.checksum and not _legacy_of_same_code(record.checksum, path, current):
            rev = tree.graph.get(rid)
            drift.append(Drift(rev.component, rev.name, rid, str(path), record.checksum, current))
    return drift


def _legacy_of_same_code(recorded: str, path: Path, current: str) -> bool:
    """A checksum of checksum algorithm 1 (before memstack 0.2) computed from this very code."""
    verdict = checksum.verify(recorded, path.read_text(encoding="utf-8"), current)
    return verdict is checksum.Verdict.LEGACY_MATCH


def legacy_checksums(tree: LoadedTree, state: DatabaseState) -> dict[str, str]:
    """{revision: algorithm-2 checksum} for applied rows still recorded by algorithm 1."""
    found: dict[str, str] = {}
    for rid in sorted(state.applied):
        record = state.records.get(rid)
        if record is None or not record.checksum or rid not in tree.paths:
            continue
        current = checksum_file(tree.paths[rid])
        if current != record.checksum and _legacy_of_same_code(record.checksum, tree.paths[rid], current):
            found[rid] = current
    return found


def unverified(state: DatabaseState) -> list[str]:
    """Applied revisions with no checksum recorded when they were applied."""
    return sorted(rid for rid in state.applied
                  if rid not in state.records or not state.records[rid].verified or not state.records[rid].checksum)


def drift_error(drift: list[Drift]) -> ChecksumDrift:
    """The refusal for changed applied files (kept as a function: the command modules raise it)."""
    return ChecksumDrift(drift)


def ensure_safe(tree: LoadedTree, state: DatabaseState, labels: list[str],
                resolving: Collection[tuple[str, str]] = ()) -> None:
    """Refuse schema work on a database that is not in a known, intact state.

    ``resolving``: (revision, direction) pairs the caller is about to fake; their marks are the
    ones that fake resolves (a fix :class:`FailureMark` suggests), so they do not block it.
    """
    if state.unknown:
        raise unknown_rows_error(state, labels)
    blocking = [m for m in state.marks if (m.revision, m.direction) not in resolving]
    if blocking:
        raise FailureMark(blocking[0], state.progress.get(blocking[0].revision))
    drift = checksum_drift(tree, state)
    if drift:
        raise ChecksumDrift(drift)


def record_unverified(connection: Connection, tree: LoadedTree, state: DatabaseState) -> list[str]:
    """Give applied revisions without a record one now, marked unverified."""
    recorder = Recorder(connection)
    missing = [rid for rid in sorted(state.applied) if rid not in state.records and rid in tree.paths]
    for rid in missing:
        rev = tree.graph.get(rid)
        recorder.record_applied(rid, rev.component, rev.name, checksum_file(tree.paths[rid]), verified=False)
    for rid, current in legacy_checksums(tree, state).items():  # re-recorded once, verified status kept
        recorder.update_checksum(rid, current, verified=state.records[rid].verified)
    return missing
