"""Running plans: migrate (also --to-tag, --fake, --dry-run), stamp and rollback.

One entry point, :func:`migrate`, plans from the database's state, confirms, takes the lock,
re-plans from fresh state, verifies and runs (or rehearses). Nothing here prints: questions
go through ``RunOptions.confirm_destruction`` (or ``confirm``), progress through
``RunOptions.progress``.

One rule for every step that destroys data: every backwards step (migrate backwards, --to-tag,
rollback, stamp, --fake) and every forward step the revision classifier finds destructive
(run/classify.py: a dropped table or column, a type change that can alter values, deleted
rows). What it destroys is read from the live database and shown, and the person is asked
before the lock is taken. The answer is bound to the plan shown: if the plan under the lock differs,
nothing runs and the question is asked again about the new plan.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from memstack.core.errors import DeclinedError
from memstack.core.guardsettings import GuardSettings
from memstack.engine.adopt.existing import refuse_unrecorded_schema
from memstack.engine.errors import ChecksumDrift, PlanChangedWhileAsked, RehearsalFailed, TagTakesNoTarget
from memstack.engine.records.recorder import Recorder
from memstack.engine.records.status import DatabaseStatus, last_applied_order, read_status, read_status_on, remember
from memstack.engine.run.destruction import DestructionCallback, StepDestruction, read_destruction
from memstack.engine.run.executor import Executor
from memstack.engine.run.halfway import mark_progress
from memstack.engine.run.lock import WaitCallback, migration_lock
from memstack.engine.run.lockreport import StatementLocks, not_rehearsed, recording, split_statements
from memstack.engine.run.mariadb_probe import probe
from memstack.engine.run.offline import iter_plan_sql
from memstack.engine.run.safety import ensure_safe, record_unverified, unknown_rows_error
from memstack.engine.run.steps import ProgressCallback, StepResult
from memstack.engine.tags import tag_targets
from memstack.engine.tree.planner import (
    ConfirmCallback,
    MigratePlan,
    check_reversible,
    plan_migrate,
    plan_rollback,
    plan_to_tag,
)
from memstack.engine.workspace import Workspace

PlanMaker = Callable[[DatabaseStatus], MigratePlan]
PlanShape = tuple[tuple[str, str], ...]
#: how often a plan may change under a person's question before the run gives up
MAX_QUESTIONS = 3


@dataclass
class RunOptions:
    """How a plan is run; the same for migrate, fake, stamp, rollback and the dry run."""
    fake: bool = False
    dry_run: bool = False
    atomic: bool = False
    event: str | None = None
    ddl_lock_timeout: float | None = None
    guard: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # statement_timeout, lock_retries, ...
    confirm: ConfirmCallback | None = None
    confirm_destruction: DestructionCallback | None = None  # preferred to ``confirm`` for backwards steps
    progress: ProgressCallback | None = None
    on_wait: WaitCallback | None = None
    x_arguments: tuple[str, ...] = ()  # ``-x key=value``: what revisions read with context.get_x_argument()
    on_locks: Callable[[list[StatementLocks]], None] | None = None  # --dry-run --locks (PostgreSQL): the report
    fleet_run: str | None = None  # migrate --targets: the fleet run's id, written into each history row
    # migrate --targets' workers: the status is read once, under the lock (the fleet was surveyed and its
    # question asked before)
    plan_under_lock: bool = False


def guard_settings(ws: Workspace, options: RunOptions) -> GuardSettings:
    """The guard's settings of this run: the settings chain with the run's own values on top."""
    given = {**options.guard}
    if options.ddl_lock_timeout is not None:
        given["ddl_lock_timeout"] = options.ddl_lock_timeout
    return ws.settings.guard.overridden(given, "the command line") if given else ws.settings.guard


def plan_for(ws: Workspace, state: DatabaseStatus, component: str | None = None, target: str | None = None,
             to_tag: str | None = None) -> MigratePlan:
    """The plan of ``migrate [COMPONENT [TARGET]]`` or ``migrate --to-tag NAME`` from ``state``."""
    if to_tag is not None and (component or target):
        raise TagTakesNoTarget(to_tag)
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    if to_tag is not None:
        return plan_to_tag(ws.graph, state, tag_targets(ws, to_tag))
    label = ws.registry.get(component).label if component is not None else None
    return plan_migrate(ws.graph, ws.registry.labels, state, label, target)


def rollback_plan_for(ws: Workspace, state: DatabaseStatus, component: str | None, steps: int) -> MigratePlan:
    """The plan of ``rollback [COMPONENT] --steps N``; history says what was applied last."""
    if state.unknown:
        raise unknown_rows_error(state, ws.registry.labels)
    label = ws.registry.get(component).label if component else None
    with ws.engine.connect() as connection:
        order = last_applied_order(connection)
    return plan_rollback(ws.graph, ws.registry.labels, state, order, steps, label)


def migrate(ws: Workspace, component: str | None = None, target: str | None = None, to_tag: str | None = None,
            *, options: RunOptions | None = None, status: DatabaseStatus | None = None) -> list[StepResult]:
    """Bring the database to the requested state; returns the steps run (or rehearsed).

    ``status``: the database's status the caller has just read (it is not read again). With
    ``options.dry_run`` the plan runs for real in one transaction and is rolled back; a failing
    step raises :class:`RehearsalFailed` carrying the steps run.
    """
    options = options or RunOptions()

    def plan_maker(state: DatabaseStatus) -> MigratePlan:
        return plan_for(ws, state, component, target, to_tag)

    if options.dry_run:
        return _rehearse(ws, plan_maker, options)
    everything = component is None and target is None and to_tag is None and not options.fake
    if options.plan_under_lock:
        results = _run_under_lock(ws, plan_maker, options)
        if everything:
            remember(ws)
        return results
    if status is None or (status.digest_current and not everything):
        status = read_status(ws, trust_digest=everything)  # the no-op digest: one query
    if status.digest_current:
        return []
    results = _run_plan(ws, plan_maker, options, status)
    if everything:
        remember(ws)
    return results


def stamp(ws: Workspace, component: str, target: str, options: RunOptions | None = None) -> list[StepResult]:
    """Set a component's recorded state to TARGET without running anything."""
    options = dataclasses.replace(options or RunOptions(), fake=True, dry_run=False, event="stamp")
    return migrate(ws, component, target, options=options)


