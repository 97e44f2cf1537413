"""``migrate --dry-run --locks`` (PostgreSQL): the locks each statement takes, measured.

The rehearsal runs every step for real in one transaction (then rolls back); around each of
its statements this reads, on the same backend, what ``pg_locks`` says it holds and each
table's ``relfilenode`` (a new one means the table or index was rewritten), as eugene's
``trace`` does. A statement's locks are those it added (the transaction keeps earlier ones),
joined with the relation's size and row estimate. Statements that cannot run in a transaction
(``CREATE INDEX CONCURRENTLY`` and the rest of an ``atomic = False`` revision) are not
rehearsed: their locks are read from the statement by what PostgreSQL documents.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from memstack.core.errors import MemstackError
from memstack.engine.run import blockers as found
from memstack.engine.run.offline import iter_plan_sql

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from memstack.engine.run.steps import ProgressCallback, StepResult
    from memstack.engine.tree.graph import Step

LARGE_TABLE_BYTES = 10 * 1024 * 1024  # ACCESS EXCLUSIVE on a table this big is flagged
_BOOKKEEPING = re.compile(r"\b(?:alembic_version|memstack_\w+)\b", re.I)
_RELATIONS = """
SELECT c.oid, c.relname, c.relkind, c.relfilenode, pg_relation_size(c.oid), c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
"""
_HELD = "SELECT l.relation, l.mode FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation'"


@dataclass(frozen=True)
class HeldLock:
    relation: str
    kind: str  # table | index
    mode: str  # PostgreSQL's name: AccessExclusiveLock, ShareLock, ...
    size_bytes: int | None
    rows: int | None

    def as_json(self) -> dict[str, Any]:
        return {"relation": self.relation, "kind": self.kind, "mode": self.mode, "size_bytes": self.size_bytes,
                "rows": self.rows}


@dataclass
class StatementLocks:
    """One statement of the rehearsal and what it took."""
    step: Step
    statement: str
    duration_ms: float
    locks: list[HeldLock] = field(default_factory=list)
    rewrites: list[str] = field(default_factory=list)
    rehearsed: bool = True

    @property
    def flags(self) -> list[str]:
        """Why this statement deserves a look: ACCESS EXCLUSIVE on a large table, a rewrite."""
        reasons = [f"ACCESS EXCLUSIVE on {lock.relation} ({lock.size_bytes} bytes)" for lock in self.locks
                   if lock.mode == "AccessExclusiveLock" and lock.kind == "table"
                   and (lock.size_bytes or 0) >= LARGE_TABLE_BYTES]
        return reasons + [f"rewrites {name}" for name in self.rewrites]

    def as_json(self) -> dict[str, Any]:
        return {**self.step.as_json(), "statement": self.statement, "duration_ms": round(self.duration_ms, 3),
                "rehearsed": self.rehearsed, "locks": [lock.as_json() for lock in self.locks],
                "rewrites": self.rewrites, "flags": self.flags}


class LockRecorder:
    """Collects :class:`StatementLocks` from the rehearsal's statements (engine events)."""
    def __init__(self) -> None:
        self.statements: list[StatementLocks] = []
        self._step: Step | None = None
        self._held: set[tuple[int, str]] = set()
        self._before: dict[int, tuple[Any, ...]] = {}
        self._started = 0.0

    def progress(self, inner: ProgressCallback | None) -> ProgressCallback:
        """The executor's progress callback, also telling the recorder which step runs."""
        def callback(event: str, step: Step, result: StepResult | None) -> None:
            self._step = step if event == "start" else None
            if event == "restart":  # a lock timeout rolled the rehearsal back: it starts again from its first step
                self.statements, self._held = [], set()
            if inner is not None:
                inner(event, step, result)

        return callback

    def before(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self._step is None or _BOOKKEEPING.search(statement):
            return
        self._before = _relations(cursor)
        self._started = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if self._step is None or _BOOKKEEPING.search(statement):
            return
        took = (time.perf_counter() - self._started) * 1000
        after = _relations(cursor)
        probe = cursor.connection.cursor()
        probe.execute(_HELD)
        held = {(int(oid), str(mode)) for oid, mode in probe.fetchall()}
        added, self._held = held - self._held, held
        known = {**self._before, **after}  # a dropped relation is named as it was
        locks = sorted((_lock(known[oid], mode) for oid, mode in added if oid in known),
                       key=lambda lock: (lock.relation, lock.mode))
        rewrites = sorted(after[oid][1] for oid, row in self._before.items()
                          if oid in after and after[oid][3] != row[3] and row[2] != "i")
        self.statements.append(StatementLocks(self._step, statement.strip(), took, locks, rewrites))


def _lock(row: tuple[Any, ...], mode: str) -> HeldLock:
    _, name, kind, _, size, rows = row
    return HeldLock(name, "index" if kind == "i" else "table", mode, int(size),
                    max(int(rows), 0) if rows is not None else None)


def _relations(cursor: Any) -> dict[int, tuple[Any, ...]]:
    probe = cursor.connection.cursor()
    probe.execute(_RELATIONS)
    return {int(row[0]): tuple(row) for row in probe.fetchall()}


@contextmanager
def recording(engine: Engine) -> Iterator[LockRecorder]:
    """A :class:`LockRecorder` listening to ``engine``'s statements for the block."""
    recorder = LockRecorder()
    event.listen(engine, "before_cursor_execute", recorder.before)
    event.listen(engine, "after_cursor_execute", recorder.after)
    try:
        yield recorder
    finally:
        event.remove(engine, "before_cursor_execute", recorder.before)
        event.remove(engine, "after_cursor_execute", recorder.after)


def documented(step: Step, statements: list[str]) -> list[StatementLocks]:
    """Statements that were not rehearsed, with the locks PostgreSQL documents for them."""
    return [StatementLocks(step, statement, 0.0, [HeldLock(found.unquote(table), "table", mode, None, None)
                                                 for table, mode in found.locked_tables(statement)],
                           rehearsed=False)
            for statement in statements if not _BOOKKEEPING.search(statement)]


def split_statements(blocks: Iterator[str] | list[str]) -> list[str]:
    """The statements of rendered SQL blocks (``migrate --sql``'s), comments left out."""
    statements: list[str] = []
    for block in blocks:
        text = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
        statements += [s.strip() for s in re.split(r";\s*\n", text + "\n") if s.strip()]
    return statements


def not_rehearsed(ws: Any, step: Step, state: Any) -> list[StatementLocks]:
    """An ``atomic = False`` step the rehearsal stopped before: its statements rendered, locks as documented."""
    try:
        return documented(step, split_statements(list(iter_plan_sql(ws, [step], state))[1:]))
    except MemstackError:  # not renderable offline: nothing to report from the documentation either
        return []
