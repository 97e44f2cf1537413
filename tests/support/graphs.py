"""Builders for graph and planner unit tests: revisions by hand, a MemStack-like tree, random DAGs.

Revisions are built directly with ``rev()``; a revision's parents are given as other
``Revision`` objects (or raw ids, for dangling links). Ids are deterministic, 12 lowercase
hex characters starting with a letter, as the contract requires.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

from memstack.engine.tree.graph import MigrationGraph, Revision, Step, build_graph

# --------------------------------------------------------------------------- builders

Ref = Revision | str


def make_id(component: str, name: str) -> str:
    """A stable revision id: 12 lowercase hex characters, the first one a letter."""
    digest = hashlib.sha256(f"{component}/{name}".encode()).hexdigest()
    return "abcdef"[int(digest[0], 16) % 6] + digest[1:12]


def _ids(refs: Iterable[Ref]) -> tuple[str, ...]:
    return tuple(r.id if isinstance(r, Revision) else r for r in refs)


def rev(
    component: str,
    name: str,
    *down: Ref,
    deps: Iterable[Ref] = (),
    id: str | None = None,
    path: str | None = None,
) -> Revision:
    """``rev("memory", "0002_add_task_id", memory1, deps=[auth2])``: a revision on ``down``."""
    return Revision(
        id=id or make_id(component, name),
        component=component,
        name=name,
        down_revisions=_ids(down),
        depends_on=_ids(deps),
        path=f"migrations/{component}/{name}.py" if path is None else path,
    )


def graph(*revisions: Revision, order: Iterable[str] = ()) -> MigrationGraph:
    return build_graph(revisions, component_order=list(order))


def labels(steps: Iterable[Step]) -> list[str]:
    """Steps as ``component name`` strings, in plan order."""
    return [s.revision.label for s in steps]


def reasons(steps: Iterable[Step]) -> dict[str, str | None]:
    return {s.revision.label: s.reason for s in steps}


def every(*revisions: Revision) -> set[str]:
    return {r.id for r in revisions}


# --------------------------------------------------------------------------- a MemStack-like tree
#
#   auth     0001_initial <- 0002_add_api_keys
#   tenant   0001_initial                         (depends_on auth 0001)
#   project  0001_initial                         (depends_on tenant 0001)
#   memory   0001_initial <- 0002_add_task_id     (0001 depends_on project 0001)
#   ontology 0001_initial                         (depends_on project 0001)
#   task     0001_initial                         (depends_on memory 0002)

ORDER = ["auth", "tenant", "project", "memory", "ontology", "task"]

auth1 = rev("auth", "0001_initial")
auth2 = rev("auth", "0002_add_api_keys", auth1)
tenant1 = rev("tenant", "0001_initial", deps=[auth1])
project1 = rev("project", "0001_initial", deps=[tenant1])
memory1 = rev("memory", "0001_initial", deps=[project1])
memory2 = rev("memory", "0002_add_task_id", memory1)
ontology1 = rev("ontology", "0001_initial", deps=[project1])
task1 = rev("task", "0001_initial", deps=[memory2])

STACK = (auth1, auth2, tenant1, project1, memory1, memory2, ontology1, task1)


def merge_tree() -> tuple[MigrationGraph, dict[int, Revision]]:
    """memory 0001; 0002, 0003 and 0004 each on 0001; 0005 merges the three."""
    m1 = rev("memory", "0001_initial")
    m2 = rev("memory", "0002_add_tags", m1)
    m3 = rev("memory", "0003_add_scores", m1)
    m4 = rev("memory", "0004_add_links", m1)
    m5 = rev("memory", "0005_merge", m2, m3, m4)
    return graph(m1, m2, m3, m4, m5), {1: m1, 2: m2, 3: m3, 4: m4, 5: m5}


# --------------------------------------------------------------------------- random DAGs


def random_tree(seed: int, components: int = 4, per_component: int = 8) -> tuple[MigrationGraph, list[Revision]]:
    """A random acyclic tree: branches and merges inside components, depends_on across them.

    Parents are always chosen among revisions created earlier, so the result has no cycle.
    Returns the graph and the revisions in creation order.
    """
    rng = random.Random(seed)
    labels_ = [f"c{i}" for i in range(components)]
    created: list[Revision] = []
    by_component: dict[str, list[Revision]] = {c: [] for c in labels_}
    counters = dict.fromkeys(labels_, 0)
    for _ in range(components * per_component):
        component = rng.choice(labels_)
        own = by_component[component]
        down: list[Revision] = []
        if own:
            down = rng.sample(own, k=min(len(own), rng.choice([1, 1, 1, 2])))
        others = [r for r in created if r.component != component]
        deps = rng.sample(others, k=min(len(others), rng.choice([0, 0, 1, 2]))) if others else []
        counters[component] += 1
        r = rev(component, f"{counters[component]:04d}_step", *down, deps=deps)
        created.append(r)
        own.append(r)
    return graph(*created, order=labels_), created


def random_closed_set(rng: random.Random, created: list[Revision], keep: float) -> set[str]:
    """A random applied set closed under ancestors, computed without the graph's own helpers."""
    applied: set[str] = set()
    for r in created:  # creation order: parents come first
        if all(p in applied for p in r.parents) and rng.random() < keep:
            applied.add(r.id)
    return applied


def close_under_parents(created: list[Revision], seeds: set[str]) -> set[str]:
    by_id = {r.id: r for r in created}
    result: set[str] = set()
    stack = list(seeds)
    while stack:
        rid = stack.pop()
        if rid not in result:
            result.add(rid)
            stack.extend(by_id[rid].parents)
    return result


FULL = every(*STACK)


def scrambled_stack() -> MigrationGraph:
    """The MemStack-like tree added in a scrambled order: nothing may depend on insertion order."""
    return graph(*reversed(STACK), order=ORDER)
