"""Files and database state -> graph.

Revision files are read with ``ast`` and never executed to build the graph: the plain Alembic
way imports every file on every command, which dominates its cost on large trees. Only the
executor imports a revision, and only when it runs it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memstack.core.components import Registry
from memstack.core.errors import ConfigurationError
from memstack.core.guardsettings import DEFAULT_GUARD
from memstack.engine.errors import (
    ForeignBranchLabel,
    InvalidSyntax,
    MissingRevisionId,
    NonLiteralField,
    RevisionIdTooLong,
    UnreadableMigrations,
)
from memstack.engine.tree import checksum, index, replaces
from memstack.engine.tree.graph import MigrationGraph, Revision

#: the width of memstack_applied/memstack_history ``revision`` (and alembic_version's version_num)
MAX_REVISION_ID = 32


@dataclass(frozen=True)
class RevisionFile:
    """What one file declares at module level."""
    path: Path
    revision: str
    down_revision: tuple[str, ...]
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    irreversible: bool
    # False: runs outside a transaction; declared (``atomic = False``) or, undeclared, the file
    # calls ``autocommit_block()`` (plain Alembic runs such a revision as written)
    atomic: bool = True
    guard: tuple[tuple[str, Any], ...] = ()  # module-level ``guard = {...}``: its own timeouts (run/guard.py)
    replaces: tuple[str, ...] = ()  # a squash: the revisions it stands for (tree/replaces.py)
    elidable: bool = False  # its data work may be dropped when it is squashed


def _as_tuple(path: Path, name: str, value: Any) -> tuple[str, ...]:
    """An id field as a tuple of ids: None, one string, or a tuple or list of non-empty strings."""
    if value is None:
        return ()
    if isinstance(value, str) and value:
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise NonLiteralField(path, name)


_NOT_LITERAL = object()


def _syntax_tree(path: Path, text: str) -> ast.Module:
    try:
        return ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise InvalidSyntax(path, exc.msg, exc.lineno) from exc


def parse_revision_file(path: Path, source: str | None = None, tree: ast.Module | None = None) -> RevisionFile:
    """Read revision metadata from a file's syntax tree (the file is not executed); ``tree``: the
    source already parsed (the loader parses once for the header and the checksum)."""
    text = checksum.read_source(path) if source is None else source
    tree = _syntax_tree(path, text) if tree is None else tree
    found: dict[str, Any] = {}
    wanted = {"revision", "down_revision", "depends_on", "branch_labels", "irreversible", "atomic", "guard",
              "replaces", "elidable", "squash_down_revision"}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in wanted and value is not None:
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError as exc:
                    if target.id != "down_revision":
                        raise NonLiteralField(path, target.id) from exc
                    found[target.id] = _NOT_LITERAL  # a squash's, for plain Alembic: refused below unless it is one
    if found.get("down_revision") is _NOT_LITERAL and not ("replaces" in found and "squash_down_revision" in found):
        raise NonLiteralField(path, "down_revision")
    irreversible = bool(found.get("irreversible", False)) or _downgrade_only_raises(tree)
    revision = found.get("revision")
    if not isinstance(revision, str) or not revision:
        raise MissingRevisionId(path)
    return RevisionFile(
        path=path,
        revision=revision,
        # a squash's own parents, while plain Alembic's down_revision names the range it replaces
        down_revision=_as_tuple(path, "down_revision", found.get(
            "squash_down_revision" if "replaces" in found and "squash_down_revision" in found else "down_revision")),
        depends_on=_as_tuple(path, "depends_on", found.get("depends_on")),
        branch_labels=_as_tuple(path, "branch_labels", found.get("branch_labels")),
        irreversible=irreversible,
        # the text first: walking every file's tree for a name most never use cost a cold load seconds
        atomic=bool(found["atomic"]) if "atomic" in found else not (
            "autocommit_block" in text and _uses_autocommit_block(tree)),
        guard=_guard_marker(path, found.get("guard")),
        replaces=_as_tuple(path, "replaces", found.get("replaces")),
        elidable=found.get("elidable") is True,
    )


def _uses_autocommit_block(tree: ast.Module) -> bool:
    """True when the file names ``autocommit_block`` anywhere (``op.get_context().autocommit_block()``).

    Read from the syntax tree, like the rest of the header: a revision calling it only through
    another module is not seen here and is refused when it runs, naming ``atomic = False``.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "autocommit_block":
            return True
        if isinstance(node, ast.Name) and node.id == "autocommit_block":
            return True
    return False


def _guard_marker(path: Path, value: Any) -> tuple[tuple[str, Any], ...]:
    """``guard = {...}`` as sorted pairs, checked now so a bad one fails before anything runs."""
    if value is None:
        return ()

    if not isinstance(value, dict):

        raise ConfigurationError(f"{path}: guard must be a dict such as {{'ddl_lock_timeout': 5}}, not {value!r}",
                                 hint="write guard = {'ddl_lock_timeout': 5} (a dict literal), or remove it")
    DEFAULT_GUARD.overridden(value, f"{path}'s guard", revision=True)
    return tuple(sorted(value.items()))


