"""One reading of a database's status: applied, pending, changed files, marks, ahead, no-op digest.

Every caller asks the one value, :class:`DatabaseStatus`: ``migrate``, the start-up call, ``check``,
``doctor``, the plain ``alembic`` front end, repair, prune and tags. It is read from one engine or
connection and the tree, never global state: a run over many databases reads one per target.

The no-op digest: after a run leaves a database fully up to date (nothing pending, no marks, no
unknown rows, no changed applied file), a digest of the tree (:mod:`memstack.engine.tree.fingerprint`)
and of the state the checks saw (version rows, applied records, the number of marks) is stored in
``memstack_meta``. :func:`read_status` first reads the stored digest and that state in one query
(PostgreSQL hashes the applied records itself, so that is one row) and compares: equal means
nothing to do and nothing wrong, without building the graph; any difference (an edited file,
another branch, a deleted row, another process's work) falls back to the full read. The digest is
computed from the very state that was checked, so a later change leaves it stale, never wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, Table, cast, inspect, literal, select, union_all
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from memstack.core.db import database_unavailable
from memstack.core.network import timed_out
from memstack.core.urls import missing_sqlite_file
from memstack.engine.errors import CorruptRecords
from memstack.engine.records.recorder import (
    BOOKKEEPING_SCHEMA_VERSION,
    DIGEST_KEY,
    VERSION_TABLE,
    Recorder,
    applied_table,
    history_table,
    marks_table,
    meta_table,
    version_table,
)
from memstack.engine.tree import checksum
from memstack.engine.tree.fingerprint import tree_fingerprint

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect
    from sqlalchemy.sql import CompoundSelect, Select

    from memstack.engine.run.halfway import MarkProgress
    from memstack.engine.tree.graph import Revision
    from memstack.engine.tree.loader import LoadedTree
    from memstack.engine.workspace import Workspace

    #: which of a marked revision's objects exist (``memstack.engine.run.halfway.mark_progress``)
    ProgressReader = Callable[[Connection, Revision, str], MarkProgress]


@dataclass(frozen=True)
class AppliedRecord:
    revision: str
    component: str
    name: str
    checksum: str | None
    verified: bool


@dataclass(frozen=True)
class Mark:
    revision: str
    component: str
    name: str
    direction: str
    state: str
    started_at: dt.datetime
    error: str | None
    user: str | None
    host: str | None
    pid: int | None


@dataclass(frozen=True)
class Drift:
    """An applied revision whose file changed since it was applied."""
    component: str
    name: str
    revision: str
    path: str
    recorded: str
    current: str


@dataclass(frozen=True)
class DatabaseStatus:
    """What memstack knows about one database, read once; ``digest_current``: nothing to do, nothing wrong.

    With the digest current nothing else was read (the graph is not even built): the fields stay
    empty and the answers below are "nothing pending, nothing changed".
    """

    rows: list[str] = field(default_factory=list)  # alembic_version
    records: dict[str, AppliedRecord] = field(default_factory=dict)  # memstack_applied
    marks: list[Mark] = field(default_factory=list)  # failure ("running"/"failed") marks left
    unknown: list[str] = field(default_factory=list)  # version rows no revision file provides: ahead of the code
    applied: set[str] = field(default_factory=set)
    progress: dict[str, MarkProgress] = field(default_factory=dict)  # marked revision -> what of it exists
    digest_current: bool = False
    tree: LoadedTree | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def drift(self) -> list[Drift]:
        """Applied revisions whose file changed since they were applied (files hashed on first ask)."""
        from memstack.engine.tree.loader import checksum_file  # (the loader: not on the no-op path)

        found: list[Drift] = []
        for rid, path, recorded in self.recorded_checksums():
            current = checksum_file(path)
            if current != recorded and not legacy_of_same_code(recorded, path, current):
                rev = self.tree.graph.get(rid)  # type: ignore[union-attr]  # (only with a tree, files are known)
                found.append(Drift(rev.component, rev.name, rid, str(path), recorded, current))
        return found

    def recorded_checksums(self) -> Iterable[tuple[str, Path, str]]:
        """(revision, file, recorded checksum) of every applied revision with a recorded checksum and a file."""
        paths = self.tree.paths if self.tree is not None else {}
        for rid in sorted(self.applied):
            record = self.records.get(rid)
            if record is not None and record.checksum and rid in paths:
                yield rid, paths[rid], record.checksum

    @functools.cached_property
    def pending(self) -> list[str]:
        """Revisions this code has that the database lacks, in order. Recorded ones count as applied: in
        a database ahead of the code the version rows are the newer code's revisions."""
        if self.tree is None:
            return []
        graph = self.tree.graph
        known = self.applied | {r for r in self.records if r in graph}
        return graph.toposort(set(graph.revisions) - known)

    @property
    def fully_applied(self) -> bool:
        """Every revision applied, no mark, no unknown row, no changed file: the no-op digest may be stored."""
        if self.digest_current:
            return True
        graph = self.tree.graph if self.tree is not None else None
        return (graph is not None and not self.marks and not self.unknown and not set(graph.revisions) - self.applied
                and not self.drift)

    def facts(self) -> list[str]:
        """What the no-op digest vouches for besides the tree."""
        return _state_facts(self.rows, _applied_digest((r.revision, r.checksum, r.verified)
                                                       for r in self.records.values()), len(self.marks))


