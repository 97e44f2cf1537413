"""``migrate --sql`` from the database's real state: the printed statements equal what a real run
executes (captured on the workspace engine), for every target form; what cannot be rendered
offline is named; and the script run by psql / sqlite3 leaves the state a real run leaves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from support.databases import connect, temporary_database
from support.inspect import full_snapshot as snapshot
from support.inspect import history_rows, table_names, version_rows
from support.preview import (
    DDL,
    as_utc,
    assert_history_inserts_by_shape,
    comparable,
    db_now,
    plan_json,
    psql,
    real_run,
    schema_of,
    script_headers,
    script_statements,
    setup_state,
    sqlite3_cli,
    step_keys,
)
from support.revisions import REV
from support.running import call, cli, ok, shown

from memstack.engine.run.offline import NOT_RENDERABLE

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


def test_sql_cut_short_by_any_error_ends_with_a_stop_statement(project: Path, db_url_no_mariadb: str,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The script is written as it renders: an error after some steps were written (here, a
    revision file that cannot be read for its checksum) must leave a script that stops a
    client, not one that reads as whole, and exit 1."""
    import memstack.engine.run.offline as offline

    real = offline.checksum_file
    calls = {"n": 0}

    def failing_second(path: Path) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(f"cannot read {path}")
        return real(path)

    monkeypatch.setattr(offline, "checksum_file", failing_second)
    before = snapshot(db_url_no_mariadb)
    result = cli(capsys, monkeypatch, project, db_url_no_mariadb, "migrate", "--sql")
    assert result.code == 1
    last = result.out.rstrip().splitlines()[-1]
    assert "memstack: this script is incomplete" in last
    assert last.startswith(("DO $$", "SELECT * FROM"))
    assert len(script_headers(result.out)) == 2  # the written step, then the one cut short
    assert "cannot read" in result.err and "Traceback" not in result.err
    assert snapshot(db_url_no_mariadb) == before


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
    assert shown(project, sqlite_url) == shown(project, real_url) == dict.fromkeys(REV, True)
    rows = [r for r in history_rows(sqlite_url) if r["source"] == "sql"]
    assert [r["revision"] for r in rows] == [s["revision"] for s in planned]
