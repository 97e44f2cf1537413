"""Preview: ``migrate --plan``, ``--sql`` and ``--dry-run``, from the database's real state.

Every check compares the preview with what a real run then does on a real database:
the --plan steps with the real run's steps and history, the --sql statements with the
statements the real run executes (captured on the workspace engine) and with the state a
psql / sqlite3 run of the printed script leaves behind, and --dry-run with an untouched
database.
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
from support.databases import connect, temporary_database
from support.inspect import full_snapshot as snapshot
from support.inspect import history_rows, table_names, version_rows
from support.projects import MEMORY_LINKS_MODELS, set_components
from support.revisions import REV, new_id, write_revision
from support.running import call, cli, ok, shown

from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.offline import NOT_RENDERABLE
from memstack.engine.workspace import Workspace

ALL = set(REV)

# --------------------------------------------------------------------------- helpers


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
    """The version-row changes of one PostgreSQL step-write statement (see memstack.engine.stepwrites)."""
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

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
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


# --------------------------------------------------------------------------- --plan

#: name -> (starting state, migrate arguments)
PLAN_SCENARIOS = {
    "all-from-empty": ((), ()),
    "memory-zero": ((("migrate",),), ("memory", "zero")),
    "tenant-zero-cascades": ((("migrate",),), ("tenant", "zero")),
    "memory-from-empty": ((), ("memory",)),
    "task-back-beside-merge": ((("migrate",),), ("task", "0002")),
    "task-back-to-first": ((("migrate",),), ("task", "0001")),
}


@pytest.mark.parametrize("scenario", list(PLAN_SCENARIOS))
def test_plan_lists_exactly_the_steps_a_real_run_takes(project: Path, db_url_no_mariadb: str, scenario: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    start, args = PLAN_SCENARIOS[scenario]
    setup_state(project, url, start)
    before = snapshot(url)

    planned = plan_json(capsys, monkeypatch, project, url, *args)
    human = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--plan"))
    assert planned, "every scenario has something to do"
    assert snapshot(url) == before  # --plan changes nothing, bookkeeping included
    lines = [line for line in human.out.splitlines() if line[:4].strip().rstrip(".").isdigit()]  # step lines
    assert len(lines) == len(planned)
    for line, step in zip(lines, planned, strict=True):
        verb = "apply" if step["direction"] == "up" else "unapply"
        assert f"{verb} " in line and f"{step['component']} {step['name']} ({step['revision']})" in line
        assert (f"<- {step['reason']}" in line) == bool(step["reason"])

    history_before = len(history_rows(url))
    real = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--yes", "--json"))
    done = json.loads(real.out)
    assert step_keys(done) == step_keys(planned)
    assert [s["reason"] for s in done] == [s["reason"] for s in planned]
    assert all(s["success"] for s in done)
    new_history = history_rows(url)[history_before:]
    assert [(h["component"], h["revision"], h["name"], h["direction"]) for h in new_history] == step_keys(planned)
    assert [h["event"] for h in new_history] == ["apply" if s["direction"] == "up" else "unapply" for s in planned]
    # and the plan is now empty
    assert plan_json(capsys, monkeypatch, project, url, *args) == []


def test_plan_explains_cascades_and_dependencies(project: Path, db_url_no_mariadb: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    forwards = plan_json(capsys, monkeypatch, project, url, "memory")
    assert [(s["component"], s["name"], s["reason"]) for s in forwards] == [
        ("auth", "0001_initial", "needed by memory 0001_initial"),
        ("tenant", "0001_initial", "needed by memory 0001_initial"),
        ("project", "0001_initial", "needed by memory 0001_initial"),
        ("memory", "0001_initial", None),
        ("memory", "0002_add_task_id", None),
    ]
    human = ok(cli(capsys, monkeypatch, project, url, "migrate", "memory", "--plan")).out
    assert "project 0001_initial (e15b1783fbad)   <- needed by memory 0001_initial" in human

    call(project, url, "migrate")
    backwards = plan_json(capsys, monkeypatch, project, url, "tenant", "zero")
    reasons = {(s["component"], s["name"]): s["reason"] for s in backwards}
    assert reasons == {
        ("auth", "0002_add_user_roles_fk"): "depends on tenant 0001_initial",
        ("project", "0001_initial"): "depends on tenant 0001_initial",
        ("memory", "0001_initial"): "depends on tenant 0001_initial",
        ("memory", "0002_add_task_id"): "depends on tenant 0001_initial",
        ("ontology", "0001_initial"): "depends on tenant 0001_initial",
        ("tenant", "0001_initial"): None,
    }
    assert backwards[-1]["component"] == "tenant"
    assert {s["direction"] for s in backwards} == {"down"}

    # without --yes and without a terminal the cascade is refused; nothing changes
    before = snapshot(url)
    refused = cli(capsys, monkeypatch, project, url, "migrate", "tenant", "zero")
    assert refused.code == 1
    assert "depends on tenant 0001_initial" in refused.err
    assert snapshot(url) == before


def test_new_users_component_shows_up_in_memory_zero_plan(project: Path, db_url_no_mariadb: str,
                                                          make_component: Any,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A component whose table references memories is listed, with why, when memory goes to zero."""
    url = db_url_no_mariadb
    package = make_component({"models.py": MEMORY_LINKS_MODELS}, prefix="links")
    set_components(project, package)
    call(project, url, "makemigrations", package)
    ok(cli(capsys, monkeypatch, project, url, "migrate"))
    assert "memory_links" in table_names(url)

    before = snapshot(url)
    planned = plan_json(capsys, monkeypatch, project, url, "memory", "zero")
    mine = [s for s in planned if s["component"] == package]
    assert [s["name"] for s in mine] == ["0001_initial"]
    assert mine[0]["direction"] == "down"
    assert mine[0]["reason"].startswith("depends on memory ")
    assert planned.index(mine[0]) < min(i for i, s in enumerate(planned) if s["component"] == "memory")
    human = ok(cli(capsys, monkeypatch, project, url, "migrate", "memory", "zero", "--plan")).out
    line = next(line for line in human.splitlines() if package in line)
    assert "unapply" in line and "<- depends on memory" in line
    assert snapshot(url) == before

    done = json.loads(ok(cli(capsys, monkeypatch, project, url, "migrate", "memory", "zero", "--yes",
                             "--json")).out)
    assert step_keys(done) == step_keys(planned)
    assert "memory_links" not in table_names(url)
    assert "memories" not in table_names(url)


