"""Which databases a fleet run covers: a list (``--targets FILE``, ``-``), a query, or schemas by pattern.

A target is a database URL, or ``URL#schema=NAME``: one PostgreSQL schema of that database, with its
own version and bookkeeping tables, migrated with ``search_path`` set to it. The targets are read
once, in the parent process; workers receive them as plain values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memstack.core.redaction import mask_url
from memstack.engine.errors import BadTarget

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace

SCHEMA_MARK = "#schema="


@dataclass(frozen=True, order=True)
class Target:
    """One database (``schema`` None) or one PostgreSQL schema of it."""
    url: str
    schema: str | None = None

    @property
    def label(self) -> str:
        """The target as reports show it: the URL with its password masked, and the schema."""
        masked = mask_url(self.url)
        return masked if self.schema is None else f"{masked}{SCHEMA_MARK}{self.schema}"

    @property
    def database(self) -> str:
        """What targets sharing one server session have in common (schemas of one database)."""
        return self.url


def parse_target(text: str, where: str = "targets") -> Target:
    """``URL`` or ``URL#schema=NAME``."""
    line = text.strip()
    url, mark, schema = line.partition(SCHEMA_MARK)
    if "://" not in url:
        raise BadTarget(where, line, "a target is a database URL (scheme://...), optionally #schema=NAME")
    if mark and not schema.strip():
        raise BadTarget(where, line, "#schema= names no schema")
    if mark and not url.startswith("postgresql"):
        raise BadTarget(where, line, "only PostgreSQL targets take #schema=")
    return Target(url.strip(), schema.strip() if mark else None)


def parse_targets(lines: Iterable[str], where: str = "targets") -> list[Target]:
    """One target a line; blank lines and ``#`` comments are skipped; repeats are kept once."""
    seen: dict[Target, None] = {}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            seen.setdefault(parse_target(line, f"{where}, line {number}"))
    return list(seen)


def targets_from_rows(ws: Workspace, rows: Iterable[object], where: str) -> list[Target]:
    """Rows of a query: each a URL (a target of its own) or a schema name of the configured database."""
    found: dict[Target, None] = {}
    for row in rows:
        value = str(row).strip()
        if not value:
            continue
        if "://" in value:
            found.setdefault(parse_target(value, where))
        else:
            if ws.dialect_name != "postgresql":
                raise BadTarget(where, value, "a schema name needs a PostgreSQL database as the configured one")
            found.setdefault(Target(ws.settings.database_url, value))
    return list(found)


def targets_from_sql(ws: Workspace, query: str) -> list[Target]:
    """``--targets-sql QUERY``: the first column of each row, run on the configured database."""
    from sqlalchemy import text  # lazy: kept off --help

    with ws.engine.connect() as connection:
        rows = [row[0] for row in connection.execute(text(query))]
    return targets_from_rows(ws, rows, "--targets-sql")


def targets_from_schemas(ws: Workspace, pattern: str) -> list[Target]:
    """``--schemas PATTERN``: every schema of the configured PostgreSQL database whose name is ``LIKE`` it."""
    from sqlalchemy import text  # lazy: kept off --help

    if ws.dialect_name != "postgresql":
        raise BadTarget("--schemas", pattern, f"schemas are PostgreSQL's; the configured database is {ws.dialect_name}")
    with ws.engine.connect() as connection:
        names = [row[0] for row in connection.execute(text(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE :p ORDER BY nspname"), {"p": pattern})]
    return [Target(ws.settings.database_url, name) for name in names]
