"""The built-in migration checks, as plain functions over a workspace and a scratch database.

Each raises :class:`MigrationCheckFailed` (an ``AssertionError``, so pytest shows it as a
failed assertion) whose message names the component and the revision at fault. The
step-by-step checks run revisions through one :class:`~memstack.engine.run.executor.Executor`
without bookkeeping, so every revision module is imported once per check, not once per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memstack.core.db import metadata
from memstack.core.errors import MemstackError
from memstack.engine.errors import MigrationFailed
from memstack.engine.generate.autodetect import build_scratch, compare_component
from memstack.engine.review.checks import describe_diff
from memstack.engine.run.executor import Executor
from memstack.engine.run.steps import ProgressCallback
from memstack.engine.tree.graph import Revision, Step
from memstack.engine.tree.loader import load_tree
from memstack.engine.tree.planner import backwards_plan, forwards_plan
from memstack.engine.workspace import Workspace
from memstack.testing.runner import MigrationRunner
from memstack.testing.snapshot import Snapshot, SnapshotCache, describe_difference, take_snapshot


class MigrationCheckFailed(AssertionError):
    """A built-in check found a problem; the message says where and what."""

@dataclass
class DataMigration:
    """Rows inserted just before ``revision`` of ``component`` and what must hold after it.

    ``expect`` maps a table to the rows it must hold afterwards (compared on the columns the
    expected rows name, in primary-key order); ``check``, when given, runs after with the
    runner and may assert anything.
    """

    component: str
    revision: str
    rows: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    expect: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    check: Callable[[MigrationRunner], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.component}-{self.revision}"


def _fail(lines: Sequence[str], headline: str) -> MigrationCheckFailed:
    return MigrationCheckFailed("\n  ".join([headline, *lines]))


def _executor(ws: Workspace) -> Executor:
    """One executor per check: it imports each revision module once, however many steps run it.

    Unguarded (no lock timeouts, no ladder): the check's database is a scratch one nothing else uses
    (see memstack/engine/generate/scratch.py)."""
    return Executor(ws.engine, ws.tree, record=False, alembic=ws.alembic_setup())


def _run(executor: Executor, plan: Sequence[Step], applied: set[str], progress: ProgressCallback) -> None:
    """Run ``plan`` in one executor run, ``progress`` looking at the schema after (or before) each step."""
    executor.progress = progress
    try:
        executor.run(plan, applied)
    except MigrationFailed as exc:
        revision = exc.step.revision
        raise MigrationCheckFailed(f"{revision.label} ({revision.id}) failed ({exc.step.direction}) on "
                                   f"{executor.engine.dialect.name}: {exc.message}") from exc


def _compare(expected: Snapshot, actual: Snapshot, revision: Revision, what: str) -> None:
    lines = describe_difference(expected, actual)
    if lines:
        raise _fail(lines, f"{revision.label} ({revision.id}): {what}:")


# --------------------------------------------------------------------------- structure


def check_single_head(ws: Workspace) -> None:
    """Every component has one head (or none yet); two heads means a merge is missing."""
    graph = load_tree(ws.registry, validate=False).graph
    problems = [f"{label} has {len(heads)} heads: {', '.join(f'{h.name} ({h.id})' for h in heads)}; "
                f"merge them with 'manage.py makemigrations --merge {label}'"
                for label in ws.registry.labels if len(heads := graph.heads(label)) > 1]
    problems += [error.message for error in graph.problems()]
    if problems:
        raise _fail(problems, "the revision graph is not one line per component:")


# --------------------------------------------------------------------------- whole-component runs


def check_upgrades_alone(ws: Workspace, component: str) -> None:
    """``component`` goes from an empty database to its head, pulling in only what it depends on."""
    runner = MigrationRunner(ws)
    try:
        runner.migrate(component)
    except MemstackError as exc:
        raise MigrationCheckFailed(f"{component} does not upgrade from an empty {runner.dialect} database: "
                                   f"{exc.message}") from exc
    graph = ws.graph
    wanted = {h.id for h in graph.heads(component)}
    needed = wanted | {a for h in wanted for a in graph.ancestors(h)}
    extra = sorted(graph.get(r).label for r in runner.applied() - needed)
    if extra:
        raise _fail(extra, f"migrating {component} alone applied revisions it does not depend on:")


def check_up_down_up(ws: Workspace) -> None:
    """Each revision, in graph order, goes up, down and up again; each move leaves the schema it should.

    The whole walk is one executor run (up, down, up per revision); the schema is compared after each step.
    """
    graph = ws.graph
    heads = [h.id for label in ws.registry.labels for h in graph.heads(label)]
    plan: list[Step] = []
    for step in forwards_plan(graph, heads, set()):
        plan += [step] if step.revision.irreversible else [step, Step(step.revision, "down"), step]
    cache = SnapshotCache()
    before = after = take_snapshot(ws.engine, cache)
    ups: dict[str, int] = {}

    def watch(event: str, step: Step, _result: object) -> None:
        nonlocal before, after
        if event != "done":
            return
        now = take_snapshot(ws.engine, cache)
        revision = step.revision
        if step.direction == "down":
            _compare(before, now, revision, "the downgrade does not restore the schema before it")
        elif ups.setdefault(revision.id, 0) == 0:
            before, after = after, now
        else:
            _compare(after, now, revision, "upgrading again gives another schema than the first time")
        if step.direction == "up":
            ups[revision.id] += 1

    _run(_executor(ws), plan, set(), watch)


def check_downgrades_leave_no_trace(ws: Workspace) -> None:
    """Upgrade everything, then downgrade everything newest first: each step restores its schema, none remains."""
    graph = ws.graph
    executor = _executor(ws)
    heads = [h.id for label in ws.registry.labels for h in graph.heads(label)]
    before_each: dict[str, Snapshot] = {}
    cache = SnapshotCache()

    def remember(event: str, step: Step, _result: object) -> None:
        if event == "start":
            before_each[step.revision.id] = take_snapshot(ws.engine, cache)

    def compare(event: str, step: Step, _result: object) -> None:
        if event == "done":
            _compare(before_each[step.revision.id], take_snapshot(ws.engine, cache), step.revision,
                     "after downgrading everything that came later, its downgrade leaves")

    upgrade = forwards_plan(graph, heads, set())
    _run(executor, upgrade, set(), remember)
    applied = {s.revision.id for s in upgrade}
    irreversible = {r for r in applied if graph.get(r).irreversible}
    kept = irreversible | {a for r in irreversible for a in graph.ancestors(r)}  # undoing these undoes r
    _run(executor, backwards_plan(graph, applied - kept - graph.descendants(irreversible), applied), applied, compare)
    if not kept:
        lines = describe_difference({}, take_snapshot(ws.engine))
        if lines:
            raise _fail(lines, "after downgrading every component to zero, the database still holds:")


# --------------------------------------------------------------------------- models


def check_models_match(ws: Workspace) -> None:
    """After a full upgrade, each component's models match the tables its revisions built."""
    model_owner = ws.registry.load_models()
    try:
        revision_owner = build_scratch(ws, ws.engine)
    except MemstackError as exc:
        raise MigrationCheckFailed(f"the full upgrade failed on {ws.dialect_name}: {exc.message}") from exc
    owners = {**revision_owner, **model_owner}
    lines: list[str] = []
    with ws.engine.connect() as connection:
        for label in ws.registry.labels:
            ops = compare_component(connection, label, owners, metadata)
            lines += [f"{label}: {describe_diff(diff)}" for diff in ops.as_diffs()]
    if lines:
        raise _fail(lines, f"the models differ from the migrated {ws.dialect_name} schema "
                    "(run 'manage.py makemigrations' for the component named):")


# --------------------------------------------------------------------------- data


def check_data_migration(ws: Workspace, case: DataMigration) -> None:
    """Rows inserted before ``case.revision`` are what ``case.expect`` says after it."""
    runner = MigrationRunner(ws)
    revision = runner.revision(case.component, case.revision)
    runner.migrate_before(case.component, case.revision)
    for table, rows in case.rows.items():
        runner.insert(table, rows)
    try:
        runner.migrate(revision.component, revision.id)
    except MemstackError as exc:
        raise MigrationCheckFailed(f"{revision.label} ({revision.id}) failed with data in the tables on "
                                   f"{runner.dialect}: {exc.message}") from exc
    for table, expected in case.expect.items():
        columns = list(dict.fromkeys(c for row in expected for c in row))
        actual = runner.rows(table, *columns)
        wanted = [dict(row) for row in expected]
        if actual != wanted:
            raise _fail([f"expected {wanted}", f"found    {actual}"],
                        f"{revision.label} ({revision.id}): table {table} after the data migration on "
                        f"{runner.dialect}:")
    if case.check is not None:
        case.check(runner)
