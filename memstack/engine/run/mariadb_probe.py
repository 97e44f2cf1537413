"""``migrate --dry-run --locks`` on MariaDB: which ALGORITHM and LOCK each ALTER can run with.

MariaDB cannot roll DDL back, so nothing is rehearsed on the real tables. Each ``ALTER TABLE`` of
the pending plan (rendered as ``--sql`` renders it) is tried on an empty copy of its table
(``CREATE TABLE ... LIKE``), first with ``ALGORITHM=INSTANT``, then ``ALGORITHM=INPLACE,
LOCK=NONE``, then ``ALGORITHM=INPLACE``; what the server accepts first is what the real ALTER can
do (``COPY`` when none: the table is rebuilt and writes wait). The copies are dropped after.
Tables the plan creates are new: nothing waits on them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from memstack.engine.run import blockers as found

_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+(`[^`]+`|\w+)\s+(.*)$", re.I | re.S)
_CREATE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|\w+)", re.I)
TRIES = (("INSTANT", "ALGORITHM=INSTANT"), ("INPLACE, LOCK=NONE", "ALGORITHM=INPLACE, LOCK=NONE"),
         ("INPLACE, with a lock", "ALGORITHM=INPLACE"))


@dataclass(frozen=True)
class AlterProbe:
    statement: str
    table: str
    algorithm: str  # INSTANT | INPLACE, LOCK=NONE | INPLACE, with a lock | COPY | new table | failed: ...

    @property
    def flagged(self) -> bool:
        return self.algorithm.startswith(("COPY", "INPLACE, with"))

    def as_json(self) -> dict[str, Any]:
        return {"statement": self.statement, "table": self.table, "algorithm": self.algorithm,
                "flags": [f"{self.algorithm} on {self.table}"] if self.flagged else []}


def probe(connection: Any, statements: list[str]) -> list[AlterProbe]:
    """Probe each ALTER of ``statements`` in order on empty copies (``connection``: SQLAlchemy, MariaDB)."""
    created: set[str] = set()
    copies: dict[str, str] = {}
    results: list[AlterProbe] = []
    try:
        for statement in statements:
            made = _CREATE.match(statement)
            if made:
                created.add(found.unquote(made.group(1)))
                continue
            match = _ALTER.match(statement)
            if not match:
                continue
            table, rest = found.unquote(match.group(1)), match.group(2).rstrip().rstrip(";")
            if table in created:
                results.append(AlterProbe(statement, table, "new table"))
                continue
            if table not in copies:
                copies[table] = f"_guard_probe_{secrets.token_hex(4)}"
                connection.exec_driver_sql(f"CREATE TABLE {_q(copies[table])} LIKE {_q(table)}")  # (no rows)
            results.append(AlterProbe(statement, table, _try(connection, copies[table], rest)))
    finally:
        for copy in copies.values():
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_q(copy)}")  # (the probe's own copy)
    return results


def _q(name: str) -> str:
    return f"`{name}`"


def _try(connection: Any, copy: str, rest: str) -> str:
    """The first ALGORITHM/LOCK the server accepts for ``rest`` on ``copy`` (applied there, for later ALTERs)."""
    for name, clause in TRIES:
        try:
            connection.exec_driver_sql(f"ALTER TABLE {_q(copy)} {rest}, {clause}")
            return name
        except Exception:  # refused with this algorithm: try the next
            continue
    try:
        connection.exec_driver_sql(f"ALTER TABLE {_q(copy)} {rest}")
    except Exception as exc:
        return f"failed: {str(getattr(exc, 'orig', exc)).strip()[:200]}"
    return "COPY"
