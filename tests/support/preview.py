"""Previews (``migrate --plan``, ``--sql``, ``--dry-run``) compared with real runs: starting states,
the schema as the inspector sees it, printed scripts and captured statements in comparable form,
psql / sqlite3 runs of a script, and components of a test's own with hand-written revisions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import make_url

from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.records.prepared import STATEMENT_OPTION
from memstack.engine.workspace import Workspace
from support.databases import connect
from support.projects import set_components
from support.revisions import new_id, write_revision
from support.running import call, cli, ok


def setup_state(project: Path, url: str, commands: Sequence[Sequence[str]]) -> None:
    """Bring a database to a starting state with real ``migrate``/``tag`` runs."""
    for command in commands:
        name, *args = command
        options: dict[str, Any] = {"yes": True} if name == "migrate" else {}
        call(project, url, name, *args, **options)


def schema_of(url: str) -> dict[str, Any]:
    """The application schema as the inspector sees it (memstack's own tables included)."""
    with connect(url) as connection:
        inspector = inspect(connection)
        schema: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            schema[table] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                            for c in inspector.get_columns(table)],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"],
                               tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(table)),
                "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                                  for ix in inspector.get_indexes(table)),
                "uniques": sorted((u["name"], tuple(u["column_names"]))
                                  for u in inspector.get_unique_constraints(table)),
            }
    return schema


def step_keys(steps: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(s["component"], s["revision"], s["name"], s["direction"]) for s in steps]


