"""Helpers for the safety tests: locks, crashes, failures, checksums, conflicts, history, check.

Everything here talks to real databases, real files and real processes; nothing is mocked.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbfixtures import write_pyproject
from enginehelpers import LABELS, MANAGE_PY, REV, VENV_BIN  # noqa: F401  (re-exported)
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from memstack.cli import main
from memstack.core.settings import DEFAULT_COMPONENTS

BOOKKEEPING_TABLES = {"memstack_history", "memstack_applied", "memstack_marks", "memstack_tags", "memstack_meta"}
#: the contract's JSON vocabulary for one history event
HISTORY_KEYS = {"component", "revision", "name", "number", "direction", "event", "success", "started_at",
                "duration_ms", "checksum", "user", "host"}


# --------------------------------------------------------------------------- running commands


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Result(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-3000:]!r})"


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, url: str | None,
        *args: str) -> Result:
    """``manage.py --project-dir P [--database-url U] ARGS`` in-process, through the real error boundary,
    with no terminal on stdin (confirmations refuse)."""
    argv = ["--project-dir", str(project)]
    if url is not None:
        argv += ["--database-url", url]
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    capsys.readouterr()
    with pytest.raises(SystemExit) as excinfo:
        main([*argv, *args])
    out, err = capsys.readouterr()
    code = excinfo.value.code
    return Result(code if isinstance(code, int) else (1 if code else 0), out, err)


def subprocess_env(url: str | None = None, pythonpath: Sequence[Path] = (), **extra: str) -> dict[str, str]:
    """The current environment without memstack's variables, plus ``MEMSTACK_DATABASE_URL`` and PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("MEMSTACK_") or k in ("DATABASE_URL", "NO_COLOR", "PYTHONPATH")
                   or k.startswith("POSTGRES_"))}
    if url is not None:
        env["MEMSTACK_DATABASE_URL"] = url
    paths = [str(p) for p in pythonpath]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def manage_argv(project: Path, *args: str, url: str | None = None) -> list[str]:
    argv = [sys.executable, str(MANAGE_PY), "--project-dir", str(project)]
    if url is not None:
        argv += ["--database-url", url]
    return [*argv, *args]


