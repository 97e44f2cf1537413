"""squashmigrations: many revisions of one component become one (or a few), proven equal first.

The squashed revision is generated, not concatenated: two scratch databases are built, one to
the state before the range (its parents) and one to its end, and the end's tables are compared
with the start the way ``makemigrations`` compares models (comparison.py), then rendered by the
same writer. The files it replaces stay until ``--cleanup``; the loader chooses per database
which to run (tree/replaces.py). A replaced revision that runs Python or data SQL is kept as
a revision of its own between squashes, unless its author marked it ``elidable = True``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memstack.core.urls import normalize_url
from memstack.engine.errors import SquashCycle, SquashNotProven, SquashRefused
from memstack.engine.generate.autodetect import new_revision_id, slugify
from memstack.engine.generate.squash_build import (
    DialectProof,
    generate_ops,
    prove,
    sample,
    squashed_tree,
)
from memstack.engine.generate.writer import render_revision
from memstack.engine.run.alembic_config import load_revision_module
from memstack.engine.run.classify import classify_module
from memstack.engine.tree import replaces
from memstack.engine.tree.graph import MigrationGraph, Revision
from memstack.engine.tree.loader import LoadedTree
from memstack.engine.tree.planner import resolve_target
from memstack.engine.workspace import Workspace


@dataclass
class Segment:
    """Revisions one new squash replaces (``ids``, graph order), or one kept data revision (``kept``)."""
    ids: list[str]
    kept: bool = False
    new_id: str = ""
    name: str = ""
    down_revisions: tuple[str, ...] = ()
    depends_on: list[str] = field(default_factory=list)
    branch_labels: tuple[str, ...] = ()
    text: str = ""


@dataclass
class SquashPlan:
    component: str
    replaced: list[str]  # START..END in graph order
    segments: list[Segment]
    data: dict[str, str]  # kept data revision -> why (what the classifier saw)
    elided: list[str]  # data revisions dropped because they are elidable
    labels: dict[str, str]  # id -> "component name", for output

    @property
    def squashes(self) -> list[Segment]:
        return [s for s in self.segments if not s.kept]


def squash_range(graph: MigrationGraph, component: str, start: str | None, end: str) -> list[str]:
    """START..END of ``component``: END, its ancestors in the component that build on START, START."""
    end_rev = resolve_target(graph, component, end)
    if end_rev is None:
        raise SquashRefused(f"END {end!r} names no revision of {component}", "name a revision (id, number or name)")
    if start:
        start_rev = resolve_target(graph, component, start)
        if start_rev is None:
            raise SquashRefused(f"START {start!r} names no revision of {component}", "name a revision")
    else:
        roots = [r for r in graph.of_component(component) if not r.down_revisions]
        start_rev = roots[0]
    wanted = {end_rev.id} | graph.ancestors(end_rev.id)
    if start_rev.id not in wanted:
        raise SquashRefused(f"{start_rev.label} is not an ancestor of {end_rev.label}",
                            "START must come before END in the component's history")
    ids = [r.id for r in graph.of_component(component)
           if r.id in wanted and (r.id == start_rev.id or start_rev.id in graph.ancestors(r.id))]
    if len(ids) < 2:
        raise SquashRefused(f"{start_rev.label}..{end_rev.label} is a single revision", "squash at least two")
    return ids


def runs_data(tree: LoadedTree, ws: Workspace, rid: str) -> str | None:
    """Why revision ``rid`` must not be squashed away (the classifier's words), or None for schema
    only: it runs Python or data SQL, or raw DDL SQL, which may build what the catalog comparison
    does not see (a view, a trigger, a function)."""
    module = load_revision_module(tree.path_of(rid))
    classification = classify_module(module, "up", ws.alembic_setup(), "postgresql")
    found = [f for f in classification.facts
             if f.effect in ("data", "code") or f.kind in ("delete_rows", "truncate", "sql")]
    return "; ".join(dict.fromkeys(f"raw SQL {f.why}" if f.kind == "sql" and f.effect == "ddl" else f.why or f.kind
                                   for f in found)) if found else None


def split_segments(ids: list[str], data: dict[str, str]) -> list[Segment]:
    """Runs of schema-only revisions between the kept data revisions; a run of one stays as it is."""
    segments: list[Segment] = []
    run: list[str] = []

    def close() -> None:
        if len(run) > 1:
            segments.append(Segment(list(run)))
        segments.extend(Segment([rid], kept=True) for rid in run if len(run) == 1)
        run.clear()

    for rid in ids:
        if rid in data:
            close()
            segments.append(Segment([rid], kept=True))
        else:
            run.append(rid)
    close()
    return segments


def link(graph: MigrationGraph, segment: Segment) -> None:
    """The squash's parents: what its revisions build on outside it, in the component and across."""
    inside = set(segment.ids)
    down = [p for rid in segment.ids for p in graph.get(rid).down_revisions if p not in inside]
    cross = [p for rid in segment.ids for p in graph.get(rid).depends_on if p not in inside]
    down = [p for p in dict.fromkeys(down) if not any(p in graph.ancestors(o) for o in down if o != p)]
    segment.down_revisions = tuple(down)
    segment.depends_on = graph.minimal_dependencies(segment.down_revisions, cross)


def prospective(tree: LoadedTree, component: str, segments: list[Segment]) -> tuple[dict[str, Revision],
                                                                                      dict[str, tuple[str, ...]]]:
    """Every revision and squash once the new squashes are written (files not needed)."""
    revisions = dict(tree.every_revision)
    squashes = dict(tree.squashes)
    for seg in segments:
        if seg.kept:
            continue
        revisions[seg.new_id] = Revision(seg.new_id, component, seg.name, seg.down_revisions,
                                         tuple(seg.depends_on))
        squashes[seg.new_id] = tuple(seg.ids)
    return revisions, squashes


def cycle_in(tree: LoadedTree, component: str, segments: list[Segment]) -> list[str] | None:
    """The cycle the squashes would make in a new database's view (labels), or None."""
    revisions, squashes = prospective(tree, component, segments)
    view = replaces.resolve(revisions, squashes, [])
    graph = MigrationGraph(component_order=list(tree.graph.component_order))
    for rev in view.revisions:
        graph.add(rev)
    cycle = graph.find_cycle()
    return [graph.get(r).label for r in cycle] if cycle else None


def write_atomically(path: Path, text: str, *, overwrite: bool = False) -> None:
    """A temporary file in the same folder, then one rename: a reader never sees half a revision."""
    if path.exists() and not overwrite:
        raise SquashRefused(f"{path} exists already", "remove it or squash another range")
    handle, temporary = tempfile.mkstemp(prefix=".squash-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def name_segment(graph: MigrationGraph, segment: Segment, taken: set[str]) -> None:
    first, last = graph.get(segment.ids[0]), graph.get(segment.ids[-1])
    segment.new_id = new_revision_id(taken)
    taken.add(segment.new_id)
    number = f"{first.number:04d}" if first.number is not None else first.name
    last_part = f"{last.number:04d}" if last.number is not None else last.name
    segment.name = slugify(f"{number}_squashed_{last_part}_{last.slug}", 60)


# --------------------------------------------------------------------------- the whole squash


@dataclass
class SquashResult:
    plan: SquashPlan
    proofs: list[DialectProof]
    paths: dict[str, str]  # new squash id -> its file
    written: bool

    def as_json(self) -> dict[str, object]:
        plan = self.plan
        return {
            "component": plan.component, "written": self.written,
            "replaced": [plan.labels[r] for r in plan.replaced],
            "squashes": [{"revision": s.new_id, "name": s.name, "path": self.paths.get(s.new_id),
                          "replaces": [plan.labels[r] for r in s.ids], "down_revision": list(s.down_revisions),
                          "depends_on": s.depends_on} for s in plan.squashes],
            "kept_data_revisions": {plan.labels[r]: why for r, why in plan.data.items()},
            "elided": [plan.labels[r] for r in plan.elided],
            "proof": [p.as_json() for p in self.proofs],
        }


def plan_squash(ws: Workspace, component: str, start: str | None, end: str) -> SquashPlan:
    """What would be squashed into what, refused when it would make a cycle (naming the largest END that does not)."""
    tree = ws.loaded_tree
    graph = tree.graph
    ids = squash_range(graph, component, start, end)
    found = {rid: runs_data(tree, ws, rid) for rid in ids}
    data = {rid: why for rid, why in found.items() if why and rid not in tree.elidable}
    elided = [rid for rid, why in found.items() if why and rid in tree.elidable]
    plan = _planned(tree, component, ids, data, elided)
    cycle = cycle_in(tree, component, plan.segments)
    if cycle is None:
        return plan
    largest = None
    for candidate in reversed(ids[:-1]):
        try:
            shorter = squash_range(graph, component, start, candidate)
        except SquashRefused:
            break
        if cycle_in(tree, component, _planned(tree, component, shorter, data, elided).segments) is None:
            largest = graph.get(candidate).label
            break
    raise SquashCycle(component, cycle, largest)


def _planned(tree: LoadedTree, component: str, ids: list[str], data: dict[str, str], elided: list[str]) -> SquashPlan:
    graph = tree.graph
    kept = {r: w for r, w in data.items() if r in ids}
    segments = split_segments(ids, kept)
    if not any(not s.kept for s in segments):
        raise SquashRefused(f"no two schema-only revisions of {component} in a row to squash "
                            f"(kept for their data: {', '.join(graph.get(r).label for r in kept)})",
                            "mark data revisions whose work new databases do not need with elidable = True")
    taken = set(tree.every_revision)
    for seg in segments:
        if not seg.kept:
            name_segment(graph, seg, taken)
            link(graph, seg)
            # no branch label while the replaced files stay: plain Alembic reading the folder would see
            # the component's label twice; --cleanup gives the squash the label of the base it replaced
            seg.branch_labels = ()
    labels = {rid: rev.label for rid, rev in tree.every_revision.items()}
    return SquashPlan(component, ids, segments, kept, [r for r in elided if r in ids], labels)


def _render(ws: Workspace, plan: SquashPlan, urls: Sequence[str]) -> None:
    tree = ws.loaded_tree
    for seg in plan.squashes:
        heads = replaces.heads_of(set(seg.ids), tree.graph.revisions)
        upgrade, downgrade, irreversible = generate_ops(ws, tree, plan.component,
                                                        [*seg.down_revisions, *seg.depends_on], heads, urls)
        last = tree.graph.get(seg.ids[-1])
        text = render_revision(
            ws.settings.templates_dir, component=plan.component, revision=seg.new_id,
            message=f"{plan.component}: {len(seg.ids)} revisions squashed, up to {last.name}",
            down_revisions=seg.down_revisions, branch_labels=seg.branch_labels, depends_on=seg.depends_on,
            upgrade=upgrade, downgrade=None if irreversible else downgrade, irreversible=irreversible)
        seg.text = with_replaces(text, seg, plan.labels)


def _scalar(ids: Sequence[str]) -> str | list[str] | None:
    return None if not ids else ids[0] if len(ids) == 1 else list(ids)


PLACEMENT_IMPORT = ("from memstack.alembic_placement import alembic_down_revision  "
                    "# memstack: plain Alembic's view; removed by --cleanup\n")


def with_replaces(text: str, seg: Segment, labels: dict[str, str]) -> str:
    """The rendered file plus ``replaces``. Its real parents go to ``squash_down_revision`` (what
    memstack reads while ``replaces`` is there); its ``down_revision``, what plain Alembic reads
    without memstack's env.py (``alembic heads``), is computed on import as the heads of the folder's
    other files (alembic_placement.py): the squash is the last of its component's line, never a second
    base or head, whatever follows the range. ``--cleanup`` puts the real parents back."""
    marker = "\ndepends_on: str | Sequence[str] | None = "
    head, sep, rest = text.partition(marker)
    line_end = rest.index("\n") + 1
    head = re.sub(r"^(down_revision: [^=]*= ).*$", lambda m: m.group(1) + "alembic_down_revision(__file__)", head,
                  count=1, flags=re.MULTILINE)
    head = head.replace("from collections.abc import Sequence\n",
                        "from collections.abc import Sequence\n\n" + PLACEMENT_IMPORT, 1)
    listed = "".join(f"    {rid!r},  # {labels[rid]}\n" for rid in seg.ids)
    return (head + sep + rest[:line_end] + "# memstack: the revisions this one stands for (squashmigrations); "
            "removed by --cleanup\nreplaces = [\n" + listed + "]\n"
            f"squash_down_revision = {_scalar(seg.down_revisions)!r}  # memstack: the real parents\n"
            + rest[line_end:])


def squash_migrations(ws: Workspace, component: str, start: str | None, end: str, *,
                      proof_urls: Sequence[str] = (), samples: int = 12, write: bool = True) -> SquashResult:
    """Plan, generate and prove a squash; write its files only when every dialect agrees."""
    ws.generating = True  # the tree as files give it, whatever the project's database applied
    proof_urls = [normalize_url(url, ws.settings.project_dir) for url in proof_urls]
    label = ws.registry.get(component).label
    plan = plan_squash(ws, label, start, end)
    _render(ws, plan, proof_urls)
    tree = ws.loaded_tree
    folder = ws.registry.get(label).migrations_path
    with tempfile.TemporaryDirectory(prefix="memstack-squash-") as temporary:
        staged: dict[str, Path] = {}
        revisions = dict(tree.every_revision)
        for seg in plan.squashes:
            staged[seg.new_id] = Path(temporary) / f"{seg.name}.py"
            staged[seg.new_id].write_text(seg.text, encoding="utf-8")
        new_revisions, squashes = prospective(tree, label, plan.segments)
        revisions.update(new_revisions)
        new_tree = squashed_tree(tree, revisions, squashes, dict(staged))
        proofs = prove(ws, tree, new_tree, sample(plan.replaced, samples), proof_urls)
    if not all(p.agrees for p in proofs):
        raise SquashNotProven([line for p in proofs for line in p.lines()])
    paths = {seg.new_id: str(folder / f"{seg.name}.py") for seg in plan.squashes}
    if write:
        for seg in plan.squashes:
            write_atomically(Path(paths[seg.new_id]), seg.text)
        ws.reload()
    return SquashResult(plan, proofs, paths, write)
