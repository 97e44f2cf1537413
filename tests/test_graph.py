"""Unit tests for the pure revision graph (memstack.engine.graph): no files, no database.

Revisions are built directly with ``rev()``; a revision's parents are given as other
``Revision`` objects (or raw ids, for dangling links). Ids are deterministic, 12 lowercase
hex characters starting with a letter, as the contract requires.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Iterable

import pytest

from memstack.core.errors import MemstackError
from memstack.engine.graph import (
    GraphError,
    MigrationGraph,
    Revision,
    Step,
    build_graph,
    plan_to_target,
)

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


@pytest.fixture
def stack() -> MigrationGraph:
    # added in a scrambled order: nothing may depend on insertion order
    return graph(*reversed(STACK), order=ORDER)


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


# =========================================================================== Revision, Step


class TestRevision:
    def test_number_slug_and_label(self) -> None:
        r = rev("memory", "0002_add_task_id", "abc123456789")
        assert r.number == 2
        assert r.slug == "add_task_id"
        assert r.label == "memory 0002_add_task_id"

    def test_name_without_number(self) -> None:
        r = rev("memory", "initial")
        assert r.number is None
        assert r.slug == "initial"

    def test_parents_merge_and_depends_on(self) -> None:
        r = rev("memory", "0005_merge", "aaa", "bbb", deps=["ccc"])
        assert r.parents == ("aaa", "bbb", "ccc")
        assert r.is_merge
        assert not rev("memory", "0002_x", "aaa", deps=["bbb"]).is_merge

    def test_ids_built_by_helper_follow_the_contract(self) -> None:
        for r in STACK:
            assert len(r.id) == 12
            assert r.id[0] in "abcdef"
            assert all(ch in "0123456789abcdef" for ch in r.id)
        assert len({r.id for r in STACK}) == len(STACK)


class TestStep:
    def test_as_json_keys_and_values(self) -> None:
        step = Step(memory2, "down", "depends on auth 0001_initial")
        data = step.as_json()
        assert set(data) == {"component", "revision", "name", "number", "direction", "reason"}
        assert data == {
            "component": "memory",
            "revision": memory2.id,
            "name": "0002_add_task_id",
            "number": 2,
            "direction": "down",
            "reason": "depends on auth 0001_initial",
        }

    def test_as_json_requested_step_has_null_reason(self) -> None:
        data = Step(auth1, "up").as_json()
        assert data["reason"] is None
        assert data["direction"] == "up"
        assert data["number"] == 1

    def test_as_json_number_none_for_unnumbered_name(self) -> None:
        assert Step(rev("memory", "initial"), "up").as_json()["number"] is None


# =========================================================================== building


class TestBuilding:
    def test_build_graph_contents(self, stack: MigrationGraph) -> None:
        assert len(stack) == len(STACK)
        assert memory1.id in stack
        assert "nope" not in stack
        assert stack.get(memory2.id) is memory2

    def test_component_order_keeps_given_order_and_appends_unknown(self) -> None:
        g = graph(rev("zeta", "0001_a"), rev("auth", "0001_a"), rev("extra", "0001_a"), order=["auth", "zeta"])
        assert g.component_order == ["auth", "zeta", "extra"]

    def test_duplicate_id_names_both_paths(self) -> None:
        first = rev("memory", "0001_initial", id="abc123456789")
        second = rev("task", "0001_initial", id="abc123456789")
        g = graph(first)
        with pytest.raises(GraphError) as info:
            g.add(second)
        message = str(info.value)
        assert "abc123456789" in message
        assert "migrations/memory/0001_initial.py" in message
        assert "migrations/task/0001_initial.py" in message
        assert g.get("abc123456789") is first  # the first one stays

    def test_duplicate_id_without_paths_names_both_labels(self) -> None:
        first = rev("memory", "0001_initial", id="abc123456789", path="")
        second = rev("task", "0003_other", id="abc123456789", path="")
        with pytest.raises(GraphError) as info:
            graph(first, second)
        assert "memory 0001_initial" in info.value.message
        assert "task 0003_other" in info.value.message

    def test_add_invalidates_cached_ancestors_and_children(self) -> None:
        parent = rev("auth", "0001_initial")
        late = rev("auth", "0002_late", parent)
        child = rev("memory", "0001_initial", deps=[late])
        g = graph(parent, child)
        assert g.ancestors(child.id) == frozenset()  # `late` is still dangling
        assert g.descendants([parent.id]) == set()
        g.add(late)
        assert g.ancestors(child.id) == {late.id, parent.id}
        assert g.descendants([parent.id]) == {late.id, child.id}


# =========================================================================== heads, of_component


class TestHeads:
    def test_single_head_per_component(self, stack: MigrationGraph) -> None:
        assert stack.heads("auth") == [auth2]
        assert stack.head("auth") is auth2
        assert stack.head("memory") is memory2
        assert stack.head("task") is task1

    def test_depends_on_from_another_component_does_not_hide_a_head(self, stack: MigrationGraph) -> None:
        # tenant 0001 depends on auth 0001, project 0001 depends on tenant 0001: still heads
        assert stack.heads("tenant") == [tenant1]
        assert stack.heads("project") == [project1]

    def test_no_revisions(self, stack: MigrationGraph) -> None:
        assert stack.heads("memo") == []
        assert stack.head("memo") is None

    def test_several_heads_error_names_every_head(self) -> None:
        m1 = rev("memory", "0001_initial")
        m2 = rev("memory", "0002_add_tags", m1)
        m3 = rev("memory", "0003_add_scores", m1)
        m4 = rev("memory", "0003_add_links", m1)
        g = graph(m1, m4, m3, m2)
        assert g.heads("memory") == [m2, m4, m3]  # by number, then name
        with pytest.raises(GraphError) as info:
            g.head("memory")
        message = info.value.message
        assert "3 heads" in message
        for head in (m2, m3, m4):
            assert head.name in message
            assert head.id in message
        assert m1.name not in message
        assert "makemigrations --merge memory" in (info.value.hint or "")

    def test_merge_gives_one_head(self) -> None:
        g, m = merge_tree()
        assert g.heads("memory") == [m[5]]
        assert g.head("memory") is m[5]

    def test_two_roots_are_two_heads(self) -> None:
        a = rev("memory", "0001_a")
        b = rev("memory", "0001_b")
        with pytest.raises(GraphError, match=r"0001_a.*0001_b"):
            graph(b, a).head("memory")


class TestOfComponent:
    def test_only_that_component_in_graph_order(self, stack: MigrationGraph) -> None:
        assert stack.of_component("memory") == [memory1, memory2]
        assert stack.of_component("auth") == [auth1, auth2]
        assert stack.of_component("memo") == []

    def test_parents_before_children_ties_by_number(self) -> None:
        g, m = merge_tree()
        assert g.of_component("memory") == [m[1], m[2], m[3], m[4], m[5]]

    def test_graph_order_beats_file_numbers(self) -> None:
        # a misnumbered file: 0002 builds on 0003; graph order still puts the parent first
        m1 = rev("memory", "0001_initial")
        m3 = rev("memory", "0003_first", m1)
        m2 = rev("memory", "0002_second", m3)
        g = graph(m2, m3, m1)
        assert g.of_component("memory") == [m1, m3, m2]


# =========================================================================== ancestors, descendants


class TestAncestry:
    def test_ancestors_follow_depends_on(self, stack: MigrationGraph) -> None:
        assert stack.ancestors(memory1.id) == every(project1, tenant1, auth1)
        assert stack.ancestors(memory2.id) == every(memory1, project1, tenant1, auth1)
        assert stack.ancestors(task1.id) == every(memory2, memory1, project1, tenant1, auth1)

    def test_ancestors_exclude_itself_and_unrelated(self, stack: MigrationGraph) -> None:
        assert memory2.id not in stack.ancestors(memory2.id)
        assert auth2.id not in stack.ancestors(task1.id)
        assert ontology1.id not in stack.ancestors(task1.id)
        assert stack.ancestors(auth1.id) == frozenset()

    def test_ancestors_are_stable_when_cached(self, stack: MigrationGraph) -> None:
        # compute in two different orders on two graphs: caching must not change answers
        fresh = graph(*STACK, order=ORDER)
        forward = {r.id: fresh.ancestors(r.id) for r in STACK}
        backward = {r.id: stack.ancestors(r.id) for r in reversed(STACK)}
        assert forward == backward

    def test_descendants_follow_depends_on(self, stack: MigrationGraph) -> None:
        assert stack.descendants([auth1.id]) == every(auth2, tenant1, project1, memory1, memory2, ontology1, task1)
        assert stack.descendants([project1.id]) == every(memory1, memory2, ontology1, task1)
        assert stack.descendants([memory2.id]) == every(task1)
        assert stack.descendants([task1.id]) == set()

    def test_descendants_of_several(self, stack: MigrationGraph) -> None:
        assert stack.descendants([auth2.id, memory2.id]) == every(task1)
        assert stack.descendants([]) == set()

    def test_descendants_inverse_of_ancestors(self) -> None:
        for seed in range(5):
            g, created = random_tree(seed)
            for r in created:
                expected = {o.id for o in created if r.id in g.ancestors(o.id)}
                assert g.descendants([r.id]) == expected


# =========================================================================== version rows


class TestVersionRows:
    def test_one_row_stands_for_several_branches(self, stack: MigrationGraph) -> None:
        # alembic_version holds only memory 0001: project, tenant and auth 0001 are applied too
        assert stack.applied_from_rows([memory1.id]) == every(memory1, project1, tenant1, auth1)

    def test_rows_for_is_the_inverse(self, stack: MigrationGraph) -> None:
        applied = every(memory1, project1, tenant1, auth1)
        assert stack.rows_for(applied) == every(memory1)

    def test_a_head_another_revision_depends_on_is_not_a_row(self, stack: MigrationGraph) -> None:
        # project 0001 is project's head, but memory 0001 and ontology 0001 depend on it
        applied = every(auth1, tenant1, project1, memory1, ontology1)
        rows = stack.rows_for(applied)
        assert rows == every(memory1, ontology1)
        assert project1.id not in rows
        assert stack.applied_from_rows(rows) == applied

    def test_independent_branches_keep_their_rows(self, stack: MigrationGraph) -> None:
        applied = every(auth1, auth2, tenant1, project1, memory1, memory2, task1)
        assert stack.rows_for(applied) == every(auth2, task1)
        assert stack.applied_from_rows(every(auth2, task1)) == applied

    def test_redundant_rows_are_harmless(self, stack: MigrationGraph) -> None:
        # a row at auth 0001 next to one at memory 0001 adds nothing
        assert stack.applied_from_rows(every(auth1, memory1)) == every(memory1, project1, tenant1, auth1)

    def test_empty(self, stack: MigrationGraph) -> None:
        assert stack.rows_for(set()) == set()
        assert stack.applied_from_rows([]) == set()

    @pytest.mark.parametrize("seed", range(25))
    def test_round_trip_on_random_trees(self, seed: int) -> None:
        g, created = random_tree(seed)
        rng = random.Random(1000 + seed)
        for attempt in range(20):
            if attempt % 2:
                applied = random_closed_set(rng, created, keep=rng.choice([0.3, 0.6, 0.9, 1.0]))
            else:
                seeds = set(rng.sample([r.id for r in created], k=rng.randint(0, 5)))
                applied = close_under_parents(created, seeds)
            rows = g.rows_for(applied)
            assert g.applied_from_rows(rows) == applied
            # rows are exactly the members no other member names as a parent
            named_as_parent = {p for rid in applied for p in g.get(rid).parents}
            assert rows == applied - named_as_parent
            # and rows form an antichain, so they come back unchanged
            for row in rows:
                assert not (g.ancestors(row) & rows)
            assert g.rows_for(g.applied_from_rows(rows)) == rows


# =========================================================================== forwards


class TestForwardsPlan:
    def test_pulls_dependencies_parents_first(self, stack: MigrationGraph) -> None:
        steps = stack.forwards_plan([memory2.id], applied=set())
        assert labels(steps) == [
            "auth 0001_initial",
            "tenant 0001_initial",
            "project 0001_initial",
            "memory 0001_initial",
            "memory 0002_add_task_id",
        ]
        assert all(s.direction == "up" for s in steps)

    def test_reasons(self, stack: MigrationGraph) -> None:
        steps = stack.forwards_plan([memory2.id], applied=set())
        assert reasons(steps) == {
            "auth 0001_initial": "needed by memory 0001_initial",
            "tenant 0001_initial": "needed by memory 0001_initial",
            "project 0001_initial": "needed by memory 0001_initial",
            "memory 0001_initial": None,
            "memory 0002_add_task_id": None,
        }

    def test_requested_components_have_no_reason(self, stack: MigrationGraph) -> None:
        steps = stack.forwards_plan([memory2.id], applied=set(), requested=["memory", "project"])
        got = reasons(steps)
        assert got["project 0001_initial"] is None
        assert got["memory 0002_add_task_id"] is None
        assert got["tenant 0001_initial"] == "needed by project 0001_initial"

    def test_nothing_applied_is_replanned(self, stack: MigrationGraph) -> None:
        applied = every(auth1, tenant1, project1)
        steps = stack.forwards_plan([task1.id], applied=applied)
        assert labels(steps) == ["memory 0001_initial", "memory 0002_add_task_id", "task 0001_initial"]
        assert reasons(steps)["memory 0001_initial"] == "needed by task 0001_initial"

    def test_applied_target_gives_empty_plan(self, stack: MigrationGraph) -> None:
        applied = every(auth1, tenant1, project1, memory1)
        assert stack.forwards_plan([memory1.id], applied=applied) == []

    def test_several_targets(self, stack: MigrationGraph) -> None:
        steps = stack.forwards_plan([auth2.id, ontology1.id], applied=every(auth1))
        assert labels(steps) == ["auth 0002_add_api_keys", "tenant 0001_initial", "project 0001_initial",
                                 "ontology 0001_initial"]
        got = reasons(steps)
        assert got["auth 0002_add_api_keys"] is None
        assert got["ontology 0001_initial"] is None
        assert got["tenant 0001_initial"] == "needed by ontology 0001_initial"

    def test_merge_applies_every_parent(self) -> None:
        g, m = merge_tree()
        steps = g.forwards_plan([m[5].id], applied=every(m[1], m[3]))
        assert [s.revision for s in steps] == [m[2], m[4], m[5]]

    @pytest.mark.parametrize("seed", range(15))
    def test_dependency_order_on_random_trees(self, seed: int) -> None:
        g, created = random_tree(seed)
        rng = random.Random(seed)
        for _ in range(10):
            applied = random_closed_set(rng, created, keep=0.5)
            targets = rng.sample([r.id for r in created], k=rng.randint(1, 3))
            steps = g.forwards_plan(targets, applied=applied)
            planned = [s.revision.id for s in steps]
            assert len(planned) == len(set(planned))
            assert not set(planned) & applied
            assert set(planned) == close_under_parents(created, set(targets)) - applied
            done = set(applied)
            for step in steps:
                assert set(step.revision.parents) <= done
                done.add(step.revision.id)
            wanted = {g.get(t).component for t in targets}
            for step in steps:
                assert (step.reason is None) == (step.revision.component in wanted)


# =========================================================================== backwards


FULL = every(*STACK)


class TestBackwardsPlan:
    def test_children_before_parents_with_cascade(self, stack: MigrationGraph) -> None:
        steps = stack.backwards_plan([memory1.id], applied=FULL)
        assert labels(steps) == ["task 0001_initial", "memory 0002_add_task_id", "memory 0001_initial"]
        assert all(s.direction == "down" for s in steps)
        assert reasons(steps) == {
            "task 0001_initial": "depends on memory 0001_initial",
            "memory 0002_add_task_id": None,
            "memory 0001_initial": None,
        }

    def test_leaves_unrelated_branches(self, stack: MigrationGraph) -> None:
        steps = stack.backwards_plan([memory1.id], applied=FULL)
        touched = {s.revision.id for s in steps}
        assert not touched & every(auth1, auth2, tenant1, project1, ontology1)

    def test_cascade_from_the_root(self, stack: MigrationGraph) -> None:
        steps = stack.backwards_plan([auth1.id], applied=FULL)
        assert {s.revision.id for s in steps} == FULL
        assert labels(steps)[-1] == "auth 0001_initial"
        got = reasons(steps)
        assert got["auth 0002_add_api_keys"] is None
        assert got["auth 0001_initial"] is None
        for label in ("tenant 0001_initial", "project 0001_initial", "memory 0001_initial",
                      "memory 0002_add_task_id", "ontology 0001_initial", "task 0001_initial"):
            assert got[label] == "depends on auth 0001_initial"

    def test_only_applied_revisions_are_unapplied(self, stack: MigrationGraph) -> None:
        applied = every(auth1, tenant1, project1, memory1)
        steps = stack.backwards_plan([project1.id, ontology1.id], applied=applied)
        assert labels(steps) == ["memory 0001_initial", "project 0001_initial"]
        assert stack.backwards_plan([task1.id], applied=applied) == []

    def test_requested_components_have_no_reason(self, stack: MigrationGraph) -> None:
        steps = stack.backwards_plan([project1.id], applied=FULL, requested=["project", "memory"])
        got = reasons(steps)
        assert got["memory 0001_initial"] is None
        assert got["ontology 0001_initial"] == "depends on project 0001_initial"
        assert got["task 0001_initial"] == "depends on project 0001_initial"

    @pytest.mark.parametrize("seed", range(15))
    def test_dependents_first_on_random_trees(self, seed: int) -> None:
        g, created = random_tree(seed)
        rng = random.Random(seed)
        for _ in range(10):
            applied = random_closed_set(rng, created, keep=0.8)
            remove = rng.sample([r.id for r in created], k=rng.randint(1, 3))
            steps = g.backwards_plan(remove, applied=applied)
            removed = [s.revision.id for s in steps]
            live = {r for r in remove if r in applied}
            expected = {r.id for r in created if r.id in applied and (r.id in live or g.ancestors(r.id) & live)}
            assert set(removed) == expected
            remaining = set(applied)
            for rid in removed:
                # nothing still applied builds on what is being unapplied
                assert not any(rid in g.get(other).parents for other in remaining - {rid})
                remaining.discard(rid)
            # what is left is still closed under ancestors
            assert all(set(g.get(rid).parents) <= remaining for rid in remaining)


# =========================================================================== plan_to_target


class TestPlanToTarget:
    def test_forwards_to_unapplied_target(self, stack: MigrationGraph) -> None:
        steps = plan_to_target(stack, "memory", memory2, applied=every(auth1, tenant1, project1))
        assert labels(steps) == ["memory 0001_initial", "memory 0002_add_task_id"]
        assert all(s.direction == "up" and s.reason is None for s in steps)

    def test_forwards_pulls_other_components(self, stack: MigrationGraph) -> None:
        steps = plan_to_target(stack, "memory", memory1, applied=set())
        assert reasons(steps) == {
            "auth 0001_initial": "needed by memory 0001_initial",
            "tenant 0001_initial": "needed by memory 0001_initial",
            "project 0001_initial": "needed by memory 0001_initial",
            "memory 0001_initial": None,
        }

    def test_backwards_unapplies_descendants_in_component_and_cascades(self, stack: MigrationGraph) -> None:
        steps = plan_to_target(stack, "memory", memory1, applied=FULL)
        assert labels(steps) == ["task 0001_initial", "memory 0002_add_task_id"]
        assert all(s.direction == "down" for s in steps)
        assert reasons(steps) == {
            "task 0001_initial": "depends on memory 0002_add_task_id",
            "memory 0002_add_task_id": None,
        }

    def test_backwards_keeps_dependents_of_the_target_itself(self, stack: MigrationGraph) -> None:
        # ontology depends on project 0001; migrating project to 0001 (its head) changes nothing
        assert plan_to_target(stack, "project", project1, applied=FULL) == []
        # migrating auth back to 0001 only removes auth 0002: tenant depends on 0001, which stays
        steps = plan_to_target(stack, "auth", auth1, applied=FULL)
        assert labels(steps) == ["auth 0002_add_api_keys"]

    def test_target_at_current_state_is_a_no_op(self, stack: MigrationGraph) -> None:
        assert plan_to_target(stack, "memory", memory2, applied=FULL) == []

    def test_zero_unapplies_component_and_dependents(self, stack: MigrationGraph) -> None:
        steps = plan_to_target(stack, "project", None, applied=FULL)
        assert {s.revision.id for s in steps} == every(project1, memory1, memory2, ontology1, task1)
        assert labels(steps)[-1] == "project 0001_initial"
        got = reasons(steps)
        assert got["project 0001_initial"] is None
        assert got["memory 0001_initial"] == "depends on project 0001_initial"
        assert got["task 0001_initial"] == "depends on project 0001_initial"

    def test_zero_with_nothing_applied(self, stack: MigrationGraph) -> None:
        assert plan_to_target(stack, "memory", None, applied=every(auth1, tenant1)) == []

    def test_zero_on_one_component_leaves_others(self, stack: MigrationGraph) -> None:
        steps = plan_to_target(stack, "memory", None, applied=FULL)
        assert labels(steps) == ["task 0001_initial", "memory 0002_add_task_id", "memory 0001_initial"]

    def test_target_beside_a_merge_from_full_state(self) -> None:
        g, m = merge_tree()
        full = every(*m.values())
        steps = plan_to_target(g, "memory", m[3], applied=full)
        assert [(s.revision, s.direction, s.reason) for s in steps] == [(m[5], "down", None)]

    def test_target_beside_a_merge_from_first_revision(self) -> None:
        g, m = merge_tree()
        steps = plan_to_target(g, "memory", m[3], applied=every(m[1]))
        assert [(s.revision, s.direction) for s in steps] == [(m[3], "up")]

    def test_root_of_a_merge_unapplies_every_branch(self) -> None:
        g, m = merge_tree()
        steps = plan_to_target(g, "memory", m[1], applied=every(*m.values()))
        assert steps[0].revision is m[5]
        assert {s.revision.id for s in steps} == every(m[2], m[3], m[4], m[5])

    def test_sibling_branch_is_left_alone(self) -> None:
        # memory has two heads: 0002 and 0003 both on 0001; migrating to 0001 from {0001, 0002, 0003}
        # unapplies both, but migrating to 0002 leaves 0003 applied (and vice versa)
        m1 = rev("memory", "0001_initial")
        m2 = rev("memory", "0002_add_tags", m1)
        m3 = rev("memory", "0003_add_scores", m1)
        m4 = rev("memory", "0004_more_tags", m2)
        g = graph(m1, m2, m3, m4)
        applied = every(m1, m2, m3, m4)
        assert [s.revision for s in plan_to_target(g, "memory", m2, applied)] == [m4]
        assert plan_to_target(g, "memory", m3, applied) == []

    def test_backwards_cascade_across_components_through_a_branch(self) -> None:
        m1 = rev("memory", "0001_initial")
        m2 = rev("memory", "0002_add_tags", m1)
        t1 = rev("task", "0001_initial", deps=[m2])
        t2 = rev("task", "0002_more", t1)
        g = graph(m1, m2, t1, t2, order=["memory", "task"])
        steps = plan_to_target(g, "memory", m1, applied=every(m1, m2, t1, t2))
        assert labels(steps) == ["task 0002_more", "task 0001_initial", "memory 0002_add_tags"]
        assert reasons(steps)["task 0002_more"] == "depends on memory 0002_add_tags"


# =========================================================================== resolve_target


@pytest.fixture
def targets() -> MigrationGraph:
    m1 = rev("memory", "0001_initial", id="c0ffee000001")
    m2 = rev("memory", "0002_add_task_id", m1, id="d15ea5e00002")
    m3 = rev("memory", "0003_add_index", m2, id="dead00000003")
    # same names in another component must never match a memory target
    t1 = rev("task", "0001_initial", id="ace000000001")
    t2 = rev("task", "0002_add_task_id", t1, id="bad000000002")
    return graph(m1, m2, m3, t1, t2, order=["memory", "task"])


class TestResolveTarget:
    def test_zero(self, targets: MigrationGraph) -> None:
        assert targets.resolve_target("memory", "zero") is None

    def test_head(self, targets: MigrationGraph) -> None:
        assert targets.resolve_target("memory", "head").name == "0003_add_index"
        assert targets.resolve_target("task", "head").name == "0002_add_task_id"

    @pytest.mark.parametrize("target", ["0002", "2", "02", "00002"])
    def test_digits_match_file_number(self, targets: MigrationGraph, target: str) -> None:
        assert targets.resolve_target("memory", target).id == "d15ea5e00002"

    @pytest.mark.parametrize("target", ["0002_add_task_id", "0002_add_task_id.py"])
    def test_file_name(self, targets: MigrationGraph, target: str) -> None:
        assert targets.resolve_target("memory", target).id == "d15ea5e00002"

    def test_slug(self, targets: MigrationGraph) -> None:
        assert targets.resolve_target("memory", "add_task_id").id == "d15ea5e00002"
        assert targets.resolve_target("task", "add_task_id").id == "bad000000002"

    def test_full_revision_id(self, targets: MigrationGraph) -> None:
        assert targets.resolve_target("memory", "dead00000003").name == "0003_add_index"

    @pytest.mark.parametrize("target", ["c", "c0f", "c0ffee00000", "d15"])
    def test_unique_id_prefix(self, targets: MigrationGraph, target: str) -> None:
        assert targets.resolve_target("memory", target).id.startswith(target)

    def test_matching_stays_inside_the_component(self, targets: MigrationGraph) -> None:
        # "bad000000002" is task's id; in memory it matches nothing
        with pytest.raises(MemstackError, match="no revision of component 'memory'"):
            targets.resolve_target("memory", "bad000000002")
        assert targets.resolve_target("task", "0001_initial").id == "ace000000001"

    def test_slug_wins_over_id_prefix(self) -> None:
        # the contract's order: a file name or slug comes before a revision id prefix
        m1 = rev("memory", "0001_initial", id="abc000000001")
        m2 = rev("memory", "0002_abc", m1, id="fed000000002")
        g = graph(m1, m2)
        assert g.resolve_target("memory", "abc") is m2
        assert g.resolve_target("memory", "abc0") is m1

    def test_file_number_wins_over_later_rules(self) -> None:
        # a slug made of digits cannot steal a file number
        m1 = rev("memory", "0001_initial")
        m2 = rev("memory", "0002_1", m1)
        g = graph(m1, m2)
        assert g.resolve_target("memory", "1") is m1

    def test_siblings_with_same_number_are_ambiguous(self) -> None:
        m1 = rev("memory", "0001_initial")
        a = rev("memory", "0002_add_tags", m1)
        b = rev("memory", "0002_add_scores", m1)
        g = graph(m1, a, b)
        for target in ("2", "0002"):
            with pytest.raises(MemstackError) as info:
                g.resolve_target("memory", target)
            message = info.value.message
            assert "ambiguous" in message
            assert "file number" in message
            for candidate in (a, b):
                assert candidate.name in message
                assert candidate.id in message
        assert g.resolve_target("memory", "add_tags") is a  # the slug still tells them apart

    def test_shared_slug_is_ambiguous(self) -> None:
        m1 = rev("memory", "0001_add_tags")
        m2 = rev("memory", "0002_add_tags", m1)
        g = graph(m1, m2)
        with pytest.raises(MemstackError, match=r"ambiguous.*slug.*0001_add_tags.*0002_add_tags"):
            g.resolve_target("memory", "add_tags")

    def test_shared_id_prefix_is_ambiguous(self) -> None:
        m1 = rev("memory", "0001_initial", id="abc123000001")
        m2 = rev("memory", "0002_next", m1, id="abc456000002")
        g = graph(m1, m2)
        with pytest.raises(MemstackError) as info:
            g.resolve_target("memory", "abc")
        message = info.value.message
        assert "ambiguous" in message
        assert "revision id prefix" in message
        assert "abc123000001" in message and "abc456000002" in message
        assert "0001_initial" in message and "0002_next" in message
        assert g.resolve_target("memory", "abc1") is m1
        assert g.resolve_target("memory", "abc4") is m2

    @pytest.mark.parametrize("target", ["0009", "9", "nothing_here", "0002_add_task", "fff", "", "0002.py"])
    def test_no_match(self, targets: MigrationGraph, target: str) -> None:
        with pytest.raises(MemstackError) as info:
            targets.resolve_target("memory", target)
        assert "no revision of component 'memory' matches" in info.value.message
        hint = info.value.hint or ""
        for name in ("0001_initial", "0002_add_task_id", "0003_add_index"):
            assert name in hint

    @pytest.mark.parametrize("target", ["\u00b2", "\u0662"])  # superscript two, Arabic-Indic two
    def test_non_ascii_digits_are_an_error_not_a_crash(self, targets: MigrationGraph, target: str) -> None:
        with pytest.raises(MemstackError, match="no revision of component 'memory' matches"):
            targets.resolve_target("memory", target)

    def test_head_with_several_heads(self) -> None:
        m1 = rev("memory", "0001_initial")
        a = rev("memory", "0002_add_tags", m1)
        b = rev("memory", "0003_add_scores", m1)
        g = graph(m1, a, b)
        with pytest.raises(GraphError) as info:
            g.resolve_target("memory", "head")
        assert a.name in info.value.message and b.name in info.value.message
        # other forms still work
        assert g.resolve_target("memory", "3") is b
        assert g.resolve_target("memory", "zero") is None

    def test_component_without_revisions(self, targets: MigrationGraph) -> None:
        assert targets.resolve_target("memo", "zero") is None
        with pytest.raises(MemstackError, match="'memo' has no revisions yet") as info:
            targets.resolve_target("memo", "head")
        assert "makemigrations memo" in (info.value.hint or "")
        with pytest.raises(MemstackError, match="no revision of component 'memo'") as info:
            targets.resolve_target("memo", "0001")
        assert "(none)" in (info.value.hint or "")


# =========================================================================== validation


class TestValidation:
    def test_clean_tree(self, stack: MigrationGraph) -> None:
        assert stack.problems() == []
        assert stack.find_cycle() is None
        stack.validate()

    def test_clean_random_trees(self) -> None:
        for seed in range(10):
            g, _ = random_tree(seed)
            assert g.problems() == []

    def test_dangling_down_revision(self) -> None:
        m2 = rev("memory", "0002_add_task_id", "abc999999999")
        g = graph(m2)
        problems = g.problems()
        assert len(problems) == 1
        message = problems[0].message
        assert "memory 0002_add_task_id" in message
        assert "migrations/memory/0002_add_task_id.py" in message
        assert "down_revision 'abc999999999' points to no revision" in message
        with pytest.raises(GraphError, match="abc999999999"):
            g.validate()

    def test_dangling_depends_on(self) -> None:
        m1 = rev("memory", "0001_initial", deps=["abc999999999"])
        problems = graph(m1).problems()
        assert len(problems) == 1
        assert "depends_on 'abc999999999' points to no revision" in problems[0].message
        assert "memory 0001_initial" in problems[0].message

    def test_down_revision_into_another_component(self) -> None:
        a1 = rev("auth", "0001_initial")
        m1 = rev("memory", "0001_initial", a1)
        problems = graph(a1, m1).problems()
        assert len(problems) == 1
        message = problems[0].message
        assert "memory 0001_initial" in message
        assert "belongs to component 'auth', not 'memory'" in message
        assert "depends_on" in (problems[0].hint or "")

    def test_cycle(self) -> None:
        b = rev("memory", "0002_b", make_id("memory", "0001_a"))
        c = rev("memory", "0003_c", b)
        a = rev("memory", "0001_a", c)  # closes the loop: a <- c <- b <- a
        g = graph(a, b, c)
        cycle = g.find_cycle()
        assert cycle is not None
        assert cycle[0] == cycle[-1]
        assert set(cycle) == every(a, b, c)
        assert len(cycle) == 4
        for child, parent in itertools.pairwise(cycle):
            assert parent in g.get(child).parents
        problems = g.problems()
        assert any("form a cycle" in p.message for p in problems)
        with pytest.raises(GraphError, match="cycle"):
            g.validate()
        with pytest.raises(GraphError, match="cycle"):
            g.of_component("memory")

    def test_cycle_through_depends_on(self) -> None:
        a1 = rev("auth", "0001_initial", deps=[make_id("memory", "0001_initial")])
        m1 = rev("memory", "0001_initial", deps=[a1])
        tail = rev("memory", "0002_tail", m1)  # not on the cycle
        g = graph(a1, m1, tail)
        cycle = g.find_cycle()
        assert cycle is not None
        assert cycle[0] == cycle[-1]
        assert set(cycle) == every(a1, m1)
        for child, parent in itertools.pairwise(cycle):
            assert parent in g.get(child).parents
        message = next(p.message for p in g.problems() if "cycle" in p.message)
        assert "auth 0001_initial" in message and "memory 0001_initial" in message

    def test_self_loop(self) -> None:
        r = rev("memory", "0001_a", make_id("memory", "0001_a"))
        cycle = graph(r).find_cycle()
        assert cycle == [r.id, r.id]

    def test_cycle_not_found_for_diamond(self) -> None:
        g, _ = merge_tree()
        assert g.find_cycle() is None

    def test_validate_reports_count_of_further_problems(self) -> None:
        m1 = rev("memory", "0001_initial", "abc999999999", deps=["abc888888888"])
        with pytest.raises(GraphError) as info:
            graph(m1).validate()
        message = info.value.message
        assert "abc999999999" in message
        assert "and 1 more problem(s)" in message
        assert info.value.hint  # the first problem's hint is kept


# =========================================================================== minimal_dependencies


class TestMinimalDependencies:
    def test_drops_candidates_implied_by_down_revision(self, stack: MigrationGraph) -> None:
        # a new memory revision on memory 0002: memory 0002 already needs project, tenant, auth 0001
        assert stack.minimal_dependencies([memory2.id], [project1.id, auth1.id, tenant1.id]) == []

    def test_drops_candidates_implied_by_another_candidate(self, stack: MigrationGraph) -> None:
        assert stack.minimal_dependencies([], [tenant1.id, project1.id, auth1.id]) == [project1.id]

    def test_keeps_independent_candidates(self, stack: MigrationGraph) -> None:
        got = stack.minimal_dependencies([memory2.id], [auth2.id, ontology1.id, project1.id])
        assert got == sorted([auth2.id, ontology1.id])

    def test_drops_candidate_equal_to_a_down_revision(self, stack: MigrationGraph) -> None:
        assert stack.minimal_dependencies([memory2.id], [memory2.id]) == []
        assert stack.minimal_dependencies([memory2.id], [memory2.id, auth2.id]) == [auth2.id]

    def test_duplicates_and_unknown_ids(self, stack: MigrationGraph) -> None:
        got = stack.minimal_dependencies([], [auth2.id, auth2.id, "abc000000000"])
        assert got == sorted([auth2.id, "abc000000000"])

    def test_no_down_revision(self, stack: MigrationGraph) -> None:
        assert stack.minimal_dependencies([], []) == []
        assert stack.minimal_dependencies([], [task1.id, ontology1.id]) == sorted([task1.id, ontology1.id])

    @pytest.mark.parametrize("seed", range(10))
    def test_result_is_transitively_reduced_and_equivalent(self, seed: int) -> None:
        g, created = random_tree(seed)
        rng = random.Random(seed)
        ids = [r.id for r in created]
        for _ in range(10):
            down = rng.sample(ids, k=rng.randint(0, 2))
            candidates = rng.sample(ids, k=rng.randint(0, 6))
            kept = g.minimal_dependencies(down, candidates)
            assert set(kept) <= set(candidates)

            def closure(roots: Iterable[str]) -> set[str]:
                return {x for r in roots for x in (r, *g.ancestors(r))}

            # the same revisions end up required...
            assert closure([*down, *kept]) == closure([*down, *candidates])
            # ...and no kept link is implied by the rest
            for k in kept:
                others = [*down, *(x for x in kept if x != k)]
                assert k not in closure(others)