def rollback(ws: Workspace, component: str | None = None, steps: int = 1,
             options: RunOptions | None = None) -> list[StepResult]:
    """Undo the last ``steps`` applied revisions (of ``component`` or overall), after confirmation."""
    options = options or RunOptions()

    def plan_maker(state: DatabaseStatus) -> MigratePlan:
        return rollback_plan_for(ws, state, component, steps)

    return _run_plan(ws, plan_maker, options)


def _shape(plan: MigratePlan) -> PlanShape:
    return tuple((s.revision.id, s.direction) for s in plan.steps)


def _question(ws: Workspace, plan: MigratePlan, options: RunOptions, changed: bool, forward: int) -> str:
    down = [s for s in plan.steps if s.direction == "down"]
    again = "The plan changed while you were asked; nothing was done. " if changed else ""
    if options.fake:
        return (f"{again}Recording {len(down)} revision(s) as unapplied, without running them: the schema stays, "
                "but memstack will think they are not applied (the next migrate runs their upgrade again).")
    if not down:
        return f"{again}{forward} revision(s) to apply would destroy data the database holds now:"
    others = sorted({s.revision.component for s in plan.cascade})
    cascade = f" (also in other components: {', '.join(others)})" if others else ""
    also = f", and {forward} revision(s) to apply destroy data too" if forward else ""
    return (f"{again}{len(down)} revision(s) would be unapplied{cascade}{also}, destroying what the database "
            "holds now:")


