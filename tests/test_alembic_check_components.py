"""Plain ``alembic check`` / autogenerate through memstack's env.py compares each component with its
own models only: a component taken over without models is never compared (its tables are not
"removed"), tables nobody owns and bookkeeping tables are ignored, and a component with models
is still compared (issue 22 point 3). The real ``alembic`` binary, SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from support.databases import execute
from support.foreign import write_foreign_project
from support.projects import REPO_ROOT, add_alembic_config, set_components, write_package
from support.running import alembic, manage

from memstack.alembic_env import include_object


def test_taken_over_tables_are_never_proposed_for_removal(project: Path, tmp_path: Path,
                                                          db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    add_alembic_config(project)
    write_foreign_project(tmp_path / "foreign", url, count=5)
    took = manage(project, url, "takeover", str(tmp_path / "foreign"), "--component", "legacy",
                  "--package", "legacy_app", pythonpath=[project])
    assert took.code == 0, took.err
    migrated = manage(project, url, "migrate", pythonpath=[project])
    assert migrated.code == 0, migrated.err
    execute(url, "CREATE TABLE stray_cache (id INTEGER PRIMARY KEY)")  # nobody's table

    checked = alembic(project, url, "check", pythonpath=[REPO_ROOT, project])  # this checkout's memstack
    assert checked.code == 0, checked.out + checked.err
    assert "No new upgrade operations detected" in checked.out
    assert "f_001" not in checked.out + checked.err and "memstack_" not in checked.out + checked.err

    # a component with models is still compared, against its own models
    write_package(project, "shelf", {"models.py": (
        "from sqlalchemy import Integer\nfrom sqlalchemy.orm import Mapped, mapped_column\n"
        "from memstack.core.db import Base\n\n\nclass Shelf(Base):\n    __tablename__ = 'shelves'\n"
        "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n")})
    (project / "migrations" / "shelf").mkdir()
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.replace(
        '{package = "legacy_app", label = "legacy"}', '{package = "legacy_app", label = "legacy"}, "shelf"'))
    checked = alembic(project, url, "check", pythonpath=[REPO_ROOT, project])  # this checkout's memstack
    assert checked.code != 0
    assert "shelves" in checked.out + checked.err and "f_001" not in checked.out + checked.err


def test_include_object_for_a_projects_own_env_py() -> None:
    for name in ("memstack_history", "memstack_applied", "alembic_version"):
        assert include_object(None, name, "table", True, None) is False
    assert include_object(None, "orders", "table", True, None) is True
    assert include_object(None, "memstack_history", "column", True, None) is True


def _shelf_models(title_type: str) -> str:
    return ("from sqlalchemy import Integer, String\nfrom sqlalchemy.orm import Mapped, mapped_column\n"
            "from memstack.core.db import Base\n\n\nclass Shelf(Base):\n    __tablename__ = 'shelves'\n"
            "    id: Mapped[int] = mapped_column(Integer, primary_key=True)\n"
            f"    title: Mapped[str] = mapped_column({title_type})\n")


def test_plain_alembic_check_compares_with_each_components_hook_options(project: Path, sqlite_url: str) -> None:
    """A component whose environment hook sets ``compare_type = False`` (and whose include_object leaves
    a table out): plain ``alembic check`` agrees with ``manage.py check``, component by component."""
    write_package(project, "shelf", {"models.py": _shelf_models("String(50)")})
    (project / "migrations" / "shelf").mkdir()
    set_components(project, "shelf")
    add_alembic_config(project)
    for step in (("makemigrations", "shelf"), ("migrate",)):
        done = manage(project, sqlite_url, *step, pythonpath=[project])
        assert done.code == 0, done.err
    (project / "shelf" / "models.py").write_text(_shelf_models("String(80)"))  # a type change only
    checked = alembic(project, sqlite_url, "check", pythonpath=[REPO_ROOT, project])
    assert checked.code != 0 and "shelves" in checked.out + checked.err  # no hook: the change is found

    (project / "shelf" / "memstack_env.py").write_text(
        "def setup(env):\n    env.options['compare_type'] = False\n")
    for run in (alembic(project, sqlite_url, "check", pythonpath=[REPO_ROOT, project]),
                manage(project, sqlite_url, "check", pythonpath=[project])):
        assert run.code == 0, run.out + run.err

    (project / "shelf" / "models.py").write_text(_shelf_models("String(80)") + "    extra: Mapped[int | None]\n")
    (project / "shelf" / "memstack_env.py").write_text(
        "def setup(env):\n    env.options['compare_type'] = False\n"
        "    env.options['include_object'] = lambda obj, name, type_, reflected, compare_to: name != 'extra'\n")
    for run in (alembic(project, sqlite_url, "check", pythonpath=[REPO_ROOT, project]),
                manage(project, sqlite_url, "check", pythonpath=[project])):
        assert run.code == 0, run.out + run.err
