"""makemigrations: revision files from model changes, and merge revisions joining heads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alembic.operations import ops as alembic_ops

from memstack.core.staging import all_or_nothing
from memstack.engine.errors import NothingToMerge
from memstack.engine.generate.autodetect import detect, new_revision_id, slugify
from memstack.engine.generate.renames import RenameChoices
from memstack.engine.generate.write_hooks import run_hooks
from memstack.engine.generate.writer import render_revision, write_file
from memstack.engine.run.alembic_config import sync_alembic_config
from memstack.engine.workspace import Workspace


@dataclass(frozen=True)
class PlannedFile:
    component: str
    revision: str
    name: str
    path: str
    text: str
    depends_on: tuple[str, ...]
    down_revisions: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"component": self.component, "revision": self.revision, "name": self.name,
                "number": int(self.name.split("_", 1)[0]), "path": self.path,
                "down_revisions": list(self.down_revisions), "depends_on": list(self.depends_on)}


@dataclass
class MakeMigrationsResult:
    files: list[PlannedFile]
    ignored_tables: list[str]
    without_models: list[str] = field(default_factory=list)  # components never compared (no models module)
    # every known revision's label ("component NNNN_slug") by id, from the tree as compared: reading
    # the tree again after writing would parse and checksum the new files only to name them
    labels: dict[str, str] = field(default_factory=dict)


def make_migrations(ws: Workspace, components: Sequence[str] = (), *, message: str | None = None,
                    empty: bool = False, write: bool = True, renames: RenameChoices | None = None,
                    name: str | None = None) -> MakeMigrationsResult:
    """Detect model changes per component and render (and unless ``write`` is False, write) revisions."""
    ws.generating = True
    detection = detect(ws, components, message=message, empty=empty, renames=renames, name=name)
    labels = {r.id: r.label for r in ws.graph.revisions.values()}
    files: list[PlannedFile] = []
    for rev in detection.revisions:
        component = ws.registry.get(rev.component)
        downgrade, irreversible = rev.downgrade_ops, rev.irreversible
        text = render_revision(
            ws.settings.templates_dir, component=rev.component, revision=rev.id, message=rev.message,
            down_revisions=rev.down_revisions, branch_labels=rev.branch_labels, depends_on=rev.depends_on,
            upgrade=rev.upgrade_ops, downgrade=None if irreversible else downgrade, irreversible=irreversible,
            depends_on_names=rev.depends_on_names, down_revision_names=rev.down_revision_names,
            data_migration=empty,
        )
        path = component.migrations_path / f"{rev.name}.py"
        files.append(PlannedFile(rev.component, rev.id, rev.name, str(path), text, tuple(rev.depends_on),
                                 rev.down_revisions))
    if write:
        with all_or_nothing() as changes:  # a file that fails to write or to read back: none is kept
            for planned in files:
                write_file(Path(planned.path), planned.text, changes)
            if files:
                ws.reload()
                ws.graph  # noqa: B018 (read back now: a file that does not load is undone with the rest)
            changes.remember(ws.settings.pyproject_path)
            sync_alembic_config(ws.registry, ws.settings.pyproject_path)
        run_hooks(ws.settings.project_dir, [Path(planned.path) for planned in files])  # post_write_hooks
    return MakeMigrationsResult(files, detection.ignored_tables, detection.without_models, labels)


def make_merge(ws: Workspace, component: str, *, message: str | None = None, write: bool = True,
               name: str | None = None) -> PlannedFile:
    """A merge revision joining every head of ``component`` (it takes the next file number)."""

    label = ws.registry.get(component).label
    heads = ws.graph.heads(label)
    if len(heads) < 2:
        raise NothingToMerge(label, len(heads))
    number = max((r.number or 0) for r in ws.tree.every_revision.values() if r.component == label) + 1
    slug = name or (slugify(message) if message else "merge")
    file_name = f"{number:04d}_{slug}"
    rid = new_revision_id(ws.graph.revisions)
    down = tuple(h.id for h in heads)
    text = render_revision(
        ws.settings.templates_dir, component=label, revision=rid,
        message=message or "merge " + ", ".join(h.name for h in heads),
        down_revisions=down, branch_labels=(), depends_on=[],
        upgrade=alembic_ops.UpgradeOps(ops=[]), downgrade=alembic_ops.DowngradeOps(ops=[]),
    )
    path = ws.registry.get(label).migrations_path / f"{file_name}.py"
    planned = PlannedFile(label, rid, file_name, str(path), text, (), down)
    if write:
        with all_or_nothing() as changes:
            write_file(path, text, changes)
            ws.reload()
            ws.graph  # noqa: B018 (read back now: a file that does not load is undone)
        run_hooks(ws.settings.project_dir, [path])  # post_write_hooks
    return planned
