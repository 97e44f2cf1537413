"""A revision runs from its file's current text, never from a stale ``__pycache__`` entry.

Python's own import trusts a ``.pyc`` whose recorded source size and mtime (whole seconds) match
the file: a same-size edit within the same second, or one whose mtime was put back, would run the
old code while memstack's checksum (read from the text) recorded the new one. memstack loads
revision modules from their source (``run/alembic_config.py``: ``load_revision_module``), and plain
``alembic`` through memstack's env.py does too (``alembic_compat.revisions_from_source``).

The subprocesses run with bytecode caching on (a user's default: this machine's environment sets
``PYTHONDONTWRITEBYTECODE``, which would hide the bug), writing into a private ``PYTHONPYCACHEPREFIX``.
Real SQLite databases.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import py_compile
import shutil
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from support.inspect import table_names
from support.projects import add_alembic_config
from support.revisions import Chain, chain_component, same_size_same_mtime_edit
from support.running import alembic, manage

from memstack.core.errors import MemstackError
from memstack.engine.run.alembic_config import load_revision_module


def _bytecode_on(tmp_path: Path) -> dict[str, str]:
    """The environment of a user's process: bytecode written and read (into a prefix of the test's own)."""
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}


def _cached_bytecode(tmp_path: Path, chain: Chain) -> list[Path]:
    return sorted((tmp_path / "pycache").rglob(f"{chain.names[0]}*.pyc"))


def _edited(chain: Chain) -> str:
    """Rewrite revision 1 to create ``<label>_x1`` instead of ``<label>_t1``: same size, same mtime."""
    same_size_same_mtime_edit(chain.path(1), f"'{chain.label}_t1'", f"'{chain.label}_x1'")
    return f"{chain.label}_x1"


def test_manage_runs_the_current_text_not_a_stale_pyc(project: Path, make_component: Callable[..., str],
                                                      tmp_path: Path, sqlite_url: str) -> None:
    chain = chain_component(make_component, project, 1, prefix="src")
    env = _bytecode_on(tmp_path)
    shown = manage(project, sqlite_url, "sqlmigrate", chain.label, "0001", pythonpath=[chain.packages_dir], **env)
    assert shown.code == 0, shown.err
    assert chain.table(1) in shown.out
    _plant_stale_bytecode(chain, tmp_path)

    new_table = _edited(chain)
    shown = manage(project, sqlite_url, "sqlmigrate", chain.label, "0001", pythonpath=[chain.packages_dir], **env)
    assert shown.code == 0, shown.err
    assert new_table in shown.out and chain.table(1) not in shown.out

    migrated = manage(project, sqlite_url, "migrate", pythonpath=[chain.packages_dir], **env)
    assert migrated.code == 0, migrated.err
    tables = table_names(sqlite_url)
    assert new_table in tables and chain.table(1) not in tables


def test_plain_alembic_runs_the_current_text_not_a_stale_pyc(project: Path, make_component: Callable[..., str],
                                                             tmp_path: Path, sqlite_url: str) -> None:
    """Through memstack's env.py, Alembic's revision map is read from the files' text too."""
    chain = chain_component(make_component, project, 1, prefix="alsrc")
    add_alembic_config(project, [chain.label])
    env = _bytecode_on(tmp_path)
    offline = alembic(project, sqlite_url, "upgrade", f"{chain.label}@head", "--sql",
                      pythonpath=[chain.packages_dir], **env)
    assert offline.code == 0, offline.err
    assert chain.table(1) in offline.out
    _plant_stale_bytecode(chain, tmp_path)

    new_table = _edited(chain)
    upgraded = alembic(project, sqlite_url, "upgrade", f"{chain.label}@head", pythonpath=[chain.packages_dir], **env)
    assert upgraded.code == 0, upgraded.err
    tables = table_names(sqlite_url)
    assert new_table in tables and chain.table(1) not in tables


