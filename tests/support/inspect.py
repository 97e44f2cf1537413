"""What a database holds: tables, columns, version rows, memstack's bookkeeping, whole snapshots.

Read through fresh pool-less connections, so a test sees what another process would see.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect as inspector_of
from sqlalchemy import text

from support.databases import connect, execute, query

BOOKKEEPING_TABLES = {"memstack_history", "memstack_applied", "memstack_marks", "memstack_tags", "memstack_meta"}
#: the contract's JSON vocabulary for one history event
HISTORY_KEYS = {"component", "revision", "name", "number", "direction", "event", "success", "started_at",
                "duration_ms", "checksum", "user", "host"}


def tables(url: str) -> set[str]:
    """Every table, memstack's own and ``alembic_version`` included."""
    with connect(url) as connection:
        return set(inspector_of(connection).get_table_names())


def table_names(url: str, *, bookkeeping: bool = False) -> set[str]:
    """The database's tables; memstack's own ``memstack_*`` tables only with ``bookkeeping``."""
    names = tables(url)
    return names if bookkeeping else {n for n in names if not n.startswith("memstack_")}


def app_tables(url: str) -> set[str]:
    """The application's tables: neither memstack's own nor ``alembic_version``."""
    return {t for t in tables(url) if not t.startswith("memstack_") and t != "alembic_version"}


def columns(url: str, table: str) -> set[str]:
    with connect(url) as connection:
        return {c["name"] for c in inspector_of(connection).get_columns(table)}


def foreign_keys(url: str, table: str) -> set[tuple[str, str]]:
    """{(column, referred table)} of ``table``."""
    with connect(url) as connection:
        return {(fk["constrained_columns"][0], fk["referred_table"])
                for fk in inspector_of(connection).get_foreign_keys(table)}


def version_rows(url: str) -> set[str]:
    """The ``alembic_version`` rows (empty when the table does not exist)."""
    if "alembic_version" not in tables(url):
        return set()
    return {r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")}


def insert_version_row(url: str, value: str) -> None:
    """Add a row to ``alembic_version`` (creating the table in Alembic's layout when missing)."""
    statements = []
    if "alembic_version" not in tables(url):
        statements.append("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    execute(url, *statements, "INSERT INTO alembic_version (version_num) VALUES (:v)", params={"v": value})


def history_rows(url: str) -> list[dict[str, Any]]:
    """``memstack_history`` in order (empty when the table does not exist)."""
    if "memstack_history" not in tables(url):
        return []
    return query(url, "SELECT * FROM memstack_history ORDER BY id")


def applied_rows(url: str) -> dict[str, dict[str, Any]]:
    """``memstack_applied`` by revision id."""
    if "memstack_applied" not in tables(url):
        return {}
    return {r["revision"]: r for r in query(url, "SELECT * FROM memstack_applied")}


def marks(url: str) -> list[dict[str, Any]]:
    """``memstack_marks`` (failure marks)."""
    if "memstack_marks" not in tables(url):
        return []
    return query(url, "SELECT * FROM memstack_marks")


def snapshot(url: str) -> dict[str, Any]:
    """Everything a refused command must leave as it was: tables with their columns, version rows,
    history, applied records (checksums) and marks."""
    names = tables(url)
    return {
        "tables": {t: sorted(columns(url, t)) for t in sorted(names)},
        "version_rows": version_rows(url),
        "history": [(r["id"], r["event"], r["revision"], bool(r["success"])) for r in history_rows(url)],
        "applied": {k: (v["checksum"], bool(v["verified"])) for k, v in applied_rows(url).items()},
        "marks": [(m["revision"], m["state"]) for m in marks(url)],
    }


def full_snapshot(url: str) -> dict[str, Any]:
    """Tables with their columns, and every row of ``alembic_version`` and memstack's own tables."""
    with connect(url) as connection:
        inspector = inspector_of(connection)
        names = sorted(inspector.get_table_names())
        result: dict[str, Any] = {"schema": {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in names}}
        for name in names:
            if name == "alembic_version" or name.startswith("memstack_"):
                rows = connection.execute(text(f"SELECT * FROM {name}"))
                result[name] = sorted(tuple(str(v) for v in row) for row in rows)
    return result


def as_run(statements: list[str]) -> list[str]:
    """The statements a session ran, with memstack's prepared bookkeeping spelled out: each
    ``EXECUTE name(...)`` becomes the text its ``PREPARE name AS ...`` gave (memstack/engine/records/
    prepared.py), and the preparing itself (``PREPARE``, the parameter types' query) is left out."""
    prepared: dict[str, str] = {}
    run = []
    for statement in statements:
        words = statement.split(None, 3)
        if words[:1] == ["PREPARE"] and len(words) == 4 and words[2] == "AS":
            prepared[words[1]] = words[3]
        elif words[:1] == ["EXECUTE"] and words[1].split("(")[0] in prepared:
            run.append(prepared[words[1].split("(")[0]])
        elif "pg_prepared_statements" not in statement:
            run.append(statement)
    return run
