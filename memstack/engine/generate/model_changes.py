"""Which components' models have changes no revision covers: ``migrate``'s Django-style warning.

The comparison is ``makemigrations --check``'s own (:func:`memstack.engine.generate.autodetect.detect`
on a scratch database), so it is not cheap; its answer is kept in the project's
``.memstack-cache/model-changes.json`` under a key made of everything that decides it:

- the tree's digest (:func:`memstack.engine.tree.fingerprint.tree_fingerprint`: components,
  folders, every revision's header and checksum, memstack's version) and ``pyproject.toml``;
- the models' source: every ``.py`` file of each component's package (its migrations folder
  aside) and ``memstack/core/db.py`` (the declarative base and its helpers), by content;
- the dialect compared on, the scratch database's URL if one is set, SQLAlchemy's and Alembic's versions.

The last few answers are kept (:data:`KEPT_ANSWERS`), so switching the database between dialects
does not compare again.

The project's modules outside the component packages that the models import (followed as the
scratch cache follows the revisions' imports) are recorded by file with the answer and must hash
the same for it to count; checking them imports nothing. (Installed packages other than
SQLAlchemy and Alembic are not followed: after upgrading one the models' tables depend on,
delete the cache file.) So an unchanged project pays a few file hashes per ``migrate``, and the comparison runs
once per change. A comparison that cannot be made (no scratch database allowed, a revision that
fails on one, several heads) is an answer too ("unknown", with the reason), kept the same way.
The application's start-up call never asks (:mod:`memstack.startup` does not import this).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstack.core.errors import MemstackError
from memstack.core.redaction import redact

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace

CACHE_FORMAT = 2
CACHE_FILE = "model-changes.json"
KEPT_ANSWERS = 8
"""Answers kept at once, newest first: a developer switching between SQLite and a server (each its own
key) compares once per change on each, not on every switch."""


@dataclass(frozen=True)
class ModelChanges:
    """The components whose models differ from their revisions; ``unknown``: why no comparison was made."""
    components: tuple[str, ...] = ()
    unknown: str | None = None
    cached: bool = False


def model_changes(ws: Workspace) -> ModelChanges:
    """The kept answer for this tree and these models, else a fresh comparison (then kept).

    Where an answer cannot be kept (a read-only project folder, as in most container images) the
    comparison would run on every ``migrate`` (on PostgreSQL and MariaDB building a scratch
    database on the server each time), so it is not made at all.
    """
    cache = ws.settings.project_dir / ".memstack-cache" / CACHE_FILE
    key = cache_key(ws)
    kept = _read(cache, key)
    if kept is not None:
        return kept
    if not _writable(cache.parent):
        return ModelChanges(unknown="the project folder is read-only: the answer could not be kept")
    found, dependencies = _compare(ws)
    _write(cache, key, found, dependencies)
    return found


def cache_key(ws: Workspace) -> str:
    """The digest of everything the answer depends on but the models' outside imports (see the module)."""
    import sqlalchemy  # (imported already: the no-op path has connected)

    from memstack.engine.tree.fingerprint import tree_fingerprint  # lazy: kept off --help

    alembic = importlib.util.find_spec("alembic")  # its __init__ holds __version__; not imported on a no-op
    digest = hashlib.sha256()
    for part in (CACHE_FORMAT, tree_fingerprint(ws, "model-changes"), _backend(ws), sqlalchemy.__version__,
                 _sha(Path(alembic.origin)) if alembic and alembic.origin else "-", _sha(ws.settings.pyproject_path),
                 _sha(Path(__file__).parents[2] / "core/db.py"), ws.settings.scratch_url or "-"):
        digest.update(f"{part}\0".encode())
    for component in ws.registry:
        for path in _package_files(component.package, component.migrations_path):
            digest.update(f"{component.label}\0{path}\0{_sha(path)}\0".encode())
    return digest.hexdigest()


