"""Who holds the table locks a statement needs: the statement read for its tables and lock
mode, and the sessions read from the server (PostgreSQL ``pg_locks`` + ``pg_stat_activity``;
MariaDB ``information_schema``: ``METADATA_LOCK_INFO`` when the plugin is loaded, otherwise
the sessions with an open transaction, which is what holds a metadata lock after a read).

The statement is read with regular expressions, not parsed: it names candidates, and the
server says which of them exist and who holds them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

# PostgreSQL's table lock modes, weakest first, and which modes each conflicts with (docs: 13.3.1)
MODES = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
         "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
_CONFLICTS = {
    "AccessShareLock": {"AccessExclusiveLock"},
    "RowShareLock": {"ExclusiveLock", "AccessExclusiveLock"},
    "RowExclusiveLock": {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"},
    "ShareUpdateExclusiveLock": {"ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock", "ExclusiveLock",
                                 "AccessExclusiveLock"},
    "ShareLock": {"RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareRowExclusiveLock", "ExclusiveLock",
                  "AccessExclusiveLock"},
    "ShareRowExclusiveLock": {"RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock",
                              "ExclusiveLock", "AccessExclusiveLock"},
    "ExclusiveLock": set(MODES[1:]),
    "AccessExclusiveLock": set(MODES),
}
STRONG = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}
"""Modes that stop the application's writes (or reads): a pre-flight looks before taking them."""

_PART = r'(?:"[^"]+"|`[^`]+`|[\w$]+)'
_NAME = rf"({_PART}(?:\.{_PART})?)"
_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I | re.S), m) for p, m in (
    (rf"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}\s+VALIDATE\s+CONSTRAINT\b[^,]*$",
     "ShareUpdateExclusiveLock"),
    (rf"^\s*ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}", "AccessExclusiveLock"),
    (rf"^\s*(?:DROP|TRUNCATE)\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", "AccessExclusiveLock"),
    (rf"^\s*TRUNCATE\s+(?:ONLY\s+)?{_NAME}", "AccessExclusiveLock"),
    (rf"^\s*LOCK\s+(?:TABLE\s+)?(?:ONLY\s+)?{_NAME}(?!.*\bIN\s+(?:ACCESS\s+SHARE|ROW\s+SHARE)\b)",
     "AccessExclusiveLock"),
    (rf"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+.*?\bON\s+(?:ONLY\s+)?{_NAME}", "ShareUpdateExclusiveLock"),
    (rf"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+.*?\bON\s+(?:ONLY\s+)?{_NAME}", "ShareLock"),
    (rf"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+.*?\bON\s+{_NAME}", "ShareRowExclusiveLock"),
    (rf"^\s*(?:VACUUM\s+(?:\(\s*)?FULL\b.*?|CLUSTER\s+|REINDEX\s+TABLE\s+){_NAME}\s*;?\s*$", "AccessExclusiveLock"),
    (rf"^\s*RENAME\s+TABLE\s+{_NAME}", "AccessExclusiveLock"),  # MariaDB
))
_REFERENCES = re.compile(rf"\bREFERENCES\s+{_NAME}", re.I)
_CONCURRENT_INDEX = re.compile(
    rf"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}\s+ON\b", re.I | re.S)


def unquote(name: str) -> str:
    """The last part of a possibly qualified, possibly quoted name, as the catalog spells it."""
    last = re.split(r'\.(?=(?:[^"`]*["`][^"`]*["`])*[^"`]*$)', name)[-1]
    return last[1:-1] if last[:1] in ('"', "`") else last.lower()


def locked_tables(statement: str) -> list[tuple[str, str]]:
    """(table as written, PostgreSQL lock mode) the statement needs; empty for DML and the rest."""
    found: list[tuple[str, str]] = []
    for pattern, mode in _RULES:
        match = pattern.match(statement)
        if match:
            found.append((match.group(1), mode))
            break
    if found:
        found += [(m.group(1), "ShareRowExclusiveLock") for m in _REFERENCES.finditer(statement)]
    return found


def concurrent_index_name(statement: str) -> str | None:
    match = _CONCURRENT_INDEX.match(statement)
    return match.group(1) if match else None


def conflicts(wanted: str, held: str) -> bool:
    return held in _CONFLICTS.get(wanted, set(MODES))


def fingerprint(query: str | None) -> tuple[str, str]:
    """(short hash, normalized text): literals replaced by ``?``, whitespace collapsed."""
    if not query:
        return "", ""
    text = re.sub(r"'(?:[^']|'')*'", "?", query)
    text = re.sub(r"\b\d+(?:\.\d+)?\b", "?", text)
    text = " ".join(text.split())
    return hashlib.sha256(text.encode()).hexdigest()[:16], text[:200]


@dataclass(frozen=True)
class Blocker:
    """A session holding (or possibly holding) a lock a statement needs."""
    pid: int
    user: str | None
    application: str | None
    state: str | None
    transaction_age_s: float | None
    query: str | None
    table: str | None = None
    mode: str | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.query)[0]

    def as_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "user": self.user, "application": self.application, "state": self.state,
                "transaction_age_s": self.transaction_age_s, "query": fingerprint(self.query)[1],
                "fingerprint": self.fingerprint, "table": self.table, "mode": self.mode}

    def describe(self) -> str:
        age = f"{self.transaction_age_s:.1f} s" if self.transaction_age_s is not None else "unknown"
        what = f" {self.mode} on {self.table}" if self.table else ""
        return (f"pid {self.pid} (user {self.user or '?'}, application {self.application or '-'}, "
                f"{self.state or '?'}, transaction open {age}){what}: {fingerprint(self.query)[1] or '-'}")


