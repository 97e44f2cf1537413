"""``doctor``'s table-lock item: who holds the tables the pending revisions would lock now.

The pending plan is rendered as ``migrate --sql`` renders it (nothing runs), each statement read
for the tables it needs a strong lock on (see :mod:`memstack.engine.run.blockers`), the tables
the plan itself creates left out, and the sessions holding conflicting locks on the rest read
from the server, as the guard's pre-flight does before a step.
"""

from __future__ import annotations

from memstack.core.errors import MemstackError
from memstack.engine.migrate import plan_for, plan_sql_blocks
from memstack.engine.records.status import read_status
from memstack.engine.run import blockers as found
from memstack.engine.run.guard import _CREATE_TABLE
from memstack.engine.run.lockreport import split_statements
from memstack.engine.workspace import Workspace


def pending_statements(ws: Workspace) -> list[str]:
    """The statements of the pending plan, rendered offline (stopping at one that cannot render)."""
    state = read_status(ws)
    plan = plan_for(ws, state)
    blocks: list[str] = []
    try:
        for block in plan_sql_blocks(ws, plan, state):
            blocks.append(block)
    except MemstackError:  # a revision that cannot render offline: the statements before it still count
        pass
    return split_statements(blocks)


def table_blockers(ws: Workspace) -> tuple[list[str], list[found.Blocker]]:
    """(tables the pending plan locks strongly and did not create, sessions holding them now)."""
    dialect = ws.engine.dialect.name
    if dialect not in ("postgresql", "mysql", "mariadb"):
        return [], []
    created: set[str] = set()
    wanted: dict[str, tuple[str, str]] = {}
    for statement in pending_statements(ws):
        match = _CREATE_TABLE.match(statement)
        if match:
            created.add(found.unquote(match.group(1)))
        for table, mode in found.locked_tables(statement):
            name = found.unquote(table)
            if name not in created and (mode in found.STRONG or dialect != "postgresql"):
                wanted.setdefault(name, (table, mode))
    if not wanted:
        return [], []
    with ws.engine.connect() as connection:
        cursor = connection.connection.cursor()
        read = found.postgres_blockers if dialect == "postgresql" else found.mariadb_blockers
        who = read(cursor, list(wanted.values()))
        connection.rollback()
    return sorted(wanted), who