def _backend(ws: Workspace) -> str:
    from sqlalchemy.engine import make_url  # lazy: kept off --help

    return make_url(ws.settings.database_url).get_backend_name()


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "-"


def _package_files(package: str, migrations: Path) -> list[Path]:
    """Every ``.py`` file of ``package`` but its migrations; found without importing it (only its parents)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if not spec.submodule_search_locations:
        return [Path(spec.origin)] if spec.origin else []
    found: list[Path] = []
    for folder in spec.submodule_search_locations:
        for root, folders, files in os.walk(folder):
            folders[:] = sorted(f for f in folders if f != "__pycache__" and Path(root, f) != migrations)
            found.extend(Path(root, name) for name in sorted(files) if name.endswith(".py"))
    return found


def _compare(ws: Workspace) -> tuple[ModelChanges, dict[str, str]]:
    """makemigrations --check's comparison: the components it would write a revision for."""
    from memstack.engine.generate.autodetect import detect  # lazy: only on a change
    from memstack.engine.generate.scratch_imports import project_dependencies  # lazy: only on a change

    try:
        detection = detect(ws)
    except MemstackError as exc:  # no scratch database allowed, a revision failing on one, several heads, ...
        return ModelChanges(unknown=redact(exc.message)), {}  # (kept in a file: no password, ever)
    except Exception as exc:  # a reminder never fails the migrate it follows; kept, so it costs once per change
        return ModelChanges(unknown=redact(f"the comparison failed: {type(exc).__name__}: {exc}")), {}
    labels = tuple(dict.fromkeys(rev.component for rev in detection.revisions))
    models = [Path(file) for c in ws.registry if (file := _loaded_file(f"{c.package}.models"))]
    try:
        found = project_dependencies(models)
    except (OSError, SyntaxError, ValueError):
        return ModelChanges(components=labels), {"/": "unfollowable"}  # never matches: compared again next time
    memstack_root = Path(__file__).resolve().parents[2]
    dependencies = {}
    for key, value in found.items():  # the project's own modules, by file: checked by hashing, importing nothing
        path, _, digest = value.rpartition("|")
        if key.startswith("module:") and path and not Path(path).is_relative_to(memstack_root):
            dependencies[path] = digest
    return ModelChanges(components=labels), dependencies


def _loaded_file(name: str) -> str | None:
    """The file of module ``name`` as detect imported it (None: the component has no models module)."""
    import sys  # lazy: only on a change

    file = getattr(sys.modules.get(name), "__file__", None)
    return file if isinstance(file, str) else None


def _answers(cache: Path) -> list[dict[str, Any]]:
    """The kept answers, newest first (an unreadable file or another format: none)."""
    try:
        kept = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(kept, dict) or kept.get("format") != CACHE_FORMAT or not isinstance(kept.get("answers"), list):
        return []
    return [answer for answer in kept["answers"] if isinstance(answer, dict)]


def _read(cache: Path, key: str) -> ModelChanges | None:
    try:
        kept = next((answer for answer in _answers(cache) if answer.get("key") == key), None)
        if kept is None:
            return None
        if any(_sha(Path(path)) != digest for path, digest in kept["dependencies"].items()):
            return None
        unknown = kept["unknown"]
        return ModelChanges(tuple(str(c) for c in kept["components"]), None if unknown is None else str(unknown),
                            cached=True)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK)


def _write(cache: Path, key: str, found: ModelChanges, dependencies: dict[str, str]) -> None:
    """Kept whole or not at all (a temporary file moved into place); best effort, as every cache."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        ignore = cache.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# memstack's cache: safe to delete\n*\n", encoding="utf-8")
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial")
        answer = {"key": key, "components": list(found.components), "unknown": found.unknown,
                  "dependencies": dependencies}
        others = [kept for kept in _answers(cache) if kept.get("key") != key][:KEPT_ANSWERS - 1]
        partial.write_text(json.dumps({"format": CACHE_FORMAT, "answers": [answer, *others]}), encoding="utf-8")
        os.replace(partial, cache)
    except OSError:
        return