def manage(project: Path, url: str | None, *args: str, pythonpath: Sequence[Path] = (), timeout: float = 120,
           env_url: str | None = None, **extra_env: str) -> Result:
    """``python manage.py --project-dir P [--database-url U] ARGS`` in a subprocess (cwd = the project)."""
    proc = subprocess.run(manage_argv(project, *args, url=url), cwd=project,
                          env=subprocess_env(env_url, pythonpath, **extra_env), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def spawn_manage(project: Path, url: str | None, *args: str, pythonpath: Sequence[Path] = (),
                 **extra_env: str) -> subprocess.Popen[str]:
    """Start ``manage.py ARGS`` in the background (stdout/stderr piped)."""
    return subprocess.Popen(manage_argv(project, *args, url=url), cwd=project,
                            env=subprocess_env(None, pythonpath, **extra_env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def alembic(project: Path, url: str, *args: str, pythonpath: Sequence[Path] = (), **extra_env: str) -> Result:
    """The plain ``alembic`` command, run from the project folder with ``MEMSTACK_DATABASE_URL``."""
    proc = subprocess.run([str(VENV_BIN / "alembic"), *args], cwd=project,
                          env=subprocess_env(url, pythonpath, **extra_env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def wait_for(predicate: Callable[[], bool], timeout: float = 30, what: str = "condition",
             proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- database state


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres" if url.startswith("postgres") else "mariadb"


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def execute(url: str, *statements: str, params: dict[str, Any] | None = None) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement), params or {})
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    """Every table, memstack's own and ``alembic_version`` included."""
    with connect(url) as connection:
        return set(inspect(connection).get_table_names())


def app_tables(url: str) -> set[str]:
    return {t for t in tables(url) if not t.startswith("memstack_") and t != "alembic_version"}


def columns(url: str, table: str) -> set[str]:
    with connect(url) as connection:
        return {c["name"] for c in inspect(connection).get_columns(table)}


def query(url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    with connect(url) as connection:
        return [dict(row) for row in connection.execute(text(sql), params).mappings()]


def version_rows(url: str) -> set[str]:
    if "alembic_version" not in tables(url):
        return set()
    return {r["version_num"] for r in query(url, "SELECT version_num FROM alembic_version")}


def insert_version_row(url: str, value: str) -> None:
    """Add a row to ``alembic_version`` (creating the table in Alembic's layout when missing)."""
    statements = []
    if "alembic_version" not in tables(url):
        statements.append("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))")
    execute(url, *statements, "INSERT INTO alembic_version (version_num) VALUES (:v)", params={"v": value})


def history_rows(url: str) -> list[dict[str, Any]]:
    if "memstack_history" not in tables(url):
        return []
    return query(url, "SELECT * FROM memstack_history ORDER BY id")


def applied_rows(url: str) -> dict[str, dict[str, Any]]:
    if "memstack_applied" not in tables(url):
        return {}
    return {r["revision"]: r for r in query(url, "SELECT * FROM memstack_applied")}


def marks(url: str) -> list[dict[str, Any]]:
    if "memstack_marks" not in tables(url):
        return []
    return query(url, "SELECT * FROM memstack_marks")


def snapshot(url: str) -> dict[str, Any]:
    """Everything a refused command must leave as it was: tables with their columns, version rows,
    history, applied records (checksums) and marks."""
    names = tables(url)
    return {
        "tables": {t: sorted(columns(url, t)) for t in sorted(names)},
        "version_rows": version_rows(url),
        "history": [(r["id"], r["event"], r["revision"], bool(r["success"])) for r in history_rows(url)],
        "applied": {k: (v["checksum"], bool(v["verified"])) for k, v in applied_rows(url).items()},
        "marks": [(m["revision"], m["state"]) for m in marks(url)],
    }


def history_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, url: str,
                 *args: str) -> list[dict[str, Any]]:
    result = cli(capsys, monkeypatch, project, url, "history", "--json", *args)
    assert result.code == 0, result
    return json.loads(result.out)


# --------------------------------------------------------------------------- revision files


def new_id() -> str:
    """A revision id in memstack's form: 12 lowercase hex characters starting with a letter."""
    return secrets.choice("abcdef") + secrets.token_hex(6)[:11]


REVISION_TEMPLATE = '''"""{message}"""

import os
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {branch_labels!r}
depends_on = {depends_on!r}


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def indent(body: str) -> str:
    lines = body.strip("\n").splitlines() or ["pass"]
    return "\n".join("    " + line if line.strip() else "" for line in lines)


def write_revision(folder: Path, name: str, revision: str, down: str | tuple[str, ...] | None, *,
                   upgrade: str = "pass", downgrade: str = "pass", depends_on: str | tuple[str, ...] | None = None,
                   branch_labels: tuple[str, ...] | None = None, message: str | None = None) -> Path:
    """Write ``folder/<name>.py`` by hand (the way a developer would)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(REVISION_TEMPLATE.format(
        message=message or name, revision=revision, down=down, branch_labels=branch_labels, depends_on=depends_on,
        upgrade=indent(upgrade), downgrade=indent(downgrade)), encoding="utf-8")
    return path


def create_table(name: str) -> str:
    return f'op.create_table({name!r}, sa.Column("id", sa.Integer(), primary_key=True))'


@dataclass
class Chain:
    """A component of the test's own with a linear chain of hand-written revisions."""

    package: str
    label: str
    folder: Path
    ids: list[str]
    names: list[str]
    packages_dir: Path

    def path(self, number: int) -> Path:
        return self.folder / f"{self.names[number - 1]}.py"

    def table(self, number: int) -> str:
        return f"{self.label}_t{number}"


def package_dir(package: str) -> Path:
    """The folder holding ``package`` (for PYTHONPATH of subprocesses)."""
    module = importlib.import_module(package)
    return Path(module.__file__).resolve().parent.parent  # type: ignore[arg-type]


def chain_component(make_component: Callable[..., str], project: Path, count: int, *,
                    bodies: dict[int, str] | None = None, prefix: str = "chain",
                    components: Sequence[str] = ()) -> Chain:
    """A component with ``count`` revisions; revision N creates table ``<label>_tN`` (then runs
    ``bodies[N]`` if given, with ``{label}`` replaced). The project is configured with ``components``
    plus this one."""
    package = make_component({}, prefix=prefix)
    label = package
    folder = project / "migrations" / label
    ids = [new_id() for _ in range(count)]
    names = [f"{n:04d}_step{n}" for n in range(1, count + 1)]
    for index in range(count):
        number = index + 1
        table = f"{label}_t{number}"
        upgrade = create_table(table) + "\n" + ((bodies or {}).get(number) or "").replace("{label}", label)
        write_revision(folder, names[index], ids[index], ids[index - 1] if index else None,
                       upgrade=upgrade, downgrade=f"op.drop_table({table!r})",
                       branch_labels=(label,) if index == 0 else None)
    write_pyproject(project, [*components, package])
    return Chain(package, label, folder, ids, names, package_dir(package))


def use_components(project: Path, *extra: str, base: Sequence[str] = DEFAULT_COMPONENTS) -> None:
    write_pyproject(project, [*base, *extra])


def add_alembic_table(project: Path) -> None:
    """Write ``[tool.alembic]`` in step with the configured components (what makemigrations does)."""
    from memstack.engine.alembic_config import sync_alembic_config
    from memstack.engine.workspace import Workspace

    ws = Workspace.load(project_dir=project, database_url="sqlite://")
    sync_alembic_config(ws.registry, ws.settings.pyproject_path)
