"""Domain errors of graph, planner, migrate, tags, maintenance and makemigrations.

Pure: the engine's own text states the fact and names no command; the CLI boundary
(``for_person``) gives the words and the ``manage.py`` fix users have always seen. Then,
through ``manage.py`` on SQLite, the errors that only the CLI can provoke.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.running import run_main

from memstack.cli.errors import for_person
from memstack.engine import errors as e
from memstack.engine.errors import (
    AmbiguousTarget,
    EngineError,
    InvalidGraph,
    IrreversibleInPlan,
    MultipleHeads,
    NoRevisions,
    RevisionCycle,
    TargetNeedsComponent,
    UnknownTarget,
)
from memstack.engine.tree.graph import Revision

HEAD_A = Revision("abc000000001", "memory", "0002_a")
HEAD_B = Revision("abc000000002", "memory", "0002_b")

#: (error, message the person reads, the fix the person reads)
WORDED: list[tuple[EngineError, str, str | None]] = [
    (MultipleHeads("memory", [HEAD_A, HEAD_B]),
     "component 'memory' has 2 heads: 0002_a (abc000000001), 0002_b (abc000000002)",
     "merge them with 'manage.py makemigrations --merge memory'"),
    (NoRevisions("memo"), "component 'memo' has no revisions yet", "create one with 'manage.py makemigrations memo'"),
    (AmbiguousTarget("memory", "0002", "file number", [HEAD_A, HEAD_B]),
     "target '0002' is ambiguous in component 'memory': it matches the file number of "
     "0002_a (abc000000001), 0002_b (abc000000002)", "name one of them by its file name or full revision id"),
    (UnknownTarget("memory", "9", ["0001_initial"]), "no revision of component 'memory' matches target '9'",
     "use zero, head, a file number, a file name or slug, or a revision id; memory's revisions: 0001_initial"),
    (TargetNeedsComponent("0002"), "a TARGET needs a COMPONENT", "manage.py migrate COMPONENT TARGET"),
    (IrreversibleInPlan([HEAD_A]), "the plan needs to undo irreversible revision(s): memory 0002_a",
     "these revisions have no downgrade (irreversible = True, no downgrade() function, or one that only raises); "
     "pick a target after them, or give each a downgrade() that undoes its upgrade() "
     "(and remove irreversible = True)"),
    (RevisionCycle([]), "the revisions form a cycle", "run 'manage.py check' to see where"),
    (e.TagTakesNoTarget("v1"), "--to-tag moves every component of the tag; it takes no COMPONENT or TARGET", None),
    (e.PlanChangedWhileAsked(), "the database changed while you were asked; nothing was done",
     "run the command again to see the new plan"),
    (e.RehearsalFailed([object(), object()], "boom"), "dry run: step 2 failed: boom",
     "everything was rolled back; fix the revision or the data"),
    (e.NotOneRevision("memory"), "sqlmigrate needs one revision, not 'zero'", "name a revision of memory"),
    (e.ComponentStillConfigured("task"), "component 'task' is still configured; --prune is for removed components",
     "to remove its schema run 'manage.py migrate task zero'"),
    (e.NothingRecorded("billing"), "the database records no applied revision of component 'billing'", None),
    (e.InvalidTagName("a b"), "invalid tag name 'a b'", "use letters, digits, '-', '_' and '.' (max 128)"),
    (e.TagExists("v1"), "tag 'v1' exists already", "delete it first with 'manage.py tag --delete v1'"),
    (e.UnknownTag("v1"), "no tag named 'v1'", "list them with 'manage.py tag --list'"),
    (e.TagRevisionsMissing("v1", "memory", ["abc000000009"]),
     "tag 'v1' records memory revision(s) no file provides: abc000000009", "check out the code the tag was taken with"),
    (e.NothingToMerge("memory", 1), "component 'memory' has 1 head(s); there is nothing to merge", None),
]


@pytest.mark.parametrize(("error", "message", "fix"), WORDED, ids=lambda v: type(v).__name__)
def test_cli_wording(error: EngineError, message: str, fix: str | None) -> None:
    worded = for_person(error)
    assert (worded.message, worded.hint) == (message, fix)
    assert worded.exit_code == error.exit_code == 1


@pytest.mark.parametrize("error", [w[0] for w in WORDED], ids=lambda v: type(v).__name__)
def test_engine_text_names_no_command(error: EngineError) -> None:
    assert "manage.py" not in str(error)
    assert error.hint is None or isinstance(error, RevisionCycle)


def test_invalid_graph_counts_and_points_to_check() -> None:
    problems = [RevisionCycle(["memory 0001_a", "memory 0001_a"]), RevisionCycle([])]
    error = InvalidGraph(problems)
    assert error.message.endswith("(and 1 more problem(s))")
    worded = for_person(error)
    assert worded.message.endswith("(and 1 more problem(s); run 'manage.py check')")
    assert worded.hint == "remove one of these down_revision/depends_on links"  # the first problem's


# --------------------------------------------------------------------------- through manage.py


def test_to_tag_with_a_component_is_refused(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("--project-dir", str(project), "--database-url", sqlite_url)
    result = run_main(capsys, monkeypatch, *base, "migrate", "memory", "--to-tag", "v1")
    assert result.code == 1
    assert "--to-tag moves every component of the tag; it takes no COMPONENT or TARGET" in result.err


def test_unknown_tag_and_sqlmigrate_zero(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("--project-dir", str(project), "--database-url", sqlite_url)
    assert run_main(capsys, monkeypatch, *base, "migrate").code == 0
    unknown = run_main(capsys, monkeypatch, *base, "migrate", "--to-tag", "nope", "--plan")
    assert unknown.code == 1
    assert "no tag named 'nope'" in unknown.err and "fix: list them with 'manage.py tag --list'" in unknown.err
    zero = run_main(capsys, monkeypatch, *base, "sqlmigrate", "memory", "zero")
    assert zero.code == 1
    assert "sqlmigrate needs one revision, not 'zero'" in zero.err and "name a revision of memory" in zero.err
    merge = run_main(capsys, monkeypatch, *base, "makemigrations", "--merge", "memory")
    assert merge.code == 1 and "there is nothing to merge" in merge.err
