"""Unit tests for the planner (memstack.engine.tree.planner): plans and TARGET parsing, pure.

Built on the hand-made graphs of support/graphs.py; no files, no database.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from support.graphs import (
    FULL,
    ORDER,
    STACK,
    auth1,
    auth2,
    close_under_parents,
    every,
    graph,
    labels,
    make_id,
    memory1,
    memory2,
    merge_tree,
    ontology1,
    project1,
    random_closed_set,
    random_tree,
    reasons,
    rev,
    task1,
    tenant1,
)

from memstack.cli.errors import for_person
from memstack.engine.errors import (
    AmbiguousTarget,
    IrreversibleInPlan,
    MultipleHeads,
    NoRevisions,
    TargetNeedsComponent,
    UnknownTarget,
)
from memstack.engine.records.status import DatabaseStatus
from memstack.engine.tree.graph import MigrationGraph, Revision
from memstack.engine.tree.planner import (
    backwards_plan,
    check_reversible,
    component_heads,
    forwards_plan,
    plan_migrate,
    plan_rollback,
    plan_to_state,
    plan_to_tag,
    plan_to_target,
    resolve_target,
    rollback_plan,
)


@pytest.fixture
def stack() -> MigrationGraph:
    # added in a scrambled order: nothing may depend on insertion order
    return graph(*reversed(STACK), order=ORDER)


# =========================================================================== forwards


class TestForwardsPlan:
    def test_pulls_dependencies_parents_first(self, stack: MigrationGraph) -> None:
        steps = forwards_plan(stack, [memory2.id], applied=set())
        assert labels(steps) == [
            "auth 0001_initial",
            "tenant 0001_initial",
            "project 0001_initial",
            "memory 0001_initial",
            "memory 0002_add_task_id",
        ]
        assert all(s.direction == "up" for s in steps)

    def test_reasons(self, stack: MigrationGraph) -> None:
        steps = forwards_plan(stack, [memory2.id], applied=set())
        assert reasons(steps) == {
            "auth 0001_initial": "needed by memory 0001_initial",
            "tenant 0001_initial": "needed by memory 0001_initial",
            "project 0001_initial": "needed by memory 0001_initial",
            "memory 0001_initial": None,
            "memory 0002_add_task_id": None,
        }

    def test_requested_components_have_no_reason(self, stack: MigrationGraph) -> None:
        steps = forwards_plan(stack, [memory2.id], applied=set(), requested=["memory", "project"])
        got = reasons(steps)
        assert got["project 0001_initial"] is None
        assert got["memory 0002_add_task_id"] is None
        assert got["tenant 0001_initial"] == "needed by project 0001_initial"

    def test_nothing_applied_is_replanned(self, stack: MigrationGraph) -> None:
        applied = every(auth1, tenant1, project1)
        steps = forwards_plan(stack, [task1.id], applied=applied)
        assert labels(steps) == ["memory 0001_initial", "memory 0002_add_task_id", "task 0001_initial"]
        assert reasons(steps)["memory 0001_initial"] == "needed by task 0001_initial"

    def test_applied_target_gives_empty_plan(self, stack: MigrationGraph) -> None:
        applied = every(auth1, tenant1, project1, memory1)
        assert forwards_plan(stack, [memory1.id], applied=applied) == []

    def test_several_targets(self, stack: MigrationGraph) -> None:
        steps = forwards_plan(stack, [auth2.id, ontology1.id], applied=every(auth1))
        assert labels(steps) == ["auth 0002_add_api_keys", "tenant 0001_initial", "project 0001_initial",
                                 "ontology 0001_initial"]
        got = reasons(steps)
        assert got["auth 0002_add_api_keys"] is None
        assert got["ontology 0001_initial"] is None
        assert got["tenant 0001_initial"] == "needed by ontology 0001_initial"

    def test_merge_applies_every_parent(self) -> None:
        g, m = merge_tree()
        steps = forwards_plan(g, [m[5].id], applied=every(m[1], m[3]))
        assert [s.revision for s in steps] == [m[2], m[4], m[5]]

    @pytest.mark.parametrize("seed", range(15))
    def test_dependency_order_on_random_trees(self, seed: int) -> None:
        g, created = random_tree(seed)
        rng = random.Random(seed)
        for _ in range(10):
            applied = random_closed_set(rng, created, keep=0.5)
            targets = rng.sample([r.id for r in created], k=rng.randint(1, 3))
            steps = forwards_plan(g, targets, applied=applied)
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


class TestBackwardsPlan:
    def test_children_before_parents_with_cascade(self, stack: MigrationGraph) -> None:
        steps = backwards_plan(stack, [memory1.id], applied=FULL)
        assert labels(steps) == ["task 0001_initial", "memory 0002_add_task_id", "memory 0001_initial"]
        assert all(s.direction == "down" for s in steps)
        assert reasons(steps) == {
            "task 0001_initial": "depends on memory 0001_initial",
            "memory 0002_add_task_id": None,
            "memory 0001_initial": None,
        }

    def test_leaves_unrelated_branches(self, stack: MigrationGraph) -> None:
        steps = backwards_plan(stack, [memory1.id], applied=FULL)
        touched = {s.revision.id for s in steps}
        assert not touched & every(auth1, auth2, tenant1, project1, ontology1)

    def test_cascade_from_the_root(self, stack: MigrationGraph) -> None:
        steps = backwards_plan(stack, [auth1.id], applied=FULL)
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
        steps = backwards_plan(stack, [project1.id, ontology1.id], applied=applied)
        assert labels(steps) == ["memory 0001_initial", "project 0001_initial"]
        assert backwards_plan(stack, [task1.id], applied=applied) == []

    def test_requested_components_have_no_reason(self, stack: MigrationGraph) -> None:
        steps = backwards_plan(stack, [project1.id], applied=FULL, requested=["project", "memory"])
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
            steps = backwards_plan(g, remove, applied=applied)
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
        assert resolve_target(targets, "memory", "zero") is None

    def test_head(self, targets: MigrationGraph) -> None:
        assert resolve_target(targets, "memory", "head").name == "0003_add_index"
        assert resolve_target(targets, "task", "head").name == "0002_add_task_id"

    @pytest.mark.parametrize("target", ["0002", "2", "02", "00002"])
    def test_digits_match_file_number(self, targets: MigrationGraph, target: str) -> None:
        assert resolve_target(targets, "memory", target).id == "d15ea5e00002"

    @pytest.mark.parametrize("target", ["0002_add_task_id", "0002_add_task_id.py"])
    def test_file_name(self, targets: MigrationGraph, target: str) -> None:
        assert resolve_target(targets, "memory", target).id == "d15ea5e00002"

    def test_slug(self, targets: MigrationGraph) -> None:
        assert resolve_target(targets, "memory", "add_task_id").id == "d15ea5e00002"
        assert resolve_target(targets, "task", "add_task_id").id == "bad000000002"

    def test_full_revision_id(self, targets: MigrationGraph) -> None:
        assert resolve_target(targets, "memory", "dead00000003").name == "0003_add_index"

    @pytest.mark.parametrize("target", ["c", "c0f", "c0ffee00000", "d15"])
    def test_unique_id_prefix(self, targets: MigrationGraph, target: str) -> None:
        assert resolve_target(targets, "memory", target).id.startswith(target)

    def test_matching_stays_inside_the_component(self, targets: MigrationGraph) -> None:
        # "bad000000002" is task's id; in memory it matches nothing
        with pytest.raises(UnknownTarget, match="no revision of component 'memory'"):
            resolve_target(targets, "memory", "bad000000002")
        assert resolve_target(targets, "task", "0001_initial").id == "ace000000001"

    def test_slug_wins_over_id_prefix(self) -> None:
        # the contract's order: a file name or slug comes before a revision id prefix
        m1 = rev("memory", "0001_initial", id="abc000000001")
        m2 = rev("memory", "0002_abc", m1, id="fed000000002")
        g = graph(m1, m2)
        assert resolve_target(g, "memory", "abc") is m2
        assert resolve_target(g, "memory", "abc0") is m1

    def test_file_number_wins_over_later_rules(self) -> None:
        # a slug made of digits cannot steal a file number
        m1 = rev("memory", "0001_initial")
        m2 = rev("memory", "0002_1", m1)
        g = graph(m1, m2)
        assert resolve_target(g, "memory", "1") is m1

    def test_siblings_with_same_number_are_ambiguous(self) -> None:
        m1 = rev("memory", "0001_initial")
        a = rev("memory", "0002_add_tags", m1)
        b = rev("memory", "0002_add_scores", m1)
        g = graph(m1, a, b)
        for target in ("2", "0002"):
            with pytest.raises(AmbiguousTarget) as info:
                resolve_target(g, "memory", target)
            assert info.value.kind == "file number" and info.value.matches == [b, a]
            message = info.value.message
            assert "ambiguous" in message
            assert "file number" in message
            for candidate in (a, b):
                assert candidate.name in message
                assert candidate.id in message
        assert resolve_target(g, "memory", "add_tags") is a  # the slug still tells them apart

    def test_shared_slug_is_ambiguous(self) -> None:
        m1 = rev("memory", "0001_add_tags")
        m2 = rev("memory", "0002_add_tags", m1)
        g = graph(m1, m2)
        with pytest.raises(AmbiguousTarget, match=r"ambiguous.*slug.*0001_add_tags.*0002_add_tags"):
            resolve_target(g, "memory", "add_tags")

    def test_shared_id_prefix_is_ambiguous(self) -> None:
        m1 = rev("memory", "0001_initial", id="abc123000001")
        m2 = rev("memory", "0002_next", m1, id="abc456000002")
        g = graph(m1, m2)
        with pytest.raises(AmbiguousTarget) as info:
            resolve_target(g, "memory", "abc")
        message = info.value.message
        assert "ambiguous" in message
        assert "revision id prefix" in message
        assert "abc123000001" in message and "abc456000002" in message
        assert "0001_initial" in message and "0002_next" in message
        assert resolve_target(g, "memory", "abc1") is m1
        assert resolve_target(g, "memory", "abc4") is m2

    @pytest.mark.parametrize("target", ["0009", "9", "nothing_here", "0002_add_task", "fff", "", "0002.py"])
    def test_no_match(self, targets: MigrationGraph, target: str) -> None:
        with pytest.raises(UnknownTarget) as info:
            resolve_target(targets, "memory", target)
        assert "no revision of component 'memory' matches" in info.value.message
        assert info.value.known == ["0001_initial", "0002_add_task_id", "0003_add_index"]
        hint = for_person(info.value).hint or ""
        for name in ("0001_initial", "0002_add_task_id", "0003_add_index"):
            assert name in hint

    @pytest.mark.parametrize("target", ["\u00b2", "\u0662"])  # superscript two, Arabic-Indic two
    def test_non_ascii_digits_are_an_error_not_a_crash(self, targets: MigrationGraph, target: str) -> None:
        with pytest.raises(UnknownTarget, match="no revision of component 'memory' matches"):
            resolve_target(targets, "memory", target)

    def test_head_with_several_heads(self) -> None:
        m1 = rev("memory", "0001_initial")
        a = rev("memory", "0002_add_tags", m1)
        b = rev("memory", "0003_add_scores", m1)
        g = graph(m1, a, b)
        with pytest.raises(MultipleHeads) as info:
            resolve_target(g, "memory", "head")
        assert a.name in info.value.message and b.name in info.value.message
        # other forms still work
        assert resolve_target(g, "memory", "3") is b
        assert resolve_target(g, "memory", "zero") is None

    def test_component_without_revisions(self, targets: MigrationGraph) -> None:
        assert resolve_target(targets, "memo", "zero") is None
        with pytest.raises(NoRevisions, match="'memo' has no revisions yet") as no_revisions:
            resolve_target(targets, "memo", "head")
        assert "manage.py makemigrations memo" in (for_person(no_revisions.value).hint or "")
        with pytest.raises(UnknownTarget, match="no revision of component 'memo'") as unknown:
            resolve_target(targets, "memo", "0001")
        assert "(none)" in (for_person(unknown.value).hint or "")




# =========================================================================== tags, rollback, requests


def state_of(applied: set[str], rows: list[str] | None = None) -> DatabaseStatus:
    """A database state as the planner sees it (no records, no marks)."""
    return DatabaseStatus(rows=rows if rows is not None else sorted(applied), records={}, marks=[], applied=applied)


class TestComponentHeadsAndState:
    def test_component_heads(self, stack: MigrationGraph) -> None:
        assert component_heads(stack, "auth", FULL) == [auth2.id]
        assert component_heads(stack, "auth", every(auth1)) == [auth1.id]
        assert component_heads(stack, "memo", FULL) == []  # zero

    def test_component_heads_of_a_branch(self) -> None:
        g, m = merge_tree()
        assert component_heads(g, "memory", every(m[1], m[2], m[3])) == sorted([m[2].id, m[3].id])

    def test_plan_to_state_goes_down_then_up(self, stack: MigrationGraph) -> None:
        steps = plan_to_state(stack, {"memory": [memory1.id]}, FULL)
        assert [(s.revision, s.direction) for s in steps] == [(task1, "down"), (memory2, "down")]
        assert reasons(steps)["task 0001_initial"] is not None  # pulled in from another component
        assert plan_to_state(stack, {"auth": [auth2.id]}, FULL) == []

    def test_plan_to_state_forwards(self, stack: MigrationGraph) -> None:
        steps = plan_to_state(stack, {"memory": [memory2.id]}, set())
        assert labels(steps)[-1] == "memory 0002_add_task_id"
        assert all(s.direction == "up" for s in steps)


class TestRollbackPlan:
    def test_last_applied_by_history(self, stack: MigrationGraph) -> None:
        order = {auth2.id: 10, task1.id: 5}
        assert labels(rollback_plan(stack, FULL, order, 1)) == ["auth 0002_add_api_keys"]

    def test_unknown_to_history_come_first_in_graph_order(self, stack: MigrationGraph) -> None:
        # no history at all: the newest in graph order goes first
        assert labels(rollback_plan(stack, FULL, {}, 1)) == ["task 0001_initial"]

    def test_of_one_component_cascades(self, stack: MigrationGraph) -> None:
        steps = rollback_plan(stack, FULL, {}, 1, component="memory")
        assert labels(steps) == ["task 0001_initial", "memory 0002_add_task_id"]
        assert reasons(steps) == {"task 0001_initial": "depends on memory 0002_add_task_id",
                                  "memory 0002_add_task_id": None}

    def test_more_steps_than_applied(self, stack: MigrationGraph) -> None:
        steps = rollback_plan(stack, every(auth1, auth2), {}, 10, component="auth")
        assert labels(steps) == ["auth 0002_add_api_keys", "auth 0001_initial"]
        assert rollback_plan(stack, set(), {}, 3) == []

    def test_plan_rollback_names_what_was_requested(self, stack: MigrationGraph) -> None:
        plan = plan_rollback(stack, ORDER, state_of(FULL), {}, 1)
        assert plan.requested == ORDER and plan.applied == FULL
        assert plan_rollback(stack, ORDER, state_of(FULL), {}, 1, "memory").requested == ["memory"]


class TestPlanMigrate:
    def test_everything_to_head(self, stack: MigrationGraph) -> None:
        plan = plan_migrate(stack, ORDER, state_of(set()))
        assert {s.revision for s in plan.steps} == set(STACK)
        assert plan.cascade == [] and plan.requested == ORDER

    def test_one_component_to_a_target_and_back(self, stack: MigrationGraph) -> None:
        up = plan_migrate(stack, ORDER, state_of(set()), "memory", "0001")
        assert labels(up.steps)[-1] == "memory 0001_initial"
        assert "memory 0002_add_task_id" not in labels(up.steps)
        down = plan_migrate(stack, ORDER, state_of(FULL), "memory", "zero")
        assert [s.revision for s in down.cascade] == [task1]  # another component's step: needs confirming

    def test_component_without_revisions_to_head_is_empty(self, stack: MigrationGraph) -> None:
        assert plan_migrate(stack, [*ORDER, "memo"], state_of(FULL), "memo").steps == []

    def test_target_needs_component(self, stack: MigrationGraph) -> None:
        with pytest.raises(TargetNeedsComponent) as info:
            plan_migrate(stack, ORDER, state_of(set()), None, "0001")
        assert for_person(info.value).hint == "manage.py migrate COMPONENT TARGET"

    def test_several_heads_anywhere_refuse_migrating_everything(self) -> None:
        g, m = merge_tree()
        g2 = graph(m[1], m[2], m[3])
        with pytest.raises(MultipleHeads):
            plan_migrate(g2, ["memory"], state_of(set()))
        assert plan_migrate(g, ["memory"], state_of(set())).steps[-1].revision is m[5]

    def test_plan_to_tag(self, stack: MigrationGraph) -> None:
        plan = plan_to_tag(stack, state_of(FULL), {"memory": [memory1.id], "auth": [auth2.id]})
        assert plan.requested == ["auth", "memory"]
        assert labels(plan.steps) == ["task 0001_initial", "memory 0002_add_task_id"]


class TestCheckReversible:
    def test_refuses_undoing_an_irreversible_revision(self) -> None:
        m1 = rev("memory", "0001_initial")
        locked = Revision(id=make_id("memory", "0002_locked"), component="memory", name="0002_locked",
                          down_revisions=(m1.id,), irreversible=True)
        g = graph(m1, locked)
        check_reversible(forwards_plan(g, [locked.id], set()))  # forwards is fine
        with pytest.raises(IrreversibleInPlan) as info:
            check_reversible(backwards_plan(g, [m1.id], every(m1, locked)))
        assert info.value.revisions == [locked]
        assert "memory 0002_locked" in info.value.message


class TestCliWording:
    """The CLI boundary adds the manage.py fix; the engine's own text never names a command."""

    def test_multiple_heads_gets_the_merge_command(self) -> None:
        _, m = merge_tree()
        with pytest.raises(MultipleHeads) as info:
            graph(m[1], m[2], m[3]).head("memory")
        worded = for_person(info.value)
        assert worded.message == info.value.message
        assert worded.hint == "merge them with 'manage.py makemigrations --merge memory'"
        assert worded.exit_code == 1

    def test_ambiguous_target_fix(self) -> None:
        m1 = rev("memory", "0001_add_tags")
        g = graph(m1, rev("memory", "0002_add_tags", m1))
        with pytest.raises(AmbiguousTarget) as info:
            resolve_target(g, "memory", "add_tags")
        assert for_person(info.value).hint == "name one of them by its file name or full revision id"

    @pytest.mark.parametrize("make", [
        lambda: NoRevisions("memo"), lambda: TargetNeedsComponent("0001"),
        lambda: UnknownTarget("memo", "x", []), lambda: AmbiguousTarget("memo", "x", "slug", []),
    ])
    def test_engine_text_names_no_command(self, make: Callable[[], Exception]) -> None:
        assert "manage.py" not in str(make())
