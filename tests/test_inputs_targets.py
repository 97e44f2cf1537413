"""TARGET strings and ``--targets`` lists as surfaces (issue 24; strategies in
``support/strategies/targets.py``): a target is found, or refused listing what it could mean; nothing
is changed by a refusal, and ``--plan`` changes nothing at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support.inputs import assert_clean_outcome, run_inprocess
from support.inspect import full_snapshot
from support.projects import make_project
from support.strategies.targets import COMPONENTS, TARGET_LISTS, TARGETS


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("inputs-targets")
    shutil.copyfile(_migrated_sqlite_template, root / "inputs.db")
    return make_project(root / "project"), f"sqlite:///{root / 'inputs.db'}"


@given(component=COMPONENTS, target=TARGETS, command=st.sampled_from(
    [("migrate", "--plan"), ("sqlmigrate",), ("stamp",), ("showmigrations",)]))  # (at the heads: a stamp is
# a no-op or a backwards step, refused without a terminal)
@example(component="memo", target="99999999999999999999", command=("migrate", "--plan"))
@example(component="task", target="e", command=("migrate", "--plan"))  # ambiguous: the candidates listed
def test_any_target(world: tuple[Path, str], component: str, target: str, command: tuple[str, ...]) -> None:
    project, url = world
    before = full_snapshot(url)
    argv = [command[0], component, *([target] if command[0] != "showmigrations" else []), *command[1:]]
    result = run_inprocess(project, ["--database-url", url, *argv])
    assert_clean_outcome(result, ("target", "component", "revision", target.strip() or "target", component or "x",
                                  "zero", "argument", "option"))
    assert full_snapshot(url) == before, result


@given(text=TARGET_LISTS, command=st.sampled_from([("showmigrations", "--json"), ("check",)]))
@example(text="sqlite:///{data}/no/such/folder/t.db", command=("check",))  # a typo never creates a database
@example(text="\ufeffsqlite://\n# a comment\n\n", command=("showmigrations", "--json"))
def test_targets_lists(world: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory, text: str,
                       command: tuple[str, ...]) -> None:
    """``--targets FILE`` (issue 23): whatever the file holds, a report or one error line, never a
    traceback; no database is created or changed by reading the targets' state."""
    project, url = world
    data = Path(url.removeprefix("sqlite:///")).parent
    listing = tmp_path_factory.mktemp("targets") / "targets.txt"
    listing.write_text(text.replace("{data}", str(data)), encoding="utf-8")
    before, files = full_snapshot(url), sorted(data.rglob("*"))
    result = run_inprocess(project, ["--database-url", url, command[0], "--targets", str(listing), *command[1:]])
    assert result.code in (0, 1, 2), result
    assert "Traceback" not in result.err and "error: unexpected" not in result.err, result
    assert sum(line.startswith(("error:", "Error:")) for line in result.err.splitlines()) <= 1, result
    assert full_snapshot(url) == before and sorted(data.rglob("*")) == files, result
