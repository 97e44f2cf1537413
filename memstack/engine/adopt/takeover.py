"""Take over an existing plain-Alembic project as one memstack component.

Revision ids stay as they are, so every database that plain Alembic migrated is recognised
from its ``alembic_version`` rows with no stamp. Files keep their bytes except two edits:
the root revision gets the component's branch label (other branch labels are cleared, since a
component's folder is one branch), and file names become ``NNNN_slug.py`` in graph order.
Merged and multi-branch histories are accepted as they are; several roots are refused (the
label can name one root only) and so is a version table other than ``alembic_version`` (the
databases the project migrated would look unmigrated).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit

from memstack.core.components import valid_label
from memstack.core.staging import FileChanges
from memstack.engine.adopt.alembic_paths import find_config, resolve_location
from memstack.engine.adopt.envpy import EnvReading, hook_source, read_env_py
from memstack.engine.errors import AlembicPathError, TakeoverError
from memstack.engine.run.envhooks import HOOK_MODULE
from memstack.engine.tree.loader import RevisionFile, parse_revision_file

BRANCH_LABELS_LINE = re.compile(r"^branch_labels\b[^=\n]*=.*$", re.MULTILINE)
DOWN_REVISION_LINE = re.compile(r"^down_revision\b[^=\n]*=.*$", re.MULTILINE)
#: ``version_table=...`` / ``version_table_schema=...`` passed to ``context.configure`` in env.py
VERSION_TABLE_ARGUMENT = re.compile(r"\b(version_table(?:_schema)?)\s*=\s*([^,)\n]+)")
DEFAULT_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class AlembicProject:
    """Where a plain Alembic project keeps its revisions, read from its own configuration."""
    script_location: Path
    version_locations: list[Path]
    config_file: Path | None
    settings: dict[str, str] = field(default_factory=dict)  # the [alembic] / [tool.alembic] keys as written
    explicit_versions: bool = False  # version_locations was set (else script_location/versions)


@dataclass(frozen=True)
class TakenFile:
    source: Path
    target: Path
    revision: str
    text: str
    edited: bool


@dataclass
class TakeoverPlan:
    label: str
    project: AlembicProject
    files: list[TakenFile] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    merges: int = 0
    env: EnvReading | None = None  # the project's env.py, read for the component's environment hook


def read_alembic_project(argument: str | Path, cwd: Path | None = None) -> AlembicProject:
    """The project's locations as Alembic resolves them (see :mod:`alembic_paths`).

    ``argument``: the ini file, the folder holding ``alembic.ini`` (or ``pyproject.toml`` with
    ``[tool.alembic]``, or ``env.py``), or the package holding ``env.py`` (``pkg:migrations``).
    """
    cwd = (cwd or Path.cwd()).resolve()
    try:
        found = find_config(argument, cwd)
        script = resolve_location(found.script_location, found, cwd, "script_location")
        folders = [resolve_location(v, found, cwd, "version_locations") for v in found.version_locations]
    except AlembicPathError as exc:
        raise TakeoverError(exc.message, hint=exc.hint) from exc
    return AlembicProject(script, folders or [script / "versions"], found.config_file, found.settings,
                          explicit_versions=bool(found.version_locations))


def refuse_custom_version_table(project: AlembicProject) -> None:
    """memstack reads ``alembic_version`` only: a project keeping its rows elsewhere would look unmigrated."""
    env = project.script_location / "env.py"
    source = env.read_text(encoding="utf-8") if env.is_file() else ""
    found: list[tuple[str, str, str]] = []  # (option, value or expression, where)
    for key in ("version_table", "version_table_schema"):
        if project.settings.get(key):
            found.append((key, project.settings[key], str(project.config_file)))
    for match in VERSION_TABLE_ARGUMENT.finditer(source):
        line = source.count("\n", 0, match.start()) + 1
        found.append((match.group(1), match.group(2).strip(), f"{env}:{line}"))
    for option, value, where in found:
        literal = value.strip("'\"") if value[:1] in "'\"" else None
        if option == "version_table" and literal == DEFAULT_VERSION_TABLE:
            continue
        if literal is None and project.settings.get(option) in (None, DEFAULT_VERSION_TABLE) and option in value:
            continue  # env.py reads the setting from the configuration, which keeps the default
        shown = f"{option}={value}"
        raise TakeoverError(
            f"the Alembic project sets {shown} ({where}); memstack keeps version rows in the default "
            f"{DEFAULT_VERSION_TABLE!r} table only, so databases this project migrated would look unmigrated",
            hint=f"in every database it migrated, rename that table to {DEFAULT_VERSION_TABLE} (in the default "
                 f"schema), remove {option} from the project's configuration, then take it over again")


def _refuse_several_roots(ordered: list[tuple[Path, RevisionFile]]) -> None:
    """A component is one Alembic branch: its label can sit on one root only (Alembic forbids repeating it)."""
    roots = [(path, parsed) for path, parsed in ordered if not parsed.down_revision]
    if len(roots) > 1:
        listed = ", ".join(f"{parsed.revision} ({path.name})" for path, parsed in roots)
        raise TakeoverError(
            f"the Alembic project has {len(roots)} root revisions (down_revision = None): {listed}; a component "
            "is one branch whose label can be given to one root only, so the others would fall outside it",
            hint="give the project one root first (set each other root's down_revision to a revision of the "
                 "first line), or split it into one Alembic project per root and take each over as its own component")


def _read_revisions(project: AlembicProject) -> list[tuple[Path, RevisionFile]]:
    found: list[tuple[Path, RevisionFile]] = []
    for folder in project.version_locations:
        if not folder.is_dir():
            if project.explicit_versions:
                raise TakeoverError(f"version folder {folder} (version_locations) does not exist",
                                    hint="fix version_locations in the project's configuration")
            raise TakeoverError(f"the versions folder {folder} does not exist (script_location "
                                f"{project.script_location}, resolved as Alembic does: %(here)s, a package:path, "
                                "or relative to the working directory, then to the configuration file's folder)",
                                hint="run takeover from the folder the project runs alembic from, or name its "
                                     "alembic.ini")
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith(("_", ".")):
                found.append((path, parse_revision_file(path)))
    if not found:
        raise TakeoverError(f"no revision files in {', '.join(map(str, project.version_locations))}")
    return found


def _graph_order(revisions: list[tuple[Path, RevisionFile]]) -> list[tuple[Path, RevisionFile]]:
    """Parents before children (Kahn), ties by the original file name: stable numbering."""
    by_id = {r.revision: (p, r) for p, r in revisions}
    if len(by_id) != len(revisions):
        raise TakeoverError("two revision files declare the same revision id")
    missing = sorted({d for _, r in revisions for d in (*r.down_revision, *r.depends_on) if d not in by_id})
    if missing:
        raise TakeoverError(f"revisions refer to ids no file provides: {', '.join(missing)}",
                            hint="a depends_on on another project's branch cannot be taken over; remove it first")
    waiting = {rid: set(r.down_revision) | set(r.depends_on) for rid, (_, r) in by_id.items()}
    ordered: list[tuple[Path, RevisionFile]] = []
    ready = sorted((rid for rid, w in waiting.items() if not w), key=lambda rid: by_id[rid][0].name)
    while ready:
        rid = ready.pop(0)
        ordered.append(by_id[rid])
        del waiting[rid]
        freed = [other for other, w in waiting.items() if rid in w and len(w) == 1]
        for other in waiting:
            waiting[other].discard(rid)
        ready = sorted([*ready, *freed], key=lambda r: by_id[r][0].name)
    if waiting:
        raise TakeoverError(f"the revisions form a cycle: {', '.join(sorted(waiting))}")
    return ordered


def slug_for(path: Path, revision: str) -> str:
    """The file name's words without the id or a date prefix: ``ae1027a6acf_add_users`` -> ``add_users``."""
    stem = path.stem
    if stem.lower().startswith(revision.lower()):
        stem = stem[len(revision):]
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    slug = re.sub(r"^(\d+_)+", "", slug)
    return slug or "revision"


