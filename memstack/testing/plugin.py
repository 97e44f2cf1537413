"""The pytest plugin (entry point ``memstack``): options, scratch databases and the runner fixture.

Inert until used: it adds options and fixtures, never tests. A project turns the built-in
checks on with one line in a test module (``from memstack.testing.builtin import *``) and
writes its own migration tests with the ``memstack_migrations`` fixture. The project's
revision files are read once per session (``memstack_workspace``); every test gets the same
loaded tree pointed at its own throw-away database.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

DEFAULT_URLS = ("sqlite://",)
WORKSPACE_KEY = pytest.StashKey[Any]()
URLS_HELP = ("database server URL the migration tests run on, once per URL (repeatable; default sqlite://, "
             "a temporary file). Each test creates its own database on that server and drops it after; the "
             "user needs CREATE DATABASE. E.g. postgresql://postgres@localhost/postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("memstack", "memstack migration tests")
    group.addoption("--memstack-db-url", action="append", dest="memstack_db_urls", metavar="URL", help=URLS_HELP)
    group.addoption("--memstack-project-dir", dest="memstack_project_dir", metavar="DIR",
                    help="the memstack project whose migrations are tested (default: the pytest rootdir)")
    parser.addini("memstack_database_urls", URLS_HELP, type="linelist", default=[])
    parser.addini("memstack_project_dir", "the memstack project whose migrations are tested (default: rootdir)")
    parser.addini("memstack_skip_unreachable", "skip, rather than fail, migration tests whose database server "
                  "cannot be reached (MEMSTACK_REQUIRE_SERVERS=1 makes them fail anyway)", type="bool", default=False)


def database_urls(config: pytest.Config, module: Any = None) -> list[str]:
    """Where the migration tests run: a test module's ``memstack_database_urls``, the option, the ini, sqlite."""
    chosen = getattr(module, "memstack_database_urls", None) if module is not None else None
    urls = chosen or config.getoption("memstack_db_urls") or config.getini("memstack_database_urls")
    return list(urls) or list(DEFAULT_URLS)


def _dialect_id(url: str) -> str:
    from sqlalchemy.engine import make_url  # lazy: the plugin loads in every pytest run

    return make_url(url).get_backend_name()


def project_dir(config: pytest.Config) -> Path:
    given = config.getoption("memstack_project_dir") or config.getini("memstack_project_dir")
    return (config.rootpath / given).resolve() if given else config.rootpath


def _session_workspace(config: pytest.Config) -> Any:
    """One loaded workspace per session: settings, components and revision tree read once."""
    from memstack.engine.workspace import Workspace  # lazy: the plugin loads in every pytest run

    if WORKSPACE_KEY not in config.stash:
        config.stash[WORKSPACE_KEY] = Workspace.load(project_dir(config))
    return config.stash[WORKSPACE_KEY]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One run per configured database for tests that use a scratch database; one per component where asked."""
    if "memstack_server_url" in metafunc.fixturenames:
        urls = database_urls(metafunc.config, metafunc.module)
        metafunc.parametrize("memstack_server_url", urls, ids=[_dialect_id(u) for u in urls])
    if "memstack_component" in metafunc.fixturenames:
        labels = _session_workspace(metafunc.config).registry.labels
        metafunc.parametrize("memstack_component", labels, ids=labels)


@pytest.fixture(scope="session")
def memstack_workspace(pytestconfig: pytest.Config) -> Any:
    """The project's :class:`~memstack.engine.workspace.Workspace`, its revision files read once."""
    ws = _session_workspace(pytestconfig)
    ws.tree  # noqa: B018  -- read the files now, once, not in the first test's timing
    return ws


def _skip_unreachable(request: pytest.FixtureRequest) -> bool:
    if os.environ.get("MEMSTACK_REQUIRE_SERVERS", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    chosen = getattr(request.module, "memstack_skip_unreachable", None)
    return bool(request.config.getini("memstack_skip_unreachable") if chosen is None else chosen)


@pytest.fixture
def memstack_scratch_workspace(request: pytest.FixtureRequest, memstack_workspace: Any,
                               memstack_server_url: str) -> Iterator[Any]:
    """The session's workspace pointed at a new, empty database on ``memstack_server_url`` (dropped after)."""
    with open_scratch(request, memstack_workspace, memstack_server_url) as ws:
        yield ws


@contextmanager
def open_scratch(request: pytest.FixtureRequest, workspace: Any, server_url: str) -> Iterator[Any]:
    """A scratch workspace on ``server_url``; an unreachable server skips the test when the project asked so."""
    from memstack.core.errors import MemstackError  # lazy: the plugin loads in every pytest run
    from memstack.testing.scratch import scratch_workspace  # lazy: the plugin loads in every pytest run

    scratch = scratch_workspace(workspace, server_url)
    try:
        ws = scratch.__enter__()
    except MemstackError as exc:
        if _skip_unreachable(request):
            pytest.skip(f"no scratch database: {exc.message}")
        raise
    try:
        yield ws
    finally:
        scratch.__exit__(None, None, None)


@pytest.fixture
def memstack_migrations(memstack_scratch_workspace: Any) -> Any:
    """A :class:`~memstack.testing.runner.MigrationRunner` on a new, empty database, once per configured URL."""
    from memstack.testing.runner import MigrationRunner  # lazy: the plugin loads in every pytest run

    return MigrationRunner(memstack_scratch_workspace)


@pytest.fixture
def memstack_data_migrations() -> list[Any]:
    """Override in a conftest: the :class:`~memstack.testing.checks.DataMigration` cases to check."""
    return []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A module's ``memstack_expected_failures`` ({test name: reason}) marks known problems strict xfail."""
    for item in items:
        known = getattr(getattr(item, "module", None), "memstack_expected_failures", None)
        if known and item.name in known:
            item.add_marker(pytest.mark.xfail(reason=known[item.name], strict=True))
