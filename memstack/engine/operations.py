"""The library behind the commands: each a short function over graph, loader and executor.

Commands and Python callers use these; nothing here prints. Questions go through a
``confirm`` callback, progress through a ``progress`` callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memstack.engine.executor import Executor, ProgressCallback, StepResult, render_sql
from memstack.engine.graph import GraphError, Revision, Step, plan_to_target
from memstack.engine.workspace import Workspace
from memstack.errors import MemstackError

ConfirmCallback = Callable[[str, Sequence[Step]], None]
"""Called with a question and the steps it is about; raises to decline."""


@dataclass
class MigratePlan:
    steps: list[Step]
    applied: set[str]
    rows: list[str]
    requested: list[str] = field(default_factory=list)

    @property
    def cascade(self) -> list[Step]:
        """Backwards steps in components the user did not name."""
        return [s for s in self.steps if s.direction == "down" and s.reason is not None]


def read_state(ws: Workspace) -> tuple[list[str], set[str]]:
    """(version rows, applied revision ids) of the workspace's database."""
    return Executor(ws.engine, ws.tree).read_applied()


def check_single_heads(ws: Workspace, components: Sequence[str]) -> None:
    for label in components:
        ws.graph.head(label)


def plan_migrate(ws: Workspace, component: str | None = None, target: str | None = None) -> MigratePlan:
    """What ``migrate [COMPONENT [TARGET]]`` would do from the database's current state."""
    graph = ws.graph
    rows, applied = read_state(ws)
    if component is None:
        if target is not None:
            raise MemstackError("a TARGET needs a COMPONENT", hint="manage.py migrate COMPONENT TARGET")
        labels = ws.registry.labels
        check_single_heads(ws, labels)
        heads = [h.id for label in labels for h in graph.heads(label)]
        return MigratePlan(graph.forwards_plan(heads, applied, requested=labels), applied, rows, labels)
    label = ws.registry.get(component).label
    resolved: Revision | None
    if target is None or target == "head":
        resolved = graph.head(label)
        if resolved is None:
            return MigratePlan([], applied, rows, [label])
    else:
        resolved = graph.resolve_target(label, target)
    return MigratePlan(plan_to_target(graph, label, resolved, applied), applied, rows, [label])


def migrate(
    ws: Workspace,
    component: str | None = None,
    target: str | None = None,
    *,
    fake: bool = False,
    confirm: ConfirmCallback | None = None,
    progress: ProgressCallback | None = None,
) -> list[StepResult]:
    """Bring the database to the requested state; returns the steps run."""
    plan = plan_migrate(ws, component, target)
    if not plan.steps:
        return []
    if plan.cascade:
        if confirm is None:
            raise MemstackError("this plan also unapplies revisions of other components and nobody confirmed it",
                                hint="pass --yes (or a confirm callback)")
        confirm("Unapply these revisions of other components too?", plan.cascade)
    return Executor(ws.engine, ws.tree, progress).run(plan.steps, plan.applied, fake=fake)


@dataclass(frozen=True)
class RevisionState:
    revision: Revision
    applied: bool

    def as_json(self, graph_deps: bool = True) -> dict[str, object]:
        rev = self.revision
        data: dict[str, object] = {
            "component": rev.component,
            "revision": rev.id,
            "name": rev.name,
            "number": rev.number,
            "applied": self.applied,
        }
        if graph_deps:
            data["down_revisions"] = list(rev.down_revisions)
            data["depends_on"] = list(rev.depends_on)
        return data


def show_migrations(ws: Workspace, components: Sequence[str] = ()) -> dict[str, list[RevisionState]]:
    """Per component, every revision in graph order and whether it is applied."""
    _, applied = read_state(ws)
    selected = ws.registry.select(components)
    return {c.label: [RevisionState(r, r.id in applied) for r in ws.graph.of_component(c.label)] for c in selected}


@dataclass(frozen=True)
class RenderedSQL:
    revision: Revision
    direction: str
    sql: str | None
    problem: str | None = None


def sql_for_revision(ws: Workspace, component: str, target: str, *, backwards: bool = False) -> RenderedSQL:
    """The SQL of exactly one revision for the configured dialect; the database is not touched."""
    label = ws.registry.get(component).label
    revision = ws.graph.resolve_target(label, target)
    if revision is None:
        raise MemstackError("sqlmigrate needs one revision, not 'zero'", hint=f"name a revision of {label}")
    direction = "down" if backwards else "up"
    if backwards and revision.irreversible:
        return RenderedSQL(revision, direction, None, "irreversible: this revision has no downgrade")
    try:
        sql = render_sql(ws.tree, Step(revision, direction), ws.dialect_name)  # type: ignore[arg-type]
    except GraphError:
        raise
    except Exception as exc:
        return RenderedSQL(revision, direction, None,
                           f"not renderable offline ({type(exc).__name__}: {exc}); use --dry-run")
    return RenderedSQL(revision, direction, sql)


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
    written: bool


def make_migrations(ws: Workspace, components: Sequence[str] = (), *, message: str | None = None,
                    empty: bool = False, write: bool = True) -> MakeMigrationsResult:
    """Detect model changes per component and render (and unless ``write`` is False, write) revisions."""
    from memstack.engine.autodetect import _reverse, detect
    from memstack.engine.writer import render_revision, write_file

    detection = detect(ws, components, message=message, empty=empty)
    files: list[PlannedFile] = []
    for rev in detection.revisions:
        component = ws.registry.get(rev.component)
        downgrade, irreversible = _reverse(rev.upgrade_ops)
        text = render_revision(
            ws.settings.templates_dir, component=rev.component, revision=rev.id, message=rev.message,
            down_revisions=rev.down_revisions, branch_labels=rev.branch_labels, depends_on=rev.depends_on,
            upgrade=rev.upgrade_ops, downgrade=None if irreversible else downgrade, irreversible=irreversible,
        )
        path = component.migrations_path / f"{rev.name}.py"
        files.append(PlannedFile(rev.component, rev.id, rev.name, str(path), text, tuple(rev.depends_on),
                                 rev.down_revisions))
    if write:
        for planned in files:
            write_file(Path(planned.path), planned.text)
        if files:
            ws.reload()
    return MakeMigrationsResult(files, detection.ignored_tables, write and bool(files))


def make_merge(ws: Workspace, component: str, *, message: str | None = None, write: bool = True) -> PlannedFile:
    """A merge revision joining every head of ``component`` (it takes the next file number)."""
    from alembic.operations import ops as alembic_ops

    from memstack.engine.autodetect import new_revision_id, slugify
    from memstack.engine.writer import render_revision, write_file

    label = ws.registry.get(component).label
    heads = ws.graph.heads(label)
    if len(heads) < 2:
        raise MemstackError(f"component {label!r} has {len(heads)} head(s); there is nothing to merge")
    number = max((r.number or 0) for r in ws.graph.of_component(label)) + 1
    slug = slugify(message) if message else "merge"
    name = f"{number:04d}_{slug}"
    rid = new_revision_id(ws.graph.revisions)
    down = tuple(h.id for h in heads)
    text = render_revision(
        ws.settings.templates_dir, component=label, revision=rid,
        message=message or "merge " + ", ".join(h.name for h in heads),
        down_revisions=down, branch_labels=(), depends_on=[],
        upgrade=alembic_ops.UpgradeOps(ops=[]), downgrade=alembic_ops.DowngradeOps(ops=[]),
    )
    path = ws.registry.get(label).migrations_path / f"{name}.py"
    planned = PlannedFile(label, rid, name, str(path), text, (), down)
    if write:
        write_file(path, text)
        ws.reload()
    return planned