def _relabel(text: str, label: str | None) -> str:
    """Set (root) or clear (others) the module-level ``branch_labels``; everything else kept."""
    value = f"branch_labels = ({label!r},)" if label else "branch_labels = None"
    if BRANCH_LABELS_LINE.search(text):
        return BRANCH_LABELS_LINE.sub(value, text, count=1)
    if label is None:
        return text
    match = DOWN_REVISION_LINE.search(text)
    if match is None:
        raise TakeoverError("the root revision has no module-level down_revision line to put its branch label after")
    return text[:match.end()] + "\n" + value + text[match.end():]


def plan_takeover(alembic_dir: str | Path, label: str, target_folder: Path, cwd: Path | None = None) -> TakeoverPlan:
    """What taking ``alembic_dir`` (ini, folder or package) over as ``label`` writes into ``target_folder``."""
    if not valid_label(label):
        raise TakeoverError(f"component label {label!r} is not a Python identifier")
    if target_folder.is_dir() and any(target_folder.glob("*.py")):
        raise TakeoverError(f"{target_folder} already holds revisions",
                            hint="take over into a new component label")
    project = read_alembic_project(alembic_dir, cwd)
    refuse_custom_version_table(project)
    ordered = _graph_order(_read_revisions(project))
    _refuse_several_roots(ordered)
    env_py = project.script_location / "env.py"
    plan = TakeoverPlan(label, project, env=read_env_py(env_py) if env_py.is_file() else None)
    root = ordered[0][1].revision
    parents = {d for _, r in ordered for d in r.down_revision}
    for number, (path, parsed) in enumerate(ordered, start=1):
        source = path.read_text(encoding="utf-8")
        wanted = (label,) if parsed.revision == root else ()
        text = source if parsed.branch_labels == wanted else _relabel(source, label if wanted else None)
        target = target_folder / f"{number:04d}_{slug_for(path, parsed.revision)}.py"
        plan.files.append(TakenFile(path, target, parsed.revision, text, text != source))
        plan.merges += len(parsed.down_revision) > 1
        if parsed.revision not in parents:
            plan.heads.append(parsed.revision)
    return plan


