"""Per-component autogenerate, dependency inference and FK-cycle splitting.

Models are compared with a scratch database built from every revision, one component at a
time, looking only at the tables that component owns (contract: Ownership). References to
other components' tables become ``depends_on`` links, reduced to the minimal set; a cycle
of references between new tables is cut by deferring the foreign keys that point "forwards"
in configuration order to a follow-up revision.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.operations import ops as alembic_ops
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine, make_url

from memstack.core.components import Registry, is_bookkeeping_table
from memstack.core.components import _has_models as has_models_module
from memstack.core.db import metadata
from memstack.engine.errors import MigrationFailed, NewRevisionCycle, ScratchBuildFailed, UncreatedReference
from memstack.engine.generate.comparison import compare_component as compare_component  # re-exported: testing.checks
from memstack.engine.generate.comparison import compare_components, models_of_their_own
from memstack.engine.generate.downgrades import downgrade_for
from memstack.engine.generate.references import (
    Creators,
    created_tables,
    defer_foreign_keys,
    referenced_columns,
    referenced_tables,
    strongly_connected,
)
from memstack.engine.generate.renames import RenameChoices, RenameColumnOp, RenameTableOp, settle
from memstack.engine.generate.scratch import SchemaWatcher
from memstack.engine.generate.scratch_cache import scratch_state
from memstack.engine.run.envhooks import compare_options
from memstack.engine.run.executor import Executor
from memstack.engine.tree.graph import MigrationGraph, Revision, Step
from memstack.engine.tree.planner import forwards_plan
from memstack.engine.workspace import Workspace


def new_revision_id(taken: Iterable[str] = ()) -> str:
    """12 lowercase hex characters, starting with a letter (never all digits)."""
    taken_set = set(taken)
    while True:
        rid = secrets.choice("abcdef") + secrets.token_hex(6)[:11]
        if rid not in taken_set:
            return rid


def slugify(text: str, limit: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return (slug[:limit].rstrip("_") or "auto") if slug else "auto"


@dataclass
class NewRevision:
    """A revision makemigrations is about to write."""
    component: str
    id: str
    number: int
    slug: str
    message: str
    down_revisions: tuple[str, ...]
    upgrade_ops: alembic_ops.UpgradeOps
    depends_on: list[str] = field(default_factory=list)
    wanted: set[str] = field(default_factory=set)  # dependency candidates before reduction
    branch_labels: tuple[str, ...] = ()
    irreversible: bool = False
    depends_on_names: list[str] = field(default_factory=list)  # "component NNNN_slug", as output shows them
    down_revision_names: list[str] = field(default_factory=list)
    downgrade_ops: alembic_ops.DowngradeOps = field(default_factory=lambda: alembic_ops.DowngradeOps(ops=[]))

    @property
    def name(self) -> str:
        return f"{self.number:04d}_{self.slug}"

    def as_graph_node(self) -> Revision:
        return Revision(self.id, self.component, self.name, self.down_revisions, tuple(sorted(self.wanted)),
                        self.irreversible)


@dataclass
class Detection:
    revisions: list[NewRevision]
    ignored_tables: list[str]
    without_models: list[str] = field(default_factory=list)  # never compared: that would drop their tables


# --------------------------------------------------------------------------- scratch state


def scratch_plan(ws: Workspace) -> list[Step]:
    """Every revision, up to every component's heads, from an empty database."""
    heads = [h.id for label in ws.registry.labels for h in ws.graph.heads(label)]
    return forwards_plan(ws.graph, heads, set())


