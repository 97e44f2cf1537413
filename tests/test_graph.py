"""Unit tests for the pure revision graph (memstack.engine.tree.graph): structure only, no files, no database.

Its version rows and minimal links are in test_graph_links.py, its validation in
test_graph_validation.py; plans over the graph in test_planner.py; the builders in support/graphs.py.
"""

from __future__ import annotations

import pytest
from support.graphs import (
    ORDER,
    STACK,
    auth1,
    auth2,
    every,
    graph,
    memory1,
    memory2,
    merge_tree,
    ontology1,
    project1,
    random_tree,
    rev,
    scrambled_stack,
    task1,
    tenant1,
)

from memstack.engine.errors import GraphError, MultipleHeads
from memstack.engine.tree.graph import MigrationGraph, Step


@pytest.fixture
def stack() -> MigrationGraph:
    return scrambled_stack()


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
        with pytest.raises(MultipleHeads) as info:
            g.head("memory")
        assert isinstance(info.value, GraphError)  # `check` and older callers catch GraphError
        assert info.value.component == "memory" and info.value.heads == [m2, m4, m3]
        message = info.value.message
        assert "3 heads" in message
        for head in (m2, m3, m4):
            assert head.name in message
            assert head.id in message
        assert m1.name not in message
        assert info.value.hint is None  # the fix command is the front end's to word
        assert "manage.py" not in str(info.value)

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

    def test_forgotten_ancestors_are_computed_again_alike(self, stack: MigrationGraph) -> None:
        before = {r: stack.ancestors(r) for r in stack.revisions}
        stack.forget_ancestors()
        assert {r: stack.ancestors(r) for r in reversed(list(stack.revisions))} == before

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
