"""lintmigrations (issue 15, item 3): squawk over each revision's offline PostgreSQL SQL, plus memstack's
own checks (dropping what a model maps, renames, data migrations importing models), acknowledged by markers.

Layers: pure (markers, the AST checks), call_command / main() on a project copy with hand-written
revisions, and a subprocess of manage.py on the committed tree. No database is touched by the linter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.revisions import new_id, revision_id, write_revision
from support.running import cli, manage, ok

from memstack.engine.review import lint
from memstack.engine.review.lint import file_findings, markers

TASK_HEAD = "0005_merge_legacy_task_columns"


def _add_task_revision(project: Path, upgrade: str, *, module: str = "", name: str = "0006_change") -> Path:
    return write_revision(project / "migrations" / "task", name, new_id(), revision_id("task", TASK_HEAD),
                          upgrade=upgrade, module=module)


def _lint_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
               *args: str) -> tuple[int, dict[str, object]]:
    result = cli(capsys, monkeypatch, project, None, "lintmigrations", "--json", *args)
    return result.code, json.loads(result.out)


def _open_rules(payload: dict[str, object]) -> set[str]:
    findings = payload["findings"]
    assert isinstance(findings, list)
    return {f["rule"] for f in findings if not f["acknowledged"]}


# --------------------------------------------------------------------------- pure


def test_markers_need_a_reason() -> None:
    source = ("# memstack: lint-ok changing-column-type -- the table has 12 rows\n"
              "#memstack:lint-ok adding-required-field\n")
    acknowledged, unexplained = markers(source)
    assert acknowledged == {"changing-column-type": "the table has 12 rows"}
    assert unexplained == [2]


def test_own_checks_read_the_revision_file(tmp_path: Path) -> None:
    path = write_revision(tmp_path, "0002_x", new_id(), None, module="from memstack.memory.models import Memory\n",
                          upgrade="op.drop_table('memories')\n"
                                  "with op.batch_alter_table('task_logs') as batch_op:\n"
                                  "    batch_op.drop_column('status')\n"
                                  "    batch_op.alter_column('group_id', new_column_name='team_id')\n"
                                  "op.rename_table('memos', 'notes')\n"
                                  "op.drop_column('task_logs', 'not_mapped')\n")
    mapped = {"memories": {"id"}, "task_logs": {"status", "group_id"}}
    rules = [rule for rule, _message, _line in file_findings(path, ["memstack.memory"], mapped)]
    assert sorted(rules) == ["data-migration-imports-models", "drop-mapped-column", "drop-mapped-table",
                             "rename-unknown-to-code", "rename-unknown-to-code"]


def test_dropping_what_no_model_maps_is_fine(tmp_path: Path) -> None:
    path = write_revision(tmp_path, "0002_x", new_id(), None, upgrade="op.drop_table('legacy_audit')")
    assert file_findings(path, ["memstack.task"], {"task_logs": {"id"}}) == []


# --------------------------------------------------------------------------- our tree


def test_our_tree_lints_clean_with_acknowledged_findings_only(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    code, payload = _lint_json(capsys, monkeypatch, project)
    assert code == 0 and payload["ok"] is True
    findings = payload["findings"]
    assert isinstance(findings, list) and findings, "the committed tree carries acknowledged findings"
    assert all(f["acknowledged"] and f["reason"] for f in findings)


def test_subprocess_on_the_committed_tree(project: Path) -> None:
    result = ok(manage(project, None, "lintmigrations", "-v", "2"))
    assert "acknowledged" in result.out and "No unacknowledged findings" in result.err


# --------------------------------------------------------------------------- what it catches


@pytest.mark.parametrize(("upgrade", "rule"), [
    ("op.add_column('task_logs', sa.Column('owner', sa.String(), nullable=False))", "adding-required-field"),
    ("op.create_index('ix_task_logs_worker', 'task_logs', ['worker_id'])", "require-concurrent-index-creation"),
    ("op.alter_column('task_logs', 'retry_count', type_=sa.BigInteger())", "changing-column-type"),
], ids=["not-null-without-default", "index-without-concurrently", "type-change"])
def test_dangerous_operations_are_caught(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         project: Path, upgrade: str, rule: str) -> None:
    _add_task_revision(project, upgrade)
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 1 and payload["ok"] is False
    assert rule in _open_rules(payload)


def test_index_on_a_table_created_in_the_same_revision_is_fine(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    _add_task_revision(project, "op.create_table('task_tags', sa.Column('id', sa.Integer(), primary_key=True),\n"
                                "                sa.Column('tag', sa.Text()))\n"
                                "op.create_index('ix_task_tags_tag', 'task_tags', ['tag'])")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 0, payload


def test_text_output_names_revision_rule_and_fix(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    _add_task_revision(project, "op.alter_column('task_logs', 'retry_count', type_=sa.BigInteger())")
    result = cli(capsys, monkeypatch, project, None, "lintmigrations")
    assert result.code == 1
    assert "task 0006_change [changing-column-type]" in result.out
    assert "lint-ok" in result.err and "unacknowledged" in result.err


def test_a_marker_with_a_reason_acknowledges(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                             project: Path) -> None:
    _add_task_revision(project, "op.alter_column('task_logs', 'retry_count', existing_type=sa.Integer(), "
                                "type_=sa.BigInteger())",
                       module="# memstack: lint-ok changing-column-type -- task_logs is rebuilt in a window\n")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 0 and _open_rules(payload) == set()


def test_destroying_data_is_a_finding_until_the_revision_says_why(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    _add_task_revision(project, "op.execute('DELETE FROM task_logs WHERE status IS NULL')")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 1 and _open_rules(payload) == {"destroys-data"}
    finding = next(f for f in payload["findings"] if f["rule"] == "destroys-data")
    assert "deletes rows of task_logs where status IS NULL" in finding["message"]
    _add_task_revision(project, "op.execute('DELETE FROM task_logs WHERE status IS NULL')",
                       module='destroys_data = "rows without a status were never shown"\n')
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 0 and _open_rules(payload) == set()
    finding = next(f for f in payload["findings"] if f["rule"] == "destroys-data")
    assert finding["reason"] == "rows without a status were never shown"


def test_a_marker_without_a_reason_acknowledges_nothing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path) -> None:
    _add_task_revision(project, "op.alter_column('task_logs', 'retry_count', type_=sa.BigInteger())",
                       module="# memstack: lint-ok changing-column-type\n")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 1 and {"changing-column-type", "lint-ok-without-reason"} <= _open_rules(payload)


def test_model_checks_through_the_command(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          project: Path) -> None:
    _add_task_revision(project, "op.drop_column('task_logs', 'status')\n"
                                "op.alter_column('task_logs', 'worker_id', new_column_name='runner_id')",
                       module="from memstack.task.models import TaskLog  # noqa: F401\n")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 1
    assert {"drop-mapped-column", "rename-unknown-to-code", "data-migration-imports-models"} <= _open_rules(payload)


def test_unrenderable_revision_is_a_finding(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                            project: Path) -> None:
    _add_task_revision(project, "rows = op.get_bind().execute(sa.text('select 1')).fetchall()")
    code, payload = _lint_json(capsys, monkeypatch, project, "task")
    assert code == 1 and "not-renderable" in _open_rules(payload)


def test_other_components_are_not_linted(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         project: Path) -> None:
    _add_task_revision(project, "op.alter_column('task_logs', 'retry_count', type_=sa.BigInteger())")
    code, _payload = _lint_json(capsys, monkeypatch, project, "memory")
    assert code == 0


def test_without_squawk_the_error_says_what_to_install(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch, project: Path,
                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(lint.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cli(capsys, monkeypatch, project, None, "lintmigrations")
    assert result.code == 1 and "pip install squawk-cli" in result.err
