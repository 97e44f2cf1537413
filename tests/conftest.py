"""Shared fixtures: throw-away databases on all three backends, and minimal project roots.

* ``sqlite_url`` -- ``sqlite:///<tmp_path>/test.db``
* ``postgres_url`` / ``mariadb_url`` -- a fresh database ``memstack_t_<hex>`` on the server,
  dropped afterwards; skipped when the server is unreachable (failed when
  ``MEMSTACK_REQUIRE_SERVERS=1``). See ``support/databases.py`` for the server URLs.
* ``db_url`` -- one test per backend: ids ``sqlite``, ``postgres``, ``mariadb``
  (marked ``postgres`` / ``mariadb``, so ``-m "not mariadb"`` deselects them).
* ``db_url_no_mariadb`` -- ``sqlite`` and ``postgres`` only.
* ``migrated_sqlite_url`` -- ``sqlite_url`` already migrated to every head: a copy of a template
  file migrated once per test session (per xdist worker), for tests whose subject is not migrate.
* ``migrated_postgres_url`` -- the same on PostgreSQL: ``CREATE DATABASE ... TEMPLATE`` of a database
  migrated once per session (per worker); ``migrated_mariadb_url`` migrates for real (no templates).
* ``migrated_db_url`` / ``migrated_db_url_no_mariadb`` -- ``db_url`` / ``db_url_no_mariadb`` at every head.
* ``project`` -- a minimal project root (pyproject.toml with the seven components, copies of
  ``migrations/`` and ``templates/``); pass it as ``--project-dir`` / ``project_dir=``.
* ``make_component`` -- a factory writing a uniquely named importable package (a component
  of your own: models, commands); its tables and modules are forgotten after the test.

Every test runs with memstack's own environment variables (``MEMSTACK_*`` but the test
settings, ``DATABASE_URL``, ``POSTGRES_*``, ``NO_COLOR``) removed, so a developer's shell
cannot change results; set them in the test with ``monkeypatch.setenv`` when needed.
"""

from __future__ import annotations

import compileall
import importlib
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url
from support.databases import close_sessions, sqlite_url_for, temporary_database
from support.projects import make_project, write_package
from support.running import migrate

from memstack.core.settings import DEFAULT_COMPONENTS

# Hypothesis (the input surfaces, tests/test_inputs_*.py): a few examples per surface in the normal
# suite; `pytest --hypothesis-profile=long tests/test_inputs_*.py` tries many more (README: Testing inputs).
# No deadline: one example runs a whole command, and the machine's load varies.
_HYPOTHESIS_COMMON = {"deadline": None, "print_blob": True, "database": None,
                      "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                HealthCheck.differing_executors]}
settings.register_profile("memstack", max_examples=12, **_HYPOTHESIS_COMMON)
settings.register_profile("long", max_examples=250, **_HYPOTHESIS_COMMON)
settings.load_profile("memstack")  # (--hypothesis-profile NAME, read after this file, wins)

_KEPT_ENV = ("MEMSTACK_TEST_", "MEMSTACK_REQUIRE_SERVERS")
_CLEARED_ENV = ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER",
                "POSTGRES_PASSWORD", "NO_COLOR")


def _clear_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if (name.startswith("MEMSTACK_") and not name.startswith(_KEPT_ENV)) or name in _CLEARED_ENV:
            monkeypatch.delenv(name, raising=False)
    # migrate's comparison of the models with the revisions (a scratch build per new project) is
    # off but where a test turns it on (tests/test_django_habits.py): every test has its own project
    monkeypatch.setenv("MEMSTACK_MODEL_CHECK", "0")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_environment(monkeypatch)


@pytest.fixture(autouse=True)
def _forget_seen_passwords() -> Iterator[None]:
    """The passwords redaction has seen are kept per process (``redact`` scrubs them from errors): a
    test's URLs (a Hypothesis password ``postgres``) must not garble the next test's messages."""
    from memstack.core import redaction

    seen = set(redaction._known_secrets)
    yield
    redaction._known_secrets.clear()
    redaction._known_secrets.update(seen)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """``sqlite:///<tmp_path>/test.db`` (the file does not exist yet)."""
    return sqlite_url_for(tmp_path)


