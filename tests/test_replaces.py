"""tree/replaces.py as a pure structure: which revisions a database runs once a squash exists."""

from __future__ import annotations

from memstack.engine.tree.graph import Revision
from memstack.engine.tree.replaces import resolve


def tree() -> tuple[dict[str, Revision], dict[str, tuple[str, ...]]]:
    """a1 <- a2 <- a3 <- a4, b1 depends on a2; S squashes a1..a3."""
    revs = [Revision("a1", "a", "0001_a1"), Revision("a2", "a", "0002_a2", ("a1",)),
            Revision("a3", "a", "0003_a3", ("a2",)), Revision("a4", "a", "0004_a4", ("a3",)),
            Revision("b1", "b", "0001_b1", (), ("a2",)), Revision("S", "a", "0001_squashed_0003_a3")]
    return {r.id: r for r in revs}, {"S": ("a1", "a2", "a3")}


def test_a_new_database_runs_the_squash_and_dependents_point_to_it() -> None:
    revisions, squashes = tree()
    view = resolve(revisions, squashes, [])
    ids = {r.id: r for r in view.revisions}
    assert set(ids) == {"S", "a4", "b1"}
    assert ids["a4"].down_revisions == ("S",) and ids["b1"].depends_on == ("S",)
    assert view.row_aliases == {"a1": "S", "a2": "S", "a3": "S"}


def test_part_way_keeps_the_old_revisions() -> None:
    revisions, squashes = tree()
    for rows in (["a2"], ["b1"], ["a1"]):
        view = resolve(revisions, squashes, rows)
        assert {r.id for r in view.revisions} == {"a1", "a2", "a3", "a4", "b1"}, rows
        assert view.chosen == frozenset()


def test_past_the_range_counts_the_squash_as_applied() -> None:
    revisions, squashes = tree()
    for rows in (["a3", "b1"], ["a4", "b1"], ["S"]):
        assert resolve(revisions, squashes, rows).chosen == frozenset({"S"}), rows


def test_a_nested_squash_falls_back_to_the_inner_one() -> None:
    revisions, squashes = tree()
    revisions["T"] = Revision("T", "a", "0001_squashed_0004_a4")
    squashes["T"] = ("S", "a4")
    assert resolve(revisions, squashes, []).chosen == frozenset({"T"})
    view = resolve(revisions, squashes, ["a3", "b1"])  # past S, not past a4: S stands in, a4 runs
    assert view.chosen == frozenset({"S"})
    assert {r.id for r in view.revisions} == {"S", "a4", "b1"}
    assert resolve(revisions, squashes, ["a2"]).chosen == frozenset()


def test_keep_old_never_uses_the_squash() -> None:
    revisions, squashes = tree()
    assert resolve(revisions, squashes, ["a3"], keep_old={"S"}).chosen == frozenset()
