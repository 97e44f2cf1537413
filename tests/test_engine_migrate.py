"""``migrate`` on the committed tree: full builds, every TARGET form, merges, backwards cascades."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.inspect import columns, foreign_keys, table_names, version_rows
from support.projects import LABELS, TABLES
from support.revisions import REV, shared_prefix
from support.running import applied_set, call, run_main, shown

from memstack.core.errors import MemstackError

ALL = set(REV)


def _full(project: Path, url: str) -> None:
    call(project, url, "migrate")
    assert applied_set(project, url) == ALL


# --------------------------------------------------------------------------- the whole tree


def test_committed_tree_builds_the_full_schema_and_is_clean(project: Path, db_url: str) -> None:
    result = call(project, db_url, "migrate")

    assert table_names(db_url) == TABLES | {"alembic_version"}
    assert applied_set(project, db_url) == ALL
    # one line per applied step, with component, name and time taken
    steps = result.steps()
    assert sorted((c, n) for _, c, n in steps) == sorted(ALL)
    assert {verb for verb, _, _ in steps} == {"Applying"}
    order = [(c, n) for _, c, n in steps]
    assert order.index(("auth", "0001_initial")) < order.index(("tenant", "0001_initial"))
    assert order.index(("tenant", "0001_initial")) < order.index(("auth", "0002_add_user_roles_fk"))
    assert order.index(("project", "0001_initial")) < order.index(("memory", "0001_initial"))
    for task_sibling in ("0002_add_progress", "0003_add_result", "0004_add_message"):
        assert order.index(("task", task_sibling)) < order.index(("task", "0005_merge_legacy_task_columns"))
    # the cycle between auth and tenant is closed: user_roles.tenant_id -> tenants
    assert ("tenant_id", "tenants") in foreign_keys(db_url, "user_roles")

    files_before = sorted((project / "migrations").rglob("*.py"))
    check = call(project, db_url, "makemigrations", check=True)
    assert "No changes detected" in check.err
    assert sorted((project / "migrations").rglob("*.py")) == files_before  # nothing written

    again = call(project, db_url, "migrate")
    assert again.steps() == []
    assert "No migrations to apply" in again.err


def test_step_lines_show_component_name_and_time(project: Path, sqlite_url: str) -> None:
    result = call(project, sqlite_url, "migrate", "memo")
    lines = [line for line in result.err.splitlines() if "Applying" in line]
    assert [line.split()[1:3] for line in lines] == [["auth", "0001_initial"], ["memo", "0001_initial"]]
    for line in lines:
        assert line.rstrip().endswith(" ms)"), line


def test_migrate_component_pulls_only_what_it_needs(project: Path, db_url: str) -> None:
    result = call(project, db_url, "migrate", "memory")
    # memory needs project, project needs tenant, tenant needs auth 0001; auth 0002 is not needed
    expected = {("auth", "0001_initial"), ("tenant", "0001_initial"),
                ("project", "0001_initial"), ("memory", "0001_initial"), ("memory", "0002_add_task_id")}
    assert applied_set(project, db_url) == expected
    assert {(c, n) for _, c, n in result.steps()} == expected
    assert table_names(db_url) & {"entity_types", "memos", "task_logs"} == set()


# --------------------------------------------------------------------------- TARGET forms


@pytest.mark.parametrize(
    ("target", "expected_memory"),
    [
        ("zero", set()),
        ("head", {"0001_initial", "0002_add_task_id"}),
        ("0001", {"0001_initial"}),
        ("1", {"0001_initial"}),
        ("0001_initial", {"0001_initial"}),
        ("0001_initial.py", {"0001_initial"}),
        ("initial", {"0001_initial"}),
        (REV[("memory", "0001_initial")], {"0001_initial"}),
        (REV[("memory", "0001_initial")][:5], {"0001_initial"}),
        ("0002", {"0001_initial", "0002_add_task_id"}),
        ("2", {"0001_initial", "0002_add_task_id"}),
        ("add_task_id", {"0001_initial", "0002_add_task_id"}),
        (REV[("memory", "0002_add_task_id")][:4], {"0001_initial", "0002_add_task_id"}),
    ],
)
def test_target_forms_backwards_from_full_state(project: Path, sqlite_url: str, target: str,
                                                expected_memory: set[str]) -> None:
    _full(project, sqlite_url)
    call(project, sqlite_url, "migrate", "memory", target, yes=True)
    state = shown(project, sqlite_url)
    assert {n for (c, n), applied in state.items() if c == "memory" and applied} == expected_memory
    # nothing outside memory moved
    assert {k for k, applied in state.items() if applied and k[0] != "memory"} == {k for k in ALL if k[0] != "memory"}
    if expected_memory:
        assert ("task_id" in columns(sqlite_url, "memories")) == ("0002_add_task_id" in expected_memory)
    else:
        assert "memories" not in table_names(sqlite_url)


@pytest.mark.parametrize("target", ["0001", "1", "initial", "0001_initial", REV[("memory", "0001_initial")][:3]])
def test_target_forms_forwards_from_empty(project: Path, db_url: str, target: str) -> None:
    call(project, db_url, "migrate", "memory", target)
    state = applied_set(project, db_url)
    assert ("memory", "0001_initial") in state
    assert ("memory", "0002_add_task_id") not in state
    assert "task_id" not in columns(db_url, "memories")
    # forwards again by file number, then backwards to zero and up to head
    call(project, db_url, "migrate", "memory", "2")
    assert "task_id" in columns(db_url, "memories")
    call(project, db_url, "migrate", "memory", "zero", yes=True)
    assert "memories" not in table_names(db_url)
    call(project, db_url, "migrate", "memory", "head")
    assert {n for c, n in applied_set(project, db_url) if c == "memory"} == {"0001_initial", "0002_add_task_id"}


def test_ambiguous_target_lists_candidates(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _full(project, sqlite_url)
    rows_before = version_rows(sqlite_url)
    # a prefix that starts two task revision ids: 0002's and 0005's
    progress, merge = REV[("task", "0002_add_progress")], REV[("task", "0005_merge_legacy_task_columns")]
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "migrate", "task", shared_prefix(progress, merge))
    assert result.code == 1
    assert "ambiguous" in result.err
    assert f"0002_add_progress ({progress})" in result.err
    assert f"0005_merge_legacy_task_columns ({merge})" in result.err
    assert "Traceback" not in result.err
    assert version_rows(sqlite_url) == rows_before

    with pytest.raises(MemstackError, match="ambiguous"):
        call(project, sqlite_url, "migrate", "task",
             shared_prefix(REV[("task", "0003_add_result")], REV[("task", "0004_add_message")]))


def test_unknown_target_is_an_error(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "migrate", "memory", "0009")
    assert result.code == 1
    assert "no revision of component 'memory' matches target '0009'" in result.err
    assert "0001_initial, 0002_add_task_id" in result.err
    unknown = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                       "migrate", "nosuch")
    assert unknown.code == 1
    assert "unknown component 'nosuch'" in unknown.err


def test_target_beside_the_task_merge(project: Path, db_url: str) -> None:
    _full(project, db_url)
    result = call(project, db_url, "migrate", "task", "0003", yes=True)
    assert result.steps() == [("Unapplying", "task", "0005_merge_legacy_task_columns")]
    state = shown(project, db_url, "task")
    assert state == {
        ("task", "0001_initial"): True,
        ("task", "0002_add_progress"): True,
        ("task", "0003_add_result"): True,
        ("task", "0004_add_message"): True,
        ("task", "0005_merge_legacy_task_columns"): False,
    }
    assert {"progress", "result", "message"} <= columns(db_url, "task_logs")
    # the merge's three parents are now stored heads themselves
    assert {REV[("task", n)] for n in ("0002_add_progress", "0003_add_result", "0004_add_message")} <= \
        version_rows(db_url)
    human = call(project, db_url, "showmigrations", "task").out
    assert "[X] 0004_add_message" in human
    assert "[ ] 0005_merge_legacy_task_columns" in human

    # one sibling back: only 0003 goes, its siblings stay
    result = call(project, db_url, "migrate", "task", "0001", yes=True)
    assert sorted(n for _, _, n in result.steps()) == ["0002_add_progress", "0003_add_result", "0004_add_message"]
    call(project, db_url, "migrate", "task", "0004")
    assert {n for c, n in applied_set(project, db_url) if c == "task"} == {"0001_initial", "0004_add_message"}
    assert "progress" not in columns(db_url, "task_logs")

    # forwards to the merge applies the missing parents first
    result = call(project, db_url, "migrate", "task")
    assert [n for _, _, n in result.steps()] == ["0002_add_progress", "0003_add_result",
                                                "0005_merge_legacy_task_columns"]
    assert applied_set(project, db_url) == ALL


# --------------------------------------------------------------------------- backwards across components


def test_backwards_cascade_refused_without_yes(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _full(project, db_url)
    rows_before = version_rows(db_url)
    tables_before = table_names(db_url)
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", db_url,
                      "migrate", "tenant", "zero")
    assert result.code == 1
    assert "--yes" in result.err
    for listed in ("project 0001_initial", "memory 0001_initial", "memory 0002_add_task_id",
                   "ontology 0001_initial", "auth 0002_add_user_roles_fk"):
        assert listed in result.err
    assert "memo 0001_initial" not in result.err
    assert "Unapplying" not in result.err
    assert version_rows(db_url) == rows_before
    assert table_names(db_url) == tables_before

    with pytest.raises(MemstackError, match=r"--yes|terminal"):
        call(project, db_url, "migrate", "tenant", "zero")
    assert applied_set(project, db_url) == ALL


def test_backwards_cascade_with_yes(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _full(project, db_url)
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", db_url,
                      "migrate", "tenant", "zero", "--yes")
    assert result.code == 0, result.err
    removed = {("tenant", "0001_initial"), ("project", "0001_initial"), ("memory", "0001_initial"),
               ("memory", "0002_add_task_id"), ("ontology", "0001_initial"), ("auth", "0002_add_user_roles_fk")}
    assert applied_set(project, db_url) == ALL - removed
    # the cascade is listed before anything is unapplied
    err = result.err
    assert err.index("auth 0002_add_user_roles_fk") < err.index("Unapplying")
    unapplied = [(c, n) for line in err.splitlines() if line.strip().startswith("Unapplying")
                 for c, n in [line.split()[1:3]]]
    assert set(unapplied) == removed
    # dependents go before what they depend on
    assert unapplied.index(("memory", "0002_add_task_id")) < unapplied.index(("memory", "0001_initial"))
    assert unapplied.index(("memory", "0001_initial")) < unapplied.index(("project", "0001_initial"))
    assert unapplied.index(("auth", "0002_add_user_roles_fk")) < unapplied.index(("tenant", "0001_initial"))
    assert unapplied[-1] == ("tenant", "0001_initial")

    # auth 0001 is stored in no row of its own: memo 0001 depends on it
    assert version_rows(db_url) == {REV[("memo", "0001_initial")], REV[("task", "0005_merge_legacy_task_columns")]}
    tables = table_names(db_url)
    assert tables == TABLES - {"tenants", "user_tenants", "projects", "user_projects", "memories",
                               "entity_types", "edge_types", "edge_type_maps"} | {"alembic_version"}
    assert ("tenant_id", "tenants") not in foreign_keys(db_url, "user_roles")

    # and back up: everything returns
    call(project, db_url, "migrate")
    assert applied_set(project, db_url) == ALL
    assert table_names(db_url) == TABLES | {"alembic_version"}


@pytest.mark.parametrize(("answer", "code"), [("n\n", 1), ("\n", 1), ("y\n", 0)])
def test_backwards_cascade_asks_on_a_terminal(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, answer: str, code: int) -> None:
    _full(project, sqlite_url)
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "migrate", "project", "zero", terminal_input=answer)
    assert result.code == code, result.err
    assert "memory 0001_initial" in result.err and "ontology 0001_initial" in result.err
    cascade = {("project", "0001_initial"), ("memory", "0001_initial"), ("memory", "0002_add_task_id"),
               ("ontology", "0001_initial")}
    assert applied_set(project, sqlite_url) == (ALL - cascade if code == 0 else ALL)


def test_backwards_inside_one_component_asks_too(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    _full(project, url)
    with pytest.raises(MemstackError, match=r"--yes"):  # nothing else is affected, but a column is dropped
        call(project, url, "migrate", "memory", "0001")
    assert applied_set(project, url) == ALL
    result = call(project, url, "migrate", "memory", "0001", yes=True)
    assert result.steps() == [("Unapplying", "memory", "0002_add_task_id")]
    assert applied_set(project, url) == ALL - {("memory", "0002_add_task_id")}


def test_migrate_all_labels_in_configuration_order(project: Path, sqlite_url: str) -> None:
    call(project, sqlite_url, "migrate")
    human = call(project, sqlite_url, "showmigrations").out
    headers = [line for line in human.splitlines() if line and not line.startswith(" ")]
    assert headers == LABELS
