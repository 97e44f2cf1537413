"""Helpers for the engine tests (migrate, makemigrations, showmigrations, sqlmigrate, alembic).

Everything here talks to real databases and real files; nothing is mocked.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dbfixtures import REPO_ROOT, write_pyproject
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from memstack import call_command
from memstack.cli import main
from memstack.core.settings import DEFAULT_COMPONENTS
from memstack.engine.loader import load_tree, parse_revision_file
from memstack.engine.workspace import Workspace

LABELS = ["auth", "tenant", "project", "memory", "ontology", "memo", "task"]
VENV_BIN = Path(sys.executable).parent
MANAGE_PY = REPO_ROOT / "manage.py"

#: the committed tree: (component, file stem) -> revision id
REV = {
    ("auth", "0001_initial"): "ef6ea33ea000",
    ("auth", "0002_add_user_roles_fk"): "ef933074fc96",
    ("tenant", "0001_initial"): "b2f0e85c0d3f",
    ("project", "0001_initial"): "e15b1783fbad",
    ("memory", "0001_initial"): "bd4e543ab2c4",
    ("memory", "0002_add_task_id"): "b5a40c3dcf72",
    ("ontology", "0001_initial"): "f2841aa6d0d7",
    ("memo", "0001_initial"): "bc9a7cdd598c",
    ("task", "0001_initial"): "aafcdf2005c9",
    ("task", "0002_add_progress"): "c24e8d933ed5",
    ("task", "0003_add_result"): "e414d0c673f0",
    ("task", "0004_add_message"): "e89f967a17b6",
    ("task", "0005_merge_legacy_task_columns"): "c7e7ea306d4c",
}
ALL_REVISIONS = set(REV)

#: the 16 application tables of the seven components
TABLES = {
    "users", "roles", "permissions", "role_permissions", "user_roles", "api_keys",  # auth
    "tenants", "user_tenants",  # tenant
    "projects", "user_projects",  # project
    "memories",  # memory
    "entity_types", "edge_types", "edge_type_maps",  # ontology
    "memos",  # memo
    "task_logs",  # task
}

#: ``  Applying memory 0002_add_task_id ... OK (3 ms)``
STEP_LINE = re.compile(
    r"^\s*(?P<verb>Applying|Unapplying) (?P<component>\w+) (?P<name>\d{4}_\w+) \.\.\. OK \((?P<ms>\d+) ms\)$"
)

# --------------------------------------------------------------------------- running commands


@dataclass
class Output:
    out: str
    err: str

    def steps(self) -> list[tuple[str, str, str]]:
        """(verb, component, name) of every step line on stderr, in order."""
        found = []
        for line in self.err.splitlines():
            match = STEP_LINE.match(line)
            if match:
                found.append((match["verb"], match["component"], match["name"]))
        return found


def call(project: Path, url: str | None, name: str, *args: Any, **options: Any) -> Output:
    """``call_command`` with captured streams; raises MemstackError like the library does."""
    out, err = io.StringIO(), io.StringIO()
    if url is not None:
        options["database_url"] = url
    call_command(name, *args, project_dir=str(project), stdout=out, stderr=err, **options)
    return Output(out.getvalue(), err.getvalue())


@dataclass
class Exit:
    code: int
    out: str
    err: str


class _Terminal(io.StringIO):
    """Typed answers on a stdin that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
             terminal_input: str | None = None) -> Exit:
    """``manage.py ARGS`` in-process through the real error boundary.

    stdin is not a terminal (confirmations refuse) unless ``terminal_input`` gives the typed answers.
    """
    stdin = io.StringIO("") if terminal_input is None else _Terminal(terminal_input)
    monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    with pytest.raises(SystemExit) as excinfo:
        main(list(args))
    out, err = capsys.readouterr()
    code = excinfo.value.code
    return Exit(code if isinstance(code, int) else (1 if code else 0), out, err)


def subprocess_env(url: str | None = None, **extra: str) -> dict[str, str]:
    """The current environment without memstack's variables, plus ``MEMSTACK_DATABASE_URL``."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("MEMSTACK_") or k in ("DATABASE_URL", "NO_COLOR") or k.startswith("POSTGRES_"))}
    if url is not None:
        env["MEMSTACK_DATABASE_URL"] = url
    env.update(extra)
    return env


def run(argv: Sequence[str | Path], cwd: Path, url: str | None = None, timeout: float = 120,
        **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run a program with no terminal on stdin; returns the finished process (never raises on status)."""
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=subprocess_env(url, **extra_env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)


