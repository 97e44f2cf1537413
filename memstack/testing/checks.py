"""The built-in migration checks, as plain functions over a workspace and a scratch database.

Each raises :class:`MigrationCheckFailed` (an ``AssertionError``, so pytest shows it as a
failed assertion) whose message names the component and the revision at fault. The
step-by-step checks run revisions through one :class:`~memstack.engine.executor.Executor`
without bookkeeping, so every revision module is imported once per check, not once per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memstack.core.errors import MemstackError
from memstack.engine.executor import Executor
from memstack.engine.graph import Revision, Step
from memstack.engine.loader import load_tree
from memstack.engine.planner import backwards_plan, forwards_plan
from memstack.engine.workspace import Workspace
from memstack.testing.runner import MigrationRunner
from memstack.testing.snapshot import Snapshot, describe_difference, take_snapshot


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
    return Executor(ws.engine, ws.tree, record=False, alembic=ws.alembic_setup())


def _run(executor: Executor, step: Step, applied: set[str], doing: str) -> None:
    try:
        executor.run([step], applied)
    except MemstackError as exc:
        raise MigrationCheckFailed(f"{step.revision.label} ({step.revision.id}) failed {doing} on "
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
    """Each revision, in graph order, goes up, down and up again; each move leaves the schema it should."""
    graph = ws.graph
    executor = _executor(ws)
    heads = [h.id for label in ws.registry.labels for h in graph.heads(label)]
    applied: set[str] = set()
    before = take_snapshot(ws.engine)
    for step in forwards_plan(graph, heads, set()):
        revision = step.revision
        _run(executor, step, applied, "upgrading")
        after = take_snapshot(ws.engine)
        if not revision.irreversible:
            _run(executor, Step(revision, "down"), applied | {revision.id}, "downgrading")
            _compare(before, take_snapshot(ws.engine), revision, "the downgrade does not restore the schema before it")
            _run(executor, step, applied, "upgrading again after its downgrade")
            _compare(after, take_snapshot(ws.engine), revision, "upgrading again gives another schema than the first time")
        applied.add(revision.id)
        before = after


def check_downgrades_leave_no_trace(ws: Workspace) -> None:
    """Upgrade everything, then downgrade everything newest first: each step restores its schema, none remains."""
    graph = ws.graph
    executor = _executor(ws)
    heads = [h.id for label in ws.registry.labels for h in graph.heads(label)]
    before_each: dict[str, Snapshot] = {}
    applied: set[str] = set()
    for step in forwards_plan(graph, heads, set()):
        before_each[step.revision.id] = take_snapshot(ws.engine)
        _run(executor, step, applied, "upgrading")
        applied.add(step.revision.id)
    irreversible = {r for r in applied if graph.get(r).irreversible}
    kept = irreversible | {a for r in irreversible for a in graph.ancestors(r)}  # undoing these undoes r
    removable = applied - kept - graph.descendants(irreversible)
    for step in backwards_plan(graph, removable, applied):
        _run(executor, step, applied, "downgrading")
        applied.discard(step.revision.id)
        _compare(before_each[step.revision.id], take_snapshot(ws.engine), step.revision,
                 "after downgrading everything that came later, its downgrade leaves")
    if not applied:
        lines = describe_difference({}, take_snapshot(ws.engine))
        if lines:
            raise _fail(lines, "after downgrading every component to zero, the database still holds:")


# --------------------------------------------------------------------------- models


def check_models_match(ws: Workspace) -> None:
    """After a full upgrade, each component's models match the tables its revisions built."""
    from memstack.core.db import metadata
    from memstack.engine.autodetect import build_scratch, compare_component
    from memstack.engine.checks import describe_diff

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
