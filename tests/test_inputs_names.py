"""Names as a whole surface (issue 24; strategies in ``support/strategies/names.py``): component
names, revision messages and tag names are used or refused by name, and a refusal writes nothing:
neither files nor the ``pyproject.toml`` edit, nor a row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from support.inputs import assert_clean_outcome, files_digest, run_inprocess, scaled
from support.inspect import full_snapshot
from support.projects import make_project
from support.strategies.names import COMPONENT_NAMES, MESSAGES, TAG_NAMES


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("inputs-names") / "template")


def _fresh(template: Path) -> Path:
    copy = template.parent / "project"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(template, copy)
    return copy


@given(name=COMPONENT_NAMES)
@example(name="w" * 70)  # found: files and the pyproject.toml edit left behind by a refused label
@example(name="w" * 300)  # found: unexpected OSError (file name too long)
def test_startcomponent_any_name(template: Path, name: str) -> None:
    project = _fresh(template)
    before = files_digest(project)
    result = run_inprocess(project, ["startcomponent", name, "--package-dir", "."])
    assert_clean_outcome(result, ("name", "component", repr(name)[:20], "option"))  # (-x: click's usage error)
    if result.code == 0:
        assert (project / name / "models.py").is_file() and name in (project / "pyproject.toml").read_text()
    else:
        assert files_digest(project) == before, result


@given(message=MESSAGES)
@settings(max_examples=scaled(1 / 3))  # each example builds a scratch database (2-5 s on a loaded machine)
@example(message='"""')  # found: a revision that is not valid Python (the docstring ended early)
@example(message="w" * 300)
@example(message="\x00")
def test_makemigrations_any_message(template: Path, message: str) -> None:
    project = _fresh(template)
    before = files_digest(project)
    result = run_inprocess(project, ["--database-url", "sqlite://", "makemigrations", "memo", "--empty",
                                     "-m", message])
    assert_clean_outcome(result, ("message", "memo", "revision"))
    if result.code == 0:  # one new revision, which loads
        added = set(files_digest(project)) - set(before)
        assert any(path.startswith("migrations/memo/0002_") for path in added), result
        assert run_inprocess(project, ["--database-url", "sqlite://", "showmigrations", "memo"]).code == 0
    else:
        assert files_digest(project) == before, result


@given(name=TAG_NAMES)
@example(name="a" * 129)  # longer than memstack_tags.name
@example(name="-")  # found (long profile): saved, then never deleted by the test (flaky)
@example(name="-00")  # found (long profile): click reads it as options -0 -0 and names the first
def test_tag_any_name(template: Path, migrated_sqlite_url_module: str, name: str) -> None:
    before = full_snapshot(migrated_sqlite_url_module)
    result = run_inprocess(template, ["--database-url", migrated_sqlite_url_module, "tag", name])
    as_option = name[:2] if name.startswith("-") and not name.startswith("--") else ""  # `tag -- NAME` is the way
    assert_clean_outcome(result, ("tag", "name", name.strip(), as_option))
    if result.code == 0 and not name.startswith("--"):  # (--list is an option, not a name)
        listed = run_inprocess(template, ["--database-url", migrated_sqlite_url_module, "tag", "--list"])
        assert name.strip() in listed.out, listed
        assert run_inprocess(template, ["--database-url", migrated_sqlite_url_module, "tag",
                                        f"--delete={name}"]).code == 0
    elif result.code:
        assert full_snapshot(migrated_sqlite_url_module) == before, result


@pytest.fixture(scope="module")
def migrated_sqlite_url_module(tmp_path_factory: pytest.TempPathFactory, _migrated_sqlite_template: Path) -> str:
    path = tmp_path_factory.mktemp("inputs-tags") / "tags.db"
    shutil.copyfile(_migrated_sqlite_template, path)
    return f"sqlite:///{path}"
