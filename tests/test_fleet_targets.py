"""Many targets on real servers: PostgreSQL schemas, SQLite files, MariaDB databases in mixed states.

Each test builds its targets in given states (at head, behind, locked by a held lock, failing at a
revision, ahead of the code), runs the fleet through the Python API (worker processes), and reads
every target back directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.databases import execute, sqlite_url_for, temporary_database
from support.fleets import (
    AHEAD_ROW,
    applied_once,
    history,
    make_ahead,
    make_schemas,
    migrate_target,
    version_rows,
    workspace,
)

import memstack
from memstack.engine.fleet.runner import FleetOptions, migrate_fleet_of
from memstack.engine.fleet.targets import Target
from memstack.engine.fleet.worker import Job
from memstack.engine.run.lock import migration_lock
from memstack.engine.workspace import Workspace


def _statuses(report: memstack.FleetReport) -> dict[str, str]:
    return {r.target.rsplit("=", 1)[-1].split("?")[0].rsplit("/", 1)[-1]: r.status for r in report.results}


def _prepare_mixed(ws: Workspace, head: Target, failing: Target, ahead: Target) -> None:
    """head: every revision; failing: auth's part, then a table memo's first revision creates; ahead: a newer row."""
    migrate_target(ws, head)
    migrate_target(ws, failing, "auth")
    migrate_target(ws, ahead)
    make_ahead(ahead)
    execute(failing.url, f'CREATE TABLE "{failing.schema}".memos (id integer)' if failing.schema
            else "CREATE TABLE memos (id integer)")


@pytest.mark.postgres
def test_schemas_in_mixed_states(project: Path, postgres_url: str) -> None:
    head, behind, locked, failing, ahead = make_schemas(postgres_url, ["head", "behind", "locked", "failing", "ahead"])
    ws = workspace(project, postgres_url)
    _prepare_mixed(ws, head, failing, ahead)
    targets = [head, behind, locked, failing, ahead]
    with ws.for_database(locked.url, schema=locked.schema) as holder, migration_lock(holder.engine, 0):
        report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("run-1")))
    assert _statuses(report) == {"head": "up_to_date", "behind": "applied", "locked": "locked",
                                 "failing": "failed", "ahead": "ahead"}
    by_name = {r.target.rsplit("=", 1)[-1]: r for r in report.results}
    assert "memos" in (by_name["failing"].error or "") and "password" not in str(report.as_json())
    assert len(by_name["behind"].applied) == len(ws.graph.revisions)
    assert {row["fleet_run"] for row in history(behind)} == {"run-1"}  # in the same transactions as the steps
    assert not version_rows(locked)  # never touched while its lock was held
    assert AHEAD_ROW in version_rows(ahead)

    again = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("run-2")))  # the lock is free now
    assert _statuses(again) == {"head": "up_to_date", "behind": "up_to_date", "locked": "applied",
                                "failing": "failed", "ahead": "ahead"}
    assert all(applied_once(t) for t in targets)
    assert {row["fleet_run"] for row in history(locked)} == {"run-2"}


def test_sqlite_files_in_mixed_states(project: Path, tmp_path: Path) -> None:
    head, behind, locked, failing, ahead = (Target(sqlite_url_for(tmp_path, f"{name}.db"))
                                            for name in ("head", "behind", "locked", "failing", "ahead"))
    ws = workspace(project, head.url)
    _prepare_mixed(ws, head, failing, ahead)
    targets = [head, behind, locked, failing, ahead]
    with ws.for_database(locked.url) as holder, migration_lock(holder.engine, 0):
        report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("run-s")))
    assert _statuses(report) == {"head.db": "up_to_date", "behind.db": "applied", "locked.db": "locked",
                                 "failing.db": "failed", "ahead.db": "ahead"}
    assert {row["fleet_run"] for row in history(behind)} == {"run-s"}
    again = memstack.migrate_fleet(targets, project_dir=project, database_url=head.url, concurrency=2)
    assert _statuses(again)["locked.db"] == "applied" and _statuses(again)["behind.db"] == "up_to_date"
    assert all(applied_once(t) for t in targets)


@pytest.mark.mariadb
def test_mariadb_databases_in_mixed_states(project: Path) -> None:
    with temporary_database("mariadb") as one, temporary_database("mariadb") as two, \
            temporary_database("mariadb") as three, temporary_database("mariadb") as four:
        head, behind, failing, ahead = Target(one), Target(two), Target(three), Target(four)
        ws = workspace(project, one)
        _prepare_mixed(ws, head, failing, ahead)
        targets = [head, behind, failing, ahead]
        report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("run-m")))
        assert [r.status for r in report.results] == ["up_to_date", "applied", "failed", "ahead"]
        assert {row["fleet_run"] for row in history(behind)} == {"run-m"}
        assert all(applied_once(t) for t in targets)


@pytest.mark.postgres
def test_a_failing_canary_leaves_the_later_waves_untouched(project: Path, postgres_url: str) -> None:
    targets = make_schemas(postgres_url, [f"tenant_{i:02d}" for i in range(8)])
    ws = workspace(project, postgres_url)
    migrate_target(ws, targets[0], "auth")
    execute(postgres_url, f'CREATE TABLE "{targets[0].schema}".memos (id integer)')  # the canary fails
    report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, canary=1, waves="50%,100%", job=Job("c")))
    assert [r.status for r in report.results] == ["failed"] + ["skipped"] * 7
    assert all(not version_rows(t) for t in targets[1:])


@pytest.mark.postgres
def test_max_failed_stops_starting_targets(project: Path, postgres_url: str) -> None:
    targets = make_schemas(postgres_url, [f"tenant_{i:02d}" for i in range(6)])
    ws = workspace(project, postgres_url)
    for target in targets[:2]:
        migrate_target(ws, target, "auth")
        execute(postgres_url, f'CREATE TABLE "{target.schema}".memos (id integer)')
    report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=1, max_failed=2, job=Job("m")))
    assert [r.status for r in report.results] == ["failed", "failed"] + ["skipped"] * 4
    assert all(not version_rows(t) for t in targets[2:])
    assert "--max-failed" in (report.results[-1].error or "")

    for target in targets[:2]:  # fixed: the rerun converges
        execute(postgres_url, f'DROP TABLE "{target.schema}".memos')
    again = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("m2")))
    assert {r.status for r in again.results} == {"applied"}
    final = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("m3")))
    assert {r.status for r in final.results} == {"up_to_date"}
    assert all(applied_once(t) for t in targets)


def test_shared_components_once_tenant_components_in_every_target(project: Path, tmp_path: Path) -> None:
    from support.projects import write_pyproject

    write_pyproject(project, extra='tenant_components = ["memo"]')
    shared_url = sqlite_url_for(tmp_path, "shared.db")
    targets = [Target(sqlite_url_for(tmp_path, f"tenant{i}.db")) for i in range(2)]
    report = memstack.migrate_fleet(targets, project_dir=project, database_url=shared_url, concurrency=2)
    assert [r.status for r in report.results] == ["applied", "applied"], [r.error for r in report.results]
    ws = workspace(project, shared_url)
    memo = {r.id for r in ws.graph.revisions.values() if r.component == "memo"}
    for target in targets:  # only the tenant component's revisions, its dependency on auth checked in shared.db
        assert version_rows(target) == memo
        assert {row["revision"] for row in history(target)} == memo
    shared_rows = version_rows(Target(shared_url))
    assert shared_rows and not shared_rows & memo
    again = memstack.migrate_fleet(targets, project_dir=project, database_url=shared_url)
    assert [r.status for r in again.results] == ["up_to_date", "up_to_date"]


@pytest.mark.postgres
def test_tenant_schemas_see_the_shared_tables_of_the_configured_database(project: Path, postgres_url: str) -> None:
    """PostgreSQL schema mode: memo's first revision references auth's users (shared, in public) unqualified."""
    from support.databases import query
    from support.projects import write_pyproject

    write_pyproject(project, extra='tenant_components = ["memo"]')
    targets = make_schemas(postgres_url, ["acme", "globex"])
    report = memstack.migrate_fleet(targets, project_dir=project, database_url=postgres_url, concurrency=2)
    assert [r.status for r in report.results] == ["applied", "applied"], [r.error for r in report.results]
    ws = workspace(project, postgres_url)
    memo = {r.id for r in ws.graph.revisions.values() if r.component == "memo"}
    tables = {(r["table_schema"], r["table_name"]) for r in query(postgres_url, (
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN ('public', 'acme', 'globex')"))}
    for target in targets:  # memo's tables and memstack's own in the tenant schema, the shared ones not
        assert version_rows(target) == memo
        assert {row["revision"] for row in history(target)} == memo
        assert {(target.schema, "memos"), (target.schema, "alembic_version")} <= tables
        assert (target.schema, "users") not in tables
        assert query(postgres_url, (  # the foreign key points at the shared table
            "SELECT ccu.table_schema FROM information_schema.constraint_column_usage ccu "
            "JOIN information_schema.table_constraints tc ON tc.constraint_name = ccu.constraint_name "
            f"AND tc.constraint_schema = ccu.constraint_schema WHERE tc.table_schema = '{target.schema}' "
            "AND tc.table_name = 'memos' AND tc.constraint_type = 'FOREIGN KEY'"))[0]["table_schema"] == "public"
    assert ("public", "users") in tables and ("public", "memos") not in tables
    assert not version_rows(Target(postgres_url)) & memo  # the shared database holds no tenant revision
    again = memstack.migrate_fleet(targets, project_dir=project, database_url=postgres_url)
    assert [r.status for r in again.results] == ["up_to_date", "up_to_date"]


DROP_CONTENT = '''"""drop memos.content"""
import sqlalchemy as sa
from alembic import op

revision = "dropcontent02"
down_revision = "bc9a7cdd598c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memos") as batch:
        batch.drop_column("content")


def downgrade() -> None:
    with op.batch_alter_table("memos") as batch:
        batch.add_column(sa.Column("content", sa.Text(), nullable=True))
'''


def test_a_plan_that_destroys_data_is_asked_once_for_the_whole_fleet(project: Path, tmp_path: Path) -> None:
    from memstack.core.errors import DeclinedError

    targets = [Target(sqlite_url_for(tmp_path, f"tenant{i}.db")) for i in range(3)]
    ws = workspace(project, targets[0].url)
    for memos, target in zip([1, 5, 2], targets, strict=True):  # memos with content: tenant1 is the largest
        migrate_target(ws, target)
        execute(target.url, *[f"INSERT INTO memos (id, content) VALUES ('m{i}', 'x')" for i in range(memos)])
    (project / "migrations" / "memo" / "0002_drop_content.py").write_text(DROP_CONTENT)
    ws = workspace(project, targets[0].url)
    with pytest.raises(DeclinedError):  # nobody to ask: refused before any target ran
        migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("d")))
    assert all("dropcontent02" not in version_rows(t) for t in targets)
    asked: list[str] = []
    report = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("d2")),
                              confirm=lambda question, destroys: asked.append(question))
    assert len(asked) == 1 and "3 target(s)" in asked[0]
    assert "in total 8 row(s) in 3 dropped table(s) and column(s)" in asked[0], asked[0]
    largest = asked[0].split("the largest: ", 1)[1]  # every target read, the largest named first
    assert [largest.index(f"tenant{i}.db") for i in (1, 2, 0)] == sorted(largest.index(f"tenant{i}.db")
                                                                       for i in (1, 2, 0)), largest
    assert "tenant1.db (5 row(s), 1 dropped)" in largest
    assert [r.status for r in report.results] == ["applied"] * 3
