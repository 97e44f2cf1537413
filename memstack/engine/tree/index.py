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

The index also keeps a *folder summary*: a signature of the folder's listing (every revision
file's name and stat key) and the folder's part of the no-op fingerprint, written only when
every file is safely older than the index. A no-op start (:func:`trusted_summary`) then costs one
``scandir``, one ``stat`` a file and one hash a folder, and parses nothing: the JSON is written
with the summary ahead of the per-file entries so that only that head is decoded. Any
difference in the listing (a file added, removed, renamed, edited, replaced) or anything
unexpected in the head means no summary, and the caller takes the per-file path.

The installed-tree setting (``installed_tree``, for a read-only tree: a wheel in site-packages, a
container image) trusts the summary while the folder holds exactly the files it was made from, by
name: one ``scandir`` and no ``stat`` a file, so an edit in place is *not* seen. With it, a summary
is also stored while its files are recent (an image's build writes the tree and runs memstack
within the same seconds); a reader without the setting still applies the racy rule to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memstack.engine.tree import checksum

INDEX_NAME = ".memstack-index.json"
INDEX_FORMAT = 7  # 2: ``atomic`` kept (format 1 lost ``atomic = False``); 3: the folder summary;
#  4: ``atomic`` is also False for an undeclared ``autocommit_block()`` (format 3 headers say True),
#  ``irreversible`` also True for a file without ``downgrade()``; 5: ``guard``; 6: ``replaces``, ``elidable``;
#  7: the summary's ``names`` (the installed-tree setting)
RACY_WINDOW_NS = 2_000_000_000
"""Entries changed this close to the index's own write time are not trusted (covers 2 s
FAT timestamps and the usual 1 s and 1 ns ones)."""

StatKey = tuple[int, int, int, int]
_FILES_KEY = ',"files":'  # the head (format, written_ns, summary) ends where the entries start
_HEAD_BYTES = 4096  # the head is ~250 bytes


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
    guard: tuple[tuple[str, Any], ...] = ()  # ``guard = {...}`` as sorted (name, value) pairs
    replaces: tuple[str, ...] = ()  # a squash's ``replaces = [...]`` (tree/replaces.py)
    elidable: bool = False  # ``elidable = True``: its data work may be dropped by a squash


def stat_key(stat: os.stat_result) -> StatKey:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def _older_than(key: StatKey, written_ns: int) -> bool:
    """Both timestamps safely older than an index written at ``written_ns``."""
    return max(key[1], key[2]) < written_ns - RACY_WINDOW_NS


def is_revision_file_name(name: str) -> bool:
    """The loader's rule (``*.py``, not private or hidden)."""
    return name.endswith(".py") and not name.startswith(("_", "."))


def listing_signature(keys: list[tuple[str, StatKey]]) -> str:
    """Digest of a folder's revision files by name and stat key, in name order."""
    # repr of (str, (int, int, int, int)) pairs is unambiguous, and one C call for the whole folder
    return hashlib.sha256(repr(sorted(keys)).encode("utf-8", "surrogateescape")).hexdigest()


def _listing(folder: Path) -> list[tuple[str, StatKey]] | None:
    """(name, stat key) of every revision file; the no-op start's one per-file loop, so inlined."""
    try:
        with os.scandir(folder) as entries:
            stats = [(entry.name, entry.stat()) for entry in entries
                     if entry.name.endswith(".py") and not entry.name.startswith(("_", "."))]
    except OSError:
        return None
    return [(name, (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)) for name, st in stats]


