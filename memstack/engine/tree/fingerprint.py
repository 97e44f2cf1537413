"""The tree's part of the no-op digest: what the revision files are, computed from the files alone.

A digest of every component's label and folder and every revision file's header and checksum
(from the revision index, validated by ``stat``) and memstack's version, salted by the caller
with the bookkeeping schema's version. Pure: nothing here reads or writes a database; the digest
is stored and compared with the database's state by :mod:`memstack.engine.records.status`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace


def tree_fingerprint(ws: Workspace, salt: str) -> str:
    """Digest of every component's revision headers and checksums; nothing parsed that is unchanged.

    ``salt``: what else the digest depends on (the records' schema version, from its owner).

    Each folder contributes its part: from the index's folder summary when the folder's listing
    is exactly what the summary was made from (one stat a file; by names alone with the
    installed-tree setting), else from the headers.
    """
    from memstack import __version__  # lazy: kept off the no-op path and --help
    from memstack.engine.tree import index  # lazy: kept off the no-op path and --help

    digest = hashlib.sha256(f"{__version__}|{salt}".encode())
    for component in ws.registry:
        folder = component.migrations_path
        digest.update(f"\0component {component.label} {folder}\0".encode())
        installed = ws.settings.installed_tree
        part = index.trusted_summary(folder, installed) or _folder_part(folder, installed)
        digest.update(part.encode())
    return digest.hexdigest()


def _folder_part(folder: Path, installed: bool = False) -> str:
    """One folder's part from its headers (parsed only when changed); remembered in the index.

    Parts are stored in the index and trusted while the files are unchanged: changing what a
    part hashes needs a new ``index.INDEX_FORMAT``.
    """
    from memstack.engine.tree import index  # lazy: kept off the no-op path and --help
    from memstack.engine.tree.loader import _indexed_header, revision_files  # lazy: kept off the no-op path and --help

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
    revisions.save(installed)
    return part.hexdigest()
