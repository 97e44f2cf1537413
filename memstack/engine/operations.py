"""The library behind the commands: each a short function over graph, loader and executor.

Commands and Python callers use these; nothing here prints. Questions go through a
``confirm`` callback, progress through a ``progress`` callback.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memstack.core.errors import DeclinedError, MemstackError
from memstack.engine.executor import Executor, ProgressCallback, StepResult, render_sql
from memstack.engine.graph import Revision, Step, plan_to_state, plan_to_target
from memstack.engine.loader import checksum_file
from memstack.engine.lock import WaitCallback, migration_lock
from memstack.engine.recorder import HistoryEntry, Recorder, utcnow
from memstack.engine.safety import (
    DatabaseState,
    Drift,
    checksum_drift,
    drift_error,
    ensure_safe,
    read_database_state,
    record_unverified,
    unknown_rows_error,
    unverified,
)
from memstack.engine.workspace import Workspace

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


def database_state(ws: Workspace) -> DatabaseState:
    """Version rows, applied set, checksum records and marks, in a fixed number of reads.

    Read without the lock, so another process may be creating memstack's tables meanwhile;
    MariaDB then fails the read with 1412 "Table definition has changed, please retry
    transaction", and we do retry it (a few times, briefly).
    """
    import time

    from sqlalchemy.exc import OperationalError

    for attempt in range(1, 6):
        try:
            with ws.engine.connect() as connection:
                return read_database_state(connection, ws.graph)
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            if code != 1412 or attempt == 5:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def check_single_heads(ws: Workspace, components: Sequence[str]) -> None:
    for label in components:
        ws.graph.head(label)


def plan_from_state(ws: Workspace, state: DatabaseState, component: str | None = None,
                    target: str | None = None) -> MigratePlan:
    """The steps of ``migrate [COMPONENT [TARGET]]`` from a known state."""
    graph = ws.graph
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    applied, rows = state.applied, state.rows
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


def check_reversible(steps: Sequence[Step]) -> None:
    """Fail before the first step when a plan needs a downgrade that does not exist."""
    blocked = [s.revision for s in steps if s.direction == "down" and s.revision.irreversible]
    if blocked:
        raise MemstackError(
            "the plan needs to undo irreversible revision(s): " + ", ".join(r.label for r in blocked),
            hint="these revisions have no downgrade; pick a target after them, or write their downgrade",
        )


@dataclass
class RunOptions:
    """How a plan is run; the same for migrate, fake, stamp and rollback."""

    fake: bool = False
    atomic: bool = False
    event: str | None = None
    ddl_lock_timeout: float | None = None
    confirm: ConfirmCallback | None = None
    progress: ProgressCallback | None = None
    on_wait: WaitCallback | None = None


def _confirm_cascade(plan: MigratePlan, options: RunOptions) -> None:
    if not plan.cascade:
        return
    if options.confirm is None:
        raise DeclinedError("this plan also unapplies revisions of other components and nobody confirmed it",
                            hint="pass --yes (or a confirm callback)")
    options.confirm("This also unapplies revisions of other components:", plan.cascade)


def run_plan(ws: Workspace, make_plan: Callable[[DatabaseState], MigratePlan],
             options: RunOptions) -> list[StepResult]:
    """Plan, confirm, lock, re-plan from fresh state, verify, run.

    When nothing is to be done this costs a fixed number of reads and takes no lock; N
    processes started at once do the work once (the others find nothing left after the lock).
    """
    first_state = database_state(ws)
    plan = make_plan(first_state)
    if not plan.steps:
        # nothing to run, but an applied file that changed is still refused (no extra reads:
        # the recorded checksums came with the state)
        drift = [] if options.fake else checksum_drift(ws.tree, first_state)
        if drift:
            raise drift_error(drift)
        return []
    check_reversible(plan.steps)
    _confirm_cascade(plan, options)
    confirmed = {s.revision.id for s in plan.cascade}
    with migration_lock(ws.engine, ws.settings.lock_timeout, options.on_wait):
        with ws.engine.connect() as connection:
            state = read_database_state(connection, ws.graph)
        plan = make_plan(state)
        if not plan.steps:
            return []
        if not {s.revision.id for s in plan.cascade} <= confirmed:
            raise MemstackError("the database changed while you were asked; nothing was done",
                                hint="run the command again to see the new plan")
        check_reversible(plan.steps)
        faking = {(s.revision.id, s.direction) for s in plan.steps} if options.fake else set()
        ensure_safe(ws.tree, state, ws.registry.labels, resolving=faking)
        if state.applied and not options.fake:
            with ws.engine.connect() as connection, connection.begin():
                Recorder(connection).ensure_bookkeeping()  # a database migrated before memstack kept its tables
                record_unverified(connection, ws.tree, state)
        executor = Executor(ws.engine, ws.tree, options.progress, ddl_lock_timeout=options.ddl_lock_timeout)
        return executor.run(plan.steps, plan.applied, fake=options.fake, event=options.event,
                            atomic=options.atomic)


def migrate(ws: Workspace, component: str | None = None, target: str | None = None, *,
            options: RunOptions | None = None) -> list[StepResult]:
    """Bring the database to the requested state; returns the steps run."""
    return run_plan(ws, lambda state: plan_from_state(ws, state, component, target), options or RunOptions())


def stamp(ws: Workspace, component: str, target: str, options: RunOptions | None = None) -> list[StepResult]:
    """Set a component's recorded state to TARGET without running anything."""
    options = dataclasses.replace(options or RunOptions(), fake=True, event="stamp")
    return run_plan(ws, lambda state: plan_from_state(ws, state, component, target), options)


