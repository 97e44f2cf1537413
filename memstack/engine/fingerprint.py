"""The no-op fast path: "this tree is fully applied to this database", remembered in the database.

A start with nothing to do used to build and validate the whole graph, read every state
table and compare every applied checksum. After a run that leaves the database fully up to
date (nothing pending, no marks, no unknown rows, no changed applied file) memstack stores
in ``memstack_meta`` a digest of three things:

* the tree: every component's label and folder and every revision file's header and
  checksum (from the revision index, validated by ``stat``), memstack's and the
  bookkeeping schema's versions;
* the state token: a random value every transaction that changes memstack's state rows
  replaces (:meth:`Recorder.touch`), so a mark, a repair or a revision applied by another
  memstack process changes it;
* the version rows themselves, so plain ``alembic upgrade/downgrade`` is caught too.

A later no-op start reads the digest, the token and the rows in one query and compares; any
difference (an edited file, another branch, a deleted row, another process's work) falls back
to the full path. The token is read before the state it vouches for, so a change committed
in between leaves a stale token behind, never a stale "up to date".
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import literal, select, union_all
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from memstack.engine.bookkeeping import BOOKKEEPING_SCHEMA_VERSION, meta_table, version_table

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.workspace import Workspace

FINGERPRINT_KEY = "noop_fingerprint"
TOKEN_KEY = "state_token"
_ROW = "version_row"


def tree_fingerprint(ws: Workspace) -> str:
    """Digest of every component's revision headers and checksums; nothing parsed that is unchanged."""
    from memstack import __version__
    from memstack.engine import index
    from memstack.engine.loader import _indexed_header, revision_files

    digest = hashlib.sha256(f"{__version__}|{BOOKKEEPING_SCHEMA_VERSION}".encode())
    for component in ws.registry:
        folder = component.migrations_path
        digest.update(f"\0component {component.label} {folder}".encode())
        revisions = index.open_index(folder)
        for path in revision_files(folder):
            header = revisions.header(path, _indexed_header)
            digest.update(repr((path.name, header.revision, header.down_revision, header.depends_on,
                                header.branch_labels, header.irreversible, header.checksum)).encode())
        revisions.save()
    return digest.hexdigest()


def _combined(tree: str, token: str, rows: list[str]) -> str:
    return hashlib.sha256("\0".join([tree, token, *sorted(rows)]).encode()).hexdigest()


def _read_facts(connection: Connection) -> tuple[str | None, str | None, list[str]]:
    """(stored digest, state token, version rows) in one query."""
    meta = select(meta_table.c.key, meta_table.c.value).where(meta_table.c.key.in_([FINGERPRINT_KEY, TOKEN_KEY]))
    rows = select(literal(_ROW).label("key"), version_table.c.version_num.label("value"))
    stored = token = None
    versions: list[str] = []
    for key, value in connection.execute(union_all(meta, rows)):
        if key == FINGERPRINT_KEY:
            stored = value
        elif key == TOKEN_KEY:
            token = value
        else:
            versions.append(value)
    return stored, token, versions


def _database_missing(ws: Workspace) -> bool:
    from memstack.core.urls import missing_sqlite_file

    return missing_sqlite_file(ws.settings.database_url)


def up_to_date(ws: Workspace) -> bool:
    """True only when the stored digest matches this tree, the state token and the version rows."""
    if _database_missing(ws):
        return False
    try:
        with ws.engine.connect() as connection:
            stored, token, rows = _read_facts(connection)
    except SQLAlchemyError:  # no bookkeeping tables yet, or no server: the full path says which
        return False
    if stored is None or token is None:
        return False
    return stored == _combined(tree_fingerprint(ws), token, rows)


def _read_or_create_token(ws: Workspace) -> str | None:
    with ws.engine.connect() as connection:
        token = connection.execute(select(meta_table.c.value).where(meta_table.c.key == TOKEN_KEY)).scalar()
    if token is not None:
        return str(token)
    try:
        with ws.engine.begin() as connection:
            connection.execute(meta_table.insert().values(key=TOKEN_KEY, value=uuid.uuid4().hex))
    except IntegrityError:  # another process created it meanwhile
        pass
    with ws.engine.connect() as connection:
        token = connection.execute(select(meta_table.c.value).where(meta_table.c.key == TOKEN_KEY)).scalar()
    return None if token is None else str(token)


def remember_if_up_to_date(ws: Workspace) -> None:
    """After a full run: store the digest when the database is fully up to date (best effort)."""
    from memstack.engine.migrate import database_state
    from memstack.engine.safety import checksum_drift

    if _database_missing(ws):
        return
    try:
        token = _read_or_create_token(ws)  # before the state it vouches for (module docstring)
        if token is None:
            return
        state = database_state(ws)
        graph = ws.graph
        if state.marks or state.unknown or set(graph.revisions) - state.applied or checksum_drift(ws.tree, state):
            return
        value = _combined(tree_fingerprint(ws), token, list(state.rows))  # the rows the checks saw
        with ws.engine.begin() as connection:
            connection.execute(meta_table.delete().where(meta_table.c.key == FINGERPRINT_KEY))
            connection.execute(meta_table.insert().values(key=FINGERPRINT_KEY, value=value))
    except SQLAlchemyError:  # a cache: failing to write it only costs the next start the full path
        return