def manage(project: Path, url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` run from the project root (which it finds by itself)."""
    return run([sys.executable, MANAGE_PY, *args], cwd=project, url=url)


def alembic(project: Path, url: str | None, *args: str, use_config_option: bool = False,
            cwd: Path | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """The plain ``alembic`` command, from the project root (or ``-c <project>/pyproject.toml``)."""
    argv: list[str | Path] = [VENV_BIN / "alembic"]
    if use_config_option:
        argv += ["-c", project / "pyproject.toml"]
    return run([*argv, *args], cwd=cwd or project, url=url, **extra_env)


# --------------------------------------------------------------------------- database state


@contextmanager
def connect(url: str) -> Iterator[Any]:
    engine: Engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def table_names(url: str, *, bookkeeping: bool = False) -> set[str]:
    """The database's tables; memstack's own ``memstack_*`` tables only with ``bookkeeping``."""
    with connect(url) as connection:
        names = set(inspect(connection).get_table_names())
    return names if bookkeeping else {n for n in names if not n.startswith("memstack_")}


def foreign_keys(url: str, table: str) -> set[tuple[str, str]]:
    """{(column, referred table)} of ``table``."""
    with connect(url) as connection:
        return {(fk["constrained_columns"][0], fk["referred_table"])
                for fk in inspect(connection).get_foreign_keys(table)}


def columns(url: str, table: str) -> set[str]:
    with connect(url) as connection:
        return {c["name"] for c in inspect(connection).get_columns(table)}


def version_rows(url: str) -> set[str]:
    with connect(url) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}


def insert_version_row(url: str, value: str) -> None:
    """Add a row to ``alembic_version`` (creating the table in Alembic's layout when missing)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            if not inspect(connection).has_table("alembic_version"):
                connection.execute(text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": value})
    finally:
        engine.dispose()


def execute(url: str, *statements: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def shown(project: Path, url: str, *components: str) -> dict[tuple[str, str], bool]:
    """``showmigrations --json``: {(component, name): applied}."""
    rows = json.loads(call(project, url, "showmigrations", *components, json=True).out)
    return {(row["component"], row["name"]): row["applied"] for row in rows}


def applied_set(project: Path, url: str) -> set[tuple[str, str]]:
    return {key for key, applied in shown(project, url).items() if applied}


# --------------------------------------------------------------------------- projects and files


def set_components(project: Path, *extra: str | dict[str, str], base: Sequence[str] = DEFAULT_COMPONENTS) -> None:
    """Rewrite the project's ``[tool.memstack] components``: the seven plus ``extra``."""
    write_pyproject(project, [*base, *extra])


ALEMBIC_TABLE = """
[tool.alembic]
script_location = "%(here)s/migrations"
version_locations = [
{locations}
]
"""


def add_alembic_config(project: Path, labels: Sequence[str] = LABELS) -> None:
    """Append the ``[tool.alembic]`` table the repository's pyproject.toml has (for the plain alembic command)."""
    locations = "\n".join(f'    "%(here)s/migrations/{label}",' for label in labels)
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(ALEMBIC_TABLE.format(locations=locations))


def remove_migration_folders(project: Path) -> None:
    """An empty migrations tree: every ``migrations/<label>/`` folder gone, env.py kept."""
    for folder in (project / "migrations").iterdir():
        if folder.is_dir():
            shutil.rmtree(folder)


def revision_files(project: Path, label: str) -> list[Path]:
    folder = project / "migrations" / label
    return sorted(folder.glob("[0-9]*.py")) if folder.is_dir() else []


def parsed(path: Path) -> Any:
    return parse_revision_file(path)


def ruff_check(paths: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """``ruff check`` with the repository's configuration (generated files must pass it)."""
    ruff = VENV_BIN / "ruff"
    return subprocess.run([str(ruff), "check", "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml"),
                           *map(str, paths)], capture_output=True, text=True, check=False, timeout=60)


def load_graph(project: Path) -> Any:
    ws = Workspace.load(project_dir=project, database_url="sqlite://")
    return load_tree(ws.registry).graph


def assert_minimal_links(graph: Any) -> None:
    """No depends_on entry is implied by the revision's down_revision or by another entry."""
    for rev in graph.revisions.values():
        for dep in rev.depends_on:
            others = [*rev.down_revisions, *(d for d in rev.depends_on if d != dep)]
            implied_by = [o for o in others if dep in graph.ancestors(o)]
            assert not implied_by, f"{rev.label}: depends_on {dep} is implied by {implied_by}"


MEMORY_LINKS_MODELS = '''
"""A component of a new user's: links between memories and users."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column


class MemoryLink(Base):
    __tablename__ = "memory_links"

    id: Mapped[str] = id_column()
    memory_id: Mapped[str] = fk("memories.id", nullable=False)
    user_id: Mapped[str] = fk("users.id", nullable=False)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
'''


def full_snapshot(url: str) -> dict[str, Any]:
    """Tables with their columns, and every row of ``alembic_version`` and memstack's own tables."""
    with connect(url) as connection:
        inspector = inspect(connection)
        names = sorted(inspector.get_table_names())
        result: dict[str, Any] = {"schema": {t: sorted(c["name"] for c in inspector.get_columns(t)) for t in names}}
        for name in names:
            if name == "alembic_version" or name.startswith("memstack_"):
                rows = connection.execute(text(f"SELECT * FROM {name}"))
                result[name] = sorted(tuple(str(v) for v in row) for row in rows)
    return result