def names_signature(names: list[str]) -> str:
    """Digest of a folder's revision file names, in name order (the installed-tree setting's proof)."""
    return hashlib.sha256("\0".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()


def _summary_head(path: Path) -> tuple[int, str, str, str] | None:
    """(written_ns, signature, part, names) from the index's head only, or None when there is none."""
    try:
        with open(path, "rb") as stream:
            text = stream.read(_HEAD_BYTES).decode("utf-8", "replace")
        end = text.find(_FILES_KEY)
        head = json.loads(text[:end] + "}") if end > 0 else None
        if not isinstance(head, dict) or head.get("format") != INDEX_FORMAT or \
                head.get("checksum_algorithm") != checksum.ALGORITHM:
            return None
        written, summary = head.get("written_ns"), head.get("summary")
        if type(written) is not int or not isinstance(summary, dict):
            return None
        signature, part, names = summary.get("signature"), summary.get("part"), summary.get("names")
    except (OSError, ValueError):
        return None
    if not (isinstance(signature, str) and isinstance(part, str) and isinstance(names, str)) or \
            not len(signature) == len(part) == len(names) == 64:
        return None
    return written, signature, part, names


def trusted_summary(folder: Path, installed: bool = False) -> str | None:
    """The folder's fingerprint part when its listing is exactly what the summary was made from
    (``installed``: by file names only, see the module docstring)."""
    head = _summary_head(folder / INDEX_NAME)
    if head is None:
        return None
    written, signature, part, names = head
    if installed:
        try:
            names_here = os.listdir(folder)  # names alone: no stat, and no DirEntry objects (2x cheaper)
        except OSError:
            return None
        listed = [name for name in names_here if name.endswith(".py") and not name.startswith(("_", "."))]
        return part if names_signature(listed) == names else None
    keys = _listing(folder)
    if keys is None or max((max(key[1], key[2]) for _, key in keys), default=0) >= written - RACY_WINDOW_NS:
        return None  # (the racy rule of _older_than, for every file at once)
    return part if listing_signature(keys) == signature else None


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
    guard = raw.get("guard", [])
    if not isinstance(guard, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                              for p in guard):
        raise ValueError("bad guard")
    header = Header(revision, _strings(raw["down_revision"]), _strings(raw["depends_on"]),
                    _strings(raw["branch_labels"]), irreversible, digest, atomic, tuple((p[0], p[1]) for p in guard),
                    _strings(raw.get("replaces", [])), raw.get("elidable") is True)
    return (key[0], key[1], key[2], key[3]), header


def _entry_to_json(key: StatKey, header: Header) -> dict[str, Any]:
    return {"stat": list(key), "revision": header.revision, "down_revision": list(header.down_revision),
            "depends_on": list(header.depends_on), "branch_labels": list(header.branch_labels),
            "irreversible": header.irreversible, "checksum": header.checksum, "atomic": header.atomic,
            "guard": [list(pair) for pair in header.guard], "replaces": list(header.replaces),
            "elidable": header.elidable}


class RevisionIndex:
    """The cache of one folder; ``header(path, parse)`` is the only way in."""
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / INDEX_NAME
        self._entries: dict[str, tuple[StatKey, Header]] = {}
        self._written_ns = 0
        self._seen: dict[str, tuple[StatKey, Header]] = {}
        self._dirty = False
        self._summary: tuple[list[tuple[str, StatKey]], str] | None = None  # (listing, part) to store
        self._stored_summary: dict[str, str] | None = None
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
        summary = raw.get("summary")
        self._stored_summary = summary if isinstance(summary, dict) else None

    def _trusted(self, key: StatKey) -> bool:
        return _older_than(key, self._written_ns)  # both timestamps safely older than the index

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
        source = checksum.read_source(path)
        header: Header = parse(path, source)
        self._seen[path.name] = (key, header)
        self._dirty = True  # rewritten even when equal: a racy entry becomes trusted once older
        return header

    def seen_header(self, path: Path) -> Header | None:
        """The header this run already read or trusted for ``path``, while its stat is unchanged.

        The same view the loaded tree was built from (no racy-window check: within one run the
        loaded tree is already what runs); a changed stat means the file is read again.
        """
        unchanged = self._unchanged(path)
        return unchanged[1] if unchanged is not None else None

    def _unchanged(self, path: Path) -> tuple[StatKey, Header] | None:
        """(stat key, header) this run saw for ``path``, while the file's stat still equals it."""
        seen = self._seen.get(path.name)
        if seen is None:
            return None
        try:
            key = stat_key(os.stat(path))
        except OSError:
            return None
        return seen if key == seen[0] else None

    def seen_key(self, path: Path) -> StatKey | None:
        """The stat key this run's header of ``path`` was taken under."""
        seen = self._seen.get(path.name)
        return seen[0] if seen is not None else None

    def remember_summary(self, listing: list[tuple[str, StatKey]], part: str) -> None:
        """The folder's fingerprint ``part``, computed from files with exactly these stat keys.

        Stored by :meth:`save` only if every key is then safely older than the index.
        """
        self._summary = (listing, part)

    def _summary_to_store(self, written_ns: int, installed: bool) -> dict[str, str] | None:
        if self._summary is None:
            return None
        listing, part = self._summary
        if not installed and not all(_older_than(key, written_ns) for _, key in listing):
            return None
        return {"signature": listing_signature(listing), "part": part,
                "names": names_signature([name for name, _ in listing])}

    def checksum_of(self, path: Path) -> str | None:
        """A checksum from this run's headers when the file's stat still matches, else None."""
        unchanged = self._unchanged(path)
        if unchanged is None:
            return None
        key, header = unchanged
        if max(key[1], key[2]) >= time.time_ns() - RACY_WINDOW_NS:
            return None  # so recent that a same-size edit could share its timestamps
        return header.checksum

    def save(self, installed: bool = False) -> None:
        """Write what this run saw (files gone since are dropped); failures are ignored.

        ``installed``: the installed-tree setting (a summary of recent files is stored too)."""
        written = time.time_ns()
        summary = self._summary_to_store(written, installed)
        if not self._dirty and set(self._seen) == set(self._entries) and \
                (summary is None or summary == self._stored_summary):
            return
        payload: dict[str, Any] = {"format": INDEX_FORMAT, "checksum_algorithm": checksum.ALGORITHM,
                                   "written_ns": written}
        if summary is not None:
            payload["summary"] = summary
        # "files" last: trusted_summary decodes only what comes before it
        payload["files"] = {name: _entry_to_json(*entry) for name, entry in sorted(self._seen.items())}
        temporary = self.path.with_name(f"{INDEX_NAME}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):  # (a path that is no folder: nothing to clean up)
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
