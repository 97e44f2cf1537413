"""pytest-alembic's built-in tests, with the real package, on memstack's branched tree.

Its plugin's auto-collected tests break collection on pytest 9 (its ``TestCollector`` sets
``_nodeid``), so ``addopts`` disables the plugin and this module uses its fixture and test
functions directly. ``test_single_head_revision`` is not run: every component is its own
Alembic branch, so the tree has one head per component by design; memstack checks instead
that each component has exactly one head (``manage.py check``, ``test_one_head_per_component``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import alembic.config
import pytest
from pytest_alembic import tests as builtin
from pytest_alembic.plugin.fixtures import alembic_runner
from pytest_alembic.runner import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from support.projects import LABELS, add_alembic_config
from support.revisions import load_graph

__all__ = ["alembic_runner"]  # the fixture, registered in this module by its import


@pytest.fixture
def alembic_config(project: Path) -> alembic.config.Config:
    """The project's own ``[tool.alembic]``: pytest-alembic runs our ``migrations/env.py``."""
    add_alembic_config(project)
    config = alembic.config.Config(toml_file=str(project / "pyproject.toml"))
    config.attributes["project_dir"] = str(project)
    return config


@pytest.fixture
def alembic_engine(db_url_no_mariadb: str) -> Iterator[Engine]:
    engine = create_engine(db_url_no_mariadb, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def test_builtin_upgrade(alembic_runner: MigrationContext) -> None:
    builtin.test_upgrade(alembic_runner)


def test_builtin_model_definitions_match_ddl(alembic_runner: MigrationContext) -> None:
    builtin.test_model_definitions_match_ddl(alembic_runner)


def test_builtin_up_down_consistency(alembic_runner: MigrationContext) -> None:
    builtin.test_up_down_consistency(alembic_runner)


def test_one_head_per_component(project: Path) -> None:
    """What replaces ``test_single_head_revision`` on a branched tree."""
    graph = load_graph(project)
    assert all(len(graph.heads(label)) == 1 for label in LABELS)



def test_builtin_tests_on_a_squashed_tree_after_cleanup(project: Path, tmp_path: Path) -> None:
    """task 0001..0005 squashed (issue 26). pytest-alembic steps through every revision its history
    reads from the files without env.py, replaced ones included, which a new database's tree does not
    have: its built-in tests run once ``--cleanup`` removed them (docs/squashing.md says so)."""
    from pytest_alembic import Config
    from pytest_alembic.plugin.fixtures import runner
    from support.databases import sqlite_url_for
    from support.running import call, migrate

    call(project, None, "squashmigrations", "task", "0005", samples=0)
    past = sqlite_url_for(tmp_path, "past.db")
    migrate(project, past)
    call(project, None, "squashmigrations", "task", cleanup=True, database_url=(past,))
    add_alembic_config(project)
    config = alembic.config.Config(toml_file=str(project / "pyproject.toml"))
    config.attributes["project_dir"] = str(project)
    for name, test in (("up.db", builtin.test_upgrade), ("updown.db", builtin.test_up_down_consistency)):
        engine = create_engine(sqlite_url_for(tmp_path, name), poolclass=NullPool)
        try:
            with runner(config=Config.from_raw_config(config), engine=engine) as context:
                test(context)
        finally:
            engine.dispose()
