"""Validation of the pure revision graph: dangling links, a down_revision into another component,
cycles, how many problems are reported, and that no problem text names a command. No files, no database.
"""

from __future__ import annotations

import itertools

import pytest
from support.graphs import (
    every,
    graph,
    make_id,
    merge_tree,
    random_tree,
    rev,
    scrambled_stack,
)

from memstack.engine.errors import GraphError, InvalidGraph, RevisionCycle
from memstack.engine.tree.graph import MigrationGraph


@pytest.fixture
def stack() -> MigrationGraph:
    return scrambled_stack()


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