def legacy_of_same_code(recorded: str, path: Path, current: str) -> bool:
    """A checksum of checksum algorithm 1 (before memstack 0.2) computed from this very code."""
    verdict = checksum.verify(recorded, checksum.read_source(path), current)
    return verdict is checksum.Verdict.LEGACY_MATCH


# --------------------------------------------------------------------------- reading


def read_status(ws: Workspace, *, trust_digest: bool = False,
                mark_progress: ProgressReader | None = None) -> DatabaseStatus:
    """The status of ``ws``'s database; ``trust_digest``: first try the no-op digest (one query);
    ``mark_progress``: also read how far each marked revision got (for refusals that show it).

    Read without the lock, so another process may be creating memstack's tables meanwhile;
    MariaDB then fails the read with 1412 "Table definition has changed, please retry
    transaction", and the read is retried (a few times, briefly).
    """
    if missing_sqlite_file(ws.settings.database_url):  # nothing applied; reading must not create the file
        return DatabaseStatus(tree=ws.tree)
    if trust_digest and _digest_current(ws):
        return DatabaseStatus(digest_current=True)
    for attempt in range(1, 6):
        try:
            with ws.engine.connect() as connection:
                return read_status_on(connection, ws.tree, mark_progress)
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code != 1412 or attempt == 5:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def reading(table: str) -> Iterator[None]:
    """Rows of memstack's ``table`` read inside: a value that does not convert (a date that is no
    date, a JSON state that is no JSON) is refused naming the table, not a crash."""
    try:
        yield
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
        raise CorruptRecords(table, f"{type(exc).__name__}: {exc}") from exc


_EXPECTED_TYPES = {str: (str,), int: (int,), bool: (bool, int), dt.datetime: (dt.datetime,)}


def typed(table: Table, rows: Iterable[Row[Any]]) -> list[Row[Any]]:
    """``rows`` of memstack's ``table`` (closed), each value checked against its column's type (inside
    :func:`reading`): SQLite keeps what a hand-written UPDATE puts in (bytes in a text column)."""
    expected = {c.name: _EXPECTED_TYPES.get(c.type.python_type, (object,)) for c in table.c}
    try:
        checked = list(rows)
    finally:  # a value that fails to convert stops the fetch half-way; SQLite's half-read statement
        getattr(rows, "close", lambda: None)()  # would keep the file share-locked while the error lives
    for name, value in ((n, v) for row in checked for n, v in row._mapping.items()):
        if value is not None and not isinstance(value, kinds := expected.get(str(name), (object,))):
            raise TypeError(f"column {name} holds {type(value).__name__} {value!r:.60}, not {kinds[0].__name__}")
    return checked


