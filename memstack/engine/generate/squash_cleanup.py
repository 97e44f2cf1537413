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

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from memstack.core.errors import MemstackError
from memstack.core.redaction import mask_url
from memstack.engine.errors import SquashNotCleanable, SquashSharedOnTargets
from memstack.engine.generate.squash import write_atomically
from memstack.engine.records.recorder import Recorder, applied_table
from memstack.engine.records.status import read_version_rows, squash_evidence
from memstack.engine.tree import replaces
from memstack.engine.tree.checksum import checksum_source
from memstack.engine.tree.loader import checksum_file, parse_revision_file
from memstack.engine.workspace import Workspace

_LABELS_LINE = re.compile(r"^(branch_labels\b[^=]*=\s*)None$", re.MULTILINE)
_SQUASH_PARENTS = re.compile(r"^squash_down_revision\s*=\s*(.*?)\s*(?:#.*)?\n", re.MULTILINE)
_REPLACES_BLOCK = re.compile(r"^# memstack: the revisions this one stands for.*\n|^replaces\s*=\s*\[[^\]]*\]\n"
                             r"|^from memstack\.alembic_placement import .*\n\n?", re.MULTILINE)


@dataclass(frozen=True)
class Target:
    """A database to check: a URL, or one PostgreSQL schema of it (a fleet target, as fleet/targets.py
    reads them; ``label``: as reports show it, the password masked)."""
    url: str
    schema: str | None = None
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or mask_url(self.url)


@dataclass
class CleanupResult:
    removed: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    rows_moved: dict[str, list[str]] = field(default_factory=dict)  # database -> "old -> squash"
    checked: list[str] = field(default_factory=list)  # every database found past the squashes

    def as_json(self) -> dict[str, object]:
        return {"removed": self.removed, "rewritten": self.rewritten, "rows_moved": self.rows_moved,
                "checked": self.checked}


def _behind(ws: Workspace, place: Target, squashes: dict[str, tuple[str, ...]]) -> tuple[list[str], dict[str, str]]:
    """(squashes this database is not past, {row naming a replaced revision: its squash})."""
    revisions = ws.loaded_tree.every_revision
    other = ws.for_database(place.url, place.schema)
    try:
        with other.engine.connect() as connection:
            rows = read_version_rows(connection)
            evidence = squash_evidence(connection, ws.loaded_tree)
    finally:
        other.close()
    applied = replaces.old_applied(revisions, replaces.live_squashes(revisions, ws.loaded_tree.squashes), evidence)
    behind, moves = [], {}
    for sid in squashes:
        members = replaces.members(sid, squashes, revisions)
        if not replaces.real_members(sid, squashes, revisions) <= applied:
            behind.append(sid)
        moves.update({row: sid for row in rows if row in members})
    return behind, moves


def _places(ws: Workspace, label: str, database_urls: Sequence[str], targets: Sequence[Target]) -> list[Target]:
    """Every database to check: each ``--database-url`` and every fleet target (default: the project's
    database). Fleet targets hold only the tenant components: a shared one's squash is refused there."""
    tenants = ws.settings.tenant_components
    if targets and tenants is not None and label not in tenants:
        raise SquashSharedOnTargets(label)
    places = [Target(url) for url in database_urls] + list(targets)
    return list(dict.fromkeys(places)) or [Target(ws.settings.database_url)]


def _not_past(ws: Workspace, places: Sequence[Target], squashes: dict[str, tuple[str, ...]]
              ) -> tuple[list[str], dict[Target, dict[str, str]]]:
    """(each database not past a squash, in words; {database: its rows to move})."""
    revisions = ws.loaded_tree.every_revision
    not_past, moves = [], {}
    for place in places:
        try:
            behind, rows = _behind(ws, place, squashes)
        except (SQLAlchemyError, MemstackError) as exc:  # unreachable, not a database: not shown to be past
            reason = exc.message if isinstance(exc, MemstackError) else f"{type(exc).__name__}: {exc}".splitlines()[0]
            not_past.append(f"{place.shown} (could not be read: {reason})")
            continue
        if behind:
            names = ", ".join(revisions[s].label for s in behind)
            not_past.append(f"{place.shown} (not past {names}: migrate it first)")
        moves[place] = rows
    return not_past, moves


