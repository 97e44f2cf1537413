"""``manage.py check [--database] [--json]``: every problem kind, in words and in JSON, exit 1
when anything is wrong (warnings alone do not fail), exit 0 on a clean tree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.databases import execute
from support.inspect import insert_version_row
from support.projects import add_alembic_table, set_components
from support.revisions import REV, chain_component, new_id, write_revision
from support.running import Result, cli

from memstack.engine.run.lock import migration_lock
from memstack.engine.tree.loader import checksum_file

MEMORY_1 = REV[("memory", "0001_initial")]
MEMO_1 = REV[("memo", "0001_initial")]


def _check(capsys, monkeypatch, project: Path, url: str | None, *args: str) -> tuple[Result, Result, list[dict]]:
    """(human run, --json run, problems from JSON); both runs must agree on the exit status."""
    human = cli(capsys, monkeypatch, project, url, "check", *args)
    machine = cli(capsys, monkeypatch, project, url, "check", *args, "--json")
    assert human.code == machine.code, (human, machine)
    assert machine.out.startswith("{"), machine
    payload = json.loads(machine.out)
    assert set(payload) == {"ok", "problems"}
    assert payload["ok"] == (machine.code == 0)
    for problem in payload["problems"]:
        assert {"kind", "message", "fix", "component", "severity"} <= set(problem)
        # each problem is in the human output with its fix
        if problem["kind"] != "lock_held":  # says for how long, which changes between the runs
            assert f"[{problem['kind']}] {problem['message']}" in human.out
        assert f"fix: {problem['fix']}" in human.out
    return human, machine, payload["problems"]


def _kinds(problems: list[dict[str, Any]]) -> list[str]:
    return [p["kind"] for p in problems]


@pytest.fixture
def tree(project: Path) -> Path:
    """The committed tree with [tool.alembic] in step: check finds nothing."""
    add_alembic_table(project)
    return project


def test_clean_tree(tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 0, human
    assert problems == []
    assert "No problems found" in human.err
    assert human.out == ""


# --------------------------------------------------------------------------- the tree


def test_an_unreadable_revision_file_is_a_graph_problem_with_the_cli_fix(
        tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "migrations" / "memory" / "0003_broken.py").write_text("revision = (\n", encoding="utf-8")
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    assert _kinds(problems) == ["graph"]
    assert "0003_broken.py: not valid Python" in problems[0]["message"]
    assert problems[0]["fix"] == "fix the file's syntax"  # worded by the CLI, not by the loader


def test_multiple_heads(tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    write_revision(tree / "migrations" / "memory", "0003_sibling", new_id(), MEMORY_1)
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    assert _kinds(problems) == ["multiple_heads"]
    assert problems[0]["message"] == "memory has 2 heads: 0002_add_task_id, 0003_sibling"
    assert problems[0]["fix"] == "manage.py makemigrations --merge memory"
    assert problems[0]["component"] == "memory"
    assert "ERROR [multiple_heads]" in human.out
    assert "check found 1 problem(s)" in human.err


GADGET_MODELS = '''
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, string


class Gadget(Base):
    __tablename__ = "{table}"

    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(string(100), nullable=True)
    color: Mapped[str | None] = mapped_column(String(20), nullable=True)


class Widget(Base):
    __tablename__ = "{table}_widgets"

    id: Mapped[str] = id_column()
'''

GADGET_REVISION = """op.create_table({table!r},
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('name', sa.String().with_variant(sa.String(100), 'mysql', 'mariadb'), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f({pkey!r})))"""


def test_models_that_differ_from_migrations(tree: Path, make_component, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    table = "gadgets_" + new_id()
    package = make_component({"models.py": GADGET_MODELS.format(table=table)}, prefix="gadget")
    # its only revision creates the table without the color column, and no widgets table
    write_revision(tree / "migrations" / package, "0001_initial", new_id(), None,
                   upgrade=GADGET_REVISION.format(table=table, pkey=f"{table}_pkey"),
                   downgrade=f"op.drop_table({table!r})", branch_labels=(package,))
    set_components(tree, package)
    add_alembic_table(tree)

    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    assert set(_kinds(problems)) == {"model_changes"}
    messages = {p["message"] for p in problems}
    assert f"{package}: column {table}.color is in the models but not in the migrations" in messages
    assert f"{package}: table {table}_widgets is in the models but no migration creates it" in messages
    assert {p["fix"] for p in problems} == {f"manage.py makemigrations {package}"}
    assert {p["component"] for p in problems} == {package}


def test_dangling_links(tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    missing_parent, missing_dep = new_id(), new_id()
    write_revision(tree / "migrations" / "memo", "0002_dangling_down", new_id(), missing_parent)
    write_revision(tree / "migrations" / "task", "0006_dangling_dep", new_id(),
                   REV[("task", "0005_merge_legacy_task_columns")], depends_on=missing_dep)
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    graph = [p for p in problems if p["kind"] == "graph"]
    assert len(graph) == 2
    assert any("memo 0002_dangling_down" in p["message"] and f"down_revision '{missing_parent}' points to no "
               "revision" in p["message"] for p in graph)
    assert any("task 0006_dangling_dep" in p["message"] and f"depends_on '{missing_dep}' points to no revision"
               in p["message"] for p in graph)
    assert all(p["fix"] for p in graph)


def test_cycle(tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    memo_2, task_6 = new_id(), new_id()
    write_revision(tree / "migrations" / "memo", "0002_needs_task", memo_2, MEMO_1, depends_on=task_6)
    write_revision(tree / "migrations" / "task", "0006_needs_memo", task_6,
                   REV[("task", "0005_merge_legacy_task_columns")], depends_on=memo_2)
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    cycles = [p for p in problems if "cycle" in p["message"]]
    assert len(cycles) == 1 and cycles[0]["kind"] == "graph"
    assert "memo 0002_needs_task" in cycles[0]["message"] and "task 0006_needs_memo" in cycles[0]["message"]
    assert "down_revision/depends_on" in cycles[0]["fix"]


def test_alembic_config_out_of_step(tree: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pyproject = tree / "pyproject.toml"
    original = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(original.replace('    "%(here)s/migrations/task",\n', "")
                         .replace('    "%(here)s/migrations/memo",\n',
                                  '    "%(here)s/migrations/memo",\n    "%(here)s/migrations/gone",\n'),
                         encoding="utf-8")
    assert pyproject.read_text(encoding="utf-8") != original
    human, _, problems = _check(capsys, monkeypatch, tree, None)
    assert human.code == 1
    assert _kinds(problems) == ["alembic_config", "alembic_config"]
    messages = " | ".join(p["message"] for p in problems)
    assert f"version_locations lacks {tree.resolve() / 'migrations' / 'task'}" in messages
    assert f"lists {tree.resolve() / 'migrations' / 'gone'}, which is no component's folder" in messages
    assert all("makemigrations" in p["fix"] for p in problems)

    # without the table at all
    pyproject.write_text(original[:original.index("[tool.alembic]")], encoding="utf-8")
    _, _, problems = _check(capsys, monkeypatch, tree, None)
    assert _kinds(problems) == ["alembic_config"]
    assert "has no [tool.alembic] table" in problems[0]["message"]

    # the suggested fix puts it back in step
    assert cli(capsys, monkeypatch, tree, None, "makemigrations").code == 0
    assert _check(capsys, monkeypatch, tree, None)[2] == []


# --------------------------------------------------------------------------- with --database


def test_database_pending(tree: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, tree, db_url, "migrate", "memory", "0001", "--yes").code == 0
    human, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    assert human.code == 1
    pending = {p["component"]: p for p in problems if p["kind"] == "pending"}
    assert set(_kinds(problems)) == {"pending"}
    assert set(pending) == {"auth", "memory", "ontology", "memo", "task"}
    assert pending["memory"]["message"] == "memory: 1 pending revision(s): 0002_add_task_id"
    assert pending["auth"]["message"] == "auth: 1 pending revision(s): 0002_add_user_roles_fk"
    assert pending["task"]["message"].startswith("task: 5 pending revision(s): 0001_initial")
    assert all(p["fix"] == "manage.py migrate" for p in pending.values())

    # without --database the database is not looked at
    assert _check(capsys, monkeypatch, tree, db_url)[2] == []
    assert cli(capsys, monkeypatch, tree, db_url, "migrate").code == 0
    clean, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    assert clean.code == 0 and problems == []


def test_database_checksum_drift(tree: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, tree, db_url, "migrate").code == 0
    path = tree / "migrations" / "memo" / "0001_initial.py"
    recorded = checksum_file(path)
    path.write_text(path.read_text(encoding="utf-8").replace("op.drop_table('memos')",
                                                             "op.drop_table('memos')\n    op.execute('SELECT 1')"),
                    encoding="utf-8")
    human, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    assert human.code == 1
    assert _kinds(problems) == ["checksum_drift"]
    assert problems[0]["component"] == "memo"
    assert "memo 0001_initial changed after it was applied" in problems[0]["message"]
    assert recorded[:12] in problems[0]["message"] and checksum_file(path)[:12] in problems[0]["message"]
    assert "repair" in problems[0]["fix"]


def test_database_unverified_checksums_are_a_warning(tree: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, tree, db_url, "migrate", "memo").code == 0
    execute(db_url, "DELETE FROM memstack_applied")
    human, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    unverified = [p for p in problems if p["kind"] == "unverified_checksum"]
    assert sorted(p["message"] for p in unverified) == [
        "auth 0001_initial was applied without a recorded checksum",
        "memo 0001_initial was applied without a recorded checksum"]
    assert {p["severity"] for p in unverified} == {"warning"}
    assert "WARNING [unverified_checksum]" in human.out
    assert human.code == 1  # the pending revisions still fail it

    assert cli(capsys, monkeypatch, tree, db_url, "migrate").code == 0
    # unverified checksums alone are a warning: reported, exit 0
    execute(db_url, "DELETE FROM memstack_applied")
    human, machine, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    assert set(_kinds(problems)) == {"unverified_checksum"}
    assert len(problems) == len(REV)
    assert human.code == 0
    assert json.loads(machine.out)["ok"] is True
    assert cli(capsys, monkeypatch, tree, db_url, "repair").code == 0
    assert _check(capsys, monkeypatch, tree, db_url, "--database")[2] == []


def test_database_unknown_revisions(tree: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, tree, db_url, "migrate").code == 0
    insert_version_row(db_url, "abcdef123456")
    human, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    assert human.code == 1
    unknown = [p for p in problems if p["kind"] == "unknown_revisions"]
    assert len(unknown) == 1
    assert "abcdef123456" in unknown[0]["message"]
    assert unknown[0]["fix"]


def test_database_removed_component(tree: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli(capsys, monkeypatch, tree, sqlite_url, "migrate").code == 0
    set_components(tree, base=["memstack.auth", "memstack.tenant", "memstack.project", "memstack.memory",
                               "memstack.ontology", "memstack.task"])
    add_alembic_table(tree)
    human, _, problems = _check(capsys, monkeypatch, tree, sqlite_url, "--database")
    assert human.code == 1
    unknown = [p for p in problems if p["kind"] == "unknown_revisions"]
    assert len(unknown) == 1
    assert "component 'memo' is no longer configured" in unknown[0]["message"]
    assert "migrate --prune memo" in unknown[0]["fix"]


DUPLICATE = 'op.execute("INSERT INTO {label}_t1 (id) VALUES (1)")'  # fails only where that row exists


@pytest.mark.mariadb
def test_database_failure_mark(project: Path, mariadb_url: str, make_component, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    chain = chain_component(make_component, project, 2, prefix="marks", bodies={2: DUPLICATE})
    add_alembic_table(project)
    assert cli(capsys, monkeypatch, project, mariadb_url, "migrate", chain.label, "0001").code == 0
    execute(mariadb_url, f"INSERT INTO {chain.table(1)} (id) VALUES (1)")
    assert cli(capsys, monkeypatch, project, mariadb_url, "migrate").code == 1
    human, _, problems = _check(capsys, monkeypatch, project, mariadb_url, "--database")
    assert human.code == 1
    # (the chain component declares no models, so its tables also show up as model changes)
    assert {"failure_mark", "pending"} <= set(_kinds(problems))
    assert _kinds(problems).count("failure_mark") == 1
    mark = problems[_kinds(problems).index("failure_mark")]
    assert mark["component"] == chain.label
    assert f"{chain.label} 0002_step2 (up) is marked failed" in mark["message"]
    assert "Duplicate entry" in mark["message"]
    assert "repair" in mark["fix"] and "migrate --fake" in mark["fix"]


FAILING = 'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")'


def test_revision_that_fails_everywhere(project: Path, sqlite_url: str, make_component,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Models cannot be compared when a revision fails on the scratch database: reported, in JSON too."""
    chain = chain_component(make_component, project, 2, prefix="broken", bodies={2: FAILING})
    add_alembic_table(project)
    human, _, problems = _check(capsys, monkeypatch, project, sqlite_url)
    assert human.code == 1
    assert _kinds(problems) == ["revision_fails"]
    assert f"{chain.label} 0002_step2" in problems[0]["message"]
    assert "no_such_table_here" in problems[0]["message"]
    fix = problems[0]["fix"]  # a scratch database is thrown away: nothing of it "stayed applied" (issue 22)
    assert "stayed applied" not in fix and "was discarded" in fix and f"Fix {chain.label} 0002_step2" in fix
    assert "baseline" not in fix  # not a component's first revision


