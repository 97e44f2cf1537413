"""``takeover`` reads a project's locations as Alembic does: ``script_location`` relative to the
working directory, ``%(here)s``, the package form ``pkg:migrations``; the argument may be the
ini file, its folder or the package. Each layout is first checked with the real ``alembic``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.projects import MANAGE_PY, add_alembic_config
from support.public_project import write_public_project
from support.running import VENV_BIN, run

from memstack.engine.adopt.takeover import TakeoverError, plan_takeover, read_alembic_project


def _alembic_heads(root: Path, cwd: Path) -> str:
    done = run([VENV_BIN / "alembic", "-c", root / "alembic.ini", "heads"], cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("script_location", ["shop/migrations", "%(here)s/shop/migrations", "shop:migrations"])
def test_locations_resolve_as_alembic_resolves_them(tmp_path: Path, script_location: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "app"
    ids = write_public_project(root, "sqlite://", script_location=script_location)
    assert ids[-1] in _alembic_heads(root, root)  # plain Alembic reads this layout, run from the root
    versions = (root / "shop" / "migrations" / "versions").resolve()
    monkeypatch.syspath_prepend(str(tmp_path))  # (restores sys.modules' view of the package afterwards)
    for argument in (root / "alembic.ini", root, "alembic.ini", "."):
        project = read_alembic_project(argument, cwd=root)
        assert project.version_locations == [versions], argument
    # from elsewhere, the ini (or its folder) named: relative paths fall back to the ini's folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for argument in (root / "alembic.ini", root, "../app"):
        assert read_alembic_project(argument, cwd=elsewhere).version_locations == [versions], argument
    plan = plan_takeover(root / "alembic.ini", "shop", tmp_path / "out", cwd=elsewhere)
    assert [f.revision for f in plan.files] == ids


def test_the_package_itself_is_an_argument(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_public_project(root, "sqlite://")
    versions = (root / "shop" / "migrations" / "versions").resolve()
    for argument in ("shop:migrations", "shop.migrations", "shop/migrations"):
        assert read_alembic_project(argument, cwd=root).version_locations == [versions], argument


def test_unresolvable_locations_name_what_was_set(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_public_project(root, "sqlite://", script_location="nowhere/migrations")
    with pytest.raises(TakeoverError) as caught:
        plan_takeover(root, "shop", tmp_path / "out", cwd=root)
    assert "script_location" in caught.value.message and "version_locations" not in (caught.value.hint or "")
    (root / "alembic.ini").write_text((root / "alembic.ini").read_text().replace(
        "script_location = nowhere/migrations", "script_location = nopkg:migrations"))
    with pytest.raises(TakeoverError, match="nopkg:migrations names a package"):
        read_alembic_project(root, cwd=root)
    with pytest.raises(TakeoverError, match="neither a file, a folder nor an importable package"):
        read_alembic_project("no_such_pkg:migrations", cwd=root)
    (root / "other.ini").write_text("[alembic]\nsqlalchemy.url = sqlite://\n")
    with pytest.raises(TakeoverError, match="has no script_location"):
        read_alembic_project(root / "other.ini", cwd=root)


def test_takeover_command_from_the_project_folder(project: Path, tmp_path: Path) -> None:
    """``manage.py takeover alembic.ini`` run where the project runs ``alembic`` (relative script_location)."""
    add_alembic_config(project)
    root = tmp_path / "app"
    ids = write_public_project(root, "sqlite://")
    took = run([sys.executable, MANAGE_PY, "--project-dir", project, "takeover", "alembic.ini", "--component", "shop",
                "--package", "shop", "--dry-run"], cwd=root, PYTHONPATH=f"{project}")
    assert took.returncode == 0, took.stderr
    assert f"{len(ids)} revisions" in took.stderr
