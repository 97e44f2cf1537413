"""SQL scripts of whole plans, from the database's real state, for review or for psql.

Unlike ``alembic upgrade --sql``, which renders from a starting revision you name, the plan
here comes from what the database holds; the script also carries the version-table and
bookkeeping statements a real run executes.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, literal
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql import ClauseElement

from memstack.engine.executor import render_sql
from memstack.engine.graph import Step
from memstack.engine.loader import checksum_file
from memstack.engine.recorder import (
    BOOKKEEPING_SCHEMA_VERSION,
    applied_table,
    bookkeeping_metadata,
    history_table,
    meta_table,
    version_table,
)
from memstack.engine.safety import DatabaseState
from memstack.engine.workspace import Workspace

NOT_RENDERABLE = "not renderable offline: use --dry-run"


def _sql(statement: ClauseElement, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip() + ";"


def render_plan_sql(ws: Workspace, steps: Sequence[Step], state: DatabaseState) -> str:
    from sqlalchemy.engine import make_url

    from memstack.engine.recorder import who

    dialect = make_url(ws.settings.database_url).get_dialect()()
    graph = ws.graph
    out: list[str] = [f"-- memstack plan for {ws.settings.masked_database_url} ({dialect.name}), "
                      f"{len(steps)} step(s), from the database's current state"]
    with ws.engine.connect() as connection:
        from sqlalchemy import inspect

        existing = set(inspect(connection).get_table_names())
    begin, commit = ("START TRANSACTION;", "COMMIT;") if dialect.name in ("mysql", "mariadb") else ("BEGIN;", "COMMIT;")
    setup: list[str] = []
    if version_table.name not in existing:
        setup.append(_sql(CreateTable(version_table), dialect))
    missing = [t for t in bookkeeping_metadata.sorted_tables if t.name not in existing]
    for table in missing:
        setup.append(_sql(CreateTable(table), dialect))
    if meta_table in missing:
        setup.append(_sql(insert(meta_table).values(key="schema_version", value=str(BOOKKEEPING_SCHEMA_VERSION)),
                          dialect))
    if setup:
        out += ["", "-- memstack's bookkeeping tables", begin, *setup, commit]
    user, host = who()
    applied = set(state.applied)
    for index, step in enumerate(steps, start=1):
        rev = step.revision
        after = applied | {rev.id} if step.direction == "up" else applied - {rev.id}
        reason = f" ({step.reason})" if step.reason else ""
        out += ["", f"-- [{index}/{len(steps)}] {'apply' if step.direction == 'up' else 'unapply'} "
                f"{rev.component} {rev.name} ({rev.id}){reason}"]
        try:
            body = render_sql(ws.tree, step, dialect.name).strip()
        except Exception as exc:
            out.append(f"-- {NOT_RENDERABLE} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
            out.append("-- the statements below are left out, since the script cannot run past this step")
            return "\n".join(out) + "\n"
        old_rows, new_rows = graph.rows_for(applied), graph.rows_for(after)
        statements = [body] if body else []
        gone, added = sorted(old_rows - new_rows), sorted(new_rows - old_rows)
        if gone:
            statements.append(_sql(delete(version_table).where(version_table.c.version_num.in_(gone)), dialect))
        for row in added:
            statements.append(_sql(insert(version_table).values(version_num=row), dialect))
        checksum = checksum_file(ws.tree.path_of(rev.id)) if step.direction == "up" else None
        if step.direction == "up":
            statements.append(_sql(insert(applied_table).values(
                revision=rev.id, component=rev.component, name=rev.name, checksum=checksum, verified=True,
                applied_at=func.current_timestamp()), dialect))
        else:
            statements.append(_sql(delete(applied_table).where(applied_table.c.revision == rev.id), dialect))
        statements.append(_sql(insert(history_table).inline().values(
            event="apply" if step.direction == "up" else "unapply", component=rev.component, revision=rev.id,
            name=rev.name, direction=step.direction, started_at=func.current_timestamp(),
            finished_at=func.current_timestamp(), duration_ms=literal(None), success=True, checksum=checksum,
            os_user=user, host=host, memstack_version=_version(), source="sql"), dialect))
        out += [begin, *statements, commit]
        applied = after
    return "\n".join(out) + "\n"


def _version() -> str:
    from memstack import __version__

    return __version__
