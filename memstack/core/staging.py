"""File changes that are all made or none: a refused command leaves the project as it found it.

Commands that write several files (``startcomponent``, ``makemigrations``, ``takeover``,
``schemadoc -o``) validate first, but some checks can only run once the files exist (the registry
rebuilt from the edited ``pyproject.toml``, a rendered revision parsed back). Inside
:func:`all_or_nothing`, every file written through the :class:`FileChanges` is new or has its old
bytes kept; when anything raises (Ctrl-C included), the new files and folders are removed and the
old bytes written back, in reverse order, before the error goes on.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memstack.core.errors import MemstackError


class FileChanges:
    """The files and folders written so far, and how to undo each."""

    def __init__(self) -> None:
        self._undo: list[tuple[Path, bytes | None]] = []  # (path, old bytes; None: did not exist)
        self._folders: list[Path] = []

    def remember(self, path: Path) -> None:
        """Keep ``path``'s current bytes (or its absence) before something else writes it."""
        if any(seen == path for seen, _ in self._undo):
            return
        self._undo.append((path, path.read_bytes() if path.is_file() else None))

    def mkdir(self, folder: Path) -> None:
        """``folder`` and its missing parents, each removed again on undo."""
        missing = [f for f in (folder, *folder.parents) if not f.exists()]
        for created in reversed(missing):
            created.mkdir()
            self._folders.append(created)

    def write_text(self, path: Path, text: str) -> None:
        self.mkdir(path.parent)
        self.remember(path)
        path.write_text(text, encoding="utf-8")

    def write_bytes(self, path: Path, data: bytes) -> None:
        self.mkdir(path.parent)
        self.remember(path)
        path.write_bytes(data)

    def undo(self) -> None:
        for path, old in reversed(self._undo):
            try:
                if old is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(old)
            except OSError:
                pass  # (undoing what can be undone; the original error is what the person reads)
        for folder in reversed(self._folders):
            _remove_if_only_caches(folder)


def _remove_if_only_caches(folder: Path) -> None:
    """Remove ``folder`` when it holds nothing but what a run left in it (``__pycache__``, indexes)."""
    try:
        for child in folder.iterdir():
            if child.name == "__pycache__" and child.is_dir():
                for cached in child.iterdir():
                    cached.unlink()
                child.rmdir()
            elif child.name == ".memstack-index.json":
                child.unlink()
        os.rmdir(folder)
    except OSError:
        pass


@contextmanager
def all_or_nothing() -> Iterator[FileChanges]:
    """The :class:`FileChanges` of one command: undone when the block raises."""
    changes = FileChanges()
    try:
        yield changes
    except OSError as exc:  # a name too long for the filesystem, a read-only folder, a full disk
        changes.undo()
        raise MemstackError(
            f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}; nothing was changed",
            hint="check the name's length, the folder's permissions and the free space, then run the command again",
        ) from exc
    except BaseException:
        changes.undo()
        raise
