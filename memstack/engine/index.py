"""A cache of revision headers and checksums, one JSON file per migrations folder.

Parsing every revision file on every command is what makes a no-op ``migrate`` grow with
the tree. ``<folder>/.memstack-index.json`` (git-ignored) keeps, per file, what the loader
and the checksum need, keyed by the file's name and trusted only while the file's
``stat`` is unchanged: size, mtime_ns, ctime_ns and inode. ``ctime`` is the guard for
an edit that keeps size and mtime (``os.utime`` cannot set it back), the inode for a
file replaced by another (git checkout, rename).

A cache must never give a wrong answer, so it is distrusted rather than repaired:

* an entry whose mtime or ctime is not safely older than the moment the index was
  written is re-read every time (the file may change again within the filesystem's
  timestamp granularity, git's "racily clean" case); a clock that jumped back only
  makes more entries racy;
* an index that is unreadable, of another format or checksum algorithm, or whose entry
  fails a type check is ignored whole and rebuilt;
* ``stat`` is taken before the file is read, so a write racing the read leaves a stale
  stat behind, never a stale header under a fresh stat.

Writing is best effort (atomic rename; a read-only checkout just goes without a cache).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memstack.engine import checksum

INDEX_NAME = ".memstack-index.json"
INDEX_FORMAT = 2  # 2: ``atomic`` kept (format 1 lost ``atomic = False``)
RACY_WINDOW_NS = 2_000_000_000
"""Entries changed this close to the index's own write time are not trusted (covers 2 s
FAT timestamps and the usual 1 s and 1 ns ones)."""

StatKey = tuple[int, int, int, int]


@dataclass(frozen=True)
class Header:
    """What a revision file declares at module level, plus its checksum."""

    revision: str
    down_revision: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    irreversible: bool
    checksum: str
    atomic: bool = True


def stat_key(stat: os.stat_result) -> StatKey:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("not a list of strings")
    return tuple(value)


def _entry_from_json(raw: Any) -> tuple[StatKey, Header]:
    """One entry, type-checked field by field (ValueError on anything unexpected)."""
    if not isinstance(raw, dict):
        raise ValueError("entry is not an object")
    key = raw["stat"]
    if not (isinstance(key, list) and len(key) == 4 and all(type(v) is int for v in key)):
        raise ValueError("bad stat")
    revision, digest, irreversible = raw["revision"], raw["checksum"], raw["irreversible"]
    if not isinstance(revision, str) or not isinstance(digest, str) or len(digest) != 64:
        raise ValueError("bad revision or checksum")
    atomic = raw["atomic"]
    if type(irreversible) is not bool or type(atomic) is not bool:
        raise ValueError("bad irreversible or atomic")
    header = Header(revision, _strings(raw["down_revision"]), _strings(raw["depends_on"]),
                    _strings(raw["branch_labels"]), irreversible, digest, atomic)
    return (key[0], key[1], key[2], key[3]), header


def _entry_to_json(key: StatKey, header: Header) -> dict[str, Any]:
    return {"stat": list(key), "revision": header.revision, "down_revision": list(header.down_revision),
            "depends_on": list(header.depends_on), "branch_labels": list(header.branch_labels),
            "irreversible": header.irreversible, "checksum": header.checksum, "atomic": header.atomic}


class RevisionIndex:
    """The cache of one folder; ``header(path, parse)`` is the only way in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / INDEX_NAME
        self._entries: dict[str, tuple[StatKey, Header]] = {}
        self._written_ns = 0
        self._seen: dict[str, tuple[StatKey, Header]] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            if raw.get("format") != INDEX_FORMAT or raw.get("checksum_algorithm") != checksum.ALGORITHM:
                raise ValueError("another format")
            written = raw["written_ns"]
            if type(written) is not int:
                raise ValueError("bad written_ns")
            entries = {name: _entry_from_json(entry) for name, entry in raw["files"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # missing or unusable: start empty and rebuild
        self._entries, self._written_ns = entries, written

    def _trusted(self, key: StatKey) -> bool:
        # both timestamps must be safely older than the index itself
        return max(key[1], key[2]) < self._written_ns - RACY_WINDOW_NS

    def header(self, path: Path, parse: Callable[[Path, str], Header]) -> Header:
        """The file's header from the cache when its stat is unchanged, else from ``parse``.

        ``parse(path, source)`` reads the header and checksum from the file's text; errors
        propagate and nothing is cached for that file.
        """
        stat = os.stat(path)  # before reading: see the module docstring
        key = stat_key(stat)
        cached = self._entries.get(path.name)
        if cached is not None and cached[0] == key and self._trusted(key):
            self._seen[path.name] = cached
            return cached[1]
        source = path.read_text(encoding="utf-8")
        header: Header = parse(path, source)
        self._seen[path.name] = (key, header)
        self._dirty = True  # rewritten even when equal: a racy entry becomes trusted once older
        return header

    def seen_header(self, path: Path) -> Header | None:
        """The header this run already read or trusted for ``path``, while its stat is unchanged.

        The same view the loaded tree was built from (no racy-window check: within one run the
        loaded tree is already what runs); a changed stat means the file is read again.
        """
        seen = self._seen.get(path.name)
        if seen is None:
            return None
        try:
            key = stat_key(os.stat(path))
        except OSError:
            return None
        return seen[1] if key == seen[0] else None

    def checksum_of(self, path: Path) -> str | None:
        """A checksum from this run's headers when the file's stat still matches, else None."""
        seen = self._seen.get(path.name)
        if seen is None:
            return None
        try:
            key = stat_key(os.stat(path))
        except OSError:
            return None
        if key != seen[0] or max(key[1], key[2]) >= time.time_ns() - RACY_WINDOW_NS:
            return None  # changed, or so recent that a same-size edit could share its timestamps
        return seen[1].checksum

    def save(self) -> None:
        """Write what this run saw (files gone since are dropped); failures are ignored."""
        if not self._dirty and set(self._seen) == set(self._entries):
            return
        payload = {"format": INDEX_FORMAT, "checksum_algorithm": checksum.ALGORITHM,
                   "written_ns": time.time_ns(),
                   "files": {name: _entry_to_json(*entry) for name, entry in sorted(self._seen.items())}}
        temporary = self.path.with_name(f"{INDEX_NAME}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)



_open: dict[Path, RevisionIndex] = {}
"""The indexes of the folders the last ``load_tree`` read, for :func:`cached_checksum`."""


def open_index(folder: Path) -> RevisionIndex:
    index = RevisionIndex(folder)
    _open[folder] = index
    return index


def last_opened(folder: Path) -> RevisionIndex | None:
    """The index the last load of ``folder`` in this process used, if any."""
    return _open.get(folder)


def cached_checksum(path: Path) -> str | None:
    """The checksum the last load computed or trusted for ``path``, if the file is unchanged since."""
    index = _open.get(path.parent)
    return index.checksum_of(path) if index is not None else None