def plan_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, url: str,
              *args: str) -> list[dict[str, Any]]:
    return json.loads(ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--plan", "--json")).out)


def db_now(url: str) -> dt.datetime:
    with connect(url) as connection:
        value = connection.execute(text("SELECT CURRENT_TIMESTAMP")).scalar()
    if isinstance(value, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS' in UTC
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# ---- SQL scripts and captured statements

STEP_HEADER = re.compile(r"^-- \[(?P<i>\d+)/(?P<n>\d+)\] (?P<verb>apply|unapply) (?P<component>\w+) "
                         r"(?P<name>\d{4}_\w+) \((?P<revision>[0-9a-f]+)\)(?: \((?P<reason>.*)\))?$")
DDL = re.compile(r"^(CREATE|ALTER|DROP|COMMENT)\b", re.IGNORECASE)
VERSION_DML = re.compile(r"^(INSERT INTO|DELETE FROM) alembic_version\b", re.IGNORECASE)
VERSION_UPDATE = re.compile(r"^UPDATE alembic_version\b", re.IGNORECASE)
STEP_WRITE = re.compile(r"^WITH \w+ AS \((UPDATE|DELETE FROM|INSERT INTO) (alembic_version|memstack_)", re.IGNORECASE)
BOOKKEEPING_DDL = re.compile(r"^CREATE TABLE (alembic_version|memstack_\w+)\b", re.IGNORECASE)
LITERAL = re.compile(r"'([^']*)'")


def script_headers(script: str) -> list[dict[str, str | None]]:
    found = []
    for line in script.splitlines():
        match = STEP_HEADER.match(line)
        if match:
            found.append(match.groupdict())
    return found


def normalise(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip().rstrip(";").strip()


def script_statements(script: str) -> list[str]:
    """The statements of a printed script, comments dropped, whitespace normalised."""
    body = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("--"))
    return [s for s in (normalise(p) for p in re.split(r";[ \t]*\n", body)) if s]


def version_op(statement: str, values: Sequence[Any]) -> str:
    verb = statement.split()[0].upper()
    return f"{verb} alembic_version {sorted(map(str, values))}"


def comparable(statements: list[tuple[str, Sequence[Any] | None]]) -> tuple[set[str], list[str]]:
    """(bookkeeping DDL as a set, then the ordered DDL and version-row changes).

    Version-table statements compare by what they do (insert/delete which ids): the real
    run binds parameters, the script inlines literals.
    """
    bookkeeping: set[str] = set()
    ordered: list[str] = []
    for statement, values in statements:
        if BOOKKEEPING_DDL.match(statement):
            bookkeeping.add(statement)
        elif DDL.match(statement):
            ordered.append(statement)
        elif VERSION_DML.match(statement):
            rows = values if values is not None else LITERAL.findall(statement)
            if rows and isinstance(rows[0], (tuple, list, dict)):  # executemany: one row per statement
                ordered += [version_op(statement, list(r.values()) if isinstance(r, dict) else list(r)) for r in rows]
            else:
                ordered.append(version_op(statement, rows))
        elif VERSION_UPDATE.match(statement):  # one row replaced by another: SET new WHERE old
            new, old = values if values is not None else LITERAL.findall(statement)
            ordered += [f"DELETE alembic_version {[str(old)]}", f"INSERT alembic_version {[str(new)]}"]
        elif STEP_WRITE.match(statement) and isinstance(values, dict):  # PostgreSQL: a step's writes at once
            ordered += step_write_ops(values)
    return bookkeeping, ordered


def step_write_ops(values: dict[str, Any]) -> list[str]:
    """The version-row changes of one PostgreSQL step-write statement (see memstack.engine.records.recorder)."""
    if "row_old" in values:  # an UPDATE of one row (or, when it was missing, an INSERT of the new one)
        return [version_op("DELETE", [values["row_old"]]), version_op("INSERT", [values["row_new"]])]
    ops = [version_op("DELETE", values["rows_gone"])] if values.get("rows_gone") else []
    return ops + [version_op("INSERT", [row]) for row in values.get("rows_added") or ()]


def bound_values(parameters: Any) -> list[Any]:
    if isinstance(parameters, dict):
        return list(parameters.values())
    return list(parameters or ())


def real_run(project: Path, url: str, component: str | None = None, target: str | None = None,
             to_tag: str | None = None) -> tuple[list[tuple[str, list[Any]]], list[Any]]:
    """Run the plan for real through the library; returns (executed statements, step results)."""
    ws = Workspace.load(project_dir=project, database_url=url)
    seen: list[tuple[str, list[Any]]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool) -> None:
        # a prepared step write (memstack/engine/records/prepared.py) stands for its statement
        statement, parameters = context.execution_options.get(STATEMENT_OPTION, (statement, parameters))
        kept = parameters if isinstance(parameters, dict) and statement.startswith("WITH ") else None
        seen.append((normalise(statement), kept or bound_values(parameters)))

    try:
        event.listen(ws.engine, "before_cursor_execute", capture)
        results = migrate(ws, component, target, to_tag, options=RunOptions(confirm=lambda *_: None))
    finally:
        ws.close()
    return seen, results


def assert_history_inserts_by_shape(script: str, steps: list[dict[str, Any]]) -> None:
    """One history insert per step, in plan order, marked source 'sql', timed by the database clock."""
    inserts = [s for s in script_statements(script) if s.upper().startswith("INSERT INTO MEMSTACK_HISTORY")]
    assert len(inserts) == len(steps)
    for statement, step in zip(inserts, steps, strict=True):
        values = LITERAL.findall(statement)
        assert step["revision"] in values
        assert ("apply" if step["direction"] == "up" else "unapply") in values
        assert values[-1] == "sql"  # the source column comes last
        assert "CURRENT_TIMESTAMP" in statement.upper() or "NOW()" in statement.upper()
        assert not re.search(r"'\d{4}-\d{2}-\d{2}", statement), "history times must come from the database clock"


def psql(url: str, script_path: Path) -> subprocess.CompletedProcess[str]:
    parts = make_url(url)
    env = {**os.environ, "PGPASSWORD": parts.password or "", "PGCONNECT_TIMEOUT": "5"}
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", parts.host or "127.0.0.1",
            "-p", str(parts.port or 5432), "-U", parts.username or "postgres", "-d", parts.database or "",
            "-f", str(script_path)]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)


def sqlite3_cli(url: str, script_path: Path) -> subprocess.CompletedProcess[str]:
    database = make_url(url).database or ""
    return subprocess.run(["sqlite3", "-bail", database], stdin=script_path.open(encoding="utf-8"),
                          capture_output=True, text=True, timeout=120, check=False)


# ---- components of the test's own


def own_component(make_component: Any, project: Path, revisions: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """A component with a chain of hand-written revisions ``(upgrade, downgrade)``; returns (label, ids)."""
    label = make_component({}, prefix="pv")
    folder = project / "migrations" / label
    ids = [new_id() for _ in revisions]
    for index, (upgrade, downgrade) in enumerate(revisions):
        write_revision(folder, f"{index + 1:04d}_step{index + 1}", ids[index], ids[index - 1] if index else None,
                       upgrade=upgrade.replace("{label}", label), downgrade=downgrade.replace("{label}", label),
                       branch_labels=(label,) if index == 0 else None)
    set_components(project, label)
    return label, ids
