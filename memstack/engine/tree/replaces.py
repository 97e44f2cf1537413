"""Squashed revisions (``replaces = [...]``, as Django has them) resolved against a database.

A squash S and the revisions it replaces live side by side until ``squashmigrations --cleanup``.
Which of them a database runs depends on what it has applied, so the graph a plan uses is a
*view*, chosen from the version rows:

- none of S's revisions applied (a new database), or all of them (a database past the squashed
  range, or one that ran S itself): S stands in for them. Every reference to a replaced
  revision (a later revision's ``down_revision``, another component's ``depends_on``) points to
  S, and a version row naming a replaced revision is read as S (``row_aliases``);
- some but not all applied: S is left out and the replaced revisions run as before; references
  to S point to the replaced revisions' heads.

Squashes nest (a squash may replace an earlier squash): the outermost one that fits is used,
else the inner ones are tried. The rule is Django's (``MigrationLoader.replace_migrations``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from memstack.engine.tree.graph import MigrationGraph, Revision


@dataclass(frozen=True)
class View:
    """The revisions a database's plans use; ``chosen``: the squashes standing in for their revisions."""
    revisions: list[Revision]
    row_aliases: dict[str, str]
    chosen: frozenset[str]


def live_squashes(revisions: Mapping[str, Revision], replaces: Mapping[str, tuple[str, ...]]
                  ) -> dict[str, tuple[str, ...]]:
    """The squashes that still replace a revision present (one whose files are all gone is a plain revision)."""
    return {sid: reps for sid, reps in replaces.items()
            if sid in revisions and reps and any(r in revisions for r in reps)}


def members(sid: str, squashes: Mapping[str, tuple[str, ...]], present: Mapping[str, Revision]) -> set[str]:
    """Every revision ``sid`` covers, through nested squashes, that is present."""
    found: set[str] = set()
    stack = [sid]
    while stack:
        for rid in squashes.get(stack.pop(), ()):
            if rid in present and rid not in found:
                found.add(rid)
                stack.append(rid)
    return found


def real_members(sid: str, squashes: Mapping[str, tuple[str, ...]], present: Mapping[str, Revision]) -> set[str]:
    """The covered revisions that are not squashes themselves: what the old files build."""
    return {rid for rid in members(sid, squashes, present) if rid not in squashes}


def heads_of(ids: set[str], revisions: Mapping[str, Revision]) -> list[str]:
    """Members of ``ids`` that no other member builds on."""
    parents = {p for rid in ids for p in revisions[rid].parents}
    return sorted(rid for rid in ids if rid not in parents)


def _remapped(rev: Revision, target: Mapping[str, tuple[str, ...]]) -> Revision:
    def mapped(ids: Iterable[str]) -> tuple[str, ...]:
        out = [t for rid in ids for t in target.get(rid, (rid,)) if t != rev.id]
        return tuple(dict.fromkeys(out))

    down = mapped(rev.down_revisions)
    return dataclasses.replace(rev, down_revisions=down,
                               depends_on=tuple(d for d in mapped(rev.depends_on) if d not in down))


def old_applied(revisions: Mapping[str, Revision], squashes: Mapping[str, tuple[str, ...]],
                 rows: Iterable[str]) -> set[str]:
    """What ``rows`` mean in the old tree (every squash left out, its rows read as its revisions' heads)."""
    heads = {sid: tuple(heads_of(real_members(sid, squashes, revisions), revisions)) for sid in squashes}
    old = MigrationGraph()
    for rev in revisions.values():
        if rev.id not in squashes:
            old.add(_remapped(rev, heads))
    wanted = [h for row in rows for h in heads.get(row, (row,))]
    return old.applied_from_rows([r for r in wanted if r in old])


def resolve(revisions: Mapping[str, Revision], replaces: Mapping[str, tuple[str, ...]],
            rows: Iterable[str] = (), keep_old: Collection[str] = ()) -> View:
    """The view of ``revisions`` for a database whose version rows are ``rows`` (none: a new database);
    the squashes in ``keep_old`` are never used (plain Alembic cannot read a row as its squash)."""
    squashes = live_squashes(revisions, replaces)
    if not squashes:
        return View(list(revisions.values()), {}, frozenset())
    applied = old_applied(revisions, squashes, list(rows))
    inner = {rid for sid in squashes for rid in members(sid, squashes, revisions)}
    queue = sorted(sid for sid in squashes if sid not in inner)
    chosen: set[str] = set()
    while queue:
        sid = queue.pop(0)
        real = real_members(sid, squashes, revisions)
        if sid not in keep_old and len(real & applied) in (0, len(real)):
            chosen.add(sid)
        else:
            queue.extend(sorted(r for r in squashes[sid] if r in squashes and r in revisions))
    covered = {rid: sid for sid in chosen for rid in members(sid, squashes, revisions)}
    target: dict[str, tuple[str, ...]] = {rid: (sid,) for rid, sid in covered.items()}
    for sid in squashes:
        if sid not in chosen and sid not in covered:
            heads = heads_of(real_members(sid, squashes, revisions), revisions)
            target[sid] = tuple(dict.fromkeys(covered.get(h, h) for h in heads))
    kept = [_remapped(rev, target) for rid, rev in revisions.items() if rid not in target]
    return View(kept, dict(covered), frozenset(chosen))
