"""Project roots under ``tmp_path``: pyproject tables, copies of the repository's tree, component packages.

Everything writes real files; the tests then run the real commands on them.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from memstack.core.settings import DEFAULT_COMPONENTS

REPO_ROOT = Path(__file__).resolve().parents[2]
MANAGE_PY = REPO_ROOT / "manage.py"

#: the seven built-in components' labels, in configuration order
LABELS = ["auth", "tenant", "project", "memory", "ontology", "memo", "task"]

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

def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_pyproject(
    root: Path,
    components: Sequence[str | dict[str, str]] | None = DEFAULT_COMPONENTS,
    extra: str = "",
) -> Path:
    """Write ``root/pyproject.toml`` with a ``[tool.memstack]`` table.

    ``components`` entries are package names or tables (``{"package": ..., "label": ...}``);
    ``None`` leaves the key out (memstack's default list applies). ``extra`` is appended
    verbatim inside the table (``'database_url = "sqlite:///x.db"'``).
    """
    lines = ["[project]", 'name = "memstack-test-project"', 'version = "0"', "", "[tool.memstack]"]
    if components is not None:
        lines.append("components = [")
        for entry in components:
            if isinstance(entry, str):
                lines.append(f"    {_toml_string(entry)},")
            else:
                fields = ", ".join(f"{key} = {_toml_string(value)}" for key, value in entry.items())
                lines.append(f"    {{ {fields} }},")
        lines.append("]")
    if extra:
        lines.append(extra)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def make_project(
    root: Path,
    components: Sequence[str | dict[str, str]] | None = DEFAULT_COMPONENTS,
    extra: str = "",
    copy_folders: bool = True,
) -> Path:
    """A minimal project root at ``root``: pyproject.toml plus copies of the repo's
    ``migrations/`` and ``templates/`` (when they exist). Returns ``root``."""
    write_pyproject(root, components, extra)
    if copy_folders:
        for folder in ("migrations", "templates"):
            source = REPO_ROOT / folder
            if source.is_dir():
                shutil.copytree(source, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                                dirs_exist_ok=True)
    return root




def write_package(folder: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """Write package ``name`` (dotted names nest) under ``folder`` with ``files``
    (relative path -> source, e.g. ``{"models.py": ..., "commands/hello.py": ...}``).

    Every folder on the way gets an ``__init__.py``. Returns the package's folder.
    """
    package_dir = folder.joinpath(*name.split("."))
    for level in range(len(name.split("."))):
        part = folder.joinpath(*name.split(".")[: level + 1])
        part.mkdir(parents=True, exist_ok=True)
        (part / "__init__.py").touch()
    for relative, source in (files or {}).items():
        path = package_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(package_dir).parents:
            if parent != Path("."):
                (package_dir / parent / "__init__.py").touch()
        path.write_text(source, encoding="utf-8")
    return package_dir


def package_dir(package: str) -> Path:
    """The folder holding ``package`` (for PYTHONPATH of subprocesses)."""
    module = importlib.import_module(package)
    return Path(module.__file__).resolve().parent.parent  # type: ignore[arg-type]


def set_components(project: Path, *extra: str | dict[str, str], base: Sequence[str] = DEFAULT_COMPONENTS) -> None:
    """Rewrite the project's ``[tool.memstack] components``: the seven (or ``base``) plus ``extra``."""
    write_pyproject(project, [*base, *extra])


ALEMBIC_TABLE = """
[tool.alembic]
script_location = "%(here)s/migrations"
revision_environment = true
version_locations = [
{locations}
]
"""


def add_alembic_config(project: Path, labels: Sequence[str] = LABELS) -> None:
    """Append the ``[tool.alembic]`` table the repository's pyproject.toml has, written by hand."""
    locations = "\n".join(f'    "%(here)s/migrations/{label}",' for label in labels)
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(ALEMBIC_TABLE.format(locations=locations))


def add_alembic_table(project: Path) -> None:
    """Write ``[tool.alembic]`` in step with the configured components, the way makemigrations does."""
    from memstack.engine.run.alembic_config import sync_alembic_config
    from memstack.engine.workspace import Workspace

    ws = Workspace.load(project_dir=project, database_url="sqlite://")
    sync_alembic_config(ws.registry, ws.settings.pyproject_path)


def git_repo_on_main(repo: Path) -> Callable[..., None]:
    """``repo`` made a git repository with everything committed on ``main``; returns ``git(*args)``."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                       capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-qm", "main")
    return git


def remove_migration_folders(project: Path) -> None:
    """An empty migrations tree: every ``migrations/<label>/`` folder gone, env.py kept."""
    for folder in (project / "migrations").iterdir():
        if folder.is_dir():
            shutil.rmtree(folder)


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
