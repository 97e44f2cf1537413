"""Tags (``tag``, ``migrate --to-tag``), ``rollback``, and irreversible revisions.

Real databases only: every check reads the state a real command left behind (showmigrations,
version rows, history, tables).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support.databases import execute
from support.inspect import full_snapshot as snapshot
from support.inspect import history_rows, table_names, version_rows
from support.projects import add_alembic_config, set_components
from support.revisions import REV, create_table, new_id, write_revision
from support.running import alembic, applied_set, cli, json_of, migrate, ok

from memstack.engine.run.offline import NOT_RENDERABLE

ALL = set(REV)
MEMORY = {("memory", "0001_initial"), ("memory", "0002_add_task_id")}
TASK_SIBLINGS = {("task", "0002_add_progress"), ("task", "0003_add_result"), ("task", "0004_add_message")}
MERGE = ("task", "0005_merge_legacy_task_columns")

# --------------------------------------------------------------------------- helpers


def keys(steps: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(component, name, direction) of JSON steps."""
    return [(s["component"], s["name"], s["direction"]) for s in steps]


def tags_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
              url: str) -> dict[str, Any]:
    return {t["tag"]: t for t in json_of(cli(capsys, monkeypatch, project, url, "tag", "--list", "--json"))}


def own_component(make_component: Any, project: Path, revisions: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
    """A component with a chain of hand-written revisions; each dict may give ``upgrade``,
    ``downgrade`` and ``module`` (extra module-level lines). Revision N creates table
    ``<label>_tN`` unless ``upgrade`` says otherwise. Returns (label, ids)."""
    label = make_component({}, prefix="tr")
    folder = project / "migrations" / label
    folder.mkdir(parents=True)
    ids = [new_id() for _ in revisions]
    for index, spec in enumerate(revisions):
        number = index + 1
        table = f"{label}_t{number}"
        write_revision(folder, f"{number:04d}_step{number}", ids[index], ids[index - 1] if index else None,
                       upgrade=spec.get("upgrade", create_table(table)),
                       downgrade=spec.get("downgrade", f"op.drop_table({table!r})"),
                       branch_labels=(label,) if index == 0 else None, message=f"step {number}",
                       module=spec.get("module", ""))
        if spec.get("no_downgrade"):  # the way many public revisions stop: upgrade() only
            path = folder / f"{number:04d}_step{number}.py"
            text = path.read_text(encoding="utf-8")
            path.write_text(text[:text.index("\n\ndef downgrade()")] + "\n", encoding="utf-8")
    set_components(project, label)
    return label, ids


# --------------------------------------------------------------------------- tags


def test_tag_round_trip_across_all_components(project: Path, migrated_db_url: str, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = migrated_db_url
    created = json_of(cli(capsys, monkeypatch, project, url, "tag", "full", "--json"))
    assert created["tag"] == "full"
    assert created["components"]["task"] == [{"revision": REV[MERGE], "name": MERGE[1]}]
    tagged_rows = version_rows(url)

    # move several components elsewhere: backwards across the merge, to zero, backwards inside auth
    migrate(project, url, "task", "0001")
    migrate(project, url, "memory", "zero")
    migrate(project, url, "auth", "0001")
    migrate(project, url, "memo", "zero")
    moved = applied_set(project, url)
    assert moved == ALL - MEMORY - TASK_SIBLINGS - {MERGE, ("auth", "0002_add_user_roles_fk"), ("memo", "0001_initial")}

    before = snapshot(url)
    planned = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--plan", "--json"))
    assert snapshot(url) == before
    assert {(c, n) for c, n, _ in keys(planned)} == ALL - moved
    assert {s["direction"] for s in planned} == {"up"}

    done = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--yes", "--json"))
    assert keys(done) == keys(planned)
    assert applied_set(project, url) == ALL
    assert version_rows(url) == tagged_rows
    assert json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--plan", "--json")) == []


def test_to_tag_restores_exactly_a_partial_state(project: Path, db_url_no_mariadb: str,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Backwards and forwards: sibling heads inside task, zero components, auth before its 0002."""
    url = db_url_no_mariadb
    migrate(project, url, "memory")
    migrate(project, url, "task", "add_result")  # task 0001 + 0003 only: one sibling of the merge
    mid = applied_set(project, url)
    ok(cli(capsys, monkeypatch, project, url, "tag", "mid"))
    stored = tags_json(capsys, monkeypatch, project, url)["mid"]["components"]
    assert [h["name"] for h in stored["task"]] == ["0003_add_result"]
    assert [h["name"] for h in stored["auth"]] == ["0001_initial"]
    assert stored["memo"] == [] and stored["ontology"] == []

    migrate(project, url)
    planned = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "mid", "--plan", "--json"))
    assert {s["direction"] for s in planned} == {"down"}
    assert {(c, n) for c, n, _ in keys(planned)} == ALL - mid
    done = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "mid", "--yes", "--json"))
    assert keys(done) == keys(planned)
    assert applied_set(project, url) == mid
    assert ("task", "0003_add_result") in applied_set(project, url)

    # and forwards again to a full tag taken meanwhile
    migrate(project, url)
    ok(cli(capsys, monkeypatch, project, url, "tag", "full"))
    ok(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "mid", "--yes"))
    ok(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--yes"))
    assert applied_set(project, url) == ALL


def test_to_tag_leaves_a_component_installed_after_the_tag(project: Path, migrated_db_url_no_mariadb: str,
                                                           make_component: Any,
                                                           capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = migrated_db_url_no_mariadb
    ok(cli(capsys, monkeypatch, project, url, "tag", "before-addon"))
    label, _ids = own_component(make_component, project, [{}, {}])
    migrate(project, url)
    migrate(project, url, "memory", "zero")
    migrate(project, url, "task", "0002")
    addon = {(label, "0001_step1"), (label, "0002_step2")}
    assert addon <= applied_set(project, url)

    planned = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "before-addon", "--plan",
                          "--json"))
    assert label not in {s["component"] for s in planned}
    assert {(c, n) for c, n, _ in keys(planned)} == MEMORY | {MERGE}
    done = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "before-addon", "--yes", "--json"))
    assert keys(done) == keys(planned)
    assert applied_set(project, url) == ALL | addon
    assert {f"{label}_t1", f"{label}_t2"} <= table_names(url)


def test_tag_list_delete_duplicate_and_unknown(project: Path, db_url_no_mariadb: str,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    empty_list = ok(cli(capsys, monkeypatch, project, url, "tag", "--list"))
    assert empty_list.out == "" and "No tags yet" in empty_list.err
    assert json_of(cli(capsys, monkeypatch, project, url, "tag", "--list", "--json")) == []

    ok(cli(capsys, monkeypatch, project, url, "tag", "empty"))  # on an empty database: every component at zero
    migrate(project, url, "memo")
    ok(cli(capsys, monkeypatch, project, url, "tag", "with-memo.v1"))
    tags = tags_json(capsys, monkeypatch, project, url)
    assert list(tags) == ["empty", "with-memo.v1"]
    assert all(heads == [] for heads in tags["empty"]["components"].values())
    assert set(tags["empty"]["components"]) == {"auth", "tenant", "project", "memory", "ontology", "memo", "task"}
    memo_tag = tags["with-memo.v1"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", memo_tag["created_at"])
    assert memo_tag["components"]["memo"] == [{"revision": REV[("memo", "0001_initial")], "name": "0001_initial"}]
    assert memo_tag["components"]["auth"] == [{"revision": REV[("auth", "0001_initial")], "name": "0001_initial"}]
    human = ok(cli(capsys, monkeypatch, project, url, "tag", "--list")).out.splitlines()
    start = human.index(next(line for line in human if line.startswith("with-memo.v1  (")))
    assert "    memo: 0001_initial" in human[start:]
    assert "    task: zero" in human[start:]

    # a duplicate name is refused and the tag stays as it was
    before = snapshot(url)
    duplicate = cli(capsys, monkeypatch, project, url, "tag", "with-memo.v1")
    assert duplicate.code == 1 and "exists already" in duplicate.err
    assert snapshot(url) == before
    bad = cli(capsys, monkeypatch, project, url, "tag", "not a name!")
    assert bad.code == 1 and "invalid tag name" in bad.err
    assert cli(capsys, monkeypatch, project, url, "tag").code == 2
    assert cli(capsys, monkeypatch, project, url, "tag", "x", "--list").code == 2

    # unknown tags are refused everywhere, changing nothing
    for args in (("tag", "--delete", "nope"), ("migrate", "--to-tag", "nope"),
                 ("migrate", "--to-tag", "nope", "--plan"), ("migrate", "--to-tag", "nope", "--sql"),
                 ("migrate", "--to-tag", "nope", "--dry-run")):
        refused = cli(capsys, monkeypatch, project, url, *args)
        assert refused.code == 1, args
        assert "no tag named 'nope'" in refused.err
    assert snapshot(url) == before
    mixed = cli(capsys, monkeypatch, project, url, "migrate", "memo", "--to-tag", "empty")
    assert mixed.code == 1 and "--to-tag" in mixed.err

    # back to the empty tag: everything goes
    ok(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "empty", "--yes"))
    assert applied_set(project, url) == set()
    ok(cli(capsys, monkeypatch, project, url, "tag", "--delete", "empty"))
    assert list(tags_json(capsys, monkeypatch, project, url)) == ["with-memo.v1"]
    assert cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "empty").code == 1
    ok(cli(capsys, monkeypatch, project, url, "tag", "empty"))  # the name is free again


def test_to_tag_with_plan_sql_and_dry_run(project: Path, migrated_db_url_no_mariadb: str,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = migrated_db_url_no_mariadb
    ok(cli(capsys, monkeypatch, project, url, "tag", "full"))
    migrate(project, url, "memo", "zero")
    migrate(project, url, "ontology", "zero")
    migrate(project, url, "task", "0002")
    before = snapshot(url)

    planned = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--plan", "--json"))
    assert {(c, n) for c, n, _ in keys(planned)} == {("memo", "0001_initial"), ("ontology", "0001_initial"), MERGE}
    script = ok(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--sql")).out
    assert NOT_RENDERABLE not in script
    headers = re.findall(r"^-- \[\d+/\d+\] (apply|unapply) (\w+) (\d{4}_\w+) \(([0-9a-f]+)\)", script, re.MULTILINE)
    assert [(c, n, "up" if v == "apply" else "down") for v, c, n, _ in headers] == keys(planned)
    assert "CREATE TABLE memos" in script and "CREATE TABLE entity_types" in script
    dry = ok(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--dry-run", "--json"))
    report = json.loads(dry.out)
    assert report["error"] is None and keys(report["steps"]) == keys(planned)
    assert all(s["success"] for s in report["steps"])
    assert snapshot(url) == before

    done = json_of(cli(capsys, monkeypatch, project, url, "migrate", "--to-tag", "full", "--yes", "--json"))
    assert keys(done) == keys(planned)
    assert applied_set(project, url) == ALL


# --------------------------------------------------------------------------- rollback


def test_rollback_by_steps_follows_history_across_components(project: Path, db_url_no_mariadb: str,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """memo first, then ontology: in graph order memo comes last, but ontology was applied last."""
    url = db_url_no_mariadb
    migrate(project, url, "memo")
    migrate(project, url, "ontology")
    before = snapshot(url)

    one = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--plan", "--json"))
    assert keys(one) == [("ontology", "0001_initial", "down")]
    two = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--steps", "2", "--plan", "--json"))
    assert keys(two) == [("ontology", "0001_initial", "down"), ("project", "0001_initial", "down")]
    human = ok(cli(capsys, monkeypatch, project, url, "rollback", "-n", "2", "--plan")).out.splitlines()
    steps = [line for line in human if not line.startswith("       ")]  # indented below: what each drops
    assert steps == ["  1. unapply ontology 0001_initial (f2841aa6d0d7)",
                     "  2. unapply project 0001_initial (e15b1783fbad)"]
    assert "       table entity_types: empty (0 rows)" in human
    memo_only = json_of(cli(capsys, monkeypatch, project, url, "rollback", "memo", "--plan", "--json"))
    assert keys(memo_only) == [("memo", "0001_initial", "down")]
    assert snapshot(url) == before

    done = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--yes", "--json"))
    assert keys(done) == keys(one)
    assert [(s["event"], s["success"]) for s in done] == [("unapply", True)]
    last = history_rows(url)[-1]
    assert (last["event"], last["component"], last["name"], last["direction"]) == \
        ("unapply", "ontology", "0001_initial", "down")
    # one at a time: project (applied after memo), then tenant, then memo, then auth
    order = []
    for _ in range(4):
        order.append(keys(json_of(cli(capsys, monkeypatch, project, url, "rollback", "--yes", "--json")))[0][:2])
    assert order == [("project", "0001_initial"), ("tenant", "0001_initial"), ("memo", "0001_initial"),
                     ("auth", "0001_initial")]
    assert applied_set(project, url) == set()
    nothing = ok(cli(capsys, monkeypatch, project, url, "rollback", "--yes"))
    assert "Nothing to roll back" in nothing.err


def test_rollback_across_the_task_merge(project: Path, migrated_db_url_no_mariadb: str,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    url = migrated_db_url_no_mariadb
    assert keys(json_of(cli(capsys, monkeypatch, project, url, "rollback", "--plan", "--json"))) == \
        [(*MERGE, "down")]
    assert keys(json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--plan", "--json"))) == \
        [(*MERGE, "down")]
    two = json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--steps", "2", "--plan", "--json"))
    assert keys(two)[0] == (*MERGE, "down")
    assert len(two) == 2 and (two[1]["component"], two[1]["name"]) in TASK_SIBLINGS
    assert two[1]["name"] == "0004_add_message"  # the sibling applied last

    done = json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--steps", "1", "--yes", "--json"))
    assert keys(done) == [(*MERGE, "down")]
    assert applied_set(project, url) == ALL - {MERGE}  # the siblings stay
    migrate(project, url)
    done = json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--steps", "2", "--yes", "--json"))
    assert keys(done) == keys(two)
    assert applied_set(project, url) == ALL - {MERGE, ("task", "0004_add_message")}


def test_rollback_asks_first(project: Path, migrated_db_url_no_mariadb: str, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    url = migrated_db_url_no_mariadb
    before = snapshot(url)

    refused = cli(capsys, monkeypatch, project, url, "rollback", "--steps", "2")
    assert refused.code == 1
    assert "unapply task 0005_merge_legacy_task_columns" in refused.err
    assert "--yes" in refused.err
    assert snapshot(url) == before

    declined = cli(capsys, monkeypatch, project, url, "rollback", terminal_input="n\n")
    assert declined.code == 1
    assert snapshot(url) == before

    accepted = ok(cli(capsys, monkeypatch, project, url, "rollback", "--steps", "2", terminal_input="y\n"))
    assert "Unapply these 2 revision(s)? [y/N]" in accepted.err
    assert "Unapplying task 0005_merge_legacy_task_columns ... OK" in accepted.err
    assert applied_set(project, url) == ALL - {MERGE, ("task", "0004_add_message")}


def test_rollback_counts_revisions_applied_before_history(project: Path, db_url_no_mariadb: str,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    migrate(project, url, "memo")
    execute(url, "DELETE FROM memstack_history")  # auth 0001 and memo 0001: applied before history existed
    migrate(project, url, "ontology")

    three = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--steps", "3", "--plan", "--json"))
    assert {(c, n) for c, n, _ in keys(three)} == {("ontology", "0001_initial"), ("project", "0001_initial"),
                                                  ("tenant", "0001_initial")}
    # then the ones history does not know, latest in graph order first: memo 0001 before auth 0001
    four = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--steps", "4", "--plan", "--json"))
    assert {(c, n) for c, n, _ in keys(four)} == {(c, n) for c, n, _ in keys(three)} | {("memo", "0001_initial")}
    done = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--steps", "4", "--yes", "--json"))
    assert keys(done) == keys(four)
    assert applied_set(project, url) == {("auth", "0001_initial")}


def test_rollback_after_plain_alembic_upgrade_with_history_truncated(project: Path, db_url_no_mariadb: str,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    add_alembic_config(project)
    upgraded = alembic(project, url, "upgrade", "heads")
    assert upgraded.code == 0, upgraded.err
    assert applied_set(project, url) == ALL
    execute(url, "DELETE FROM memstack_history")

    one = json_of(cli(capsys, monkeypatch, project, url, "rollback", "--plan", "--json"))
    assert keys(one) == [(*MERGE, "down")]  # graph order: the merge is last
    three = json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--steps", "3", "--plan", "--json"))
    assert keys(three) == [(*MERGE, "down"), ("task", "0004_add_message", "down"), ("task", "0003_add_result", "down")]
    done = json_of(cli(capsys, monkeypatch, project, url, "rollback", "task", "--steps", "3", "--yes", "--json"))
    assert keys(done) == keys(three)
    assert applied_set(project, url) == ALL - {MERGE, ("task", "0004_add_message"), ("task", "0003_add_result")}
    # now history knows what was undone; re-applying puts those on top again
    migrate(project, url, "task")
    assert keys(json_of(cli(capsys, monkeypatch, project, url, "rollback", "--plan", "--json"))) == [(*MERGE, "down")]


# --------------------------------------------------------------------------- irreversible revisions

IRREVERSIBLE = {
    "flag": {"module": "irreversible = True"},
    "downgrade-raises": {"downgrade": '"""There is no way back."""\nraise NotImplementedError("data is gone")'},
    "no-downgrade": {"no_downgrade": "yes"},
}


@pytest.mark.parametrize("kind", list(IRREVERSIBLE))
def test_irreversible_revision_stops_plans_before_their_first_step(project: Path, db_url_no_mariadb: str,
                                                                   kind: str, make_component: Any,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, _ids = own_component(make_component, project, [{}, IRREVERSIBLE[kind], {}])
    migrate(project, url, label, "0001")
    ok(cli(capsys, monkeypatch, project, url, "tag", "first"))
    migrate(project, url, label)
    before = snapshot(url)
    assert f"{label}_t3" in table_names(url)

    attempts = [
        ("migrate", label, "zero", "--yes"),
        ("migrate", label, "0001", "--yes"),
        ("migrate", label, "0001", "--dry-run"),
        ("migrate", label, "zero", "--sql"),
        ("migrate", "--to-tag", "first", "--yes"),
        ("migrate", "--to-tag", "first", "--dry-run"),
        ("rollback", label, "--steps", "2", "--yes"),
        ("rollback", "--steps", "2", "--yes"),
    ]
    for args in attempts:
        refused = cli(capsys, monkeypatch, project, url, *args)
        assert refused.code == 1, (args, refused)
        assert "irreversible" in refused.err, (args, refused.err)
        assert "downgrade()" in refused.err, (args, refused.err)  # what would make it reversible
        assert f"{label} 0002_step2" in refused.err, (args, refused.err)
        assert "Unapplying" not in refused.err, args  # not even the step before it ran
        assert snapshot(url) == before, args
    # asked on a terminal: refused before the question, nothing undone
    asked = cli(capsys, monkeypatch, project, url, "rollback", label, "--steps", "2", terminal_input="y\n")
    assert asked.code == 1 and "irreversible" in asked.err
    assert "Proceed?" not in asked.err
    assert snapshot(url) == before

    # the plan is still shown; undoing only what comes after it works
    shown = json_of(cli(capsys, monkeypatch, project, url, "migrate", label, "zero", "--plan", "--json"))
    assert [s["name"] for s in shown] == ["0003_step3", "0002_step2", "0001_step1"]
    ok(cli(capsys, monkeypatch, project, url, "rollback", label, "--yes"))
    assert f"{label}_t3" not in table_names(url)
    assert (label, "0002_step2") in applied_set(project, url)


def test_downgrade_failing_while_running_is_an_ordinary_failure(project: Path, db_url_no_mariadb: str,
                                                                make_component: Any,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, ids = own_component(make_component, project, [
        {}, {"downgrade": 'op.drop_table("no_such_table_here")'}])
    migrate(project, url, label)
    history_before = len(history_rows(url))

    failed = cli(capsys, monkeypatch, project, url, "rollback", label, "--yes")
    assert failed.code == 1
    assert "irreversible" not in failed.err
    assert "no_such_table_here" in failed.err
    assert f"Unapplying {label} 0002_step2 ... FAILED" in failed.err
    rows = history_rows(url)[history_before:]
    assert [(r["event"], r["revision"], r["direction"], bool(r["success"])) for r in rows] == \
        [("failure", ids[1], "down", False)]
    assert "no_such_table_here" in rows[0]["error"]
    assert (label, "0002_step2") in applied_set(project, url)
    assert f"{label}_t2" in table_names(url)

    failed_zero = cli(capsys, monkeypatch, project, url, "migrate", label, "zero", "--yes")
    assert failed_zero.code == 1
    assert "step 1 of 2 failed" in failed_zero.err
    assert {(label, "0001_step1"), (label, "0002_step2")} <= applied_set(project, url)
    assert [r["event"] for r in history_rows(url)[history_before:]] == ["failure", "failure"]


@pytest.mark.parametrize(("ending", "irreversible"), [
    ("def downgrade() -> None:\n    pass\n", False),  # a deliberate no-op runs, as under plain Alembic
    ("def downgrade() -> None:\n    raise NotImplementedError()\n", True),
    ("", True),  # no downgrade() at all
    ("from shared.steps import downgrade\n", False),
    ("downgrade = upgrade\n", False),
])
def test_loader_reads_what_makes_a_revision_irreversible(tmp_path: Path, ending: str, irreversible: bool) -> None:
    from memstack.engine.tree import loader

    path = tmp_path / "0001_x.py"
    path.write_text('revision = "abc"\ndown_revision = None\n\n\ndef upgrade() -> None:\n    pass\n\n\n' + ending)
    assert loader.parse_revision_file(path).irreversible is irreversible
