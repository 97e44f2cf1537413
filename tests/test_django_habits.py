"""The habits Django users bring (issue 24, point 3): a data migration from ``makemigrations --empty``,
a failing revision's code named by file and line, ``--name``, ``showmigrations --plan``, the
unmigrated-changes warning of ``migrate`` and Alembic's post-write hooks."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.revisions import revision_files, ruff_check
from support.running import call, cli

DATA_STEP = 'op.execute(sa.text("UPDATE memos SET id = id"))'


def _fill_upgrade(path: Path, body: str) -> None:
    """The author's edit of an empty revision: ``body`` in place of the upgrade's ``pass``."""
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("def upgrade() -> None:", 1)
    _upgrade, rest = tail.split("\n\n\ndef downgrade", 1)
    path.write_text(f"{head}def upgrade() -> None:\n    {body}\n\n\ndef downgrade{rest}", encoding="utf-8")


# --------------------------------------------------------------------------- makemigrations --empty


def test_an_empty_revision_imports_op_and_sa_and_passes_ruff(project: Path) -> None:
    call(project, "sqlite://", "makemigrations", "memo", empty=True, message="backfill titles")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8")
    assert "import sqlalchemy as sa" in text and "from alembic import op" in text
    assert ruff_check([path]).returncode == 0, ruff_check([path]).stdout


def test_a_data_migration_written_into_an_empty_revision_runs(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate", yes=True)
    call(project, db_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, DATA_STEP)
    done = call(project, db_url, "migrate", yes=True)
    assert ("Applying", "memo", path.stem) in done.steps()


def test_a_missing_import_names_the_file_line_and_the_line_to_add(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    text = path.read_text(encoding="utf-8").replace("from alembic import op  # noqa: F401\n", "")
    path.write_text(text, encoding="utf-8")
    _fill_upgrade(path, DATA_STEP)
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if DATA_STEP in text)
    error, fix = [line for line in err.splitlines() if line.startswith(("error:", "  fix:"))]
    assert f"NameError: name 'op' is not defined (in {path}:{line})" in error
    assert f"add 'from alembic import op' at the top of {path}" in fix
    assert "Traceback" not in err and "unexpected" not in err


def test_any_other_failure_of_the_revision_code_names_file_and_line(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, "sa.no_such_function()")
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1
    assert f"AttributeError: module 'sqlalchemy' has no attribute 'no_such_function' (in {path}:" in err
    assert f"fix the code at {path}:" in err


def test_a_database_error_names_no_code_location(
        project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    call(project, sqlite_url, "migrate", yes=True)
    call(project, sqlite_url, "makemigrations", "memo", empty=True, message="backfill")
    path = revision_files(project, "memo")[-1]
    _fill_upgrade(path, 'op.execute(sa.text("UPDATE no_such_table SET x = 1"))')
    code, _, err = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert code == 1 and "no such table" in err
    assert f"(in {path}" not in err  # the data's fault, not the code's: the usual wording


# --------------------------------------------------------------------------- makemigrations --name


def test_name_names_the_file_as_djangos_does(project: Path) -> None:
    call(project, "sqlite://", "makemigrations", "memo", "--name", "backfill_titles", empty=True)
    path = revision_files(project, "memo")[-1]
    assert path.name == "0002_backfill_titles.py"
    assert path.read_text(encoding="utf-8").startswith('"""backfill titles\n')  # the message, unless -m says
    call(project, "sqlite://", "makemigrations", "memo", "-n", "Fix_2", empty=True, message="fix the titles again")
    newest = revision_files(project, "memo")[-1]
    assert newest.name == "0003_Fix_2.py" and '"""fix the titles again' in newest.read_text(encoding="utf-8")