def destructive_steps(ws: Workspace, plan: MigratePlan, options: RunOptions) -> list[StepDestruction]:
    """The plan's steps that need a confirmation, with what each destroys read live (none: empty)."""
    if not any(s.direction == "down" for s in plan.steps) and options.fake:
        return []  # recording forward steps as applied runs nothing
    return [d for d in read_destruction(ws, plan.steps, record_only=options.fake) if d.asks]


def confirm_backwards(ws: Workspace, plan: MigratePlan, options: RunOptions, *, changed: bool = False) -> PlanShape:
    """Show what the plan's destructive steps destroy and ask; returns the plan shape confirmed.

    Every backwards step asks; a forward one when the classifier finds it destructive. A
    plan with neither asks nothing and returns ``()``. Declining (or no way to ask) raises
    :class:`DeclinedError` before anything changed.
    """
    destroys = destructive_steps(ws, plan, options)
    if not destroys:
        return ()
    forward = sum(d.step.direction == "up" for d in destroys)
    question = _question(ws, plan, options, changed, forward)
    if options.confirm_destruction is not None:
        options.confirm_destruction(question, destroys)
    elif options.confirm is not None:
        options.confirm(question, [d.step for d in destroys])
    else:
        raise DeclinedError(f"this plan destroys data in {len(destroys)} step(s) and nobody confirmed it",
                            hint="pass --yes (or a confirm callback)")
    return _shape(plan)


def _run_plan(ws: Workspace, make_plan: PlanMaker, options: RunOptions,
              status: DatabaseStatus | None = None) -> list[StepResult]:
    """Plan, confirm, lock, re-plan from fresh state, verify, run.

    When nothing is to be done this costs a fixed number of reads and takes no lock; N
    processes started at once do the work once (the others find nothing left after the lock).
    A plan with backwards steps runs only as it was confirmed; a changed one is asked again.
    ``status``: the caller's fresh read, used for the first plan.
    """
    for attempt in range(MAX_QUESTIONS):
        first_state = status if attempt == 0 and status is not None else read_status(ws)
        plan = make_plan(first_state)
        if not plan.steps:
            # nothing to run, but an applied file that changed is still refused (no extra reads:
            # the recorded checksums came with the state)
            if not options.fake and first_state.drift:
                raise ChecksumDrift(first_state.drift)
            return []
        check_reversible(plan.steps)
        first = _shape(plan)
        confirmed = confirm_backwards(ws, plan, options, changed=attempt > 0)
        with migration_lock(ws.engine, ws.settings.lock_timeout, options.on_wait):
            with ws.engine.connect() as connection:
                state = read_status_on(connection, ws.tree, mark_progress)
            plan = make_plan(state)
            if not plan.steps:
                return []
            shape = _shape(plan)
            if shape != first and (confirmed or not set(shape) <= set(first)):
                continue  # not what the person saw (or steps not classified yet): release the lock, ask again
            return _run_locked(ws, plan, state, options)
    raise PlanChangedWhileAsked()


def _run_under_lock(ws: Workspace, make_plan: PlanMaker, options: RunOptions) -> list[StepResult]:
    """Lock, read the status once, plan, confirm, run: a fleet's worker, whose question was asked for the fleet."""
    with migration_lock(ws.engine, ws.settings.lock_timeout, options.on_wait):
        with ws.engine.connect() as connection:
            state = read_status_on(connection, ws.tree, mark_progress)
        plan = make_plan(state)
        if not plan.steps:
            if not options.fake and state.drift:
                raise ChecksumDrift(state.drift)
            return []
        check_reversible(plan.steps)
        confirm_backwards(ws, plan, options)  # the fleet's answer (or a refusal: nobody confirmed)
        return _run_locked(ws, plan, state, options)