def prune(ws: Workspace, component: str, *, confirm: ConfirmCallback | None = None,
          on_wait: WaitCallback | None = None) -> list[str]:
    """Forget the applied revisions of a component that is no longer configured."""
    if component in ws.registry.labels:
        raise MemstackError(f"component {component!r} is still configured; --prune is for removed components",
                            hint=f"to remove its schema run 'manage.py migrate {component} zero'")
    with migration_lock(ws.engine, ws.settings.lock_timeout, on_wait):
        with ws.engine.connect() as connection, connection.begin():
            state = read_database_state(connection, ws.graph)
            records = [r for r in state.records.values() if r.component == component]
            if not records:
                raise MemstackError(f"the database records no applied revision of component {component!r}")
            if confirm is None:
                raise DeclinedError("pruning needs confirmation", hint="pass --yes")
            confirm(f"Forget {len(records)} applied revision(s) of {component!r}? Its tables stay as they are.", [])
            known_rows = [r for r in state.rows if r in ws.graph]
            applied = ws.graph.applied_from_rows(known_rows) | {r for r in state.records if r in ws.graph}
            recorder = Recorder(connection)
            recorder.replace_rows(state.rows, ws.graph.rows_for(applied))
            recorder.forget_applied(r.revision for r in records)
            for record in records:
                recorder.add_history(event="repair", component=component, revision=record.revision,
                                     name=record.name, direction="down", started_at=utcnow(), duration_ms=0,
                                     success=True, note="pruned: component removed from the configuration")
    return sorted(r.name for r in records)


@dataclass
class RepairResult:
    checksums: list[Drift]
    verified: list[str]
    marks: list[str]