@pytest.mark.parametrize("bad", ["add summary", "0002_x", "a-b", "é", "x" * 101, ""])
def test_a_name_that_is_no_identifier_is_refused_before_anything_is_written(
        project: Path, bad: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    before = revision_files(project, "memo")
    code, _, err = cli(capsys, monkeypatch, project, "sqlite://", "makemigrations", "memo", "--empty", "--name", bad)
    assert code == 2 and "--name" in err and "Python identifier" in err
    assert revision_files(project, "memo") == before


def test_name_names_a_merge_revision(project: Path) -> None:
    from support.revisions import new_id, write_revision

    first = revision_files(project, "memo")[0]
    head = first.read_text(encoding="utf-8").split("revision: str = '", 1)[1].split("'", 1)[0]
    write_revision(first.parent, "0002_left", new_id(), head)
    write_revision(first.parent, "0002_right", new_id(), head)
    call(project, "sqlite://", "makemigrations", "memo", "--name", "join_left_and_right", merge=True)
    assert revision_files(project, "memo")[-1].name == "0003_join_left_and_right.py"


# --------------------------------------------------------------------------- showmigrations --plan


def _plan(project: Path, url: str, *args: str) -> list[dict[str, object]]:
    import json

    return json.loads(call(project, url, "showmigrations", *args, plan=True, json=True).out)  # type: ignore[no-any-return]


def _migrate_plan(project: Path, url: str, *args: str) -> list[tuple[object, object]]:
    import json

    steps = json.loads(call(project, url, "migrate", *args, plan=True, json=True).out)
    return [(s["component"], s["name"]) for s in steps]


def test_the_plan_is_the_order_migrate_applies_applied_first(project: Path, db_url: str) -> None:
    everything = _plan(project, db_url)
    assert not any(row["applied"] for row in everything)
    assert [(r["component"], r["name"]) for r in everything] == _migrate_plan(project, db_url)
    position = {row["revision"]: n for n, row in enumerate(everything)}
    for row in everything:  # every revision after what it needs
        for parent in [*row["down_revisions"], *row["depends_on"]]:  # type: ignore[misc]
            assert position[parent] < position[row["revision"]]

    call(project, db_url, "migrate", "memo", yes=True)  # memo and what it needs elsewhere
    after = _plan(project, db_url)
    applied = [row for row in after if row["applied"]]
    pending = [(r["component"], r["name"]) for r in after if not r["applied"]]
    assert after[: len(applied)] == applied and {r["component"] for r in applied} >= {"memo", "auth"}
    assert pending == _migrate_plan(project, db_url) and pending
    assert sorted(r["revision"] for r in after) == sorted(r["revision"] for r in everything)


def test_the_plan_of_named_components_holds_what_they_need(project: Path, sqlite_url: str) -> None:
    shown = {(r["component"], r["name"]) for r in _plan(project, sqlite_url, "memo")}
    assert ("memo", "0001_initial") in shown and ("auth", "0001_initial") in shown
    assert not any(component == "task" for component, _ in shown)
    assert [(c, n) for c, n in _migrate_plan(project, sqlite_url, "memo")] == [
        (r["component"], r["name"]) for r in _plan(project, sqlite_url, "memo")]


def test_the_plan_in_text_marks_applied_and_shows_dependencies_at_v2(project: Path, sqlite_url: str) -> None:
    call(project, sqlite_url, "migrate", "auth", yes=True)
    plain = call(project, sqlite_url, "showmigrations", plan=True).out.splitlines()
    assert plain[0] == "[X]  auth 0001_initial" and "[ ]  memo 0001_initial" in plain
    verbose = call(project, sqlite_url, "showmigrations", plan=True, verbosity=2).out.splitlines()
    assert "[X]  auth 0001_initial ... (start of the branch)" in verbose
    assert "[ ]  memo 0001_initial ... (auth 0001_initial)" in verbose


def test_plan_and_graph_are_not_asked_together(
        project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = cli(capsys, monkeypatch, project, "sqlite://", "showmigrations", "--plan", "--graph")
    assert code == 2 and "choose one" in err