def _downgrade_only_raises(tree: ast.Module) -> bool:
    """True when there is no module-level ``downgrade()``, or its whole body (docstring aside) is
    one ``raise``: Alembic would fail on either half-way; refused at planning instead.

    A ``downgrade()`` of ``pass`` is a deliberate no-op (data-only revisions, empty autogenerate
    diffs) and runs, as under plain Alembic.
    """
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade":
            body = [n for n in node.body
                    if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
            return len(body) == 1 and isinstance(body[0], ast.Raise)
    return not any(isinstance(node, (ast.Assign, ast.AnnAssign, ast.ImportFrom, ast.Import))
                   and _binds_downgrade(node) for node in tree.body)


def _binds_downgrade(node: ast.stmt) -> bool:
    """``downgrade = ...`` or ``from x import downgrade`` also give the module a downgrade."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return any((alias.asname or alias.name) == "downgrade" for alias in node.names)
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    return any(isinstance(t, ast.Name) and t.id == "downgrade" for t in targets)


def checksum_source(source: str) -> str:
    """SHA-256 of the code with comments, docstrings and formatting ignored (contract: Revisions)."""
    return checksum.checksum_source(source)


def checksum_file(path: Path) -> str:
    """The file's checksum, from the revision index when the file is unchanged since it was loaded."""
    return index.cached_checksum(path) or checksum.checksum_file(path)


def _indexed_header(path: Path, source: str) -> index.Header:
    tree = _syntax_tree(path, source)  # parsed once: the header, then the checksum (which strips docstrings)
    parsed = parse_revision_file(path, source, tree)
    return index.Header(parsed.revision, parsed.down_revision, parsed.depends_on, parsed.branch_labels,
                        parsed.irreversible, checksum.checksum_source(source, tree), parsed.atomic, parsed.guard,
                        parsed.replaces, parsed.elidable)


def read_headers(folder: Path) -> list[RevisionFile]:
    """Every revision file's header, parsed only when it changed since the index was written."""
    revisions = index.open_index(folder)
    headers = []
    for path in revision_files(folder):
        header = revisions.header(path, _indexed_header)
        headers.append(RevisionFile(path, header.revision, header.down_revision, header.depends_on,
                                    header.branch_labels, header.irreversible, header.atomic, header.guard,
                                    header.replaces, header.elidable))
    revisions.save()
    return headers


def revision_files(folder: Path) -> list[Path]:
    """The folder's revision files in name order (one ``scandir``; ``*.py``, not private or hidden)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries if index.is_revision_file_name(entry.name))
    return [folder / name for name in names]


def refuse_unreadable_folder(component: str, folder: Path) -> None:
    """A path that is there but is no readable folder is an error; an absent one is an empty tree."""
    if folder.is_symlink() and not folder.exists():
        raise UnreadableMigrations(component, folder, f"is a broken symbolic link (to {os.readlink(folder)})")
    if folder.exists() and not folder.is_dir():
        raise UnreadableMigrations(component, folder, "is a file, not a folder")
    if folder.is_dir():
        try:
            next(os.scandir(folder), None)
        except OSError as exc:
            raise UnreadableMigrations(component, folder, f"cannot be read: {exc.strerror}") from exc


def _refuse_long_id(path: Path, parsed: RevisionFile) -> None:
    if len(parsed.revision) > MAX_REVISION_ID:  # (file names cannot outgrow their 255-character column)
        raise RevisionIdTooLong(path, "revision id", parsed.revision, MAX_REVISION_ID)


@dataclass
class LoadedTree:
    """The graph plus what only the loader knows: where each revision lives."""
    graph: MigrationGraph
    paths: dict[str, Path] = field(default_factory=dict)
    non_atomic: set[str] = field(default_factory=set)  # revisions declaring ``atomic = False``
    guards: dict[str, dict[str, Any]] = field(default_factory=dict)  # revisions declaring ``guard = {...}``
    squashes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # squash id -> ``replaces``
    elidable: set[str] = field(default_factory=set)  # revisions declaring ``elidable = True``
    every_revision: dict[str, Revision] = field(default_factory=dict)  # squashes and what they replace

    def path_of(self, revision_id: str) -> Path:
        return self.paths[revision_id]

    def view_for(self, rows: list[str], *, validate: bool = True, keep_old: Collection[str] = ()) -> LoadedTree:
        """This tree as a database with version rows ``rows`` sees it (tree/replaces.py); itself
        when no squash still replaces a revision."""
        if not replaces.live_squashes(self.every_revision, self.squashes):
            return self
        view = replaces.resolve(self.every_revision, self.squashes, rows, keep_old)
        graph = MigrationGraph(component_order=list(self.graph.component_order), row_aliases=view.row_aliases)
        for revision in view.revisions:
            graph.add(revision)
        if validate:
            graph.validate()
        return LoadedTree(graph, self.paths, self.non_atomic, self.guards, self.squashes, self.elidable,
                          self.every_revision)


def load_tree(registry: Registry, *, validate: bool = True) -> LoadedTree:
    """Read every component's folder into one graph."""
    graph = MigrationGraph(component_order=registry.labels)
    tree = LoadedTree(graph=graph)
    for component in registry:
        refuse_unreadable_folder(component.label, component.migrations_path)
        for parsed in read_headers(component.migrations_path):
            path = parsed.path
            _refuse_long_id(path, parsed)
            for label in parsed.branch_labels:
                if label != component.label:
                    raise ForeignBranchLabel(path, label, component.label)
            revision = Revision(
                id=parsed.revision,
                component=component.label,
                name=path.stem,
                down_revisions=parsed.down_revision,
                depends_on=parsed.depends_on,
                irreversible=parsed.irreversible,
                path=str(path),
            )
            graph.add(revision)  # (two files with one id are refused here)
            tree.every_revision[revision.id] = revision
            tree.paths[revision.id] = path
            if parsed.replaces:
                tree.squashes[revision.id] = parsed.replaces
            if parsed.elidable:
                tree.elidable.add(revision.id)
            if not parsed.atomic:
                tree.non_atomic.add(revision.id)
            if parsed.guard:
                tree.guards[revision.id] = dict(parsed.guard)
    if tree.squashes:
        return tree.view_for([], validate=validate)  # a new database's view: every squash stands in
    if validate:
        graph.validate()
    return tree