def build_scratch(ws: Workspace, engine: Engine, creators: Creators | None = None,
                  plan: list[Step] | None = None) -> dict[str, str]:
    """Apply every revision (``plan``) to ``engine``; return {table: component whose revisions created it}.

    ``creators``, when given, is filled with the revision that created each table and column.
    """
    created: dict[str, str] = {}
    watcher = SchemaWatcher()

    def track(event: str, step: Step, _result: object) -> None:
        if event != "done":
            return
        with engine.connect() as connection:
            changed, dropped = watcher.refresh(connection)
        rid = step.revision.id
        for table in dropped:
            created.pop(table, None)
        for table, before in changed.items():
            if is_bookkeeping_table(table):
                continue
            if before is None:  # new (or created again)
                created[table] = step.revision.component
                if creators is not None:
                    creators.tables[table] = rid
            if creators is not None:
                for column in watcher.columns[table] - (before or set()):
                    creators.columns[(table, column)] = rid

    plan = scratch_plan(ws) if plan is None else plan
    if plan:  # a first makemigrations has nothing to apply: no executor (nor its imports) either

        # unguarded: a scratch database nothing else uses (generate/scratch.py)
        Executor(engine, ws.tree, track, record=False, alembic=ws.alembic_setup()).run(plan, set())
    return created


def _built_scratch(ws: Workspace, engine: Engine, creators: Creators, plan: list[Step]) -> dict[str, str]:
    """:func:`build_scratch` on the throw-away scratch database: a failing revision is said as what it
    is (the scratch database discarded, nothing of the person's changed), not as a run whose
    earlier steps "stayed applied"."""
    try:
        return build_scratch(ws, engine, creators, plan)
    except MigrationFailed as failed:
        rev = failed.step.revision
        raise ScratchBuildFailed(label=rev.label, component=rev.component, direction=failed.step.direction,
                                 index=failed.index, total=failed.total, error=failed.error,
                                 first=not rev.down_revisions,
                                 baseline=ws.registry.get(rev.component).baseline) from failed


# --------------------------------------------------------------------------- naming


def describe_ops(upgrade: alembic_ops.UpgradeOps) -> str:
    """A slug from what the operations do, as Django names its migrations."""
    words: list[str] = []
    dropped = {op.table_name for op in upgrade.ops if isinstance(op, alembic_ops.DropTableOp)}
    for op in upgrade.ops:
        if isinstance(op, alembic_ops.ModifyTableOps) and op.table_name in dropped:
            continue  # its index drops go with the table
        if isinstance(op, alembic_ops.CreateTableOp):
            words.append(f"create_{op.table_name}")
        elif isinstance(op, RenameTableOp):
            words.append(f"rename_{op.table_name}_to_{op.new_table_name}")
        elif isinstance(op, alembic_ops.DropTableOp):
            words.append(f"drop_{op.table_name}")
        elif isinstance(op, alembic_ops.ModifyTableOps):
            for inner in op.ops:
                if isinstance(inner, alembic_ops.AddColumnOp):
                    words.append(f"add_{inner.column.name}")
                elif isinstance(inner, alembic_ops.DropColumnOp):
                    words.append(f"remove_{inner.column_name}")
                elif isinstance(inner, RenameColumnOp):
                    words.append(f"rename_{inner.column_name}_to_{inner.modify_name}")
                elif isinstance(inner, alembic_ops.AlterColumnOp):
                    words.append(f"alter_{inner.column_name}")
                elif isinstance(inner, alembic_ops.CreateForeignKeyOp):
                    words.append(f"add_{inner.source_table}_fk")
                elif isinstance(inner, (alembic_ops.CreateIndexOp, alembic_ops.DropIndexOp)):
                    words.append(f"{'add' if isinstance(inner, alembic_ops.CreateIndexOp) else 'drop'}_index")
                else:
                    words.append(f"alter_{op.table_name}")
        elif isinstance(op, (alembic_ops.CreateIndexOp, alembic_ops.DropIndexOp)):
            words.append("add_index" if isinstance(op, alembic_ops.CreateIndexOp) else "drop_index")
    unique = list(dict.fromkeys(words))
    if not unique:
        return "auto"
    if len(unique) > 2:
        return slugify("_".join(unique[:2]) + "_and_more")
    return slugify("_and_".join(unique))


# --------------------------------------------------------------------------- the whole detection