def repair(ws: Workspace, *, confirm: ConfirmCallback | None = None,
           on_wait: WaitCallback | None = None) -> RepairResult:
    """Record current checksums of changed or unverified applied files, and clear failure marks."""
    with migration_lock(ws.engine, ws.settings.lock_timeout, on_wait):
        with ws.engine.connect() as connection, connection.begin():
            recorder = Recorder(connection)
            recorder.ensure_bookkeeping()
            state = read_database_state(connection, ws.graph)
            if state.unknown:
                raise unknown_rows_error(state, ws.registry.labels)
            drift = checksum_drift(ws.tree, state)
            pending_verify = [r for r in unverified(state) if r in ws.tree.paths]
            if not (drift or pending_verify or state.marks):
                return RepairResult([], [], [])
            if drift or state.marks:
                if confirm is None:
                    raise DeclinedError("repair needs confirmation", hint="pass --yes")
                confirm("Record the current checksums and clear the failure marks?", [])
            for item in drift:
                recorder.update_checksum(item.revision, item.current)
                recorder.add_history(event="repair", component=item.component, revision=item.revision,
                                     name=item.name, direction="up", started_at=utcnow(), duration_ms=0,
                                     success=True, checksum=item.current,
                                     note=f"checksum was {item.recorded}")
            for rid in pending_verify:
                rev = ws.graph.get(rid)
                recorder.record_applied(rid, rev.component, rev.name, checksum_file(ws.tree.paths[rid]),
                                        verified=True)
            for mark in state.marks:
                recorder.add_history(event="repair", component=mark.component, revision=mark.revision,
                                     name=mark.name, direction=mark.direction, started_at=utcnow(), duration_ms=0,
                                     success=True, note=f"cleared {mark.state} mark: {mark.error or ''}".strip())
            recorder.clear_marks()
    return RepairResult(drift, pending_verify, [f"{m.component} {m.name}" for m in state.marks])


def history(ws: Workspace, component: str | None = None, limit: int | None = None) -> list[HistoryEntry]:
    if component is not None:
        component = ws.registry.get(component).label if component in ws.registry.labels else component
    with ws.engine.connect() as connection:
        return Recorder(connection).history(component, limit)


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
    state = database_state(ws)
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    applied = state.applied
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
    except Exception as exc:  # Alembic refuses what needs a live connection (batch rebuilds, reads)
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
    without_models: list[str] = field(default_factory=list)


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
        from memstack.engine.alembic_config import sync_alembic_config

        for planned in files:
            write_file(Path(planned.path), planned.text)
        if files:
            ws.reload()
        sync_alembic_config(ws.registry, ws.settings.pyproject_path)
    return MakeMigrationsResult(files, detection.ignored_tables, write and bool(files), detection.without_models)


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


# --------------------------------------------------------------------------- preview: plan, SQL, rehearsal


def plan_for(ws: Workspace, state: DatabaseState, component: str | None = None, target: str | None = None,
             to_tag: str | None = None) -> MigratePlan:
    """The plan of ``migrate [COMPONENT [TARGET]]`` or ``migrate --to-tag NAME``."""
    if to_tag is None:
        return plan_from_state(ws, state, component, target)
    if component or target:
        raise MemstackError("--to-tag moves every component of the tag; it takes no COMPONENT or TARGET")
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    wanted = tag_targets(ws, to_tag)
    steps = plan_to_state(ws.graph, wanted, state.applied)
    return MigratePlan(steps, state.applied, state.rows, sorted(wanted))


def rehearse(ws: Workspace, plan_maker: Callable[[DatabaseState], MigratePlan],
             options: RunOptions) -> tuple[list[StepResult], str | None]:
    """``--dry-run``: run the plan for real under the lock in one transaction, then roll back."""
    with migration_lock(ws.engine, ws.settings.lock_timeout, options.on_wait):
        with ws.engine.connect() as connection:
            state = read_database_state(connection, ws.graph)
        plan = plan_maker(state)
        check_reversible(plan.steps)
        ensure_safe(ws.tree, state, ws.registry.labels)
        executor = Executor(ws.engine, ws.tree, options.progress, ddl_lock_timeout=options.ddl_lock_timeout)
        return executor.rehearse(plan.steps, plan.applied)


def plan_sql(ws: Workspace, plan: MigratePlan, state: DatabaseState) -> str:
    """The SQL of ``plan`` from ``state`` for the configured dialect, nothing executed.

    Each revision is rendered on its own, followed by the version-table statements and the
    bookkeeping rows a real run writes (history times come from the database's clock, and
    rows are marked as applied from offline SQL). A revision that cannot render offline is
    named instead of failing the whole script.
    """
    from memstack.engine.offline import render_plan_sql

    check_reversible(plan.steps)  # a script must not silently undo (or fail on) an irreversible revision
    return render_plan_sql(ws, plan.steps, state)


# --------------------------------------------------------------------------- tags


