"""``squashmigrations --cleanup``: the replaced files go once every named database is past the squash.

A database is past a squash when every revision it replaces is applied (or it ran the squash).
A past database whose version row still names a replaced revision has that row moved to the
squash first (one UPDATE, as a step would write it): once the files are gone, only the
squash's id is known. Then the replaced files are deleted, the squash's ``replaces`` list is
removed, and every remaining file that named a replaced revision (a later revision's
``down_revision``, another component's ``depends_on``) names the squash instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memstack.core.redaction import mask_url
from memstack.engine.errors import SquashNotCleanable
from memstack.engine.generate.squash import write_atomically
from memstack.engine.records.recorder import Recorder
from memstack.engine.records.status import read_version_rows
from memstack.engine.tree import replaces
from memstack.engine.workspace import Workspace

_REPLACES_BLOCK = re.compile(r"^# memstack: the revisions this one stands for.*\n|^replaces\s*=\s*\[[^\]]*\]\n",
                             re.MULTILINE)


@dataclass
class CleanupResult:
    removed: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    rows_moved: dict[str, list[str]] = field(default_factory=dict)  # database -> "old -> squash"

    def as_json(self) -> dict[str, object]:
        return {"removed": self.removed, "rewritten": self.rewritten, "rows_moved": self.rows_moved}


def _behind(ws: Workspace, url: str, squashes: dict[str, tuple[str, ...]]) -> tuple[list[str], dict[str, str]]:
    """(squashes this database is not past, {row naming a replaced revision: its squash})."""
    revisions = ws.loaded_tree.every_revision
    other = ws.for_database(url)
    try:
        with other.engine.connect() as connection:
            rows = read_version_rows(connection)
    finally:
        other.close()
    applied = replaces.old_applied(revisions, replaces.live_squashes(revisions, ws.loaded_tree.squashes), rows)
    behind, moves = [], {}
    for sid in squashes:
        members = replaces.members(sid, squashes, revisions)
        if not replaces.real_members(sid, squashes, revisions) <= applied:
            behind.append(sid)
        moves.update({row: sid for row in rows if row in members})
    return behind, moves


def cleanup_squashes(ws: Workspace, component: str, database_urls: Sequence[str] = ()) -> CleanupResult:
    """Remove ``component``'s replaced files once every database is past its squashes; refuse otherwise."""
    ws.generating = True
    label = ws.registry.get(component).label
    tree = ws.loaded_tree
    live = replaces.live_squashes(tree.every_revision, tree.squashes)
    mine = {sid: reps for sid, reps in live.items() if tree.every_revision[sid].component == label}
    result = CleanupResult()
    if not mine:
        return result
    urls = list(database_urls) or [ws.settings.database_url]
    not_past, moves = [], {}
    for url in urls:
        behind, rows = _behind(ws, url, mine)
        if behind:
            names = ", ".join(tree.every_revision[s].label for s in behind)
            not_past.append(f"{mask_url(url)} (not past {names}: run 'manage.py migrate' on it)")
        moves[url] = rows
    if not_past:
        raise SquashNotCleanable(label, not_past)
    for url, rows in moves.items():
        if rows:
            _move_rows(ws, url, rows)
            result.rows_moved[mask_url(url)] = [f"{old} -> {new}" for old, new in sorted(rows.items())]
    _rewrite_files(ws, mine, result)
    ws.reload()
    return result


def _move_rows(ws: Workspace, url: str, rows: dict[str, str]) -> None:
    other = ws.for_database(url)
    try:
        with other.engine.begin() as connection:
            Recorder(connection).move_rows(set(rows), set(rows.values()))
    finally:
        other.close()


def _rewrite_files(ws: Workspace, squashes: dict[str, tuple[str, ...]], result: CleanupResult) -> None:
    tree = ws.loaded_tree
    revisions = tree.every_revision
    gone = {rid: sid for sid in squashes for rid in replaces.members(sid, squashes, revisions)}
    for rid, rev in revisions.items():
        if rid in gone:
            continue
        path = Path(rev.path)
        text = path.read_text(encoding="utf-8")
        header, sep, body = text.partition("\ndef ")
        new = _REPLACES_BLOCK.sub("", header) if rid in squashes else header
        for old, sid in gone.items():
            new = new.replace(f"'{old}'", f"'{sid}'").replace(f'"{old}"', f'"{sid}"')
        if new != header:
            write_atomically(path, new + sep + body, overwrite=True)
            result.rewritten.append(str(path))
    for rid in sorted(gone):
        path = Path(revisions[rid].path)
        path.unlink(missing_ok=True)
        result.removed.append(str(path))
