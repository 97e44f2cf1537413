"""Every setting in the chain (pyproject ``[tool.memstack]``, ``.env``, environment), as a whole
surface (issue 24; strategies in ``support/strategies/settings.py``): any value in any place is either
used or refused by name, never the catch-all, and nothing is changed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from support.inputs import assert_clean_outcome, files_digest, run_inprocess
from support.inspect import snapshot
from support.projects import make_project
from support.strategies.settings import BROKEN_DOTENVS, BROKEN_PYPROJECTS, dotenv_line, one_setting, toml_line

PYPROJECT_HEAD = '[project]\nname = "memstack-inputs"\nversion = "0"\n\n[tool.memstack]\n'


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("inputs-settings")
    project = make_project(root / "project")
    shutil.copyfile(_migrated_sqlite_template, root / "inputs.db")
    return project, f"sqlite:///{root / 'inputs.db'}"


def _configure(project: Path, name: str, place: str, value: Any) -> dict[str, str]:
    """Write the setting into its place; returns the environment to run with."""
    (project / ".env").unlink(missing_ok=True)
    body = toml_line(name, value) + "\n" if place == "pyproject" else ""
    (project / "pyproject.toml").write_text(PYPROJECT_HEAD + body, encoding="utf-8")
    if place == "dotenv":
        (project / ".env").write_text(dotenv_line(name, value) + "\n", encoding="utf-8")
    return {f"MEMSTACK_{name.upper()}": value} if place == "environment" else {}


@given(setting=one_setting())
@example(setting=("lock_timeout", "pyproject", "nan"))
@example(setting=("tcp_keepalives", "pyproject", [1, "x"]))
@example(setting=("components", "pyproject", {"package": 1}))
@example(setting=("statement_timeout", "environment", "1e999"))
def test_any_setting_in_any_place(world: tuple[Path, str], setting: tuple[str, str, Any]) -> None:
    project, url = world
    name, place, value = setting
    env = _configure(project, name, place, value)
    if name != "database_url":  # the URL itself is test_inputs_urls.py's surface
        env["MEMSTACK_DATABASE_URL"] = url
    before_files, before_db = files_digest(project), snapshot(url)
    result = run_inprocess(project, ["migrate", "--plan"], env)
    assert_clean_outcome(result, (name, name.upper(), "database", "url", "component", "pyproject", ".env"))
    assert files_digest(project) == before_files
    assert snapshot(url) == before_db


@given(pyproject=BROKEN_PYPROJECTS)
@example(pyproject=b"[tool.memstack]\n# caf\xe9\nlock_timeout = 60\n")  # found: unexpected UnicodeDecodeError
def test_a_broken_pyproject(world: tuple[Path, str], pyproject: bytes) -> None:
    project, url = world
    (project / ".env").unlink(missing_ok=True)
    (project / "pyproject.toml").write_bytes(pyproject)
    before_files = files_digest(project)
    result = run_inprocess(project, ["migrate", "--plan"], {"MEMSTACK_DATABASE_URL": url})
    assert_clean_outcome(result, ("pyproject", "component", "memstack project", "package", "label", "migrations"))
    assert files_digest(project) == before_files


@given(dotenv=BROKEN_DOTENVS)
@example(dotenv=b"MEMSTACK_LOCK_TIMEOUT=caf\xe9\n")  # found: unexpected UnicodeDecodeError
def test_a_broken_dotenv(world: tuple[Path, str], dotenv: bytes) -> None:
    project, url = world
    (project / "pyproject.toml").write_text(PYPROJECT_HEAD, encoding="utf-8")
    (project / ".env").write_bytes(dotenv)
    before_files, before_db = files_digest(project), snapshot(url)
    result = run_inprocess(project, ["migrate", "--plan"], {"MEMSTACK_DATABASE_URL": url})
    assert_clean_outcome(result, (".env", "lock_timeout"))
    assert files_digest(project) == before_files
    assert snapshot(url) == before_db
