"""Which revisions stand for others in the pure graph: the version rows that stand for an applied set
(and back), and the minimal dependency links a new revision needs. No files, no database.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest
from support.graphs import (
    auth1,
    auth2,
    close_under_parents,
    every,
    memory1,
    memory2,
    ontology1,
    project1,
    random_closed_set,
    random_tree,
    scrambled_stack,
    task1,
    tenant1,
)

from memstack.engine.tree.graph import (
    MigrationGraph,
)


@pytest.fixture
def stack() -> MigrationGraph:
    return scrambled_stack()


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