def _plant_stale_bytecode(chain: Chain, tmp_path: Path) -> None:
    """A ``.pyc`` of the current text where the subprocesses' imports look, valid for the file's size and
    mtime: what Python's own import leaves behind (memstack before this fix, a linter or a test importing
    the file, ``compileall`` in a container build)."""
    previous = sys.pycache_prefix
    sys.pycache_prefix = str(tmp_path / "pycache")  # (what PYTHONPYCACHEPREFIX sets in the subprocesses)
    try:
        cached = Path(importlib.util.cache_from_source(str(chain.path(1))))
    finally:
        sys.pycache_prefix = previous
    cached.parent.mkdir(parents=True, exist_ok=True)
    py_compile.compile(str(chain.path(1)), cfile=str(cached), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    assert _cached_bytecode(tmp_path, chain) == [cached]


# --------------------------------------------------------------------------- the loader in-process


def test_loaded_module_looks_imported(tmp_path: Path) -> None:
    """Name, ``__file__`` and tracebacks naming the file's lines stay as an import gives them."""
    path = tmp_path / "0001_boom.py"
    path.write_text("revision = 'a0'\n\n\ndef upgrade():\n    raise RuntimeError('boom')\n", encoding="utf-8")
    module = load_revision_module(path)
    assert module.__file__ == str(path) and module.revision == "a0"
    assert module.__name__.endswith("_0001_boom") and module.__name__ not in sys.modules
    with pytest.raises(RuntimeError) as raised:
        module.upgrade()
    frame = traceback.extract_tb(raised.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.line) == (str(path), 5, "raise RuntimeError('boom')")


def test_cache_follows_the_text(tmp_path: Path) -> None:
    """The per-run module cache is keyed by the text: a same-size, same-mtime edit is loaded anew."""
    path = tmp_path / "0001_x.py"
    path.write_text("value = 'aa'\n", encoding="utf-8")
    cache: dict[tuple[str, bytes], ModuleType] = {}
    first = load_revision_module(path, cache)
    assert load_revision_module(path, cache) is first
    stat = path.stat()
    path.write_text("value = 'bb'\n", encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_revision_module(path, cache).value == "bb"


@pytest.fixture
def bytecode_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Bytecode written, as on a user's machine, into a prefix of the test's own."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path / "pycache"))
    return tmp_path / "pycache"


def _header(cached: Path) -> bytes:
    return cached.read_bytes()[:16]


def test_bytecode_is_used_only_for_the_very_same_bytes(tmp_path: Path, bytecode_on: Path) -> None:
    path = tmp_path / "rev" / "0001_x.py"
    path.parent.mkdir()
    path.write_text("value = 'aa'\n", encoding="utf-8")
    assert load_revision_module(path).value == "aa"
    cached = Path(importlib.util.cache_from_source(str(path)))
    header = _header(cached)  # a checked hash-based .pyc (PEP 552): flags 0b11, then the source's hash
    assert header[4:8] == (3).to_bytes(4, "little") and header[8:] == importlib.util.source_hash(path.read_bytes())

    # a .pyc whose hash is this text's is used (here, one made to say something else, to see that it is)
    other = compile("value = 'from the cache'\n", str(path), "exec")
    cached.write_bytes(header + marshal.dumps(other))
    assert load_revision_module(path).value == "from the cache"

    same_size_same_mtime_edit(path, "'aa'", "'bb'")  # another text: that .pyc is not this text's
    assert load_revision_module(path).value == "bb"
    assert _header(cached)[8:] == importlib.util.source_hash(path.read_bytes())  # rewritten for the new text


def test_timestamp_bytecode_is_never_read(tmp_path: Path, bytecode_on: Path) -> None:
    """What Python's own import writes (valid for the file's size and mtime) is not trusted."""
    path = tmp_path / "0001_x.py"
    path.write_text("value = 'aa'\n", encoding="utf-8")
    cached = Path(importlib.util.cache_from_source(str(path)))
    py_compile.compile(str(path), cfile=str(cached), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    same_size_same_mtime_edit(path, "'aa'", "'bb'")
    assert load_revision_module(path).value == "bb"


def test_bytecode_of_a_moved_tree_names_the_file_where_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree copied with its ``__pycache__`` (a container build): tracebacks name the file's new place."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setattr(sys, "pycache_prefix", None)  # next to the file, so that it moves with the tree
    old = tmp_path / "build" / "0001_boom.py"
    old.parent.mkdir()
    old.write_text("def upgrade():\n    raise RuntimeError('boom')\n", encoding="utf-8")
    load_revision_module(old)
    new = tmp_path / "app" / "0001_boom.py"
    shutil.copytree(old.parent, new.parent)
    assert Path(importlib.util.cache_from_source(str(new))).is_file()
    with pytest.raises(RuntimeError) as raised:
        load_revision_module(new).upgrade()
    assert traceback.extract_tb(raised.value.__traceback__)[-1].filename == str(new)


def test_unwritable_cache_still_loads(tmp_path: Path, bytecode_on: Path) -> None:
    path = tmp_path / "0001_x.py"
    path.write_text("value = 'aa'\n", encoding="utf-8")
    bytecode_on.write_text("a file where the cache folder would be")
    assert load_revision_module(path).value == "aa"


def test_coding_line_and_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "0001_latin.py"
    path.write_bytes("# -*- coding: latin-1 -*-\nvalue = 'caf\xe9'\n".encode("latin-1"))
    assert load_revision_module(path).value == "caf\xe9"
    broken = tmp_path / "0002_broken.py"
    broken.write_text("def upgrade(:\n", encoding="utf-8")
    with pytest.raises(MemstackError, match=r"0002_broken\.py"):
        load_revision_module(broken)
