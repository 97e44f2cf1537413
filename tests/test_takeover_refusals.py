"""``takeover`` refuses, saying what to change, the projects it cannot take over faithfully:
several root revisions (a component's label can name one root only) and version rows kept in a
table other than ``alembic_version``. A refusal writes nothing and leaves the database alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.foreign import add_second_root, write_foreign_project
from support.inspect import snapshot, tables
from support.projects import add_alembic_config
from support.running import VENV_BIN, cli, run

from memstack.engine.adopt.takeover import plan_takeover
from memstack.engine.errors import TakeoverError

LABEL = "legacy"


def _env_py(root: Path) -> Path:
    return root / "alembic" / "env.py"


def _configure_with(root: Path, arguments: str) -> None:
    """Add ``arguments`` to both ``context.configure`` calls of the foreign env.py."""
    env = _env_py(root)
    text = env.read_text(encoding="utf-8")
    text = text.replace("literal_binds=True)", f"literal_binds=True, {arguments})")
    text = text.replace("context.configure(connection=connection)", f"context.configure(connection=connection, "
                                                                     f"{arguments})")
    env.write_text(text, encoding="utf-8")


def _refused(tmp_path: Path, *needles: str) -> TakeoverError:
    with pytest.raises(TakeoverError) as refused:
        plan_takeover(tmp_path / "foreign", LABEL, tmp_path / "out")
    for needle in needles:
        assert needle in str(refused.value), (needle, str(refused.value))
    assert refused.value.hint
    return refused.value


# --------------------------------------------------------------------------- several roots


@pytest.mark.parametrize("merged", [False, True], ids=["apart", "merged"])
def test_several_roots_refused(tmp_path: Path, merged: bool) -> None:
    ids = write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    second = add_second_root(tmp_path / "foreign", ids, merged=merged)
    error = _refused(tmp_path, "2 root revisions", f"{ids[0]} ({ids[0]}_create_f_001.py)",
                     f"{second} ({second}_second_root.py)")
    assert "down_revision" in (error.hint or "") and "own component" in (error.hint or "")
    assert not (tmp_path / "out").exists()


def test_one_root_with_branches_still_taken(tmp_path: Path) -> None:
    ids = write_foreign_project(tmp_path / "foreign", "sqlite://", count=75)  # branches 51..60, 61..70, merge 71
    plan = plan_takeover(tmp_path / "foreign", LABEL, tmp_path / "out")
    assert [f.revision for f in plan.files if f.edited] == [ids[0]]


# --------------------------------------------------------------------------- custom version table


@pytest.mark.parametrize(("arguments", "needle"), [
    ("version_table='legacy_versions'", "version_table='legacy_versions'"),
    ('version_table_schema="audit"', 'version_table_schema="audit"'),
    ("version_table=VERSION_TABLE", "version_table=VERSION_TABLE"),  # not a literal: cannot tell, so refuse
])
def test_custom_version_table_in_env_py_refused(tmp_path: Path, arguments: str, needle: str) -> None:
    write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    _configure_with(tmp_path / "foreign", arguments)
    line = next(n for n, text in enumerate(_env_py(tmp_path / "foreign").read_text().splitlines(), start=1)
                if needle in text)
    error = _refused(tmp_path, needle, f"env.py:{line}", "'alembic_version'", "look unmigrated")
    assert "rename that table to alembic_version" in (error.hint or "")


def test_version_table_from_alembic_ini_refused(tmp_path: Path) -> None:
    write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    ini = tmp_path / "foreign" / "alembic.ini"
    ini.write_text(ini.read_text() + "version_table = legacy_versions\n")
    _configure_with(tmp_path / "foreign", 'version_table=config.get_main_option("version_table")')
    _refused(tmp_path, "version_table=legacy_versions", "alembic.ini")


def test_version_table_from_pyproject_refused(tmp_path: Path) -> None:
    write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    (tmp_path / "foreign" / "alembic.ini").unlink()
    (tmp_path / "foreign" / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/alembic"\nversion_table = "legacy_versions"\n')
    _refused(tmp_path, "version_table=legacy_versions", "pyproject.toml")


@pytest.mark.parametrize("arguments", [
    "version_table='alembic_version'",
    'version_table=config.get_main_option("version_table")',  # read from alembic.ini, which does not set it
])
def test_default_version_table_taken(tmp_path: Path, arguments: str) -> None:
    ids = write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    _configure_with(tmp_path / "foreign", arguments)
    assert [f.revision for f in plan_takeover(tmp_path / "foreign", LABEL, tmp_path / "out").files] == ids


# --------------------------------------------------------------------------- through the command


def test_refusals_through_the_command_change_nothing(project: Path, db_url_no_mariadb: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A database plain Alembic migrated into its own version table: refused, nothing written anywhere."""
    url = db_url_no_mariadb
    add_alembic_config(project)
    foreign = tmp_path / "foreign"
    ids = write_foreign_project(foreign, url, count=3)
    _configure_with(foreign, "version_table='legacy_versions'")
    upgraded = run([VENV_BIN / "alembic", "-c", foreign / "alembic.ini", "upgrade", "head"], cwd=foreign)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "legacy_versions" in tables(url) and "alembic_version" not in tables(url)
    before_db, before_toml = snapshot(url), (project / "pyproject.toml").read_text()

    refused = cli(capsys, monkeypatch, project, url, "takeover", str(foreign), "--component", LABEL)
    assert refused.code == 1, refused
    assert refused.err.count("error: ") == 1 and "  fix: " in refused.err and "Traceback" not in refused.err
    assert "version_table='legacy_versions'" in refused.err and "rename that table" in refused.err

    add_second_root(foreign, ids, merged=True)  # both problems: the version table is named first
    refused = cli(capsys, monkeypatch, project, url, "takeover", str(foreign), "--component", LABEL)
    assert refused.code == 1, refused
    assert re.search(r"error: .*version_table='legacy_versions'", refused.err), refused.err

    env = _env_py(foreign)
    env.write_text(env.read_text().replace(", version_table='legacy_versions'", ""))
    refused = cli(capsys, monkeypatch, project, url, "takeover", str(foreign), "--component", LABEL)
    assert refused.code == 1, refused
    assert "2 root revisions" in refused.err and "  fix: " in refused.err, refused.err

    assert not (project / "migrations" / LABEL).exists()
    assert (project / "pyproject.toml").read_text() == before_toml
    assert snapshot(url) == before_db
