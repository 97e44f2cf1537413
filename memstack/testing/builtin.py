"""The built-in migration tests; a project turns them all on with one line in a test module::

    from memstack.testing.builtin import *  # noqa: F403

Each runs once per configured database (``--memstack-db-url``, ini ``memstack_database_urls``
or the module's ``memstack_database_urls``; SQLite by default), on a database of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from memstack.testing import checks
from memstack.testing.plugin import open_scratch

__all__ = [
    "test_memstack_data_migrations",
    "test_memstack_downgrades_leave_no_trace",
    "test_memstack_models_match_migrations",
    "test_memstack_single_head_per_component",
    "test_memstack_up_down_up",
    "test_memstack_upgrades_alone_from_empty",
]


def test_memstack_single_head_per_component(memstack_workspace: Any) -> None:
    checks.check_single_head(memstack_workspace)


def test_memstack_upgrades_alone_from_empty(memstack_scratch_workspace: Any, memstack_component: str) -> None:
    checks.check_upgrades_alone(memstack_scratch_workspace, memstack_component)


def test_memstack_models_match_migrations(memstack_scratch_workspace: Any) -> None:
    checks.check_models_match(memstack_scratch_workspace)


def test_memstack_up_down_up(memstack_scratch_workspace: Any) -> None:
    checks.check_up_down_up(memstack_scratch_workspace)


def test_memstack_downgrades_leave_no_trace(memstack_scratch_workspace: Any) -> None:
    checks.check_downgrades_leave_no_trace(memstack_scratch_workspace)


def test_memstack_data_migrations(request: pytest.FixtureRequest, memstack_workspace: Any,
                                  memstack_server_url: str, memstack_data_migrations: list[Any]) -> None:
    """Each declared :class:`~memstack.testing.checks.DataMigration`, on a database of its own."""
    if not memstack_data_migrations:
        pytest.skip("no data migrations declared (override the memstack_data_migrations fixture)")
    for case in memstack_data_migrations:
        with open_scratch(request, memstack_workspace, memstack_server_url) as ws:
            checks.check_data_migration(ws, case)