def write_takeover(plan: TakeoverPlan, changes: FileChanges) -> None:
    for taken in plan.files:
        changes.write_text(taken.target, taken.text)


def write_env_hook(plan: TakeoverPlan, package_dir: Path, changes: FileChanges) -> Path | None:
    """``PACKAGE/memstack_env.py`` from the project's env.py, unless there is nothing to carry or
    the package has one already (then it is left as it is)."""

    if plan.env is None or not plan.env.carries_anything:
        return None
    target = package_dir / f"{HOOK_MODULE}.py"
    if target.exists():
        return None
    changes.write_text(target, hook_source(plan.env, plan.label))
    return target


def package_folder(project_dir: Path, package: str) -> Path:
    """Where ``package`` lives (importable, else under the project root, where ensure_package puts it)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return project_dir.joinpath(*package.split("."))


def add_component_entry(pyproject: Path, package: str, label: str, changes: FileChanges) -> bool:
    """Append ``{ package, label }`` to ``[tool.memstack] components`` (comments kept); False if there."""
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    memstack = document["tool"]["memstack"]
    components = memstack.setdefault("components", tomlkit.array())
    for entry in components:
        if entry == package or (isinstance(entry, dict) and entry.get("label") == label):
            return False
    table = tomlkit.inline_table()
    table.update({"package": package, "label": label})
    components.append(table)
    changes.write_text(pyproject, tomlkit.dumps(document))
    return True


def ensure_package(project_dir: Path, package: str, changes: FileChanges) -> Path | None:
    """Create ``package`` (an empty ``__init__.py``, no models) under the project root when it is missing."""
    try:
        if importlib.util.find_spec(package) is not None:
            return None
    except ModuleNotFoundError:
        pass
    init = project_dir.joinpath(*package.split("."), "__init__.py")
    if not init.exists():
        changes.write_text(init, '"""Component taken over from plain Alembic; declare its tables in models.py."""\n')
    importlib.invalidate_caches()
    return init
