"""``startcomponent``: a new component from templates/component/, then makemigrations and migrate."""

from __future__ import annotations

import importlib
import io
import json
import secrets
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from support.running import Result, main_exit, python_m_memstack

from memstack.cli import call_command
from memstack.cli.scaffold import validate_name
from memstack.core.db import create_engine, metadata
from memstack.core.errors import MemstackError
from memstack.core.settings import DEFAULT_COMPONENTS

PYPROJECT = '''\
[project]
name = "scaffold-test"  # a test project
version = "0"

# memstack's own table
[tool.memstack]
components = [
    "memstack.auth",
    "memstack.tenant",
    "memstack.project",
    "memstack.memory",
    "memstack.ontology",
    "memstack.memo",
    "memstack.task",  # the last built-in one
]
lock_timeout = 60  # seconds

# the plain alembic command reads this
[tool.alembic]
script_location = "%(here)s/migrations"
'''


@pytest.fixture
def root(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The ``project`` fixture with a commented pyproject.toml, importable from sys.path.

    Like ``make_component``: tables the test's components add to the shared metadata and
    their modules are forgotten afterwards.
    """
    for package in DEFAULT_COMPONENTS:  # so that only the test's own tables count as new
        importlib.import_module(f"{package}.models")
    tables_before = set(metadata.tables)
    (project / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.syspath_prepend(str(project))
    yield project
    for key in set(metadata.tables) - tables_before:
        metadata.remove(metadata.tables[key])
    for module in list(sys.modules):
        if module.split(".")[0].startswith(("comp_", "apps_")):
            del sys.modules[module]


def unique(prefix: str = "comp") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def start(root: Path, *args: str, **options: object) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("startcomponent", *args, project_dir=str(root), stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()




# --------------------------------------------------------------------------- files and configuration


def test_files_created_and_pyproject_updated_keeping_comments(root: Path) -> None:
    name = unique()
    out, err = start(root, name, package_dir=".")
    package = root / name
    for relative in ("__init__.py", "models.py", "commands/__init__.py", "commands/hello.py"):
        assert (package / relative).is_file(), relative
    assert (root / "migrations" / name / ".gitkeep").is_file()
    assert list((root / "migrations" / name).iterdir()) == [root / "migrations" / name / ".gitkeep"]
    models = (package / "models.py").read_text()
    assert "from memstack.core.db import Base, id_column, string, timestamp" in models
    assert f'__tablename__ = "{name}_items"' in models
    hello = (package / "commands" / "hello.py").read_text()
    assert "from memstack.cli.context import common_options, get_app" in hello and "Example" in hello
    for path in package.rglob("*.py"):  # every generated module compiles
        compile(path.read_text(), str(path), "exec")

    text = (root / "pyproject.toml").read_text()
    for comment in ("# a test project", "# memstack's own table", "# the last built-in one", "# seconds",
                    "# the plain alembic command reads this"):
        assert comment in text
    config = tomllib.loads(text)
    assert config["tool"]["memstack"]["components"][-1] == name
    assert config["tool"]["memstack"]["components"][:7] == [
        f"memstack.{label}" for label in ("auth", "tenant", "project", "memory", "ontology", "memo", "task")]
    assert config["tool"]["memstack"]["lock_timeout"] == 60
    locations = config["tool"]["alembic"]["version_locations"]
    assert locations[-1] == f"%(here)s/migrations/{name}"
    assert "%(here)s/migrations/auth" in locations

    assert f"manage.py makemigrations {name}" in out and f"manage.py migrate {name}" in out
    assert f"Created component {name}" in err


def test_the_new_component_is_installed(root: Path) -> None:
    name = unique()
    start(root, name, package_dir=".")
    out = io.StringIO()
    call_command("components", project_dir=str(root), json=True, stdout=out)
    rows = {row["label"]: row for row in json.loads(out.getvalue())}
    assert rows[name]["package"] == name
    assert rows[name]["migrations_path"] == f"migrations/{name}"
    assert rows[name]["tables"] == [f"{name}_items"]


def test_package_dir_inside_an_importable_package(root: Path) -> None:
    parent = unique("apps")
    (root / parent).mkdir()
    (root / parent / "__init__.py").write_text("", encoding="utf-8")
    name = unique()
    out = io.StringIO()
    call_command("startcomponent", name, package_dir=parent, json=True, project_dir=str(root), stdout=out,
                 stderr=io.StringIO())
    result = json.loads(out.getvalue())
    assert result["package"] == f"{parent}.{name}"
    assert result["package_dir"] == f"{parent}/{name}"
    assert result["next"] == [f"manage.py makemigrations {name}", f"manage.py migrate {name}"]
    assert (root / parent / name / "models.py").is_file()
    assert tomllib.loads((root / "pyproject.toml").read_text())["tool"]["memstack"]["components"][-1] == \
        f"{parent}.{name}"


def test_default_package_dir_must_be_the_imported_memstack(root: Path) -> None:
    # a temporary project's memstack/ is not where Python imports memstack from
    before = (root / "pyproject.toml").read_text()
    with pytest.raises(MemstackError, match="would not be importable") as excinfo:
        start(root, unique())
    assert "--package-dir" in (excinfo.value.hint or "")
    assert (root / "pyproject.toml").read_text() == before


def test_missing_templates(root: Path) -> None:
    import shutil

    shutil.rmtree(root / "templates" / "component")
    name = unique()
    with pytest.raises(MemstackError, match="templates folder") as excinfo:
        start(root, name, package_dir=".")
    assert "templates/component" in (excinfo.value.hint or "")
    assert not (root / name).exists() and not (root / "migrations" / name).exists()


# --------------------------------------------------------------------------- names refused


@pytest.mark.parametrize(("name", "message"), [
    ("Billing", "lowercase"),
    ("9lives", "Python identifier"),
    ("bad-name", "Python identifier"),
    ("class", "keyword"),
    ("match", "keyword"),
    ("memory", "already installed"),
    ("auth", "already installed"),
    ("../evil", "is a path"),
    ("a/b", "is a path"),
    ("/abs", "is a path"),
    ("a\\b", "is a path"),
])
def test_invalid_names_are_refused_and_nothing_is_written(root: Path, name: str, message: str) -> None:
    before = (root / "pyproject.toml").read_text()
    entries = sorted(p.name for p in root.iterdir())
    with pytest.raises(MemstackError, match=message):
        start(root, name, package_dir=".")
    assert (root / "pyproject.toml").read_text() == before
    assert sorted(p.name for p in root.iterdir()) == entries
    assert not (root.parent / "evil").exists()


def test_empty_name_is_refused() -> None:
    with pytest.raises(MemstackError, match="empty"):
        validate_name("")


@pytest.mark.parametrize("existing", ["package", "module", "migrations"])
def test_existing_folder_is_refused(root: Path, existing: str) -> None:
    name = unique()
    path = {"package": root / name, "module": root / f"{name}.py", "migrations": root / "migrations" / name}[existing]
    if existing == "module":
        path.write_text("", encoding="utf-8")
    else:
        path.mkdir()
    with pytest.raises(MemstackError, match="already exists"):
        start(root, name, package_dir=".")


def test_existing_module_name_is_refused(root: Path) -> None:
    with pytest.raises(MemstackError, match="already exists"):
        start(root, "json", package_dir=".")  # would shadow the standard library


def test_package_dir_outside_the_project(root: Path, tmp_path: Path) -> None:
    with pytest.raises(MemstackError, match="outside the project root"):
        start(root, unique(), package_dir=str(tmp_path))


def test_exit_1_on_the_command_line(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = main_exit(capsys, "--project-dir", str(root), "startcomponent", "../evil")
    assert code == 1
    assert "error: '../evil' is a path" in err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = main_exit(capsys, "startcomponent", "--help")
    assert code == 0 and "Example" in out and "--package-dir" in out


# --------------------------------------------------------------------------- makemigrations and migrate


def test_makemigrations_and_migrate_handle_the_new_component(project: Path, db_url_no_mariadb: str) -> None:
    (project / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    name = unique()

    def memstack(*args: str) -> Result:
        """``python -m memstack`` from the project root, which it finds by itself, with the new package importable."""
        return python_m_memstack(project, db_url_no_mariadb, *args, find_project=True, pythonpath=[project],
                                 timeout=300)

    created = memstack("startcomponent", name, "--package-dir", ".")
    assert created.code == 0, created.err

    made = memstack("makemigrations", name)
    assert made.code == 0, made.err
    revisions = sorted(p.name for p in (project / "migrations" / name).glob("*.py"))
    assert revisions == ["0001_initial.py"]
    revision = (project / "migrations" / name / "0001_initial.py").read_text()
    assert f"'{name}_items'" in revision and f"branch_labels: str | Sequence[str] | None = ('{name}',)" in revision

    applied = memstack("migrate", name)
    assert applied.code == 0, applied.err
    engine = create_engine(db_url_no_mariadb)
    try:
        assert f"{name}_items" in inspect(engine).get_table_names()
    finally:
        engine.dispose()

    shown = memstack("showmigrations", name, "--json")
    assert shown.code == 0, shown.err
    assert '"applied": true' in shown.out

    hello = memstack("hello")  # the generated example command
    assert hello.code == 0, hello.err
    assert f"hello from {name}: 0 row(s) in {name}_items" in hello.out

    again = memstack("makemigrations", "--check")
    assert again.code == 0, again.out + again.err
