"""Many schemas' no-op digests in one query: the schemas of one PostgreSQL database read together.

Each schema's digest query (:func:`memstack.engine.records.status.digest_query`: its stored digest,
version rows, applied digest and marks) is rendered once with SQLAlchemy's schema placeholder, then
repeated with each schema's name and the copies united (``UNION ALL``), a few hundred a query. Only
schemas holding all four tables take part (one catalog query finds them): a schema lacking one
would fail the whole query, and is read in full on its own instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

#: schemas a query; each adds a few lines of SQL and four scans of tiny tables
CHUNK = 250
_PLACEHOLDER = "__[SCHEMA__none]"  # how SQLAlchemy renders a table's schema under a schema translation

DigestFacts = tuple[str | None, list[str]]


def read_digests(connection: Connection, schemas: Sequence[str]) -> dict[str, DigestFacts]:
    """{schema: (stored digest, state facts)} of every schema in ``schemas`` that holds memstack's tables."""
    from memstack.engine.records.status import digest_facts, digest_query  # lazy: kept off --help

    ready = _with_tables(connection, schemas)
    if not ready:
        return {}
    one = str(digest_query(connection.dialect).compile(dialect=connection.dialect, schema_translate_map={None: "x"},
                                                       compile_kwargs={"literal_binds": True}))
    quote = connection.dialect.identifier_preparer.quote_identifier
    found: dict[str, list[tuple[object, ...]]] = {s: [] for s in ready}
    for start in range(0, len(ready), CHUNK):
        parts = [f"SELECT {_literal(s)} AS memstack_schema, q.* FROM ({one.replace(_PLACEHOLDER, quote(s))}) AS q"
                 for s in ready[start:start + CHUNK]]
        for schema, *row in connection.exec_driver_sql(_escaped("\nUNION ALL\n".join(parts))):
            found[schema].append(tuple(row))
    return {s: digest_facts(rows, connection.dialect) for s, rows in found.items()}


def _with_tables(connection: Connection, schemas: Sequence[str]) -> list[str]:
    """The schemas among ``schemas`` holding all four tables the digest query reads, in their order."""
    from sqlalchemy import text  # lazy: kept off --help

    from memstack.engine.records.recorder import VERSION_TABLE, applied_table, marks_table, meta_table  # lazy

    names = [meta_table.name, VERSION_TABLE, applied_table.name, marks_table.name]
    rows = connection.execute(text(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(:schemas) AND c.relname = ANY(:tables) AND c.relkind IN ('r', 'p') "
        "GROUP BY n.nspname HAVING count(DISTINCT c.relname) = :n"), {"schemas": list(schemas), "tables": names,
                                                                     "n": len(names)})
    holding = {row[0] for row in rows}
    return [s for s in schemas if s in holding]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _escaped(sql: str) -> str:
    """The driver's parameter marker escaped (psycopg reads ``%`` even without parameters, via SQLAlchemy)."""
    return sql.replace("%", "%%")
