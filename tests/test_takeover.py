"""``manage.py takeover``: a generated 110-revision plain-Alembic project (a merge, named
constraints, ``-x`` arguments, ``op.get_context()``), half-migrated by plain Alembic on
PostgreSQL, then taken over: no stamp, and the schema equals the one plain Alembic builds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.databases import temporary_database
from support.foreign import write_foreign_project
from support.inspect import version_rows
from support.projects import MANAGE_PY, add_alembic_config
from support.running import VENV_BIN, run

from memstack.engine.adopt.takeover import plan_takeover, read_alembic_project, slug_for
from memstack.engine.errors import TakeoverError
from memstack.engine.tree.loader import parse_revision_file

COUNT = 110
LABEL = "legacy"


def _plain_alembic(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([VENV_BIN / "alembic", "-c", root / "alembic.ini", "-x", "label=foo", *args], cwd=root)


def _manage(project: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, MANAGE_PY, *args], cwd=project, url=url, PYTHONPATH=str(project))


def _schema(url: str) -> str:
    """``pg_dump -s`` of the application tables (memstack's own and alembic_version left out)."""
    parsed = make_url(url)
    dumped = subprocess.run(
        ["pg_dump", "-s", "--no-owner", "--no-privileges", "-T", "memstack_*", "-T", "alembic_version",
         "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
         parsed.database or ""], capture_output=True, text=True, check=True)
    return "\n".join(line for line in dumped.stdout.splitlines()
                     if line and not line.startswith(("--", "\\restrict", "\\unrestrict", "SET ", "SELECT pg_catalog")))


# --------------------------------------------------------------------------- pure: reading and planning


def test_plan_keeps_ids_and_bytes(tmp_path: Path) -> None:
    ids = write_foreign_project(tmp_path / "foreign", "sqlite://", count=COUNT)
    project = read_alembic_project(tmp_path / "foreign")
    assert project.version_locations == [(tmp_path / "foreign" / "alembic" / "versions").resolve()]
    plan = plan_takeover(tmp_path / "foreign", LABEL, tmp_path / "out")
    assert [f.revision for f in plan.files][:50] == ids[:50]
    assert {f.revision for f in plan.files} == set(ids)
    assert plan.merges == 1 and plan.heads == [ids[-1]]
    assert all(re.fullmatch(r"\d{4,}_[a-z0-9_]+\.py", f.target.name) for f in plan.files)
    assert plan.files[0].target.name == "0001_create_f_001.py"
    edited = [f for f in plan.files if f.edited]
    assert [f.revision for f in edited] == [ids[0]]  # only the root: its label became the component's
    assert "branch_labels = ('legacy',)" in edited[0].text
    for taken in plan.files[1:]:
        assert taken.text == taken.source.read_text()


def test_slug_and_refusals(tmp_path: Path) -> None:
    assert slug_for(Path("ae1027a6acf_add_users.py"), "ae1027a6acf") == "add_users"
    assert slug_for(Path("2024_01_02_1200-ae10_Add Users.py"), "zz") == "ae10_add_users"
    with pytest.raises(TakeoverError, match="not an Alembic project"):
        read_alembic_project(tmp_path)
    write_foreign_project(tmp_path / "foreign", "sqlite://", count=3)
    with pytest.raises(TakeoverError, match="not a Python identifier"):
        plan_takeover(tmp_path / "foreign", "bad-label", tmp_path / "out")


def test_root_without_branch_labels_line_gets_one(tmp_path: Path) -> None:
    write_foreign_project(tmp_path / "foreign", "sqlite://", count=2)
    root = next((tmp_path / "foreign" / "alembic" / "versions").glob("*_create_f_001.py"))
    root.write_text(re.sub(r"^branch_labels = .*\n", "", root.read_text(), flags=re.MULTILINE))
    plan = plan_takeover(tmp_path / "foreign", LABEL, tmp_path / "out")
    target = tmp_path / "root.py"
    target.write_text(plan.files[0].text)
    assert parse_revision_file(target).branch_labels == (LABEL,)


# --------------------------------------------------------------------------- the whole way, on PostgreSQL


@pytest.mark.postgres
def test_takeover_of_half_migrated_database(project: Path, postgres_url: str, tmp_path: Path) -> None:
    add_alembic_config(project)
    ids = write_foreign_project(tmp_path / "foreign", postgres_url, count=COUNT)
    half = _plain_alembic(tmp_path / "foreign", "upgrade", ids[64])  # 1..50 and the branch 61..65
    assert half.returncode == 0, half.stderr
    assert version_rows(postgres_url) == {ids[64]}

    took = _manage(project, postgres_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL,
                   "--package", "legacy_app")
    assert took.returncode == 0, took.stderr
    assert "no models yet" in took.stderr
    assert (project / "legacy_app" / "__init__.py").is_file()
    assert f'"%(here)s/migrations/{LABEL}"' in (project / "pyproject.toml").read_text()

    shown = _manage(project, postgres_url, "showmigrations", LABEL)
    assert shown.returncode == 0, shown.stderr
    assert (shown.stdout.count("[X]"), shown.stdout.count("[ ]")) == (55, COUNT - 55)

    migrated = _manage(project, postgres_url, "migrate", LABEL)
    assert migrated.returncode == 0, migrated.stderr
    history = _manage(project, postgres_url, "history", LABEL)
    assert history.returncode == 0 and history.stdout.count("apply") >= COUNT - 55, history.stderr
    back = _manage(project, postgres_url, "rollback", LABEL, "--steps", "3", "--yes")
    assert back.returncode == 0, back.stderr
    again = _manage(project, postgres_url, "migrate", LABEL)
    assert again.returncode == 0, again.stderr
    sql = _manage(project, postgres_url, "sqlmigrate", LABEL, f"{COUNT:04d}")
    assert sql.returncode == 0 and f"CREATE TABLE f_{COUNT:03d}" in sql.stdout, sql.stderr

    with temporary_database("postgres") as reference:
        write_foreign_project(tmp_path / "reference", reference, count=COUNT)
        for path in (tmp_path / "foreign" / "alembic" / "versions").glob("*.py"):  # the same ids and files
            (tmp_path / "reference" / "alembic" / "versions" / path.name).write_bytes(path.read_bytes())
        for stale in (tmp_path / "reference" / "alembic" / "versions").glob("*.py"):
            if not (tmp_path / "foreign" / "alembic" / "versions" / stale.name).exists():
                stale.unlink()
        built = _plain_alembic(tmp_path / "reference", "upgrade", "heads")
        assert built.returncode == 0, built.stderr
        schema = _schema(postgres_url)
        assert f"CREATE TABLE public.f_{COUNT:03d}" in schema and "fk_f_071_parent" in schema
        assert schema == _schema(reference)


@pytest.mark.postgres
def test_migrate_runs_revision_reading_x_arguments(project: Path, postgres_url: str, tmp_path: Path) -> None:
    add_alembic_config(project)
    ids = write_foreign_project(tmp_path / "foreign", postgres_url, count=25)
    assert _plain_alembic(tmp_path / "foreign", "upgrade", ids[15]).returncode == 0
    took = _manage(project, postgres_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL,
                   "--package", "legacy_app")
    assert took.returncode == 0, took.stderr
    migrated = _manage(project, postgres_url, "migrate", LABEL)  # applies revision 20, which reads -x
    assert migrated.returncode == 0, migrated.stderr


def test_component_without_models_is_never_diffed_into_drops(project: Path, sqlite_url: str, tmp_path: Path) -> None:
    """Revisions 1..10 (none reads ``-x``: the scratch build runs every revision through the executor)."""
    add_alembic_config(project)
    write_foreign_project(tmp_path / "foreign", sqlite_url, count=10)
    took = _manage(project, sqlite_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL,
                   "--package", "legacy_app")
    assert took.returncode == 0, took.stderr
    made = _manage(project, sqlite_url, "makemigrations", "--check")
    assert made.returncode == 0, made.stderr
    assert f"component {LABEL!r} has no models" in made.stderr and "models.py" in made.stderr
    checked = _manage(project, sqlite_url, "check", "--json")
    assert checked.returncode == 0, checked.stderr
    assert '"no_models"' in checked.stdout and "drop" not in checked.stdout
    dry = _manage(project, sqlite_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL)
    assert dry.returncode != 0 and "already exists" in dry.stderr


def test_dry_run_writes_nothing_and_plain_alembic_runs_x_revisions(project: Path, sqlite_url: str,
                                                                   tmp_path: Path) -> None:
    """After a takeover, ``alembic -x label=...`` (through memstack's env.py) runs the revision reading it."""
    add_alembic_config(project)
    ids = write_foreign_project(tmp_path / "foreign", sqlite_url, count=25)
    assert _plain_alembic(tmp_path / "foreign", "upgrade", ids[15]).returncode == 0
    before = (project / "pyproject.toml").read_text()
    dry = _manage(project, sqlite_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL, "--dry-run",
                  "-v", "2")
    assert dry.returncode == 0, dry.stderr
    assert "0001_create_f_001.py (branch label set)" in dry.stderr
    assert not (project / "migrations" / LABEL).exists() and (project / "pyproject.toml").read_text() == before

    took = _manage(project, sqlite_url, "takeover", str(tmp_path / "foreign"), "--component", LABEL,
                   "--package", "legacy_app")
    assert took.returncode == 0, took.stderr
    upgraded = run([VENV_BIN / "alembic", "-x", "label=bar", "upgrade", f"{LABEL}@head"], cwd=project,
                   url=sqlite_url, PYTHONPATH=os.pathsep.join([str(project), str(MANAGE_PY.parent)]))  # this checkout
    assert upgraded.returncode == 0, upgraded.stderr
    assert version_rows(sqlite_url) == {ids[-1]}
    shown = _manage(project, sqlite_url, "showmigrations", LABEL)
    assert shown.stdout.count("[X]") == 25, shown.stderr