def detect(ws: Workspace, components: Sequence[str] = (), *, message: str | None = None,
           empty: bool = False, renames: RenameChoices | None = None, name: str | None = None) -> Detection:
    """The revisions ``makemigrations`` would write for ``components`` (all when empty), each named
    ``NNNN_<name>`` when ``name`` is given (``--name``, as Django's), else after ``message`` or its changes.

    With ``renames``, likely renames are settled (asked, given, or refused) and NOT NULL columns
    added without a default are checked against the developer's database; without, a rename
    stays a drop + add (what ``check`` needs to see that something changed).
    """

    registry = ws.registry
    selected = [c.label for c in registry.select(components)]
    model_owner = registry.load_models()
    graph = ws.graph
    for label in registry.labels:
        graph.head(label)  # refuses components with several heads: merge first

    creators = Creators()
    plan = scratch_plan(ws)
    with scratch_state(ws, plan, creators, lambda engine: _built_scratch(ws, engine, creators, plan)) as (
            engine, revision_owner):
        owners = {**revision_owner, **model_owner}
        with engine.connect() as connection:
            existing = [t for t in inspect(connection).get_table_names() if not is_bookkeeping_table(t)]
            ignored = sorted(t for t in existing if t not in owners)
            compared = compare_components(connection, _with_models(registry), owners, metadata,
                                          _hook_options(ws, connection))
            changes = {label: compared.get(label, alembic_ops.UpgradeOps(ops=[])) for label in registry.labels}
    ignored = sorted({*ignored, *_unowned_in_database(ws, owners)})

    created_by = {table: label for label, ops in changes.items() for table in created_tables(ops)}
    wanted_components = _closure(selected, changes, owners, created_by)
    if renames is not None:
        settle(changes, [label for label in registry.labels if label in wanted_components], renames, ws.engine)
    taken = set(graph.revisions)
    numbers = {label: max((r.number or 0 for r in ws.tree.every_revision.values() if r.component == label), default=0)
               for label in registry.labels}  # every file, a squash's replaced ones too: numbers stay unique
    revisions: dict[str, NewRevision] = {}
    for label in registry.labels:
        ops = changes[label]
        if label not in wanted_components or (ops.is_empty() and not (empty and label in selected)):
            continue
        head = graph.head(label)
        numbers[label] += 1
        rid = new_revision_id(taken)
        taken.add(rid)
        first = head is None
        slug = name or (slugify(message) if message else ("initial" if first else describe_ops(ops)))
        revisions[label] = NewRevision(
            component=label, id=rid, number=numbers[label], slug=slug, message=message or slug.replace("_", " "),
            down_revisions=(head.id,) if head else (), upgrade_ops=ops,
            branch_labels=(label,) if first else (),
        )

    followups = _split_cycles(revisions, owners, created_by, registry.labels, numbers, taken)
    ordered = [*revisions.values(), *followups]
    _infer_dependencies(graph, ordered, revisions, owners, created_by, creators)
    for rev in ordered:
        rev.downgrade_ops, rev.irreversible = downgrade_for(rev.upgrade_ops)
    return Detection(ordered, ignored, [label for label in registry.labels if label not in _with_models(registry)])


def _with_models(registry: Registry) -> list[str]:
    """Components compared: not those without a models module, nor those declaring their tables on a
    metadata of their own (a taken-over project's declarative base), so nothing of theirs is dropped."""
    return [c.label for c in registry if has_models_module(c) and not models_of_their_own(c.package)]


def _hook_options(ws: Workspace, connection: Connection) -> dict[str, dict[str, Any]]:
    """Each component's compare options from its environment hook (run/envhooks.py)."""
    setup = ws.alembic_setup()
    return compare_options(setup.hooks, setup.config, connection)


