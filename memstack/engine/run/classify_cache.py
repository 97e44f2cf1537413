"""The classifier's answers kept between runs, by the exact bytes of each revision file.

Classifying a forward step means loading its file, parsing its source and calling its
function against a recording ``op`` (classify.py): about a fifth of the CPU a migrate from
empty spends, for an answer that only changes when the file does. So each answer is kept in
``<folder>/__pycache__/memstack-classified.json`` (where Python keeps bytecode: git-ignored
in practice; a read-only tree, or ``PYTHONDONTWRITEBYTECODE``, goes without), under the SHA-256 of the file's bytes,
the dialect and the direction.

A cache must never hide a destructive step, so an answer is kept only when the bytes alone
decide it:

* the file imports nothing but Alembic, SQLAlchemy and a few stdlib modules of plain values
  (a helper of the project's own could change without the file changing), and calls none of
  the builtins that reach outside it (``open``, ``exec``, ``__import__``, ...) nor reads
  ``__file__`` or an ``environ``;
* the whole file is keyed by memstack's, Alembic's and SQLAlchemy's versions and the cache's
  format: another version of the classifier or of the operations it records starts afresh;
* a file that cannot be read, parsed or decoded whole is ignored whole, and rebuilt.

An edit that keeps a file's size and mtime changes its bytes, so it is never served an old
answer (unlike a stat-keyed cache). Writing is best effort and atomic (a temporary file
renamed); concurrent runs lose at most each other's new entries.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import alembic
import sqlalchemy

from memstack import __version__
from memstack.engine.run.classify_sql import Fact

__all__ = ["ClassificationCache", "self_contained"]

CACHE_NAME = "memstack-classified.json"
CACHE_FORMAT = 1
_CONTEXT = f"{CACHE_FORMAT}/{__version__}/{alembic.__version__}/{sqlalchemy.__version__}"
_PLAIN_MODULES = frozenset({"alembic", "sqlalchemy", "__future__", "typing", "typing_extensions", "collections",
                            "datetime", "decimal", "enum", "uuid", "json", "re"})
_REACHING_OUT = frozenset({"open", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "getattr",
                           "setattr", "input", "breakpoint", "__file__", "__builtins__", "__loader__", "__spec__"})
Kept = tuple[tuple[Fact, ...], str | None]  # a step's facts and its ``destroys_data``
_FACT_FIELDS = {"effect": str, "kind": str, "table": str, "column": str, "schema": str, "from_type": str,
                "to_type": str, "why": str, "sql": str, "condition": str, "line": int}


def self_contained(data: bytes) -> bool:
    """True when what the file's functions do is decided by its bytes (see the module docstring)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] not in _PLAIN_MODULES for a in node.names):
            return False
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] not in _PLAIN_MODULES):
            return False
        if isinstance(node, ast.Name) and node.id in _REACHING_OUT:
            return False
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            return False
    return True


def _fact_from_json(raw: Any) -> Fact:
    if not isinstance(raw, dict) or not set(raw) <= set(_FACT_FIELDS) or "effect" not in raw or "kind" not in raw:
        raise ValueError("not a fact")
    for name, value in raw.items():
        if type(value) is not _FACT_FIELDS[name]:
            raise ValueError(f"fact field {name}")
    return Fact(**raw)


class _Folder:
    """One folder's kept answers: loaded on first use, saved when something was added."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "__pycache__" / CACHE_NAME
        self.entries: dict[str, Kept] = {}
        self.added = False
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_bytes())
            if not isinstance(raw, dict) or raw.get("context") != _CONTEXT or not isinstance(raw.get("entries"), dict):
                return
            entries = {}
            for key, value in raw["entries"].items():
                facts, declared = value
                if not isinstance(facts, list) or not (declared is None or isinstance(declared, str)):
                    raise ValueError("entry")
                entries[key] = (tuple(_fact_from_json(f) for f in facts), declared)
        except (OSError, ValueError, TypeError):  # missing, unreadable, another format or forged: start afresh
            return
        self.entries = entries

    def save(self) -> None:
        if not self.added or sys.dont_write_bytecode:  # PYTHONDONTWRITEBYTECODE: nothing written beside the code
            return
        self.added = False
        payload = {"context": _CONTEXT, "entries": {key: [[f.as_json() for f in facts], declared]
                                                    for key, (facts, declared) in self.entries.items()}}
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:  # a read-only tree, a full disk: the next run classifies again
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


class ClassificationCache:
    """The kept answers of every folder a run classifies in (one per run: see classify.classifier)."""

    def __init__(self) -> None:
        self._folders: dict[Path, _Folder] = {}

    def _folder(self, path: Path) -> _Folder:
        folder = path.parent
        if folder not in self._folders:
            self._folders[folder] = _Folder(folder)
        return self._folders[folder]

    @staticmethod
    def _key(data: bytes, dialect_name: str, direction: str) -> str:
        return f"{hashlib.sha256(data).hexdigest()}/{dialect_name}/{direction}"

    def get(self, path: Path, data: bytes, dialect_name: str, direction: str) -> Kept | None:
        """The kept (facts, declared) of these bytes, or None."""
        return self._folder(path).entries.get(self._key(data, dialect_name, direction))

    def put(self, path: Path, data: bytes, dialect_name: str, direction: str, facts: tuple[Fact, ...],
            declared: str | None) -> None:
        """Keep an answer, if the bytes alone decide it."""
        if not self_contained(data):
            return
        folder = self._folder(path)
        folder.entries[self._key(data, dialect_name, direction)] = (facts, declared)
        folder.added = True

    def save(self) -> None:
        for folder in self._folders.values():
            folder.save()