def read_status_on(connection: Connection, tree: LoadedTree,
                   mark_progress: ProgressReader | None = None) -> DatabaseStatus:
    """The full status, read on ``connection`` (the caller's transaction, e.g. under the lock)."""
    tables = Recorder(connection).tables()
    rows = read_version_rows(connection, tables)
    with reading(applied_table.name):
        applied_rows = typed(applied_table, connection.execute(select(applied_table))) \
            if applied_table.name in tables else []
        records = {r.revision: AppliedRecord(r.revision, r.component, r.name, r.checksum, bool(r.verified))
                   for r in applied_rows}
    # each table is checked on its own: on MariaDB another process's CREATE TABLEs become
    # visible one by one, so memstack_history may exist while memstack_applied does not yet
    with reading(marks_table.name):
        marks = [Mark(r.revision, r.component, r.name, r.direction, r.state, r.started_at, r.error, r.os_user,
                      r.host, r.pid) for r in typed(marks_table, connection.execute(select(marks_table)))
                 ] if marks_table.name in tables else []
    graph = tree.graph
    unknown = sorted(r for r in rows if not graph.knows_row(r))
    applied = graph.applied_from_rows([r for r in rows if graph.knows_row(r)])
    progress = {} if mark_progress is None else {  # (rare: only read when there are marks)
        m.revision: mark_progress(connection, graph.get(m.revision), m.direction) for m in marks if m.revision in graph}
    return DatabaseStatus(rows, records, marks, unknown, applied, progress, tree=tree)


def read_version_rows(connection: Connection, tables: Iterable[str] | None = None) -> list[str]:
    """The rows of ``alembic_version`` (none when it does not exist)."""
    if VERSION_TABLE not in (tables if tables is not None else inspect(connection).get_table_names()):
        return []
    with reading(VERSION_TABLE):
        return sorted(row[0] for row in typed(version_table, connection.execute(select(version_table.c.version_num))))


def squash_evidence(connection: Connection, tree: LoadedTree) -> list[str]:
    """The version rows, plus the applied records of squashes and what they replace: the rows alone
    cannot tell a database that ran a squash from one part-way through its range when another
    component's row stands for both (tree/replaces.py reads these as rows)."""
    tables = Recorder(connection).tables()
    rows = read_version_rows(connection, tables)
    if applied_table.name not in tables:
        return rows
    wanted = set(tree.squashes) | {r for reps in tree.squashes.values() for r in reps}
    recorded = [r for (r,) in connection.execute(select(applied_table.c.revision)) if r in wanted]
    return sorted({*rows, *recorded})


def last_applied_order(connection: Connection) -> dict[str, int]:
    """{revision: id of its latest successful apply-like event}: orders rollbacks."""
    if history_table.name not in Recorder(connection).tables():
        return {}
    query = select(history_table.c.revision, history_table.c.id).where(
        history_table.c.success.is_(True), history_table.c.direction == "up").order_by(history_table.c.id)
    return {rev: ident for rev, ident in connection.execute(query)}


def remember(ws: Workspace, status: DatabaseStatus | None = None) -> None:
    """Store the no-op digest when the database is fully up to date (best effort: it is a cache).

    ``status``: the status just read and checked (else it is read now); the digest is computed
    from it, so anything committed since makes the digest not match.
    """
    if missing_sqlite_file(ws.settings.database_url):
        return
    try:
        status = status or read_status(ws)
        if status.digest_current or not status.fully_applied:
            return
        value = _combined(_tree_digest(ws), status.facts())
        with ws.engine.begin() as connection:
            _bound_cache_write(connection, ws.settings.lock_timeout)
            try:
                Recorder(connection).store_digest(value)
            finally:
                if connection.dialect.name in ("mysql", "mariadb"):
                    connection.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = DEFAULT, "
                                               "lock_wait_timeout = DEFAULT")
    except SQLAlchemyError:  # failing to write it only costs the next start the full path
        return


def _bound_cache_write(connection: Connection, lock_timeout: float) -> None:
    """The digest is a cache: its write waits for another session's row or table lock no longer than
    ``lock_timeout`` and at most 1 s (it waited innodb_lock_wait_timeout, 50 s, on MariaDB, and for
    ever on PostgreSQL, after a run that had found nothing to do)."""
    seconds = min(lock_timeout, 1.0)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{max(1, int(seconds * 1000))}ms'")
    elif connection.dialect.name in ("mysql", "mariadb"):  # whole seconds, 1 at least
        connection.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 1, lock_wait_timeout = 1")


# --------------------------------------------------------------------------- the no-op digest


