"""What the revisions of a scratch build import, and whether any of it changed since.

The scratch cache (:mod:`memstack.engine.generate.scratch_cache`) may reuse a build only while
everything the revisions read is as it was: every module they import that is not the
standard library or an installed package (followed through such modules, resolved to a
file and hashed; one that was not found must still not be found) and the version of each
installed package they import.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()



def _kind_of(path: Path) -> str:
    """"own" (hashed and followed), "installed" (its distribution's version counts), or "skip"
    (the standard library, and memstack, whose source is in the key already)."""
    if path.is_relative_to(Path(__file__).resolve().parents[1]):
        return "skip"
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return "installed"
    if any(path.is_relative_to(Path(p).resolve()) for p in _stdlib_paths()):
        return "skip"
    return "own"


def _stdlib_paths() -> set[str]:
    return {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib")}


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    if not origin or not origin.endswith(".py"):
        return None
    return Path(origin).resolve()


# what generated revisions import; a file importing nothing else needs no parsing
_PLAIN_IMPORTS = {"import sqlalchemy as sa", "from alembic import op", "from collections.abc import Sequence",
                  "from __future__ import annotations", "from typing import Union", "from typing import Sequence"}


def _imported_names(source: str, package: str | None) -> set[str]:
    """Modules ``source`` imports anywhere (``from a import b`` may import ``a.b``), with their parents."""
    rest = "\n".join(line for line in source.splitlines() if line.strip() not in _PLAIN_IMPORTS)
    if "import" not in rest:  # not even __import__ or importlib: only the modules above
        return {"sqlalchemy", "alembic", "alembic.op", "collections", "collections.abc", "typing"}
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not package:
                    continue  # a revision file is loaded outside any package: it cannot import relatively
                try:
                    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                except ImportError:
                    continue
            elif node.module:
                base = node.module
            else:
                continue
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {".".join(name.split(".")[:i]) for name in names for i in range(1, name.count(".") + 2)}


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def project_dependencies(revision_files: Iterable[Path]) -> dict[str, str]:
    """What the revision files import, transitively: {"module:<name>": "<file>|<sha256>"} for the
    project's own modules (wherever they live; "" for a module that was not found: its appearing
    later counts too), {"dist:<name>": version} for installed packages."""

    distributions = importlib.metadata.packages_distributions()
    found: dict[str, str] = {}
    pending: list[tuple[Path, str | None]] = [(path, None) for path in revision_files]
    kinds: dict[str, str] = {}
    while pending:
        path, package = pending.pop()
        for name in sorted(_imported_names(path.read_text(encoding="utf-8"), package) - set(kinds)):
            module_file = _module_file(name)
            kind = "absent" if module_file is None else _kind_of(module_file)
            parent = kinds.get(name.rpartition(".")[0], "")
            if kind == "absent" and parent in ("skip", "installed"):
                kind = parent  # ``from typing import Any``: a name in a module, not a module
            kinds[name] = kind
            dists = distributions.get(name.split(".")[0], []) if kind == "installed" else []
            if kind == "skip":
                continue
            if dists:
                found.update({f"dist:{dist}": _installed_version(dist) or "" for dist in dists})
                continue
            found[f"module:{name}"] = f"{module_file}|{file_sha256(module_file)}" if module_file else ""
            if module_file is not None and kind == "own":
                is_package = module_file.name == "__init__.py"
                pending.append((module_file, name if is_package else name.rpartition(".")[0] or None))
    return found


def dependencies_unchanged(recorded: dict[str, str]) -> bool:
    """Every recorded import still resolves to the same file with the same bytes (or is still absent)."""
    for key, value in recorded.items():
        kind, _, name = key.partition(":")
        if kind == "dist":
            if (_installed_version(name) or "") != value:
                return False
            continue
        if kind != "module":
            return False
        current = _module_file(name)
        if not value:
            if current is not None:
                return False
            continue
        path, _, digest = value.rpartition("|")
        if current != Path(path) or not current.is_file() or file_sha256(current) != digest:
            return False
    return True