@dataclass(frozen=True)
class Tag:
    name: str
    created_at: str | None
    state: dict[str, list[str]]

    def as_json(self, names: dict[str, str]) -> dict[str, object]:
        return {"tag": self.name, "created_at": self.created_at,
                "components": {c: [{"revision": r, "name": names.get(r)} for r in heads]
                               for c, heads in sorted(self.state.items())}}


def create_tag(ws: Workspace, name: str) -> Tag:
    """Store the applied heads of every component (``[]`` = zero) under ``name``."""
    from memstack.engine.graph import component_heads
    from memstack.engine.recorder import iso

    if not name or len(name) > 128 or not all(ch.isalnum() or ch in "-_." for ch in name):
        raise MemstackError(f"invalid tag name {name!r}", hint="use letters, digits, '-', '_' and '.' (max 128)")
    with migration_lock(ws.engine, ws.settings.lock_timeout):
        with ws.engine.connect() as connection, connection.begin():
            state = read_database_state(connection, ws.graph)
            if state.unknown:
                raise unknown_rows_error(state, ws.registry.labels)
            recorder = Recorder(connection)
            recorder.ensure_bookkeeping()
            if name in recorder.tags():
                raise MemstackError(f"tag {name!r} exists already",
                                    hint=f"delete it first with 'manage.py tag --delete {name}'")
            snapshot = {label: component_heads(ws.graph, label, state.applied) for label in ws.registry.labels}
            recorder.save_tag(name, snapshot)
    return Tag(name, iso(utcnow()), snapshot)


def list_tags(ws: Workspace) -> list[Tag]:
    from memstack.engine.recorder import iso

    with ws.engine.connect() as connection:
        return [Tag(name, iso(created), state) for name, (created, state) in Recorder(connection).tags().items()]


def delete_tag(ws: Workspace, name: str) -> None:
    with ws.engine.connect() as connection, connection.begin():
        if not Recorder(connection).has_bookkeeping() or not Recorder(connection).delete_tag(name):
            raise MemstackError(f"no tag named {name!r}", hint="list them with 'manage.py tag --list'")


def tag_targets(ws: Workspace, name: str) -> dict[str, list[str]]:
    """{component: heads} of a tag, for the components still configured."""
    tags = {t.name: t for t in list_tags(ws)}
    if name not in tags:
        raise MemstackError(f"no tag named {name!r}", hint="list them with 'manage.py tag --list'")
    wanted: dict[str, list[str]] = {}
    for label, heads in tags[name].state.items():
        if label not in ws.registry.labels:
            continue  # a component removed since: nothing to move
        missing = [h for h in heads if h not in ws.graph]
        if missing:
            raise MemstackError(f"tag {name!r} records {label} revision(s) no file provides: {', '.join(missing)}",
                                hint="check out the code the tag was taken with")
        wanted[label] = list(heads)
    return wanted


# --------------------------------------------------------------------------- rollback


def plan_rollback(ws: Workspace, state: DatabaseState, component: str | None, steps: int) -> MigratePlan:
    from memstack.engine.graph import rollback_plan

    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    label = ws.registry.get(component).label if component else None
    with ws.engine.connect() as connection:
        order = Recorder(connection).last_applied_order()
    plan = rollback_plan(ws.graph, state.applied, order, steps, label)
    return MigratePlan(plan, state.applied, state.rows, [label] if label else ws.registry.labels)


def rollback(ws: Workspace, component: str | None = None, steps: int = 1,
             options: RunOptions | None = None) -> list[StepResult]:
    """Undo the last ``steps`` applied revisions (of ``component`` or overall), after confirmation."""
    options = options or RunOptions()
    original_confirm = options.confirm

    def plan_maker(state: DatabaseState) -> MigratePlan:
        return plan_rollback(ws, state, component, steps)

    plan = plan_maker(database_state(ws))
    if plan.steps:
        check_reversible(plan.steps)  # refuse before asking, not after the answer
        if original_confirm is None:
            raise DeclinedError("rollback needs confirmation", hint="pass --yes")
        original_confirm("Rollback will unapply:", plan.steps)
    asked_once = dataclasses.replace(options, confirm=lambda *_: None)  # asked above, about the whole plan
    return run_plan(ws, plan_maker, asked_once)