def _digest_current(ws: Workspace) -> bool:
    """True only when the stored digest matches this tree and the state read with it."""
    try:
        with ws.engine.connect() as connection:
            stored, facts = read_digest_facts(connection)
    except SQLAlchemyError as exc:  # no bookkeeping tables yet, or no server: the full read says which
        if timed_out(exc):  # a silent server: say so now rather than wait for it a second time
            raise database_unavailable(exc, ws.settings.database_url) from exc
        return False
    return stored is not None and stored == _combined(_tree_digest(ws), facts)


def digest_matches(tree_digest: str, stored: str | None, facts: list[str]) -> bool:
    """Whether a digest read elsewhere (a fleet's many schemas on one session) vouches for the state."""
    return stored is not None and stored == _combined(tree_digest, facts)


def tree_digest(ws: Workspace) -> str:
    """The tree's part of the no-op digest (computed once for a whole fleet)."""
    return _tree_digest(ws)


def _tree_digest(ws: Workspace) -> str:
    return tree_fingerprint(ws, str(BOOKKEEPING_SCHEMA_VERSION))  # new tables: every digest is stale


def _combined(tree: str, facts: list[str]) -> str:
    return hashlib.sha256("\0".join([tree, *sorted(facts)]).encode()).hexdigest()


def _applied_digest(applied: Iterable[tuple[str, str | None, bool]]) -> str:
    """One fact for every applied record: on PostgreSQL the server computes the same (see
    :func:`applied_digest_on_server`), so a no-op start reads one row instead of one per revision."""
    lines = sorted(f"{r} {c} {bool(v)}" for r, c, v in applied)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _state_facts(rows: Iterable[str], applied_digest: str, marks: int) -> list[str]:
    return [f"row {r}" for r in rows] + [f"applied {applied_digest}", f"marks {marks}"]


def applied_digest_on_server() -> Select[Any]:
    """:func:`_applied_digest` in PostgreSQL (11+: ``sha256``); ``COLLATE "C"`` orders by code point,
    as Python's ``sorted`` does."""
    from sqlalchemy import case, func  # (only PostgreSQL's query uses them)
    from sqlalchemy.dialects.postgresql import aggregate_order_by  # (PostgreSQL's dialect: only when it is used)

    t = applied_table.c
    line = t.revision + " " + func.coalesce(t.checksum, "None") + " " + case((t.verified, "True"), else_="False")
    joined = func.coalesce(func.string_agg(line, aggregate_order_by(literal("\n"), line.collate("C"))), "")
    digest = func.encode(func.sha256(func.convert_to(joined, "UTF8")), "hex")
    return select(literal("applied_digest"), digest, literal(None, String), literal(0)).select_from(applied_table)


def read_digest_facts(connection: Connection) -> tuple[str | None, list[str]]:
    """(stored digest, state facts) in one query."""
    return digest_facts(connection.execute(digest_query(connection.dialect)), connection.dialect)


def _on_server(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and (dialect.server_version_info or (0,)) >= (11,)


def digest_query(dialect: Dialect) -> CompoundSelect[Any]:
    """The query of :func:`read_digest_facts` (a fleet unites many schemas' copies of it in one)."""
    none = literal(None, String)
    meta = select(meta_table.c.key, meta_table.c.value, none, literal(0)).where(meta_table.c.key == DIGEST_KEY)
    rows = select(literal("row"), version_table.c.version_num, none, literal(0))
    applied = applied_digest_on_server() if _on_server(dialect) else select(
        literal("applied"), applied_table.c.revision, applied_table.c.checksum, cast(applied_table.c.verified, Integer))
    marks = select(literal("mark"), marks_table.c.revision, none, literal(0))
    return union_all(meta, rows, applied, marks)


def digest_facts(result: Iterable[Any], dialect: Dialect) -> tuple[str | None, list[str]]:
    """(stored digest, state facts) from the rows of :func:`digest_query`."""
    found: dict[str, list[Any]] = {}
    records: list[tuple[str, str | None, bool]] = []
    for kind, value, recorded, verified in result:
        if kind == "applied":
            records.append((value, recorded, bool(verified)))
        else:
            found.setdefault(kind, []).append(value)
    server = found.get("applied_digest", [None])[0] if _on_server(dialect) else None
    digest = server if server is not None else _applied_digest(records)
    return found.get(DIGEST_KEY, [None])[0], _state_facts(found.get("row", []), digest, len(found.get("mark", [])))
