"""The component registry: labels, migrations folders, clashes, model loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.projects import LABELS, write_pyproject

from memstack.core.components import build_registry, is_bookkeeping_table
from memstack.core.errors import ConfigurationError, MemstackError
from memstack.core.settings import load_settings

SCHEMA_OWNERS = {
    "users": "auth", "roles": "auth", "permissions": "auth", "role_permissions": "auth",
    "user_roles": "auth", "api_keys": "auth",
    "tenants": "tenant", "user_tenants": "tenant",
    "projects": "project", "user_projects": "project",
    "memories": "memory",
    "entity_types": "ontology", "edge_types": "ontology", "edge_type_maps": "ontology",
    "memos": "memo",
    "task_logs": "task",
}

WIDGET_MODELS = '''
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, string


class Widget(Base):
    __tablename__ = "{table}"

    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(string())
'''


def registry_for(root: Path, components: list | None, extra: str = ""):
    write_pyproject(root, components, extra)
    return build_registry(load_settings(project_dir=root, environ={}))


# --------------------------------------------------------------------------- registration


def test_default_components(project: Path) -> None:
    registry = build_registry(load_settings(project_dir=project, environ={}))
    assert registry.labels == LABELS
    assert len(registry) == 7
    for component in registry:
        assert component.package == f"memstack.{component.label}"
        assert component.migrations_path == project.resolve() / "migrations" / component.label
        assert component.tables == ()  # models are not imported yet
        assert not component.models_loaded


def test_missing_components_key_means_the_default_list(tmp_path: Path) -> None:
    assert registry_for(tmp_path, None).labels == LABELS


def test_label_is_the_last_segment(tmp_path: Path, make_component) -> None:
    package = make_component({"billing/models.py": "", "billing/core/__init__.py": ""})
    registry = registry_for(tmp_path, [f"{package}.billing", f"{package}.billing.core"])
    assert registry.labels == ["billing", "core"]


def test_explicit_label(tmp_path: Path) -> None:
    registry = registry_for(tmp_path, ["memstack.auth", {"package": "memstack.memo", "label": "notes"}])
    assert registry.labels == ["auth", "notes"]
    notes = registry.get("notes")
    assert notes.package == "memstack.memo"
    assert notes.migrations_path == tmp_path.resolve() / "migrations" / "notes"


def test_explicit_migrations_path(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    elsewhere = tmp_path / "outside" / "memo_revisions"  # absolute, outside the project root
    registry = registry_for(root, [
        {"package": "memstack.memo", "migrations": "memo_app/migrations"},
        {"package": "memstack.task", "migrations": str(elsewhere)},
    ])
    assert registry.get("memo").migrations_path == root.resolve() / "memo_app" / "migrations"
    assert registry.get("task").migrations_path == elsewhere.resolve()
    rows = [c.as_json(root.resolve()) for c in registry]
    assert rows[0] == {"label": "memo", "package": "memstack.memo", "tables": [],
                       "migrations_path": "memo_app/migrations"}
    assert rows[1]["migrations_path"] == elsewhere.resolve().as_posix()


def test_components_from_the_environment(project: Path) -> None:
    settings = load_settings(project_dir=project, environ={"MEMSTACK_COMPONENTS": "memstack.task,memstack.auth"})
    assert build_registry(settings).labels == ["task", "auth"]


# --------------------------------------------------------------------------- label errors


def test_two_components_with_one_label(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        registry_for(tmp_path, ["memstack.auth", {"package": "memstack.tenant", "label": "auth"}])
    message = str(excinfo.value)
    assert "'auth'" in message
    assert "memstack.auth" in message and "memstack.tenant" in message
    assert "label" in (excinfo.value.hint or "")


def test_two_packages_with_one_last_segment(tmp_path: Path, make_component) -> None:
    first = make_component({"core/models.py": ""}, prefix="one")
    second = make_component({"core/models.py": ""}, prefix="two")
    with pytest.raises(ConfigurationError) as excinfo:
        registry_for(tmp_path, [f"{first}.core", f"{second}.core"])
    assert f"{first}.core" in str(excinfo.value) and f"{second}.core" in str(excinfo.value)
    # an explicit label resolves it
    registry = registry_for(tmp_path, [f"{first}.core", {"package": f"{second}.core", "label": "core2"}])
    assert registry.labels == ["core", "core2"]


def test_unknown_package(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'memstack\.nope' cannot be found"):
        registry_for(tmp_path, ["memstack.auth", "memstack.nope"])


def test_unknown_top_level_package(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be found"):
        registry_for(tmp_path, ["no_such_package_anywhere"])


@pytest.mark.parametrize("package", ["my-app", "memstack..auth", "1abc", ""])
def test_package_must_be_a_dotted_name(tmp_path: Path, package: str) -> None:
    with pytest.raises(ConfigurationError, match="not a dotted Python package name"):
        registry_for(tmp_path, [package])


@pytest.mark.parametrize("label", ["my-label", "class", "2fast"])
def test_label_must_be_an_identifier(tmp_path: Path, label: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a Python identifier"):
        registry_for(tmp_path, [{"package": "memstack.memo", "label": label}])


def test_entry_with_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown keys"):
        registry_for(tmp_path, [{"package": "memstack.memo", "lable": "notes"}])


def test_components_must_be_a_list(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.memstack]\ncomponents = "memstack.auth"\n')
    with pytest.raises(ConfigurationError, match="must be a list"):
        load_settings(project_dir=tmp_path, environ={})


def test_unknown_label_suggests_the_closest(project: Path) -> None:
    registry = build_registry(load_settings(project_dir=project, environ={}))
    with pytest.raises(MemstackError) as excinfo:
        registry.get("memroy")
    assert excinfo.value.message == "unknown component 'memroy'"
    assert "did you mean 'memory'?" in (excinfo.value.hint or "")
    with pytest.raises(MemstackError) as excinfo:
        registry.select(["auth", "zzzz"])
    assert "did you mean" not in (excinfo.value.hint or "")
    assert "auth, tenant, project, memory, ontology, memo, task" in (excinfo.value.hint or "")


def test_select_keeps_configuration_order(project: Path) -> None:
    registry = build_registry(load_settings(project_dir=project, environ={}))
    assert [c.label for c in registry.select(["task", "auth", "task"])] == ["auth", "task"]
    assert [c.label for c in registry.select([])] == LABELS


# --------------------------------------------------------------------------- models and tables


def test_load_models_assigns_every_schema_table(project: Path) -> None:
    registry = build_registry(load_settings(project_dir=project, environ={}))
    owners = registry.load_models()
    assert owners == SCHEMA_OWNERS
    for component in registry:
        assert component.models_loaded
        assert component.tables == tuple(sorted(t for t, label in SCHEMA_OWNERS.items() if label == component.label))


def test_subset_of_components_owns_only_its_tables(tmp_path: Path) -> None:
    registry = registry_for(tmp_path, ["memstack.memo", "memstack.task"])
    assert registry.load_models() == {"memos": "memo", "task_logs": "task"}


def test_component_with_its_own_models(tmp_path: Path, make_component) -> None:
    package = make_component({"models.py": WIDGET_MODELS.format(table="widgets_own")}, prefix="widgets")
    plain = make_component({"models.py": (
        "from sqlalchemy import Column, Integer, Table\n"
        "from memstack.core.db import metadata\n"
        "gadgets = Table('gadgets_plain', metadata, Column('id', Integer, primary_key=True))\n"
    )}, prefix="gadgets")
    registry = registry_for(tmp_path, ["memstack.memo", package, plain])
    owners = registry.load_models()
    assert owners["widgets_own"] == package
    assert owners["gadgets_plain"] == plain
    assert registry.get(package).tables == ("widgets_own",)
    assert registry.get(plain).tables == ("gadgets_plain",)


def test_component_without_models_module(tmp_path: Path, make_component) -> None:
    package = make_component({})
    registry = registry_for(tmp_path, [package])
    assert registry.load_models() == {}
    assert registry.get(package).tables == ()


def test_two_components_declaring_one_table(tmp_path: Path, make_component) -> None:
    first = make_component({"models.py": WIDGET_MODELS.format(table="widgets_clash")}, prefix="clash_a")
    second = make_component({"models.py": WIDGET_MODELS.format(table="widgets_clash")}, prefix="clash_b")
    registry = registry_for(tmp_path, ["memstack.auth", first, second])
    with pytest.raises(ConfigurationError) as excinfo:
        registry.load_models()
    message = str(excinfo.value)
    assert "'widgets_clash'" in message
    assert first in message and second in message


def test_clash_with_a_memstack_table(tmp_path: Path, make_component) -> None:
    rogue = make_component({"models.py": WIDGET_MODELS.format(table="memos")}, prefix="rogue")
    registry = registry_for(tmp_path, ["memstack.memo", rogue])
    with pytest.raises(ConfigurationError) as excinfo:
        registry.load_models()
    assert "'memos'" in str(excinfo.value) and "'memo'" in str(excinfo.value) and rogue in str(excinfo.value)


def test_broken_models_module_names_itself(tmp_path: Path, make_component) -> None:
    broken = make_component({"models.py": "raise RuntimeError('boom at import')\n"}, prefix="broken")
    registry = registry_for(tmp_path, ["memstack.memo", broken])
    with pytest.raises(MemstackError) as excinfo:
        registry.load_models()
    assert f"{broken}.models" in excinfo.value.message
    assert "boom at import" in excinfo.value.message


def test_models_importing_a_missing_module(tmp_path: Path, make_component) -> None:
    broken = make_component({"models.py": "import no_such_module_for_memstack_tests\n"}, prefix="missing")
    registry = registry_for(tmp_path, [broken])
    with pytest.raises(MemstackError, match="no_such_module_for_memstack_tests"):
        registry.load_models()


def test_registry_still_works_after_a_failed_declaration(tmp_path: Path, make_component) -> None:
    """A clash leaves a half-declared class behind; later loads in the same process still work."""
    first = make_component({"models.py": WIDGET_MODELS.format(table="widgets_again")}, prefix="again_a")
    second = make_component({"models.py": WIDGET_MODELS.format(table="widgets_again")}, prefix="again_b")
    with pytest.raises(ConfigurationError):
        registry_for(tmp_path, [first, second]).load_models()
    assert registry_for(tmp_path / "other", ["memstack.memo", first]).load_models() == {
        "memos": "memo", "widgets_again": first,
    }


@pytest.mark.parametrize(("name", "bookkeeping"), [
    ("memstack_history", True), ("memstack_tags", True), ("alembic_version", True),
    ("users", False), ("memstackish", False),
])
def test_bookkeeping_tables(name: str, bookkeeping: bool) -> None:
    assert is_bookkeeping_table(name) is bookkeeping


def test_a_plain_table_imported_by_another_component_stays_with_its_declarer(tmp_path: Path,
                                                                            make_component) -> None:
    owner = make_component({"models.py": (
        "from sqlalchemy import Column, Integer, Table\n"
        "from memstack.core.db import metadata\n"
        "things = Table('things_shared', metadata, Column('id', Integer, primary_key=True))\n"
    )}, prefix="things")
    user = make_component({"models.py": (
        f"from {owner}.models import things  # referenced, not declared here\n"
        "from sqlalchemy import Column, ForeignKey, Integer, Table\n"
        "from memstack.core.db import metadata\n"
        "uses = Table('uses_things', metadata, Column('id', Integer, primary_key=True),\n"
        "             Column('thing_id', ForeignKey(things.c.id)))\n"
    )}, prefix="uses")
    registry = registry_for(tmp_path, [owner, user])
    owners = registry.load_models()
    assert owners["things_shared"] == owner
    assert owners["uses_things"] == user