def test_database_failure_mark_of_an_interrupted_run(tree: Path, sqlite_url: str,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A running mark left behind (as by a process killed on MariaDB), on a database of another kind."""
    assert cli(capsys, monkeypatch, tree, sqlite_url, "migrate").code == 0
    execute(sqlite_url, "INSERT INTO memstack_marks (revision, component, name, direction, state, started_at, pid) "
            "VALUES (:r, 'memo', '0001_initial', 'up', 'running', '2026-01-01 00:00:00', 4242)",
            params={"r": MEMO_1})
    human, _, problems = _check(capsys, monkeypatch, tree, sqlite_url, "--database")
    assert human.code == 1
    assert _kinds(problems) == ["failure_mark"]
    assert problems[0]["message"] == ("memo 0001_initial (up) is marked running: interrupted; "
                                      "of its objects, done: table memos exists; not done: nothing")


def test_database_lock_held_is_a_warning(tree: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from memstack.core.db import create_engine

    assert cli(capsys, monkeypatch, tree, db_url, "migrate").code == 0
    engine = create_engine(db_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            human, _, problems = _check(capsys, monkeypatch, tree, db_url, "--database")
    finally:
        engine.dispose()
    assert _kinds(problems) == ["lock_held"]
    assert problems[0]["severity"] == "warning"
    assert human.code == 0
