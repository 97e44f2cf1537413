"""Every backwards step shows what it destroys, read from the live database, and asks.

Layers: what a downgrade drops, recorded without running it (no database); the figures
against tables filled with known rows (SQLite, PostgreSQL, MariaDB); the question on a
terminal, the refusal without one, ``--yes``; and the answer bound to the plan shown, with a
second process changing the database while the person is asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.databases import execute
from support.inspect import columns, table_names
from support.running import applied_set, cli, json_of, manage, migrate

from memstack.core.errors import DeclinedError
from memstack.engine.errors import PlanChangedWhileAsked
from memstack.engine.migrate import RunOptions, rollback
from memstack.engine.migrate import migrate as engine_migrate
from memstack.engine.run.destruction import StepDestruction, planned_destruction
from memstack.engine.tree.graph import Step
from memstack.engine.workspace import Workspace

TASK_ROWS = [  # id, progress, result: 3 rows hold a progress, 2 a result, none a message
    ("t1", 10, '{"ok": true}'), ("t2", 20, None), ("t3", 30, '{"ok": false}'), ("t4", None, None), ("t5", None, None)]


def fill_task_logs(url: str) -> None:
    for task_id, progress, result in TASK_ROWS:
        execute(url, "INSERT INTO task_logs (id, progress, result) VALUES (:id, :progress, :result)",
                params={"id": task_id, "progress": progress, "result": result})


def fill_memories(url: str, count: int, with_task: int) -> None:
    user, project_id = "u1", "p1"
    execute(url, "INSERT INTO users (id, email) VALUES ('u1', 'ada@example.com')",
            "INSERT INTO tenants (id, name, owner_id) VALUES ('tn1', 'acme', 'u1')",
            "INSERT INTO projects (id, tenant_id, name, owner_id) VALUES ('p1', 'tn1', 'notes', 'u1')")
    for index in range(count):
        execute(url, "INSERT INTO memories (id, project_id, title, content, author_id, task_id) "
                     "VALUES (:id, :project, 'a title', 'some content', :author, :task)",
                params={"id": f"m{index}", "project": project_id, "author": user,
                        "task": "t1" if index < with_task else None})


def losses_of(plan: list[dict[str, Any]]) -> dict[tuple[str, str], dict[tuple[str, str], Any]]:
    """{(component, name): {(kind, table.name): rows}} from ``--plan --json``."""
    found = {}
    for step in plan:
        found[(step["component"], step["name"])] = {
            (loss["kind"], f"{loss['table']}.{loss['name']}" if loss["name"] else loss["table"]): loss["rows"]
            for loss in step["destroys"]}
    return found


# --------------------------------------------------------------------------- recorded, not run


def test_a_downgrade_is_recorded_not_run(project: Path, tmp_path: Path) -> None:
    """No database at all: the ops come from downgrade() called against a recording op."""
    ws = Workspace.load(project, f"sqlite:///{tmp_path / 'never-created.db'}")
    progress = ws.graph.get(next(r.id for r in ws.graph.of_component("task") if r.name == "0002_add_progress"))
    found = planned_destruction(ws.tree, ws.alembic_setup(), Step(progress, "down"), "postgresql")
    assert [(loss.kind, loss.table, loss.name) for loss in found.losses] == [
        ("index", "task_logs", "idx_task_logs_progress"), ("column", "task_logs", "progress")]
    memory = ws.graph.get(next(r.id for r in ws.graph.of_component("memory") if r.name == "0001_initial"))
    dropped = planned_destruction(ws.tree, ws.alembic_setup(), Step(memory, "down"), "sqlite")
    assert ("table", "memories") in {(loss.kind, loss.table) for loss in dropped.losses}
    assert not (tmp_path / "never-created.db").exists()
    assert planned_destruction(ws.tree, ws.alembic_setup(), Step(memory, "up"), "sqlite").losses == ()


# --------------------------------------------------------------------------- the figures


def test_plan_json_counts_known_rows(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                     project: Path, migrated_db_url: str) -> None:
    fill_task_logs(migrated_db_url)
    fill_memories(migrated_db_url, 4, with_task=1)
    task = losses_of(json_of(cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "task", "0001", "--plan",
                                 "--json")))
    assert task[("task", "0002_add_progress")] == {("index", "task_logs.idx_task_logs_progress"): None,
                                                   ("column", "task_logs.progress"): 3}
    assert task[("task", "0003_add_result")] == {("column", "task_logs.result"): 2}
    assert task[("task", "0004_add_message")] == {("column", "task_logs.message"): 0}
    memory = losses_of(json_of(cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "memory", "zero", "--plan",
                                   "--json")))
    assert memory[("memory", "0002_add_task_id")] == {("column", "memories.task_id"): 1}
    assert memory[("memory", "0001_initial")][("table", "memories")] == 4
    auth = losses_of(json_of(cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "auth", "zero", "--plan",
                                 "--json")))
    assert auth[("memo", "0001_initial")] == {("table", "memos"): 0}  # a table dropped whole, no column counted
    assert auth[("auth", "0001_initial")][("table", "users")] == 1
    assert auth[("tenant", "0001_initial")][("table", "tenants")] == 1
    human = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "memory", "zero", "--plan")
    assert "table memories: 4 rows" in human.out
    assert "column memories.task_id: 1 row holds a value" in human.out


# --------------------------------------------------------------------------- asked, refused, --yes


def test_backwards_inside_one_component_refuses_without_a_terminal(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
        migrated_db_url: str) -> None:
    """The main bug: ``migrate memory zero`` and ``migrate task 0001`` dropped data unasked."""
    fill_task_logs(migrated_db_url)
    fill_memories(migrated_db_url, 2, with_task=0)
    refused = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "memory", "zero")
    assert refused.code == 1, refused
    assert "table memories: 2 rows" in refused.err
    assert "column memories.task_id: empty (no row holds a value)" in refused.err
    assert "pass --yes" in refused.err
    assert "memories" in table_names(migrated_db_url)
    refused = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "task", "0001")
    assert refused.code == 1 and "column task_logs.progress: 3 rows hold a value" in refused.err
    assert {"progress", "result", "message"} <= columns(migrated_db_url, "task_logs")
    done = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "task", "0001", "--yes")
    assert done.code == 0, done
    assert "progress" not in columns(migrated_db_url, "task_logs")


def test_a_person_at_a_terminal_answers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        project: Path, migrated_db_url: str) -> None:
    declined = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "memory", "zero", terminal_input="n\n")
    assert declined.code == 1, declined
    assert "table memories: empty (0 rows)" in declined.err  # empty, and still asked
    assert "Unapply these 2 revision(s)? [y/N]" in declined.err
    assert "memories" in table_names(migrated_db_url)
    accepted = cli(capsys, monkeypatch, project, migrated_db_url, "migrate", "memory", "zero", terminal_input="y\n")
    assert accepted.code == 0, accepted
    assert "memories" not in table_names(migrated_db_url)
    assert "Unapplying memory 0001_initial ... OK" in accepted.err


def test_every_command_that_removes_schema_asks(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch, project: Path,
                                                migrated_sqlite_url: str) -> None:
    before = applied_set(project, migrated_sqlite_url)
    for args in (["rollback"], ["rollback", "task", "--steps", "2"], ["stamp", "memory", "zero"],
                 ["migrate", "--fake", "memory", "0001"], ["migrate", "auth", "zero"]):
        refused = cli(capsys, monkeypatch, project, migrated_sqlite_url, *args)
        assert refused.code == 1, (args, refused)
        assert "pass --yes" in refused.err, args
    assert applied_set(project, migrated_sqlite_url) == before
    stamp = cli(capsys, monkeypatch, project, migrated_sqlite_url, "stamp", "memory", "zero")
    assert "the schema stays" in stamp.err and "records it as unapplied; drops nothing" in stamp.err
    cascade = cli(capsys, monkeypatch, project, migrated_sqlite_url, "migrate", "auth", "zero")
    assert "also in other components" in cascade.err and "table users:" in cascade.err


def test_to_tag_backwards_asks(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
                               db_url: str) -> None:
    migrate(project, db_url, "task", "0001")
    migrate(project, db_url, "memory", "0001")
    assert cli(capsys, monkeypatch, project, db_url, "tag", "early").code == 0
    migrate(project, db_url)
    fill_task_logs(db_url)
    refused = cli(capsys, monkeypatch, project, db_url, "migrate", "--to-tag", "early")
    assert refused.code == 1, refused
    assert "column task_logs.result: 2 rows hold a value" in refused.err
    done = cli(capsys, monkeypatch, project, db_url, "migrate", "--to-tag", "early", "--yes")
    assert done.code == 0, done
    assert "result" not in columns(db_url, "task_logs")


# --------------------------------------------------------------------------- bound to what was shown


def _rollback_while_another_process_applies(project: Path, url: str, answers: list[bool]) -> list[list[str]]:
    """``rollback`` (the last revision applied) with a callback that, at its first question,
    lets another process apply ``task 0005``; returns the revisions each question was about."""
    asked: list[list[str]] = []

    def confirm(headline: str, destroys: Any) -> None:
        asked.append([d.step.revision.label for d in destroys])
        if len(asked) == 1:
            result = manage(project, url, "migrate", "task", "--yes")
            assert result.code == 0, result
        if not answers.pop(0):
            raise DeclinedError("declined")

    ws = Workspace.load(project, url)
    rollback(ws, None, 1, RunOptions(confirm_destruction=confirm))
    return asked


def test_rollback_confirmation_cannot_be_bypassed_by_a_concurrent_apply(project: Path, db_url: str) -> None:
    migrate(project, db_url, "task", "0004")
    migrate(project, db_url, "memory")
    with pytest.raises(DeclinedError):  # asked again about the new plan, and declined: nothing more happens
        _rollback_while_another_process_applies(project, db_url, [True, False])
    applied = applied_set(project, db_url)
    assert ("task", "0005_merge_legacy_task_columns") in applied  # the other process's work
    assert ("memory", "0002_add_task_id") in applied  # confirmed once, but for a plan that no longer held


def test_rollback_asks_again_and_runs_only_the_plan_confirmed(project: Path, sqlite_url: str) -> None:
    migrate(project, sqlite_url, "task", "0004")
    migrate(project, sqlite_url, "memory")
    asked = _rollback_while_another_process_applies(project, sqlite_url, [True, True])
    assert asked == [["memory 0002_add_task_id"], ["task 0005_merge_legacy_task_columns"]]
    applied = applied_set(project, sqlite_url)
    assert ("memory", "0002_add_task_id") in applied  # what the first, outdated answer was about
    assert ("task", "0005_merge_legacy_task_columns") not in applied  # what the second answer confirmed


def test_a_plan_that_keeps_changing_stops(project: Path, sqlite_url: str) -> None:
    migrate(project, sqlite_url, "task", "0001")
    migrate(project, sqlite_url, "memory")
    ws = Workspace.load(project, sqlite_url)
    newer = iter(["0002", "0003", "0004"])

    def confirm(headline: str, destroys: Any) -> None:
        migrate(project, sqlite_url, "task", next(newer))  # each time, another run applies a newer revision

    with pytest.raises(PlanChangedWhileAsked):
        rollback(ws, None, 1, RunOptions(confirm_destruction=confirm))
    assert {"progress", "result", "message"} <= columns(sqlite_url, "task_logs")
    assert ("memory", "0002_add_task_id") in applied_set(project, sqlite_url)


def test_engine_without_a_callback_refuses(project: Path, migrated_sqlite_url: str) -> None:
    ws = Workspace.load(project, migrated_sqlite_url)
    with pytest.raises(DeclinedError, match="nobody confirmed"):
        engine_migrate(ws, "memory", "zero")
    seen: list[str] = []
    engine_migrate(ws, "memory", "0001", options=RunOptions(confirm=lambda question, steps: seen.append(question)))
    assert seen and "1 revision(s) would be unapplied" in seen[0]


def test_destruction_json_shape() -> None:
    from memstack.engine.run.destruction import Loss

    item = StepDestruction(Step(_fake_revision(), "down"), (Loss("table", "things", rows=7),))
    assert item.as_json() == {"destroys": [{"kind": "table", "table": "things", "name": None, "schema": None,
                                            "rows": 7, "exists": True}],
                              "destroys_unknown": None, "record_only": False, "runs_code": [],
                              "destroys_data": None}


def _fake_revision() -> Any:
    from memstack.engine.tree.graph import Revision

    return Revision(id="abc", component="things", name="0001_initial", path="0001_initial.py")