def _unowned_in_database(ws: Workspace, owners: dict[str, str]) -> list[str]:
    """Tables of the developer's database that no component owns: warned about, never compared or dropped.

    Best effort: a database that does not exist yet (or cannot be reached) has nothing to report.
    """

    url = make_url(ws.settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return []  # do not create the file just to look into it
    try:
        with ws.engine.connect() as connection:
            names = inspect(connection).get_table_names()
    except Exception:
        return []
    return [t for t in names if t not in owners and not is_bookkeeping_table(t)]


def _closure(selected: list[str], changes: dict[str, alembic_ops.UpgradeOps], owners: dict[str, str],
             created_by: dict[str, str]) -> set[str]:
    """``selected`` plus every component whose new tables they reference (transitively)."""
    wanted = set(selected)
    stack = list(selected)
    while stack:
        label = stack.pop()
        for op in changes[label].ops:
            for table in referenced_tables(op):
                other = created_by.get(table)
                if other and other != label and other not in wanted:
                    wanted.add(other)
                    stack.append(other)
    return wanted


def _component_edges(revisions: dict[str, NewRevision], owners: dict[str, str],
                     created_by: dict[str, str]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {label: set() for label in revisions}
    for label, rev in revisions.items():
        for op in rev.upgrade_ops.ops:
            for table in referenced_tables(op):
                other = created_by.get(table)
                if other and other != label and other in revisions:
                    edges[label].add(other)
    return edges


def _split_cycles(revisions: dict[str, NewRevision], owners: dict[str, str], created_by: dict[str, str],
                  order: list[str], numbers: dict[str, int], taken: set[str]) -> list[NewRevision]:
    """Cut reference cycles between new revisions; return the follow-up revisions."""
    edges = _component_edges(revisions, owners, created_by)
    followups: list[NewRevision] = []
    for scc in strongly_connected(edges):
        if len(scc) < 2:
            continue
        members = sorted(scc, key=order.index)
        for label in members:
            later = {m for m in members if order.index(m) > order.index(label) and m in edges[label]}
            if not later:
                continue
            tables = {t for t, owner in created_by.items() if owner in later}
            rev = revisions[label]
            added = defer_foreign_keys(rev.upgrade_ops, tables)
            if not added:
                continue
            numbers[label] += 1
            rid = new_revision_id(taken)
            taken.add(rid)
            upgrade = alembic_ops.UpgradeOps(ops=added)
            followups.append(NewRevision(
                component=label, id=rid, number=numbers[label], slug=describe_ops(upgrade),
                message=f"add foreign keys deferred from {rev.name} (reference cycle with {', '.join(sorted(later))})",
                down_revisions=(rev.id,), upgrade_ops=upgrade,
            ))
    return followups


def _infer_dependencies(graph: MigrationGraph, ordered: list[NewRevision], revisions: dict[str, NewRevision],
                        owners: dict[str, str], created_by: dict[str, str], creators: Creators) -> None:
    """Set each new revision's minimal ``depends_on``: on the revisions that created what it references,
    not on the referenced components' heads (unapplying a later, unrelated revision then drags nothing)."""
    for rev in ordered:
        for op in rev.upgrade_ops.ops:
            for table, column in referenced_columns(op):
                owner = owners.get(table)
                if owner is None or owner == rev.component:
                    continue
                if created_by.get(table) == owner and owner in revisions:
                    rev.wanted.add(revisions[owner].id)
                    continue
                creator = creators.of(table, column)
                if creator is None:
                    raise UncreatedReference(rev.component, table, owner)
                rev.wanted.add(creator)
    combined = MigrationGraph(revisions=dict(graph.revisions), component_order=list(graph.component_order))
    for rev in ordered:
        combined.add(rev.as_graph_node())
    cycle = combined.find_cycle()
    if cycle:
        raise NewRevisionCycle(cycle)
    for rev in ordered:
        rev.depends_on = combined.minimal_dependencies(rev.down_revisions, sorted(rev.wanted))
        rev.depends_on_names = [combined.get(rid).label for rid in rev.depends_on]
        rev.down_revision_names = [combined.get(rid).label for rid in rev.down_revisions]