_PG_HOLDERS = """
SELECT a.pid, a.usename, a.application_name, a.state,
       extract(epoch FROM clock_timestamp() - a.xact_start), a.query, c.relname, l.mode
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.locktype = 'relation'
  AND l.relation = ANY(ARRAY[{names}]::regclass[])
ORDER BY a.xact_start NULLS LAST
"""


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def postgres_blockers(cursor: Any, wanted: list[tuple[str, str]]) -> list[Blocker]:
    """Sessions holding locks that conflict with ``wanted`` (table, mode), oldest transaction first.

    ``cursor``: a DBAPI cursor on a connection that can run a query (not an aborted transaction).
    Names that do not resolve are left out (``to_regclass`` gives NULL).
    """
    if not wanted:
        return []
    names = ", ".join(f"to_regclass({_literal(name)})" for name, _ in wanted)
    cursor.execute(_PG_HOLDERS.format(names=names))
    modes = {unquote(name): mode for name, mode in wanted}
    found: dict[int, Blocker] = {}
    for pid, user, application, state, age, query, relname, held in cursor.fetchall():
        if conflicts(modes.get(relname, "AccessExclusiveLock"), held) and pid not in found:
            found[pid] = Blocker(int(pid), user, application, state, float(age) if age is not None else None,
                                 query, relname, held)
    return list(found.values())


_MARIADB_TRANSACTIONS = """
SELECT p.ID, p.USER, p.HOST, p.COMMAND, TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6, p.INFO
FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
WHERE p.ID <> CONNECTION_ID() AND p.DB = DATABASE() ORDER BY t.trx_started
"""
_MARIADB_MDL = """
SELECT m.THREAD_ID, p.USER, p.HOST, p.COMMAND, p.TIME, p.INFO, m.TABLE_NAME, m.LOCK_MODE
FROM information_schema.METADATA_LOCK_INFO m JOIN information_schema.PROCESSLIST p ON p.ID = m.THREAD_ID
WHERE m.THREAD_ID <> CONNECTION_ID() AND m.TABLE_SCHEMA = DATABASE() AND m.TABLE_NAME IN ({names})
"""


def mariadb_blockers(cursor: Any, wanted: list[tuple[str, str]]) -> list[Blocker]:
    """Sessions holding a metadata lock on the tables (plugin loaded), else every open transaction
    of a session using this database (others' databases on a shared server are not in the way).
    InnoDB refreshes ``INNODB_TRX`` at most every 0.1 s: a transaction younger than that may be missed."""
    names = ", ".join(_literal(unquote(name)) for name, _ in wanted) or "''"
    try:
        cursor.execute(_MARIADB_MDL.format(names=names))
        rows = cursor.fetchall()
        return [Blocker(int(r[0]), r[1], r[2], r[3], float(r[4]), r[5], r[6], r[7]) for r in rows]
    except Exception:  # no metadata_lock_info plugin: open transactions are what hold metadata locks
        pass
    cursor.execute(_MARIADB_TRANSACTIONS)
    return [Blocker(int(r[0]), r[1], r[2], r[3], float(r[4]) if r[4] is not None else None, r[5])
            for r in cursor.fetchall()]


def blockers(dialect: str, cursor: Any, statement: str) -> list[Blocker]:
    """Who holds what ``statement`` needs, read now (empty when the statement names no table)."""
    wanted = locked_tables(statement)
    if not wanted:
        return []
    if concurrent_index_name(statement):  # it waits for every transaction that may write the table
        wanted = [(name, "ShareLock") for name, _ in wanted]
    if dialect == "postgresql":
        return postgres_blockers(cursor, wanted)
    if dialect in ("mysql", "mariadb"):
        return mariadb_blockers(cursor, wanted)
    return []


@dataclass(frozen=True)
class Retry:
    """One try that timed out waiting for a lock (history event ``retry``)."""
    attempt: int
    waited_ms: int
    lock_timeout_ms: int
    sleep_ms: int  # before the next try
    statement: str
    blockers: tuple[Blocker, ...]
    error: str
    whole_plan: bool = False  # --atomic / --dry-run: the whole plan rolled back and starts again

    def note(self) -> str:
        first = self.blockers[0] if self.blockers else None
        age = f"{first.transaction_age_s:.1f}" if first and first.transaction_age_s is not None else "-"
        scope = "restart=whole_plan " if self.whole_plan else ""
        return (f"{scope}attempt={self.attempt} waited_ms={self.waited_ms} lock_timeout_ms={self.lock_timeout_ms} "
                f"sleep_ms={self.sleep_ms} blocker_pid={first.pid if first else '-'} blocker_age_s={age} "
                f"blocker_fingerprint={first.fingerprint if first and first.fingerprint else '-'} "
                f"blocker_query={fingerprint(first.query)[1] if first else '-'}")


def drop_invalid_index(cursor: Any, name: str) -> None:
    """A ``CREATE INDEX CONCURRENTLY`` that failed leaves its index INVALID: drop it before a retry."""
    check = cursor.connection.cursor()
    check.execute("SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)", (name,))
    row = check.fetchone()
    if row and row[0]:
        check.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
