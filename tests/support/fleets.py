"""Fleets in tests: many schemas (or files, or databases) in given states, read back directly."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from memstack.engine.fleet.targets import Target
from memstack.engine.migrate import migrate
from memstack.engine.workspace import Workspace
from support.databases import connect, execute, query

#: a version row no revision file provides: the target is ahead of the code
AHEAD_ROW = "feedfacecafe"


def make_schemas(url: str, names: Iterable[str]) -> list[Target]:
    """Empty schemas in one PostgreSQL database (one transaction: cheap for dozens)."""
    names = list(names)
    execute(url, *[f'CREATE SCHEMA "{name}"' for name in names])
    return [Target(url, name) for name in names]


def workspace(project: Path, url: str) -> Workspace:
    return Workspace.load(project_dir=project, database_url=url)


def migrate_target(ws: Workspace, target: Target, component: str | None = None) -> None:
    """One target migrated in this process (to its heads, or ``component``'s), the way a setup would."""
    with ws.for_database(target.url, schema=target.schema) as db:
        migrate(db, component)


def qualified(target: Target, table: str) -> str:
    return f'"{target.schema}".{table}' if target.schema else table


def version_rows(target: Target) -> set[str]:
    try:
        rows = query(target.url, f"SELECT version_num FROM {qualified(target, 'alembic_version')}")
        return {r["version_num"] for r in rows}
    except Exception:
        return set()


def history(target: Target) -> list[dict[str, Any]]:
    """The target's history rows (none when it has no bookkeeping tables)."""
    try:
        return query(target.url, f"SELECT revision, event, direction, success, fleet_run FROM "
                                 f"{qualified(target, 'memstack_history')} ORDER BY id")
    except Exception:
        return []


def make_ahead(target: Target) -> None:
    """A version row this code has no file for (as if a newer release had migrated the target)."""
    execute(target.url, f"INSERT INTO {qualified(target, 'alembic_version')} (version_num) VALUES ('{AHEAD_ROW}')")


def applied_once(target: Target) -> bool:
    """No revision applied twice: each revision's successful applies minus its unapplies is 0 or 1."""
    counts: dict[str, int] = {}
    for row in history(target):
        if row["success"] and row["event"] in ("apply", "unapply"):
            counts[row["revision"]] = counts.get(row["revision"], 0) + (1 if row["direction"] == "up" else -1)
    return all(n in (0, 1) for n in counts.values())


__all__ = ["AHEAD_ROW", "applied_once", "connect", "history", "make_ahead", "make_schemas", "migrate_target",
           "version_rows", "workspace"]


def children_of(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