def _run_locked(ws: Workspace, plan: MigratePlan, state: DatabaseStatus, options: RunOptions) -> list[StepResult]:
    """Verify and run ``plan``, planned from ``state`` under the migration lock."""
    check_reversible(plan.steps)
    # under the lock: another process's freshly created tables are not a create_all database
    refuse_unrecorded_schema(ws, state.applied, [] if options.fake else plan.steps)  # --fake records them
    faking = {(s.revision.id, s.direction) for s in plan.steps} if options.fake else set()
    ensure_safe(state, ws.registry.labels, resolving=faking)
    if state.applied and not options.fake:
        with ws.engine.connect() as connection, connection.begin():
            Recorder(connection).ensure_bookkeeping()  # a database migrated before memstack kept its tables
            record_unverified(connection, ws.tree, state)
    ws.graph.forget_ancestors()  # planning's memo; the run computes what it needs step by step
    guard = guard_settings(ws, options)
    executor = Executor(ws.engine, ws.tree, options.progress, ddl_lock_timeout=guard.explicit_timeout,
                        alembic=ws.alembic_setup(options.x_arguments), keep_modules=False, guard=guard,
                        fleet_run=options.fleet_run)
    return executor.run(plan.steps, plan.applied, fake=options.fake, event=options.event, atomic=options.atomic)


def _rehearse(ws: Workspace, make_plan: PlanMaker, options: RunOptions) -> list[StepResult]:
    """``--dry-run``: run the plan for real under the lock in one transaction, then roll back."""
    with migration_lock(ws.engine, ws.settings.lock_timeout, options.on_wait):
        with ws.engine.connect() as connection:
            state = read_status_on(connection, ws.tree, mark_progress)
        plan = make_plan(state)
        check_reversible(plan.steps)
        ensure_safe(state, ws.registry.labels)
        if options.on_locks is not None and ws.engine.dialect.name in ("mysql", "mariadb"):
            return _probe_mariadb(ws, plan, state, options.on_locks)
        locks = options.on_locks is not None and ws.engine.dialect.name == "postgresql"
        with recording(ws.engine) if locks else contextlib.nullcontext() as recorder:
            progress = recorder.progress(options.progress) if recorder is not None else options.progress
            guard = guard_settings(ws, options)
            executor = Executor(ws.engine, ws.tree, progress, ddl_lock_timeout=guard.explicit_timeout,
                                alembic=ws.alembic_setup(options.x_arguments), guard=guard)
            results, error = executor.rehearse(plan.steps, plan.applied)
        if recorder is not None and options.on_locks is not None:
            stopped = [r.step for r in results if not r.success and "atomic = False" in (r.error or "")]
            options.on_locks(recorder.statements + [s for step in stopped for s in not_rehearsed(ws, step, state)])
    if error:
        raise RehearsalFailed(list(results), error)
    return results


def _probe_mariadb(ws: Workspace, plan: MigratePlan, state: DatabaseStatus, report: Callable[[list[Any]], None],
                   ) -> list[StepResult]:
    """``--dry-run --locks`` on MariaDB: each ALTER's ALGORITHM/LOCK, probed on empty copies (nothing rehearsed)."""
    statements = split_statements(list(plan_sql_blocks(ws, plan, state)))
    with ws.engine.connect() as connection:
        report(probe(connection, statements))
    return []


# --------------------------------------------------------------------------- preview: SQL


def plan_sql_blocks(ws: Workspace, plan: MigratePlan, state: DatabaseStatus) -> Iterator[str]:
    """The SQL of ``plan`` from ``state`` for the configured dialect, nothing executed, block by block.

    Each revision is rendered on its own, followed by the version-table statements and the
    bookkeeping rows a real run writes (history times come from the database's clock, and
    rows are marked as applied from offline SQL). Joined with newlines the blocks are the
    script; written as they come, memory stays flat in the plan's length. The reversibility
    check runs before the first block (a script must not silently undo, or fail on, an
    irreversible revision); a revision that cannot render offline raises
    :class:`RevisionNotRenderable` after the blocks up to it and a statement that stops a client.
    """

    check_reversible(plan.steps)
    return iter_plan_sql(ws, plan.steps, state)

