"""``migrate --plan`` from the database's real state: exactly the steps a real run then takes
(compared with its steps and history), with why each is included: cascades and dependencies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.inspect import full_snapshot as snapshot
from support.inspect import history_rows, table_names
from support.preview import plan_json, setup_state, step_keys
from support.projects import MEMORY_LINKS_MODELS, set_components
from support.running import call, cli, ok

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
