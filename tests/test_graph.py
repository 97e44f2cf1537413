"""Unit tests for the pure revision graph (memstack.engine.graph): structure only, no files, no database.

Plans over the graph are tested in test_planner.py; the builders are in support/graphs.py.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable

import pytest
from support.graphs import (
    ORDER,
    STACK,
    auth1,
    auth2,
    close_under_parents,
    every,
    graph,
    make_id,
    memory1,
    memory2,
    merge_tree,
    ontology1,
    project1,
    random_closed_set,
    random_tree,
    rev,
    task1,
    tenant1,
)

from memstack.engine.graph import (
    GraphError,
    InvalidGraph,
    MigrationGraph,
    MultipleHeads,
    RevisionCycle,
    Step,
)


@pytest.fixture
def stack() -> MigrationGraph:
    # added in a scrambled order: nothing may depend on insertion order
    return graph(*reversed(STACK), order=ORDER)


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
        with pytest.raises(RevisionCycle, match="cycle"):
            g.validate()
        with pytest.raises(RevisionCycle, match="cycle") as info:
            g.of_component("memory")  # a cycle met while sorting is named like one found by problems()
        assert info.value.labels[0] == info.value.labels[-1]
        assert set(info.value.labels) == {a.label, b.label, c.label}

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
        with pytest.raises(InvalidGraph) as info:
            graph(m1).validate()
        message = info.value.message
        assert "abc999999999" in message
        assert "and 1 more problem(s)" in message
        assert "manage.py" not in message
        assert len(info.value.problems) == 2
        assert info.value.hint  # the first problem's hint is kept

    def test_no_problem_text_names_a_command(self) -> None:
        b = rev("memory", "0002_b", make_id("memory", "0001_a"), deps=["abc888888888"])
        a = rev("memory", "0001_a", b, rev("auth", "0001_initial"))
        for problem in graph(a, b).problems():
            assert "manage.py" not in str(problem)


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