# --------------------------------------------------------------------------- --sql

#: name -> (starting state, migrate arguments as (component, target, to_tag)); renderable on SQLite too
SQL_SCENARIOS = {
    "forwards-after-auth": ((("migrate", "auth"),), (None, None, None)),
    "memo-zero": ((("migrate",),), ("memo", "zero", None)),
    "ontology-zero": ((("migrate",),), ("ontology", "zero", None)),
    "task-back-beside-merge": ((("migrate",),), ("task", "0002", None)),
    "task-zero-from-first": ((("migrate", "task", "1"),), ("task", "zero", None)),
    "to-tag-forwards": ((("migrate",), ("tag", "full"), ("migrate", "memo", "zero"), ("migrate", "ontology", "zero")),
                        (None, None, "full")),
    "no-bookkeeping-yet": ((("migrate", "auth"), ("drop-bookkeeping",)), (None, None, None)),
}
#: PostgreSQL renders every revision offline
SQL_SCENARIOS_POSTGRES = {
    "all-from-empty": ((), (None, None, None)),
    "memory-zero": ((("migrate",),), ("memory", "zero", None)),
    "tenant-zero-cascades": ((("migrate",),), ("tenant", "zero", None)),
    "memory-from-empty": ((), ("memory", None, None)),
    "to-tag-backwards": ((("migrate", "memory"), ("tag", "early"), ("migrate",)), (None, None, "early")),
}


