"""The no-op fast path: "this tree is fully applied to this database", remembered in the database.

A start with nothing to do used to build and validate the whole graph, read every state
table and compare every applied checksum. After a run that leaves the database fully up to
date (nothing pending, no marks, no unknown rows, no changed applied file) memstack stores
in ``memstack_meta`` a digest of three things:

* the tree: every component's label and folder and every revision file's header and
  checksum (from the revision index, validated by ``stat``), memstack's and the
  bookkeeping schema's versions;
* the state the checks saw: version rows, applied records (revision, checksum, verified)
  and the number of marks, so another process's work, a repair, plain ``alembic
  upgrade/downgrade`` and hand-made changes all change it.

A later no-op start reads the digest and that state in one query and compares; any
difference (an edited file, another branch, a deleted row, another process's work) falls back
to the full path. The digest is computed from the very state that was checked, so a change
committed after the check leaves a digest that no longer matches, never a stale "up to date".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, cast, literal, select, union_all
from sqlalchemy.exc import SQLAlchemyError

from memstack.engine.records.bookkeeping import (
    BOOKKEEPING_SCHEMA_VERSION,
    applied_table,
    marks_table,
    meta_table,
    version_table,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql import Select

    from memstack.engine.workspace import Workspace

FINGERPRINT_KEY = "noop_fingerprint"


def tree_fingerprint(ws: Workspace) -> str:
    """Digest of every component's revision headers and checksums; nothing parsed that is unchanged.

    Each folder contributes its part: from the index's folder summary when the folder's listing
    is exactly what the summary was made from (one stat a file), else from the headers.
    """
    from memstack import __version__
    from memstack.engine.tree import index

    digest = hashlib.sha256(f"{__version__}|{BOOKKEEPING_SCHEMA_VERSION}".encode())
    for component in ws.registry:
        folder = component.migrations_path
        digest.update(f"\0component {component.label} {folder}\0".encode())
        part = index.trusted_summary(folder) or _folder_part(folder)
        digest.update(part.encode())
    return digest.hexdigest()


def _folder_part(folder: Path) -> str:
    """One folder's part from its headers (parsed only when changed); remembered in the index.

    Parts are stored in the index and trusted while the files are unchanged: changing what a
    part hashes needs a new ``index.INDEX_FORMAT``.
    """
    from memstack.engine.tree import index
    from memstack.engine.tree.loader import _indexed_header, revision_files

    loaded = index.last_opened(folder)  # this process's earlier load: files are not read twice
    revisions = index.open_index(folder) if loaded is None else loaded
    part = hashlib.sha256()
    listing: list[tuple[str, index.StatKey]] = []
    paths = revision_files(folder)
    for path in paths:
        header = (loaded.seen_header(path) if loaded is not None else None) or \
            revisions.header(path, _indexed_header)
        key = revisions.seen_key(path)
        if key is not None:
            listing.append((path.name, key))
        part.update(repr((path.name, header.revision, header.down_revision, header.depends_on,
                          header.branch_labels, header.irreversible, header.checksum, header.atomic)).encode())
    if paths and len(listing) == len(paths):  # (an empty or missing folder costs nothing anyway)
        revisions.remember_summary(listing, part.hexdigest())
    revisions.save()
    return part.hexdigest()


def _combined(tree: str, facts: list[str]) -> str:
    return hashlib.sha256("\0".join([tree, *sorted(facts)]).encode()).hexdigest()


def _applied_digest(applied: Iterable[tuple[str, str | None, bool]]) -> str:
    """One fact for every applied record: on PostgreSQL the server computes the same (see
    :func:`_applied_digest_on_server`), so a no-op start reads one row instead of one per revision."""
    lines = sorted(f"{r} {c} {bool(v)}" for r, c, v in applied)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _state_facts(rows: Iterable[str], applied_digest: str, marks: int) -> list[str]:
    """What the digest vouches for besides the tree: version rows, applied records, marks."""
    return [f"row {r}" for r in rows] + [f"applied {applied_digest}", f"marks {marks}"]


def _applied_digest_on_server() -> Select[Any]:
    """:func:`_applied_digest` in PostgreSQL (11+: ``sha256``); ``COLLATE "C"`` orders by code point,
    as Python's ``sorted`` does."""
    from sqlalchemy import case, func
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    t = applied_table.c
    line = t.revision + " " + func.coalesce(t.checksum, "None") + " " + case((t.verified, "True"), else_="False")
    joined = func.coalesce(func.string_agg(line, aggregate_order_by(literal("\n"), line.collate("C"))), "")
    digest = func.encode(func.sha256(func.convert_to(joined, "UTF8")), "hex")
    return select(literal("applied_digest"), digest, literal(None, String), literal(0)).select_from(applied_table)


