"""``startcomponent``: a new component from the Jinja2 templates in ``templates/component/``.

Writes the package (by default ``memstack/<name>/`` in the project root), an empty migration
folder ``migrations/<name>/``, and adds the component to ``[tool.memstack] components`` and
``[tool.alembic] version_locations`` in ``pyproject.toml``, keeping its comments and layout.
Everything is checked before anything is written. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import keyword
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import jinja2
import tomlkit

from memstack.cli.worded import program, spell_command
from memstack.core.components import MAX_LABEL_LENGTH, build_registry, project_on_path
from memstack.core.errors import MemstackError
from memstack.core.settings import ComponentEntry, Settings, _parse_components, load_settings, read_project_config
from memstack.core.staging import all_or_nothing
from memstack.engine.run.alembic_config import sync_alembic_config

COMPONENT_TEMPLATES = "component"
DEFAULT_PACKAGE_DIR = "memstack"
#: the templates a component is made from (more ``*.j2`` files in the folder are rendered too)
REQUIRED_TEMPLATES = ("__init__.py.j2", "models.py.j2", "commands/__init__.py.j2", "commands/hello.py.j2")


@dataclass
class ScaffoldResult:
    """What ``start_component`` wrote."""
    name: str
    package: str
    package_dir: Path
    migrations_dir: Path
    files: list[Path] = field(default_factory=list)
    pyproject_changed: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def next_commands(self) -> list[str]:

        return [spell_command(("makemigrations", self.name)), spell_command(("migrate", self.name))]

    def as_json(self, project_dir: Path) -> dict[str, Any]:
        def show(path: Path) -> str:
            try:
                return path.relative_to(project_dir).as_posix()
            except ValueError:
                return path.as_posix()

        return {
            "component": self.name,
            "package": self.package,
            "package_dir": show(self.package_dir),
            "migrations_path": show(self.migrations_dir),
            "files": [show(p) for p in self.files],
            "next": self.next_commands,
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- checks


def _configured_labels(settings: Settings) -> dict[str, str]:
    """label -> package of every configured component (nothing is imported)."""
    return {(entry.label or entry.package.strip().rsplit(".", 1)[-1]): entry.package for entry in
            settings.components}


def validate_name(name: str, settings: Settings | None = None) -> None:
    """Raise unless ``name`` can be a new component's package name and label."""
    if not name:
        raise MemstackError("the component name is empty", hint="give a name such as 'billing'")
    if "/" in name or "\\" in name or ".." in name or PurePath(name).is_absolute() or name.startswith("~"):
        raise MemstackError(
            f"{name!r} is a path, not a component name",
            hint="give a plain name such as 'billing'; choose the folder with --package-dir",
        )
    if not (name.isidentifier() and name.isascii()):
        raise MemstackError(
            f"{name!r} is not a valid component name: it must be a Python identifier",
            hint="use lowercase letters, digits and underscores, starting with a letter (e.g. 'billing')",
        )
    if len(name) > MAX_LABEL_LENGTH:  # (also well within a file name's 255 bytes)
        raise MemstackError(
            f"the component name {name[:20]}... is {len(name)} characters long; memstack's bookkeeping holds "
            f"labels of at most {MAX_LABEL_LENGTH}",
            hint=f"choose a name of at most {MAX_LABEL_LENGTH} characters",
        )
    if name != name.lower():
        raise MemstackError(f"{name!r} is not a valid component name: it must be lowercase",
                            hint=f"use {name.lower()!r}")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise MemstackError(f"{name!r} is a Python keyword and cannot name a package",
                            hint=f"choose another name, e.g. '{name}_app'")
    if settings is not None:
        labels = _configured_labels(settings)
        if name in labels:
            raise MemstackError(
                f"a component labelled {name!r} is already installed ({labels[name]})",
                hint=f"choose another name; '{program()} components' lists the installed ones",
            )


def _resolve_package_dir(settings: Settings, package_dir: str | Path | None) -> tuple[Path, str]:
    """(absolute folder the package goes into, its dotted package prefix, '' at the top level)."""
    root = settings.project_dir
    folder = Path(package_dir if package_dir is not None else DEFAULT_PACKAGE_DIR).expanduser()
    folder = (folder if folder.is_absolute() else root / folder).resolve()
    try:
        parts = folder.relative_to(root).parts
    except ValueError:
        raise MemstackError(
            f"--package-dir {folder} is outside the project root {root}",
            hint="choose a folder inside the project (relative paths are relative to the project root)",
        ) from None
    for part in parts:
        if not (part.isidentifier() and part.isascii()) or keyword.iskeyword(part):
            raise MemstackError(
                f"--package-dir {folder}: {part!r} cannot be part of a Python package name",
                hint="choose a folder whose path below the project root is made of Python identifiers",
            )
    return folder, ".".join(parts)


def _check_importable(root: Path, folder: Path, prefix: str) -> None:
    """The new package must be importable as ``<prefix>.<name>`` from ``folder`` (a package that
    is nowhere yet is created in the project, whose root memstack puts on sys.path)."""
    project_on_path(root)
    if prefix:
        try:
            spec = importlib.util.find_spec(prefix)
        except (ImportError, ValueError):
            spec = None
        if spec is None and folder.is_relative_to(root):
            return  # not installed and not in the project yet: start_component creates it
        locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
        if folder not in locations:
            where = f"from {', '.join(map(str, locations))}" if locations else "not at all"
            raise MemstackError(
                f"a component in {folder} would not be importable: Python imports package {prefix!r} {where}",
                hint="pass --package-dir naming a folder of an importable package, or '.' for a top-level "
                "package in the project root (which must then be on PYTHONPATH)",
            )
        return
    on_path = {Path(entry or ".").resolve() for entry in sys.path}
    if folder not in on_path:
        raise MemstackError(
            f"a top-level component in {folder} would not be importable: that folder is not on sys.path",
            hint=f"add it to PYTHONPATH (e.g. PYTHONPATH={folder}), or run {program()} from the project root",
        )


