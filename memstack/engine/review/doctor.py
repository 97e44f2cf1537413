"""``doctor``: a readable health report, each item with its status and, when needed, its fix.

Configuration, driver, server and version, whether the database exists, then what
:mod:`memstack.engine.review.checks` finds in it (pending revisions, heads, checksums, failure
marks, unknown revisions, the lock holder). Fixes are structured (:class:`Fix`); the front
end spells their commands.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url

from memstack.core.components import build_registry
from memstack.core.db import connection_reason, database_exists
from memstack.core.errors import MemstackError
from memstack.core.settings import Settings, mask_url
from memstack.engine.review.checks import Fix, Problem, run_checks
from memstack.engine.review.lockcheck import table_blockers
from memstack.engine.run.verify import invalid_indexes
from memstack.engine.workspace import Workspace

#: backend -> (driver module, how to install it)
DRIVERS = {"postgresql": ("psycopg", "pip install 'psycopg[binary]'"),
           "mysql": ("pymysql", "pip install -e '.[mysql]'"),
           "sqlite": ("sqlite3", "use a Python built with sqlite3")}

#: check kind -> (doctor item, what "ok" reads like), in report order
ITEMS: dict[str, tuple[str, str]] = {
    "graph": ("revision files", "every link points to a revision; no cycle"),
    "alembic_config": ("[tool.alembic]", "plain alembic can run it: env.py found, every component's folder listed"),
    "unknown_revisions": ("unknown revisions", "none: the code knows every revision the database records"),
    "pending": ("pending revisions", "every component is at its head"),
    "multiple_heads": ("heads", "one head per component"),
    "checksum_drift": ("checksums", "applied files are unchanged"),
    "failure_mark": ("failure marks", "none"),
    "lock_held": ("lock", "free"),
}
_REPORTED_AS = {**{kind: item for kind, (item, _) in ITEMS.items()}, "unverified_checksum": "checksums",
                "database": "database"}
_PROBLEM_ORDER = ("graph", "multiple_heads", "alembic_config", "pending", "checksum_drift", "failure_mark",
                  "unknown_revisions", "lock_held", "unverified_checksum", "database")


@dataclass(frozen=True)
class Finding:
    """One health item; ``cause`` is the domain error behind it, when there is one (its wording wins)."""
    item: str
    status: str  # ok | warning | error
    detail: str
    fix: Fix | None = None
    cause: MemstackError | None = None


def doctor(settings: Settings) -> list[Finding]:
    """Each health item with its status and, when something needs action, the fix."""
    url = settings.database_url
    findings = [Finding("configuration", "ok", f"project {settings.project_dir}; database {mask_url(url)} "
                        f"(from {settings.sources.get('database_url', '?')})")]
    backend = make_url(url).get_backend_name()
    module, install = DRIVERS.get(backend, (backend, ""))
    try:
        importlib.import_module(module)
        findings.append(Finding("driver", "ok", f"{module} is installed"))
    except ImportError:
        return [*findings, Finding("driver", "error", f"the {module} driver is not installed", Fix(install))]
    try:
        exists = database_exists(url)
    except Exception as exc:
        return [*findings, Finding("server", "error", f"cannot reach the server: {connection_reason(exc)}",
                                   Fix("start the database server, or fix the URL (host, port, user, password)"))]
    if not exists:
        return [*findings, Finding("database", "error", f"database {make_url(url).database} does not exist",
                                   Fix("{0} (creates and migrates it)", (("onboard",),)))]
    with _workspace(settings) as ws:
        server = _server(ws, backend)
        findings.append(server)
        if server.status == "error":
            return findings
        findings.append(Finding("database", "ok", f"{make_url(url).database or '(in memory)'} exists"))
        findings += _database_findings(run_checks(ws, database=True, models=False))
        findings.append(_table_locks(ws))
        if backend == "postgresql":
            findings += _invalid_indexes(ws)
    return findings


def _invalid_indexes(ws: Workspace) -> list[Finding]:
    """INVALID indexes (an interrupted ``CREATE INDEX CONCURRENTLY``): no query uses them, every write pays."""
    with ws.engine.connect() as connection:
        found = invalid_indexes(connection)
    if not found:
        return [Finding("indexes", "ok", "no INVALID index")]
    return [Finding("indexes", "error", f"{o.describe()}: an interrupted CREATE INDEX CONCURRENTLY left it; "
                    "queries do not use it and every write maintains it",
                    Fix(f"run {_braced(o.fix)} (outside a transaction), then build the index again (migrate does, "
                        "when its revision is not recorded as applied)")) for o in found]


def _table_locks(ws: Workspace) -> Finding:
    """Sessions holding the tables pending revisions would lock (the guard's pre-flight, ahead of time)."""
    try:
        tables, who = table_blockers(ws)
    except Exception as exc:  # a report item, never the report's end
        return Finding("table locks", "warning", f"could not read who holds the pending revisions' tables: {exc}")
    if not who:
        checked = f"no session holds {', '.join(tables)}" if tables else "no pending revision locks an existing table"
        return Finding("table locks", "ok", checked)
    return Finding("table locks", "warning",
                   f"pending revisions need {', '.join(tables)}; held now by " + "; ".join(b.describe() for b in who),
                   Fix("let those sessions finish, or migrate anyway: the guard retries and never keeps the "
                       "application waiting longer than ddl_lock_timeout (docs/applying.md, Timeouts and waiting)"))


def _workspace(settings: Settings) -> Workspace:
    return Workspace(settings=settings, registry=build_registry(settings))


def _server(ws: Workspace, backend: str) -> Finding:
    """Connect once and read the server's version."""
    try:
        with ws.engine.connect() as connection:
            version = connection.execute(text(
                "SELECT sqlite_version()" if backend == "sqlite" else "SELECT version()")).scalar()
    except Exception as exc:
        return Finding("server", "error", f"cannot connect: {connection_reason(exc)}",
                       Fix("check the URL's user and password, and that the server accepts connections"))
    return Finding("server", "ok", f"reachable; {backend} {str(version).split(' on ')[0]}")


def _database_findings(problems: list[Problem]) -> list[Finding]:
    """``check``'s problems as doctor items, then an ``ok`` item for each kind nothing was found for."""
    by_kind: dict[str, list[Problem]] = {}
    for problem in problems:
        by_kind.setdefault(problem.kind, []).append(problem)
    findings = []
    for kind in _PROBLEM_ORDER:
        for problem in by_kind.get(kind, []):
            status = "warning" if problem.severity == "warning" else "error"
            findings.append(Finding(_REPORTED_AS[kind], status, problem.message, problem.fix, problem.cause))
    for kind, (item, ok_text) in ITEMS.items():
        if kind not in by_kind:
            findings.append(Finding(item, "ok", ok_text))
    return findings



def _braced(statement: str) -> str:
    """``statement`` inside a :class:`Fix` advice, whose braces are placeholders."""
    return statement.replace("{", "{{").replace("}", "}}")