def _read_facts(connection: Connection) -> tuple[str | None, list[str]]:
    """(stored digest, state facts) in one query."""
    none = literal(None, String)
    meta = select(meta_table.c.key, meta_table.c.value, none, literal(0)).where(
        meta_table.c.key == FINGERPRINT_KEY)
    rows = select(literal("row"), version_table.c.version_num, none, literal(0))
    version = connection.dialect.server_version_info or (0,)
    on_server = connection.dialect.name == "postgresql" and version >= (11,)
    applied = _applied_digest_on_server() if on_server else select(
        literal("applied"), applied_table.c.revision, applied_table.c.checksum, cast(applied_table.c.verified, Integer))
    marks = select(literal("mark"), marks_table.c.revision, none, literal(0))
    stored = server_digest = None
    versions: list[str] = []
    records: list[tuple[str, str | None, bool]] = []
    mark_count = 0
    for kind, value, checksum, verified in connection.execute(union_all(meta, rows, applied, marks)):
        if kind == FINGERPRINT_KEY:
            stored = value
        elif kind == "row":
            versions.append(value)
        elif kind == "applied":
            records.append((value, checksum, bool(verified)))
        elif kind == "applied_digest":
            server_digest = value
        else:
            mark_count += 1
    digest = server_digest if on_server and server_digest is not None else _applied_digest(records)
    return stored, _state_facts(versions, digest, mark_count)


def _database_missing(ws: Workspace) -> bool:
    from memstack.core.urls import missing_sqlite_file

    return missing_sqlite_file(ws.settings.database_url)


def up_to_date(ws: Workspace) -> bool:
    """True only when the stored digest matches this tree and the state read with it."""
    if _database_missing(ws):
        return False
    try:
        with ws.engine.connect() as connection:
            stored, facts = _read_facts(connection)
    except SQLAlchemyError as exc:  # no bookkeeping tables yet, or no server: the full path says which
        from memstack.core.network import timed_out

        if timed_out(exc):  # a silent server: say so now rather than wait for it a second time
            from memstack.core.db import database_unavailable

            raise database_unavailable(exc, ws.settings.database_url) from exc
        return False
    return stored is not None and stored == _combined(tree_fingerprint(ws), facts)


def remember_if_up_to_date(ws: Workspace) -> None:
    """After a full run: store the digest when the database is fully up to date (best effort)."""
    from memstack.engine.run.safety import checksum_drift, database_state

    if _database_missing(ws):
        return
    try:
        state = database_state(ws)
        graph = ws.graph
        if state.marks or state.unknown or set(graph.revisions) - state.applied or checksum_drift(ws.tree, state):
            return
        records = [(r.revision, r.checksum, r.verified) for r in state.records.values()]
        facts = _state_facts(state.rows, _applied_digest(records), len(state.marks))  # what the checks above saw
        value = _combined(tree_fingerprint(ws), facts)
        with ws.engine.begin() as connection:
            connection.execute(meta_table.delete().where(meta_table.c.key == FINGERPRINT_KEY))
            connection.execute(meta_table.insert().values(key=FINGERPRINT_KEY, value=value))
    except SQLAlchemyError:  # a cache: failing to write it only costs the next start the full path
        return
