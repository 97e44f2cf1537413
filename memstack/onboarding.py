"""From clone to working database (``onboard``), and a readable health report (``doctor``)."""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from memstack.core.errors import MemstackError
from memstack.core.settings import Settings, mask_url

DRIVERS = {"postgresql": ("psycopg", "pip install 'psycopg[binary]'"),
           "mysql": ("pymysql", "pip install -e '.[mysql]'"),
           "sqlite": ("sqlite3", "use a Python built with sqlite3")}


def _admin_url(url: str) -> tuple[str, str, str]:
    """(server URL for maintenance work, database name, backend)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(database="postgres").render_as_string(hide_password=False), parsed.database or "", backend
    # URL.set(database=None) leaves the database as it is; only URL.create drops it
    server = URL.create(parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port,
                        query=parsed.query)
    return server.render_as_string(hide_password=False), parsed.database or "", backend


def database_exists(url: str) -> bool:
    from memstack.core.db import create_engine

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return not parsed.database or parsed.database == ":memory:" or Path(parsed.database).is_file()
    admin, name, _ = _admin_url(url)
    engine = create_engine(admin)
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                query = text("SELECT 1 FROM pg_database WHERE datname = :n")
            else:
                query = text("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :n")
            return connection.execute(query, {"n": name}).first() is not None
    finally:
        engine.dispose()


def ensure_database(url: str) -> bool:
    """Create the database when it does not exist; True when it was created."""
    from memstack.core.db import create_engine

    if database_exists(url):
        return False
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        assert parsed.database
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        with engine.connect():
            pass  # connecting creates the file
        engine.dispose()
        return True
    admin, name, _ = _admin_url(url)
    if not name:
        raise MemstackError(f"the database URL {mask_url(url)} names no database", hint="add /<database> to it")
    quoted = f'"{name}"' if backend == "postgresql" else f"`{name}`"
    suffix = " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" if backend != "postgresql" else ""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {quoted}{suffix}"))
    except Exception as exc:
        raise MemstackError(f"cannot create database {name!r} on {mask_url(admin)}: {exc}",
                            hint="create it by hand, or give the user the right to create databases") from exc
    finally:
        engine.dispose()
    return True


# --------------------------------------------------------------------------- doctor


@dataclass(frozen=True)
class Finding:
    item: str
    status: str  # ok | warning | error
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def doctor(settings: Settings) -> list[Finding]:
    """Each health item with its status and, when something needs action, the fix."""
    from memstack.core.components import build_registry
    from memstack.engine.workspace import Workspace

    url = settings.database_url
    findings = [Finding("configuration", "ok", f"project {settings.project_dir}; database {mask_url(url)} "
                        f"(from {settings.sources.get('database_url', '?')})")]
    backend = make_url(url).get_backend_name()
    module, install = DRIVERS.get(backend, (backend, ""))
    try:
        importlib.import_module(module)
        findings.append(Finding("driver", "ok", f"{module} is installed"))
    except ImportError:
        findings.append(Finding("driver", "error", f"the {module} driver is not installed", install))
        return findings
    try:
        exists = database_exists(url)
    except Exception as exc:
        findings.append(Finding("server", "error", f"cannot reach the server: {str(exc).splitlines()[0]}",
                                "start the database server, or fix the URL (host, port, user, password)"))
        return findings
    if not exists:
        findings.append(Finding("database", "error", f"database {make_url(url).database} does not exist",
                                "manage.py onboard (creates and migrates it)"))
        return findings
    registry = build_registry(settings)
    with Workspace(settings=settings, registry=registry) as ws:
        try:
            with ws.engine.connect() as connection:
                version = connection.execute(text(
                    "SELECT sqlite_version()" if backend == "sqlite" else "SELECT version()")).scalar()
            findings.append(Finding("server", "ok", f"reachable; {backend} {str(version).split(' on ')[0]}"))
        except Exception as exc:
            findings.append(Finding("server", "error", f"cannot connect: {str(exc).splitlines()[0]}",
                                    "check the URL's user and password, and that the server accepts connections"))
            return findings
        from memstack.engine.checks import run_checks

        problems = run_checks(ws, database=True, models=False)
        by_kind: dict[str, list[Any]] = {}
        for problem in problems:
            by_kind.setdefault(problem.kind, []).append(problem)
        names = {"graph": "revision files", "multiple_heads": "heads", "alembic_config": "[tool.alembic]",
                 "pending": "pending revisions", "checksum_drift": "checksums", "failure_mark": "failure marks",
                 "unknown_revisions": "unknown revisions", "lock_held": "lock", "unverified_checksum": "checksums"}
        for kind, label in names.items():
            for problem in by_kind.get(kind, []):
                status = "warning" if problem.severity == "warning" else "error"
                findings.append(Finding(label, status, problem.message, problem.fix))
        findings.insert(3, Finding("database", "ok", f"{make_url(url).database or '(in memory)'} exists"))
        for kind, label, ok_text in (("graph", "revision files", "every link points to a revision; no cycle"),
                                     ("alembic_config", "[tool.alembic]", "lists every component's folder"),
                                     ("unknown_revisions", "unknown revisions", "none: the code knows every "
                                      "revision the database records"),
                                     ("pending", "pending revisions", "every component is at its head"),
                                     ("multiple_heads", "heads", "one head per component"),
                                     ("checksum_drift", "checksums", "applied files are unchanged"),
                                     ("failure_mark", "failure marks", "none"),
                                     ("lock_held", "lock", "free")):
            if kind not in by_kind:
                findings.append(Finding(label, "ok", ok_text))
    return findings


# --------------------------------------------------------------------------- onboard


@dataclass
class OnboardResult:
    created_database: bool
    applied: list[str]
    seed: Any | None  # memstack.seed.SeedResult, when seeding ran


def onboard(settings: Settings, *, seed: bool = True, progress: Any = None, on_wait: Any = None) -> OnboardResult:
    """Check the configuration, create the database if needed, migrate every component, seed.

    A second run changes nothing.
    """
    from memstack.core.components import build_registry
    from memstack.engine.migrate import RunOptions, migrate
    from memstack.engine.workspace import Workspace

    registry = build_registry(settings)
    with Workspace(settings=settings, registry=registry) as ws:
        ws.graph.validate()
        for label in registry.labels:
            ws.graph.head(label)
        created = ensure_database(settings.database_url)
        results = migrate(ws, options=RunOptions(progress=progress, on_wait=on_wait))
    seeded = None
    if seed:
        from memstack.seed import seed as run_seed

        seeded = run_seed(settings)
    return OnboardResult(created, [r.step.revision.label for r in results], seeded)