@pytest.fixture(scope="session")
def _migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to every head of the committed tree, built once per session."""
    root = tmp_path_factory.mktemp("migrated-template")
    with pytest.MonkeyPatch.context() as monkeypatch:
        _clear_environment(monkeypatch)
        migrate(make_project(root / "project"), sqlite_url_for(root))
    return root / "test.db"


@pytest.fixture
def migrated_sqlite_url(sqlite_url: str, tmp_path: Path, _migrated_sqlite_template: Path) -> str:
    """``sqlite_url`` with every head applied (a copy of the session's template, not a migrate run)."""
    shutil.copyfile(_migrated_sqlite_template, tmp_path / "test.db")
    return sqlite_url


@pytest.fixture(scope="session")
def _migrated_postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The name of a PostgreSQL database migrated to every head, built once per session (per worker)."""
    root = tmp_path_factory.mktemp("migrated-postgres-template")
    with temporary_database("postgres") as url:
        with pytest.MonkeyPatch.context() as monkeypatch:
            _clear_environment(monkeypatch)
            migrate(make_project(root / "project"), url)
        close_sessions(url)  # CREATE DATABASE ... TEMPLATE needs it without sessions
        yield str(make_url(url).database)


@pytest.fixture
def migrated_postgres_url(_migrated_postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database with every head applied (a copy of the session's template), dropped after."""
    with temporary_database("postgres", template=_migrated_postgres_template) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (``postgresql+psycopg://...``), dropped after the test."""
    with temporary_database("postgres") as url:
        yield url


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh MariaDB database, utf8mb4 (``mysql+pymysql://...``), dropped after the test."""
    with temporary_database("mariadb") as url:
        yield url


_SQLITE = pytest.param("sqlite", id="sqlite")
_POSTGRES = pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)
_MARIADB = pytest.param("mariadb", id="mariadb", marks=pytest.mark.mariadb)


@pytest.fixture(params=[_SQLITE, _POSTGRES, _MARIADB])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per backend."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(params=[_SQLITE, _POSTGRES])
def db_url_no_mariadb(request: pytest.FixtureRequest) -> str:
    """Like ``db_url``, on SQLite and PostgreSQL only."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def migrated_mariadb_url(mariadb_url: str, tmp_path: Path) -> str:
    """``mariadb_url`` with every head applied (a real migrate: MariaDB has no database templates)."""
    migrate(make_project(tmp_path / "migrated-by"), mariadb_url)
    return mariadb_url


@pytest.fixture(params=[_SQLITE, _POSTGRES, _MARIADB])
def migrated_db_url(request: pytest.FixtureRequest) -> str:
    """Like ``db_url``, with every head already applied: for tests whose subject is not that first migrate."""
    return request.getfixturevalue(f"migrated_{request.param}_url")


@pytest.fixture(params=[_SQLITE, _POSTGRES])
def migrated_db_url_no_mariadb(request: pytest.FixtureRequest) -> str:
    """Like ``migrated_db_url``, on SQLite and PostgreSQL only."""
    return request.getfixturevalue(f"migrated_{request.param}_url")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A minimal project root under ``tmp_path``; use it with ``--project-dir`` / ``project_dir=``."""
    return make_project(tmp_path / "project")


MakeComponent = Callable[..., str]


@pytest.fixture
def make_component(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeComponent]:
    """``make_component(files, prefix="comp") -> package name``: a new top-level package.

    ``files`` maps relative paths to source (``{"models.py": ..., "commands/hello.py": ...}``).
    The name is unique (``<prefix>_<hex>``), so nothing is ever served from ``sys.modules``.
    Models must use ``memstack.core.db.Base``; after the test, the tables the test added to
    ``memstack.core.db.metadata`` are removed again and the package's modules are unloaded.
    """
    from memstack.core.db import metadata

    for package in DEFAULT_COMPONENTS:  # so that only the test's own tables count as new
        importlib.import_module(f"{package}.models")
    tables_before = set(metadata.tables)
    folder = tmp_path / "packages"
    folder.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(folder))
    made: list[str] = []

    def factory(files: dict[str, str] | None = None, prefix: str = "comp") -> str:
        name = f"{prefix}_{secrets.token_hex(4)}"
        write_package(folder, name, files)
        importlib.invalidate_caches()
        made.append(name)
        return name

    yield factory

    for key in set(metadata.tables) - tables_before:
        metadata.remove(metadata.tables[key])
    for module in list(sys.modules):
        if any(module == name or module.startswith(name + ".") for name in made):
            del sys.modules[module]


def pytest_configure(config: pytest.Config) -> None:
    """Byte-compile memstack's own package once, in the controller, before any test starts.

    Under ``PYTHONDONTWRITEBYTECODE`` (set in some shells and containers) no ``__pycache__`` is ever
    written, so every ``manage.py`` / ``alembic`` subprocess the tests start compiled all of memstack
    from source again (about 0.4 s of CPU each, hundreds of times a run). The subprocesses still only
    *read* bytecode: only memstack's source, which no test edits, gets a cache; a test's own revision
    files (edited in place, same size within the same second) are never cached.
    """
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        import memstack

        compileall.compile_dir(Path(memstack.__file__).parent, quiet=2, workers=1)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Ctrl-C reaches the processes tests start, however this run was started: a shell starting pytest
    in the background (``cmd &``) leaves SIGINT ignored, which every child would inherit (a caught
    signal is reset to the default in an exec'd child; an ignored one stays ignored), and a runner
    may start it with SIGINT blocked (the mask survives exec too: CI's run of stop 28 failed so).
    The children tests send signals to also reset both themselves (support.running)."""
    import signal

    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow fault tests (``slow_faults``: a killed private server, ...) run only when asked for
    by ``-m slow_faults``; ``.ci/run`` runs them as a second step after the normal suite."""
    if "slow_faults" in (config.option.markexpr or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow_faults") is not None]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow_faults") is None]