def cleanup_squashes(ws: Workspace, component: str, database_urls: Sequence[str] = (),
                     targets: Sequence[Target] = ()) -> CleanupResult:
    """Remove ``component``'s replaced files once every database (``database_urls`` and fleet
    ``targets``) is past its squashes; refuse otherwise, naming the ones that are not."""
    ws.generating = True
    label = ws.registry.get(component).label
    tree = ws.loaded_tree
    live = replaces.live_squashes(tree.every_revision, tree.squashes)
    mine = {sid: reps for sid, reps in live.items() if tree.every_revision[sid].component == label}
    result = CleanupResult()
    places = _places(ws, label, database_urls, targets)
    if not mine:
        return result
    not_past, moves = _not_past(ws, places, mine)
    if not_past:
        raise SquashNotCleanable(label, not_past)
    result.checked = [place.shown for place in places]
    texts, gone = _rewritten(ws, mine)
    for place, rows in moves.items():
        _settle(ws, place, rows, texts, gone, mine)
        if rows:
            result.rows_moved[place.shown] = [f"{old} -> {new}" for old, new in sorted(rows.items())]
    for rid, text in texts.items():
        write_atomically(Path(tree.every_revision[rid].path), text, overwrite=True)
        result.rewritten.append(tree.every_revision[rid].path)
    for rid in sorted(gone):
        Path(tree.every_revision[rid].path).unlink(missing_ok=True)
        result.removed.append(tree.every_revision[rid].path)
    ws.reload()
    return result


def _settle(ws: Workspace, place: Target, rows: dict[str, str], texts: dict[str, str], gone: dict[str, str],
            squashes: dict[str, tuple[str, ...]]) -> None:
    """One database, before the files change: rows naming a replaced revision name its squash; the
    records of rewritten files get their new checksums (only where they matched the old file: real
    drift stays visible); the removed revisions' records give way to their squash's."""
    revisions = ws.loaded_tree.every_revision
    other = ws.for_database(place.url, place.schema)
    try:
        with other.engine.begin() as connection:
            recorder = Recorder(connection)
            if rows:
                recorder.move_rows(set(rows), set(rows.values()))
            if not recorder.has_bookkeeping():
                return
            recorded = {r.revision: r.checksum for r in connection.execute(select(applied_table))}
            for rid, text in texts.items():
                if rid in recorded and recorded[rid] == checksum_file(Path(revisions[rid].path)):
                    recorder.update_checksum(rid, checksum_source(text))
            for sid in squashes:
                if sid not in recorded and any(r in recorded for r in gone if gone[r] == sid):
                    rev = revisions[sid]
                    recorder.record_applied(sid, rev.component, rev.name, checksum_source(texts.get(sid, "")
                                            or Path(rev.path).read_text(encoding="utf-8")))
            recorder.forget_applied(r for r in gone if r in recorded)
    finally:
        other.close()


def _settled_squash(header: str) -> str:
    """The squash's header without ``replaces``, its real parents back in ``down_revision``."""
    parents = _SQUASH_PARENTS.search(header)
    header = _REPLACES_BLOCK.sub("", header)
    if parents is None:
        return header
    header = _SQUASH_PARENTS.sub("", header)
    return re.sub(r"^(down_revision\b[^=]*=\s*).*$", lambda m: m.group(1) + parents.group(1), header,
                  count=1, flags=re.MULTILINE)


def _rewritten(ws: Workspace, squashes: dict[str, tuple[str, ...]]) -> tuple[dict[str, str], dict[str, str]]:
    """({revision: its new text} for every file that changes, {removed revision: its squash})."""
    revisions = ws.loaded_tree.every_revision
    gone = {rid: sid for sid in squashes for rid in replaces.members(sid, squashes, revisions)}
    texts: dict[str, str] = {}
    for rid, rev in revisions.items():
        if rid in gone:
            continue
        text = Path(rev.path).read_text(encoding="utf-8")
        header, sep, body = text.partition("\ndef ")
        new = _settled_squash(header) if rid in squashes else header
        if rid in squashes and not rev.down_revisions:  # it is the base now: the component's branch label
            labels = {label for old in gone if gone[old] == rid and not revisions[old].down_revisions
                      for label in parse_revision_file(Path(revisions[old].path)).branch_labels}
            new = _LABELS_LINE.sub(rf"\1{tuple(sorted(labels))!r}", new) if labels else new
        for old, sid in gone.items():
            new = new.replace(f"'{old}'", f"'{sid}'").replace(f'"{old}"', f'"{sid}"')
        if new != header:
            texts[rid] = new + sep + body
    return texts, gone