def _check_free(name: str, package: str, folder: Path, migrations_dir: Path) -> None:
    for path in (folder / name, folder / f"{name}.py", migrations_dir):
        if path.exists():
            raise MemstackError(f"{path} already exists", hint="choose another name, or remove it first")
    try:
        existing = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        existing = None
    if existing is not None:
        raise MemstackError(
            f"a module named {package!r} already exists ({existing.origin or 'a namespace package'})",
            hint="choose another name",
        )


# --------------------------------------------------------------------------- rendering


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Item"


def template_context(name: str, package: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "package": package,
        "class_name": _camel(name) + "Item",
        "table_name": f"{name}_items",
    }


def render_templates(templates_dir: Path, context: dict[str, Any]) -> dict[PurePath, str]:
    """{relative output path: text} for every ``*.j2`` below ``templates/component/``."""
    folder = templates_dir / COMPONENT_TEMPLATES
    missing = [t for t in REQUIRED_TEMPLATES if not (folder / t).is_file()]
    if missing:
        what = (f"the component templates folder {folder} is" if not folder.is_dir() else
                f"the component template{'s' if len(missing) > 1 else ''} "
                f"{', '.join(str(folder / t) for t in missing)} {'are' if len(missing) > 1 else 'is'}")
        raise MemstackError(
            f"{what} missing",
            hint="restore templates/component/ from the memstack checkout",
        )
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, autoescape=False)
    rendered: dict[PurePath, str] = {}
    for path in sorted(folder.rglob("*.j2")):
        relative = path.relative_to(folder)
        try:
            text = env.get_template(relative.as_posix()).render(**context)
        except jinja2.TemplateError as exc:
            raise MemstackError(f"template {path} failed: {exc}", hint="fix the template") from exc
        rendered[PurePath(relative.as_posix()[: -len(".j2")])] = text
    return rendered


# --------------------------------------------------------------------------- pyproject


def add_to_components(pyproject: Path, package: str, current: tuple[ComponentEntry, ...]) -> bool:
    """Append ``package`` to ``[tool.memstack] components`` (comments kept); True if changed.

    When the key is absent (memstack's default list applies), it is written out in full.
    """

    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    memstack_table = document["tool"]["memstack"]
    components = memstack_table.get("components")
    if components is None:
        array = tomlkit.array()
        array.multiline(True)
        for entry in current:
            array.append(entry.package)
        array.append(package)
        memstack_table["components"] = array
    else:
        if any((item if isinstance(item, str) else item.get("package")) == package for item in components):
            return False
        components.append(package)
    pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return True


def _sync_version_locations(settings: Settings) -> tuple[bool, list[str]]:
    """Rebuild the registry from the reloaded settings and update ``[tool.alembic]``."""
    warnings: list[str] = []
    importlib.invalidate_caches()
    reloaded = load_settings(project_dir=settings.project_dir, database_url=settings.database_url)
    configured = _parse_components(read_project_config(reloaded.project_dir).get("components"),
                                   reloaded.pyproject_path)
    if reloaded.components != configured:
        warnings.append("MEMSTACK_COMPONENTS overrides [tool.memstack] components here: add the new "
                        "component to it too")
        reloaded = dataclasses.replace(reloaded, components=configured)
    changed = sync_alembic_config(build_registry(reloaded), reloaded.pyproject_path)
    return changed, warnings


# --------------------------------------------------------------------------- the operation


def start_component(settings: Settings, name: str, *, package_dir: str | Path | None = None) -> ScaffoldResult:
    """Create component ``name``: package, migration folder, configuration. Returns what was done.

    ``package_dir`` is the folder the package goes into (default ``memstack/`` in the project
    root; relative paths are relative to the project root); it must be importable so that
    the package's dotted name follows from it.
    """
    validate_name(name, settings)
    folder, prefix = _resolve_package_dir(settings, package_dir)
    package = f"{prefix}.{name}" if prefix else name
    migrations_dir = settings.migrations_dir / name
    _check_importable(settings.project_dir, folder, prefix)
    _check_free(name, package, folder, migrations_dir)
    files = render_templates(settings.templates_dir, template_context(name, package))

    target = folder / name
    result = ScaffoldResult(name=name, package=package, package_dir=target, migrations_dir=migrations_dir)
    with all_or_nothing() as changes:  # a refusal below (the rebuilt registry, a full disk) leaves nothing behind
        for relative, text in files.items():
            changes.write_text(target / relative, text)
            result.files.append(target / relative)
        parents = [f for f in (folder, *folder.parents) if f.is_relative_to(settings.project_dir)]
        for sub in sorted({target / r.parent for r in files} | {target} | set(parents[:-1])):  # every folder: a package
            init = sub / "__init__.py"
            if not init.exists():
                changes.write_text(init, "")
                result.files.append(init)
        changes.write_text(migrations_dir / ".gitkeep", "")
        result.files.append(migrations_dir / ".gitkeep")

        changes.remember(settings.pyproject_path)
        changed = add_to_components(settings.pyproject_path, package, settings.components)
        synced, warnings = _sync_version_locations(settings)
    result.pyproject_changed = changed or synced
    result.warnings.extend(warnings)
    return result
