"""Where a plain Alembic project keeps its revisions, resolved the way Alembic resolves it.

Alembic reads ``script_location`` and ``version_locations`` from ``alembic.ini`` (or
``pyproject.toml [tool.alembic]``), substitutes ``%(here)s`` (the configuration file's folder),
takes a relative path relative to the *working directory* and a ``package:path`` form (not
absolute, holding a colon) as a package resource, with ``prepend_sys_path`` put on
``sys.path`` first. ``takeover`` runs from wherever the person stands, often not where the
project runs ``alembic``; so a relative path is tried against the working directory first (as
Alembic does) and then against the configuration file's folder (where projects run it from).
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from memstack.engine.errors import AlembicPathError


@dataclass(frozen=True)
class FoundConfig:
    """The configuration the takeover argument names: its file (None: a bare script folder) and keys."""
    config_file: Path | None
    here: Path  # %(here)s: the configuration file's folder
    script_location: str
    version_locations: list[str]
    settings: dict[str, str]


def _split_locations(raw: str, separator: str | None) -> list[str]:
    """Alembic's ``version_locations`` splitting rules (``path_separator``, else spaces/commas)."""
    named = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
    parts = raw.split(named.get(separator, separator)) if separator else re.split(r"[,\s]+", raw)
    return [p.strip() for p in parts if p.strip()]


def _from_ini(ini: Path) -> FoundConfig | None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ini, encoding="utf-8")
    if not parser.has_section("alembic") or not parser["alembic"].get("script_location"):
        return None
    section = parser["alembic"]
    raw = section.get("version_locations")
    separator = section.get("path_separator") or section.get("version_path_separator")
    return FoundConfig(ini, ini.parent, section["script_location"],
                       _split_locations(raw, separator) if raw else [], dict(section))


def _from_pyproject(pyproject: Path) -> FoundConfig | None:
    table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("alembic")
    if not isinstance(table, dict) or not table.get("script_location"):
        return None
    settings = {str(k): str(v) for k, v in table.items() if not isinstance(v, (list, dict))}
    return FoundConfig(pyproject, pyproject.parent, str(table["script_location"]),
                       [str(v) for v in table.get("version_locations", [])], settings)


def find_config(argument: str | Path, cwd: Path) -> FoundConfig:
    """The ini file, the folder holding it (or ``pyproject.toml`` / ``env.py``), or a package."""
    path = Path(argument) if Path(argument).is_absolute() else cwd / argument
    if path.is_file():
        found = _from_pyproject(path) if path.suffix == ".toml" else _from_ini(path)
        if found is None:
            raise AlembicPathError(f"{path} has no script_location ([alembic] in an ini file, [tool.alembic] in "
                                   "pyproject.toml)", hint="name the project's alembic.ini or its folder")
        return found
    if path.is_dir():
        for candidate, read in ((path / "alembic.ini", _from_ini), (path / "pyproject.toml", _from_pyproject)):
            found = read(candidate) if candidate.is_file() else None
            if found is not None:
                return found
        if (path / "env.py").is_file():
            return FoundConfig(None, path, str(path), [], {})
        raise AlembicPathError(f"{path} is not an Alembic project: no alembic.ini, no [tool.alembic] in "
                               "pyproject.toml, no env.py", hint="name the folder holding alembic.ini (or env.py)")
    folder = _package_folder(str(argument), [cwd])
    if folder is not None and (folder / "env.py").is_file():
        return FoundConfig(None, folder, str(folder), [], {})
    raise AlembicPathError(f"{argument} is neither a file, a folder nor an importable package holding env.py",
                           hint="name the project's alembic.ini, its folder, or its package (pkg:migrations)")


@contextmanager
def _isolated_import(entries: list[Path], top: str) -> Iterator[None]:
    """``entries`` first on ``sys.path`` and no cached ``top`` package: the project's own copy is
    found, not one imported earlier; what the search imports is forgotten afterwards."""
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    sys.path[:0] = [str(e) for e in entries]
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved_path
        for name in set(sys.modules) - set(saved_modules):
            del sys.modules[name]
        sys.modules.update(saved_modules)


def _package_folder(value: str, roots: list[Path]) -> Path | None:
    """``pkg:sub/dir`` (Alembic's resource form) or ``pkg.sub``, imported with ``roots`` on sys.path."""
    package, _, rest = value.partition(":")
    if not package or not all(part.isidentifier() for part in package.split(".")):
        return None
    with _isolated_import(roots, package.split(".")[0]):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            return None
        if spec is None or not spec.submodule_search_locations:
            return None
        base = Path(next(iter(spec.submodule_search_locations)))
    return base.joinpath(*[t for t in re.split(r"[:/]", rest) if t]) if rest else base


def _sys_path_roots(found: FoundConfig, cwd: Path) -> list[Path]:
    """``prepend_sys_path`` (Alembic's template says ``.``) against each base, then the bases."""
    raw = found.settings.get("prepend_sys_path", "")
    separator = found.settings.get("path_separator")
    entries = _split_locations(raw.replace("%(here)s", str(found.here)), separator) if raw else []
    roots = [p if Path(p).is_absolute() else base / p for p in map(Path, entries) for base in (cwd, found.here)]
    return [*roots, cwd, found.here]


def resolve_location(value: str, found: FoundConfig, cwd: Path, what: str) -> Path:
    """One location as Alembic reads it: ``%(here)s``, absolute, ``package:path``, or relative."""
    value = value.replace("%(here)s", str(found.here))
    if not os.path.isabs(value) and ":" in value:
        folder = _package_folder(value, _sys_path_roots(found, cwd))
        if folder is None:
            raise AlembicPathError(f"{what} = {value} names a package that cannot be imported from {cwd} or "
                                   f"{found.here}", hint="install the project's package, or set prepend_sys_path")
        return folder.resolve()
    path = Path(value)
    if path.is_absolute():
        return path.resolve()
    tried = [base / path for base in dict.fromkeys((cwd, found.here))]
    return next((p for p in tried if p.exists()), tried[0]).resolve()
