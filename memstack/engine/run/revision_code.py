"""A revision file's code: always its current text, compiled once per text.

Python's import trusts a timestamp ``.pyc`` while the file's size and whole-second mtime match
what it recorded, so a same-size edit within a second (or one whose mtime was put back, as
``git checkout``, ``rsync -t`` or an archive can do) runs the old code, while the checksum,
taken from the text, records the new. Compiling every file from its text each time is correct
but about twice as slow to load as bytecode (1.8 ms against 0.9 ms a file on the synthetic tree).

So the bytes are read first and the code comes from a *checked hash-based* ``.pyc`` (PEP 552)
only when the hash inside it is the hash of exactly these bytes; otherwise they are compiled and
such a ``.pyc`` is written (unless bytecode writing is off, ``PYTHONDONTWRITEBYTECODE``) where
Python's import would look for it (``__pycache__`` or ``PYTHONPYCACHEPREFIX``). A timestamp
``.pyc`` left by Python's own import is never read. Python's import itself checks a hash-based
``.pyc`` against the source too, so the files stay correct for every reader.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import os
import sys
from pathlib import Path
from types import CodeType, ModuleType

_HEADER = 16  # magic, flags, source hash (PEP 552)
_CHECKED_HASH = (0b11).to_bytes(4, "little")  # hash-based, check_source


def module_from_source(name: str, path: Path, data: bytes) -> ModuleType:
    """The module the file's bytes ``data`` (as read now) make, looking imported as usual:
    ``__name__``, ``__file__``, ``__spec__``, tracebacks naming the file and its lines. It is
    not put in ``sys.modules``, as Alembic's ``load_module_py`` does not."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    exec(code_of(path, data), module.__dict__)  # what an import does, with this text's code
    return module


def code_of(path: Path, data: bytes) -> CodeType:
    """``data`` compiled, from the checked-hash ``.pyc`` of these very bytes when there is one."""
    source_hash = importlib.util.source_hash(data)
    try:
        cached = Path(importlib.util.cache_from_source(str(path)))
    except (NotImplementedError, ValueError):  # no cache tag (an unusual Python), or a path it cannot map
        return _compiled(path, data)
    code = _cached_code(cached, source_hash, str(path))
    if code is None:
        code = _compiled(path, data)
        if not sys.dont_write_bytecode:
            _write(cached, source_hash, code)
    return code


def _compiled(path: Path, data: bytes) -> CodeType:
    return compile(data, str(path), "exec", dont_inherit=True)  # as Python's import compiles source bytes


def _cached_code(cached: Path, source_hash: bytes, filename: str) -> CodeType | None:
    try:
        with open(cached, "rb") as stream:
            blob = stream.read()
    except OSError:
        return None
    if len(blob) <= _HEADER or blob[:4] != importlib.util.MAGIC_NUMBER or blob[4:8] != _CHECKED_HASH or \
            blob[8:16] != source_hash:
        return None  # none, another Python's, a timestamp one (never trusted), or another text's
    try:
        code = marshal.loads(blob[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return None
    return _with_filename(code, filename) if isinstance(code, CodeType) else None


def _with_filename(code: CodeType, filename: str) -> CodeType:
    """The code as compiled from ``filename`` (a tree copied with its ``__pycache__`` names its old place)."""
    if code.co_filename == filename:
        return code
    constants = tuple(_with_filename(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=constants)


def _write(cached: Path, source_hash: bytes, code: CodeType) -> None:
    """Best effort and atomic (a read-only tree, a full disk: the next load compiles again)."""
    temporary = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_bytes(importlib.util.MAGIC_NUMBER + _CHECKED_HASH + source_hash + marshal.dumps(code))
        os.replace(temporary, cached)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


def load_alembic_script(module_id: str, path: Path) -> ModuleType:
    """Alembic's ``load_module_py`` for a revision's ``.py`` file (alembic_compat.revisions_from_source)."""
    return module_from_source(module_id, path, path.read_bytes())