def _migrate_args(component: str | None, target: str | None, to_tag: str | None) -> list[str]:
    args = [a for a in (component, target) if a]
    return [*args, "--to-tag", to_tag] if to_tag else args


def _check_sql_against_real_run(project: Path, url: str, component: str | None, target: str | None,
                                to_tag: str | None, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    args = _migrate_args(component, target, to_tag)
    before = snapshot(url)
    planned = plan_json(capsys, monkeypatch, project, url, *args)
    script = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--sql")).out
    assert snapshot(url) == before  # nothing executed
    assert NOT_RENDERABLE not in script
    headers = script_headers(script)
    assert [(h["component"], h["revision"], h["name"], "up" if h["verb"] == "apply" else "down")
            for h in headers] == step_keys(planned)
    assert [h["reason"] for h in headers] == [s["reason"] for s in planned]
    assert_history_inserts_by_shape(script, planned)

    executed, results = real_run(project, url, component, target, to_tag)
    assert [(r.step.revision.component, r.step.revision.id, r.step.revision.name, r.step.direction)
            for r in results] == step_keys(planned)
    script_side = comparable([(s, None) for s in script_statements(script)])
    real_side = comparable(executed)  # type: ignore[arg-type]
    assert script_side[0] == real_side[0], "memstack's own tables are created alike"
    assert script_side[1] == real_side[1], "DDL and version-row changes, in order"
    assert any(DDL.match(s) for s in script_side[1]) or all(
        s["name"].endswith("merge_legacy_task_columns") for s in planned)


@pytest.mark.parametrize("scenario", list(SQL_SCENARIOS))
def test_sql_matches_the_statements_of_a_real_run(project: Path, db_url_no_mariadb: str, scenario: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    start, (component, target, to_tag) = SQL_SCENARIOS[scenario]
    _prepare(project, db_url_no_mariadb, start)
    had_bookkeeping = "memstack_history" in table_names(db_url_no_mariadb, bookkeeping=True)
    _check_sql_against_real_run(project, db_url_no_mariadb, component, target, to_tag, capsys, monkeypatch)
    assert had_bookkeeping == (scenario != "no-bookkeeping-yet")


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", list(SQL_SCENARIOS_POSTGRES))
def test_sql_matches_the_statements_of_a_real_run_postgres(project: Path, postgres_url: str, scenario: str,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    start, (component, target, to_tag) = SQL_SCENARIOS_POSTGRES[scenario]
    setup_state(project, postgres_url, start)
    _check_sql_against_real_run(project, postgres_url, component, target, to_tag, capsys, monkeypatch)


@pytest.mark.parametrize("target", ["0002", "2", "0002_add_progress", "add_progress", "0002_add_progress.py",
                                    REV[("task", "0002_add_progress")], REV[("task", "0002_add_progress")][:6],
                                    "head", "zero"])
def test_sql_for_every_target_form(project: Path, db_url_no_mariadb: str, target: str,
                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    call(project, url, "migrate", "task", "0001")
    planned = plan_json(capsys, monkeypatch, project, url, "task", target)
    expected = {"head": ["0002_add_progress", "0003_add_result", "0004_add_message",
                         "0005_merge_legacy_task_columns"], "zero": ["0001_initial"]}.get(target, ["0002_add_progress"])
    assert [s["name"] for s in planned] == expected
    _check_sql_against_real_run(project, url, "task", target, None, capsys, monkeypatch)


def test_sql_names_what_cannot_render_offline_on_sqlite(project: Path, sqlite_url: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """auth 0002 rebuilds user_roles in batch mode: named, not a crash; the script is incomplete, so exit 1
    and it ends with a statement that fails on purpose."""
    result = cli(capsys, monkeypatch, project, sqlite_url, "migrate", "--sql")
    assert result.code == 1
    script = result.out
    assert "Traceback" not in result.err
    assert "auth 0002_add_user_roles_fk (ef933074fc96) is not renderable offline" in result.err
    assert script.rstrip().splitlines()[-1].startswith('SELECT * FROM "memstack: this script is incomplete')
    lines = script.splitlines()
    header = next(i for i, line in enumerate(lines) if "apply auth 0002_add_user_roles_fk" in line)
    assert lines[header].startswith("-- [3/13] ")
    assert NOT_RENDERABLE in lines[header + 1]
    assert "not renderable offline: use --dry-run" in script
    # the steps before it are there; the memstack tables are created first since none exist yet
    assert [h["name"] for h in script_headers(script)] == ["0001_initial", "0001_initial", "0002_add_user_roles_fk"]
    assert "CREATE TABLE memstack_history" in script and "CREATE TABLE alembic_version" in script
    assert table_names(sqlite_url, bookkeeping=True) == set()

    # backwards too: memory 0002 drops a column, which SQLite rebuilds the table for
    call(project, sqlite_url, "migrate")
    before = snapshot(sqlite_url)
    back_run = cli(capsys, monkeypatch, project, sqlite_url, "migrate", "memory", "zero", "--sql")
    assert back_run.code == 1
    back = back_run.out
    first = script_headers(back)[0]
    assert (first["verb"], first["component"], first["name"]) == ("unapply", "memory", "0002_add_task_id")
    assert NOT_RENDERABLE in back
    assert "CREATE TABLE memstack_history" not in back  # they exist now
    assert snapshot(sqlite_url) == before


#: name -> (starting state, migrate arguments) for scripts run through psql
PSQL_SCENARIOS = {
    "all-from-empty": ((), ()),
    "memory-from-empty": ((), ("memory",)),
    "memory-zero": ((("migrate",),), ("memory", "zero")),
    "tenant-zero-cascades": ((("migrate",),), ("tenant", "zero")),
    "task-back-beside-merge": ((("migrate",),), ("task", "0002")),
    "task-by-slug": ((("migrate", "task", "1"),), ("task", "add_result")),
    "to-tag": ((("migrate", "memory"), ("tag", "early"), ("migrate",)), ("--to-tag", "early")),
    "no-bookkeeping-yet": ((("migrate", "memo"), ("drop-bookkeeping",)), ()),
}


def _prepare(project: Path, url: str, start: Sequence[Sequence[str]]) -> None:
    for command in start:
        if command[0] == "drop-bookkeeping":  # a database migrated before memstack kept its own tables
            with connect(url) as connection:
                names = [n for n in inspect(connection).get_table_names() if n.startswith("memstack_")]
                for name in names:
                    connection.execute(text(f"DROP TABLE {name}"))
                connection.commit()
        else:
            setup_state(project, url, [command])


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", list(PSQL_SCENARIOS))
def test_sql_script_runs_in_psql_like_a_real_run(project: Path, postgres_url: str, scenario: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    start, args = PSQL_SCENARIOS[scenario]
    with temporary_database("postgres") as real_url:
        for url in (postgres_url, real_url):
            _prepare(project, url, start)
        planned = plan_json(capsys, monkeypatch, project, postgres_url, *args)
        assert planned
        script = ok(cli(capsys, monkeypatch, project, postgres_url, "migrate", *args, "--sql")).out
        assert NOT_RENDERABLE not in script
        if scenario in ("all-from-empty", "no-bookkeeping-yet"):
            assert "CREATE TABLE memstack_history" in script
        path = tmp_path / "plan.sql"
        path.write_text(script, encoding="utf-8")
        history_before = len(history_rows(postgres_url))
        clock_before = db_now(postgres_url)
        ran = psql(postgres_url, path)
        clock_after = db_now(postgres_url)
        assert ran.returncode == 0, ran.stderr
        assert "ERROR" not in ran.stderr

        ok(cli(capsys, monkeypatch, project, real_url, "migrate", *args, "--yes"))

        assert schema_of(postgres_url) == schema_of(real_url)
        assert version_rows(postgres_url) == version_rows(real_url)
        assert shown(project, postgres_url) == shown(project, real_url)
        rows = history_rows(postgres_url)[history_before:]
        assert [(r["component"], r["revision"], r["direction"]) for r in rows] == \
            [(s["component"], s["revision"], s["direction"]) for s in planned]
        for row in rows:
            assert row["source"] == "sql"
            assert row["event"] == ("apply" if row["direction"] == "up" else "unapply")
            assert row["success"] is True
            assert clock_before <= as_utc(row["started_at"]) <= clock_after
        # memstack takes over from there: checksums verify, nothing is left to do
        after = ok(cli(capsys, monkeypatch, project, postgres_url, "migrate", *args, "--plan", "--json"))
        assert json.loads(after.out) == []
        ok(cli(capsys, monkeypatch, project, postgres_url, "migrate"))


def test_sql_script_runs_in_sqlite3_like_a_real_run(project: Path, sqlite_url: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_url = f"sqlite:///{(tmp_path / 'real.db').as_posix()}"
    for url in (sqlite_url, real_url):
        call(project, url, "migrate", "auth")
    planned = plan_json(capsys, monkeypatch, project, sqlite_url)
    script = ok(cli(capsys, monkeypatch, project, sqlite_url, "migrate", "--sql")).out
    assert NOT_RENDERABLE not in script
    path = tmp_path / "plan.sql"
    path.write_text(script, encoding="utf-8")
    ran = sqlite3_cli(sqlite_url, path)
    assert ran.returncode == 0, ran.stderr
    ok(cli(capsys, monkeypatch, project, real_url, "migrate"))

    assert schema_of(sqlite_url) == schema_of(real_url)
    assert version_rows(sqlite_url) == version_rows(real_url)
    assert shown(project, sqlite_url) == shown(project, real_url) == dict.fromkeys(ALL, True)
    rows = [r for r in history_rows(sqlite_url) if r["source"] == "sql"]
    assert [r["revision"] for r in rows] == [s["revision"] for s in planned]


# --------------------------------------------------------------------------- --dry-run

DRY_RUN_SCENARIOS = {
    "all-from-empty": ((), ()),
    "tenant-zero-cascades": ((("migrate",),), ("tenant", "zero")),
    "task-back-beside-merge": ((("migrate",),), ("task", "0002")),
    "memory-zero": ((("migrate",),), ("memory", "zero")),
}


@pytest.mark.parametrize("scenario", list(DRY_RUN_SCENARIOS))
def test_dry_run_reports_each_step_and_changes_nothing(project: Path, db_url_no_mariadb: str, scenario: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    start, args = DRY_RUN_SCENARIOS[scenario]
    setup_state(project, url, start)
    before = snapshot(url)
    planned = plan_json(capsys, monkeypatch, project, url, *args)

    human = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--dry-run"))
    assert snapshot(url) == before
    assert "warning:" in human.err and "table locks" in human.err
    lines = [line.strip() for line in human.err.splitlines() if line.strip().startswith(("Applying", "Unapplying"))]
    assert len(lines) == len(planned)
    for line, step in zip(lines, planned, strict=True):
        verb = "Applying" if step["direction"] == "up" else "Unapplying"
        assert re.fullmatch(rf"{verb} {step['component']} {step['name']} \.\.\. OK \(\d+ ms\)", line), line
    assert f"Dry run: {len(planned)} step(s) worked; everything was rolled back." in human.err

    as_json = ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--dry-run", "--json"))
    report = json.loads(as_json.out)
    assert report["dry_run"] is True and report["error"] is None
    assert step_keys(report["steps"]) == step_keys(planned)
    for step in report["steps"]:
        assert step["success"] is True and step["error"] is None
        assert isinstance(step["duration_ms"], int) and step["duration_ms"] >= 0
    assert snapshot(url) == before
    # the real run then does just that
    done = json.loads(ok(cli(capsys, monkeypatch, project, url, "migrate", *args, "--yes", "--json")).out)
    assert step_keys(done) == step_keys(planned)


@pytest.mark.parametrize("failure", ["not-null-without-default", "upgrade-raises"])
def test_dry_run_reports_a_real_error_and_rolls_everything_back(project: Path, db_url_no_mariadb: str,
                                                                failure: str, make_component: Any,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, ids = own_component(make_component, project, [
        ('op.create_table("{label}_items", sa.Column("id", sa.Integer(), primary_key=True))',
         'op.drop_table("{label}_items")'),
    ])
    ok(cli(capsys, monkeypatch, project, url, "migrate", label))
    with connect(url) as connection:
        connection.execute(text(f"INSERT INTO {label}_items (id) VALUES (1), (2)"))
        connection.commit()
    folder = project / "migrations" / label
    second, third = new_id(), new_id()
    write_revision(folder, "0002_more", second, ids[0],
                   upgrade='op.create_table("{label}_more", sa.Column("id", sa.Integer(), primary_key=True))'
                   .replace("{label}", label), downgrade=f'op.drop_table("{label}_more")')
    if failure == "not-null-without-default":
        upgrade = f'op.add_column("{label}_items", sa.Column("required", sa.Integer(), nullable=False))'
        expected = ("NOT NULL", "null value", "contains null values")
    else:
        upgrade = 'raise RuntimeError("upgrade of step three exploded")'
        expected = ("upgrade of step three exploded",)
    write_revision(folder, "0003_breaks", third, second, upgrade=upgrade)
    before = snapshot(url)

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "--dry-run")
    assert result.code == 1, result
    assert "Traceback" not in result.err
    assert "step 2 failed" in result.err
    assert any(text_ in result.err for text_ in expected), result.err
    assert "rolled back" in result.err
    assert re.search(rf"Applying {label} 0002_more \.\.\. OK \(\d+ ms\)", result.err)
    assert f"Applying {label} 0003_breaks ... FAILED" in result.err
    assert snapshot(url) == before  # the working step 2 was rolled back as well; no history row
    assert f"{label}_more" not in table_names(url)

    report_run = cli(capsys, monkeypatch, project, url, "migrate", label, "--dry-run", "--json")
    assert report_run.code == 1
    report = json.loads(report_run.out)
    assert [(s["name"], s["success"]) for s in report["steps"]] == [("0002_more", True), ("0003_breaks", False)]
    assert report["error"] and any(text_ in report["error"] for text_ in expected)
    assert report["steps"][1]["error"] == report["error"]
    assert snapshot(url) == before


@pytest.mark.mariadb
def test_dry_run_is_refused_on_mariadb(project: Path, mariadb_url: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    empty = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "--dry-run")
    assert empty.code == 1
    assert "--plan" in empty.err and "--sql" in empty.err
    assert "transactional DDL" in empty.err
    assert table_names(mariadb_url, bookkeeping=True) == set()

    call(project, mariadb_url, "migrate", "memo")
    before = snapshot(mariadb_url)
    refused = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "memo", "zero", "--dry-run")
    assert refused.code == 1
    assert "--plan" in refused.err and "--sql" in refused.err
    assert snapshot(mariadb_url) == before
    # the alternatives it offers do work there
    assert [s["name"] for s in plan_json(capsys, monkeypatch, project, mariadb_url, "memo", "zero")] == \
        ["0001_initial"]
    script = ok(cli(capsys, monkeypatch, project, mariadb_url, "migrate", "memo", "zero", "--sql")).out
    assert "DROP TABLE memos" in script
    assert snapshot(mariadb_url) == before
