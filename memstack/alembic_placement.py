"""Where plain Alembic, reading the files without memstack's env.py, sees a squash that still replaces files.

``alembic heads``, ``branches`` and ``history`` (without ``revision_environment``) import the
revision files and read ``down_revision`` as written. A squash and the revisions it replaces live
side by side until ``squashmigrations --cleanup``, and revisions that followed the range still
name the range's end: a squash written after its range alone would be a second head beside them.
So a squash file's ``down_revision`` is this module's answer, computed when the file is imported:
the heads of its folder's other files, so the squash is always the last of its component's line,
whatever was added to the folder since. Several squashes still replacing files are chained (an
inner squash before the one replacing it, then by file name). A revision naming a squash hangs
below it. memstack itself never reads this value: its loader reads ``squash_down_revision`` (the
real parents) and its env.py hands Alembic the tree a database needs (alembic_squash.py).

Only the standard library: a revision file imports this from plain Alembic's process.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class _Header(NamedTuple):
    name: str
    down: tuple[str, ...]
    replaces: tuple[str, ...]
    parents: tuple[str, ...]  # squash_down_revision
    placed: bool  # its down_revision is not a literal (this module's call)


_cache: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}

_memstack_loads = 0


@contextmanager
def loaded_by_memstack() -> Iterator[None]:
    """While memstack itself imports revision files (its executor, the map its env.py hands Alembic):
    it decides the graph from its loader, so the folder is not read and a squash's ``down_revision``
    is its real parents (a fresh migrate of a squashed 600-file tree spent seconds here)."""
    global _memstack_loads
    _memstack_loads += 1
    try:
        yield
    finally:
        _memstack_loads -= 1


def _ids(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _header(path: Path) -> tuple[str, _Header] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    try:  # the header only (what comes before the first function): a fraction of the parsing
        tree = ast.parse(text.partition("\ndef ")[0], filename=str(path))
    except (SyntaxError, ValueError):
        try:
            tree = ast.parse(text, filename=str(path))
        except (SyntaxError, ValueError):
            return None
    found: dict[str, object] = {}
    placed = False
    for node in tree.body:
        target, value = (node.targets[0], node.value) if isinstance(node, ast.Assign) and len(node.targets) == 1 \
            else (node.target, node.value) if isinstance(node, ast.AnnAssign) else (None, None)
        if isinstance(target, ast.Name) and value is not None:
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:  # not a literal (this module's call in a squash)
                placed = placed or target.id == "down_revision"
    revision = found.get("revision")
    if not isinstance(revision, str):
        return None
    return revision, _Header(path.name, _ids(found.get("down_revision")), _ids(found.get("replaces")),
                             _ids(found.get("squash_down_revision")), placed)


def _descendants(roots: Iterable[str], children: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def placement(headers: dict[str, _Header]) -> dict[str, tuple[str, ...]]:
    """{squash still replacing a file here: the down_revision plain Alembic should read}."""
    live = [sid for sid, h in headers.items() if h.placed and h.replaces and any(r in headers for r in h.replaces)]

    def depth(sid: str) -> int:
        return sum(1 for other in live if other != sid and other in headers[sid].replaces)

    order = sorted(live, key=lambda sid: (depth(sid), headers[sid].name))
    down = {rid: h.down for rid, h in headers.items() if rid not in live}
    placed: dict[str, tuple[str, ...]] = {}
    for index, sid in enumerate(order):
        children: dict[str, set[str]] = {}
        for rid, parents in down.items():
            for parent in parents:
                children.setdefault(parent, set()).add(rid)
        waiting = set(order[index:])
        hidden = waiting | _descendants(waiting, children)
        nodes = [rid for rid in headers if rid not in hidden]
        named = {p for rid in nodes for p in down.get(rid, ())}
        placed[sid] = tuple(sorted(rid for rid in nodes if rid not in named)) or headers[sid].parents
        down[sid] = placed[sid]
    return placed


def alembic_down_revision(file: str) -> str | tuple[str, ...] | None:
    """The ``down_revision`` plain Alembic reads for the squash in ``file`` (see the module's text);
    its real parents when it replaces no file of its folder any more."""
    path = Path(file).resolve()
    if _memstack_loads:
        mine = _header(path)
        ids = mine[1].parents if mine else ()
        return None if not ids else ids[0] if len(ids) == 1 else ids
    folder = path.parent
    entries = sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in os.scandir(folder)
                     if e.name.endswith(".py") and not e.name.startswith(("_", ".")) and e.is_file())
    signature = repr(entries)
    cached = _cache.get(str(folder))
    if cached is None or cached[0] != signature:
        headers = dict(h for e in entries if (h := _header(folder / e[0])) is not None)
        cached = (signature, {**{r: h.parents for r, h in headers.items()}, **placement(headers)})
        _cache[str(folder)] = cached
    mine = _header(path)
    ids = cached[1].get(mine[0], ()) if mine else ()
    return None if not ids else ids[0] if len(ids) == 1 else ids


def plain_heads(folder: Path) -> list[str]:
    """The heads plain Alembic reads among ``folder``'s files without env.py (``manage.py check``
    warns when a component has more than one: a squash file whose ``down_revision`` is a literal,
    written by hand or by an older memstack, beside revisions that followed its range)."""
    entries = sorted(e.name for e in os.scandir(folder)
                     if e.name.endswith(".py") and not e.name.startswith(("_", ".")) and e.is_file())
    headers = dict(h for name in entries if (h := _header(folder / name)) is not None)
    down = {rid: h.down for rid, h in headers.items()}
    down.update(placement(headers))
    named = {p for parents in down.values() for p in parents}
    return sorted(rid for rid in headers if rid not in named)
