"""A forward step that destroys data asks first, like a backwards one (issue 20, point 1).

Real databases: a component of the test's own creates ``notes`` (id, body, rank) with known
rows; a second revision then drops a column, changes a type, deletes rows or drops the table.
Without a terminal migrate refuses (exit 1, data intact), ``--yes`` runs it; a terminal is
asked; ``--plan --json`` carries ``destroys``; the start-up call needs ``allow_destructive``;
plain ``alembic upgrade`` needs ``-x yes=1``; makemigrations, check and lintmigrations say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.databases import connect, execute
from support.inspect import columns, table_names
from support.projects import add_alembic_config, write_pyproject
from support.revisions import new_id, write_revision
from support.running import alembic as run_alembic
from support.running import cli, json_of

import memstack
from memstack.engine.errors import DestructivePlanRefused

NOTES = ('op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True), '
         'sa.Column("body", sa.String(40)), sa.Column("rank", sa.String(10)))')
ROWS = [(1, "first", "1"), (2, "second", "2"), (3, None, "abc"), (4, "fourth", None)]
DROP_BODY = 'op.drop_column("notes", "body")'
RANK_TO_INTEGER = ('with op.batch_alter_table("notes") as batch_op:\n'
                   '    batch_op.alter_column("rank", existing_type=sa.String(length=10), type_=sa.Integer(),\n'
                   '                          postgresql_using="NULLIF(rank, \'abc\')::integer")')


@dataclass
class Notes:
    project: Path
    label: str
    folder: Path
    first: str

    def add(self, upgrade: str, *, module: str = "", name: str = "0002_change") -> str:
        revision = new_id()
        write_revision(self.folder, name, revision, self.first, upgrade=upgrade, module=module)
        return revision


@pytest.fixture
def notes(project: Path, make_component: Any) -> Notes:
    label = make_component({}, prefix="notes")
    folder = project / "migrations" / label
    first = new_id()
    write_revision(folder, "0001_initial", first, None, upgrade=NOTES, downgrade='op.drop_table("notes")',
                   branch_labels=(label,))
    write_pyproject(project, [label])
    return Notes(project, label, folder, first)


def migrated(notes: Notes, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = cli(capsys, monkeypatch, notes.project, url, "migrate")
    assert done.code == 0, done
    for row in ROWS:
        execute(url, "INSERT INTO notes (id, body, rank) VALUES (:id, :body, :rank)",
                params={"id": row[0], "body": row[1], "rank": row[2]})


def rows(url: str, query: str = "SELECT * FROM notes ORDER BY id") -> list[tuple[Any, ...]]:
    with connect(url) as connection:
        return [tuple(r) for r in connection.execute(text(query))]


def test_dropping_a_column_refuses_without_a_terminal_then_yes(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, db_url: str) -> None:
    migrated(notes, db_url, capsys, monkeypatch)
    notes.add(DROP_BODY)
    refused = cli(capsys, monkeypatch, notes.project, db_url, "migrate")
    assert refused.code == 1, refused
    assert "1 revision(s) to apply would destroy data the database holds now:" in refused.err
    assert f"- apply {notes.label} 0002_change" in refused.err
    assert "column notes.body: 3 rows hold a value" in refused.err
    assert "applying 1 revision(s) that destroy data needs confirmation" in refused.err
    assert "pass --yes" in refused.err
    assert "body" in columns(db_url, "notes") and len(rows(db_url)) == 4
    done = cli(capsys, monkeypatch, notes.project, db_url, "migrate", "--yes")
    assert done.code == 0, done
    assert "body" not in columns(db_url, "notes")


def test_plan_json_carries_what_a_forward_step_destroys(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, db_url: str) -> None:
    migrated(notes, db_url, capsys, monkeypatch)
    notes.add(f"{DROP_BODY}\nop.execute(\"DELETE FROM notes WHERE rank = 'abc'\")\nop.drop_table(\"gone\")")
    plan = json_of(cli(capsys, monkeypatch, notes.project, db_url, "migrate", "--plan", "--json"))
    assert [step["name"] for step in plan] == ["0002_change"]
    destroys = {(d["kind"], d["table"], d["name"]): d for d in plan[0]["destroys"]}
    assert destroys[("column", "notes", "body")]["rows"] == 3
    assert destroys[("rows", "notes", None)]["rows"] == 1
    assert destroys[("rows", "notes", None)]["condition"] == "rank = 'abc'"
    assert destroys[("table", "gone", None)]["exists"] is False
    human = cli(capsys, monkeypatch, notes.project, db_url, "migrate", "--plan")
    assert "deletes rows of notes where rank = 'abc': 1 row" in human.out
    assert len(rows(db_url)) == 4


def test_a_person_at_a_terminal_answers(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        notes: Notes, sqlite_url: str) -> None:
    migrated(notes, sqlite_url, capsys, monkeypatch)
    notes.add(DROP_BODY, module='destroys_data = "body moved to the documents table in 0001"')
    declined = cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate", terminal_input="n\n")
    assert declined.code == 1, declined
    assert "the revision says the destruction is intended: body moved to the documents table" in declined.err
    assert "Apply these 1 revision(s), destroying the data shown? [y/N]" in declined.err
    assert "body" in columns(sqlite_url, "notes")
    accepted = cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate", terminal_input="y\n")
    assert accepted.code == 0, accepted
    assert "body" not in columns(sqlite_url, "notes")


def test_sqlite_copy_and_cast_counts_the_values_it_would_change(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, sqlite_url: str) -> None:
    """The bug: String -> Integer on SQLite turned 'abc' into 0, unasked."""
    migrated(notes, sqlite_url, capsys, monkeypatch)
    notes.add(RANK_TO_INTEGER)
    refused = cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate")
    assert refused.code == 1, refused
    assert ("column notes.rank changes type VARCHAR(10) -> INTEGER: 3 rows hold a value, 1 of them would not "
            "survive SQLite's copy-and-cast") in refused.err
    assert rows(sqlite_url, "SELECT rank FROM notes ORDER BY id") == [("1",), ("2",), ("abc",), (None,)]
    plan = json_of(cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate", "--plan", "--json"))
    assert plan[0]["destroys"][0] | {"altered": 1, "rows": 3} == plan[0]["destroys"][0]
    assert cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate", "--yes").code == 0
    assert rows(sqlite_url, "SELECT rank FROM notes ORDER BY id") == [(1,), (2,), (0,), (None,)]


def test_a_type_change_on_postgresql_shows_the_rows_at_stake(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, postgres_url: str) -> None:
    migrated(notes, postgres_url, capsys, monkeypatch)
    notes.add(RANK_TO_INTEGER)
    refused = cli(capsys, monkeypatch, notes.project, postgres_url, "migrate")
    assert refused.code == 1 and "column notes.rank changes type VARCHAR(10) -> INTEGER: 3 rows hold a value" \
        in refused.err, refused
    assert "copy-and-cast" not in refused.err


def test_a_widening_type_change_and_plain_ddl_ask_nothing(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, sqlite_url: str) -> None:
    migrated(notes, sqlite_url, capsys, monkeypatch)
    notes.add('with op.batch_alter_table("notes") as batch_op:\n'
              '    batch_op.alter_column("body", existing_type=sa.String(length=40), type_=sa.String(length=200))\n'
              'op.add_column("notes", sa.Column("extra", sa.Integer()))\n'
              'op.create_index("ix_notes_rank", "notes", ["rank"])')
    done = cli(capsys, monkeypatch, notes.project, sqlite_url, "migrate")
    assert done.code == 0, done
    assert "extra" in columns(sqlite_url, "notes")


def test_startup_refuses_without_allow_destructive(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, db_url_no_mariadb: str
) -> None:
    url = db_url_no_mariadb
    migrated(notes, url, capsys, monkeypatch)
    notes.add('op.drop_table("notes")')
    with pytest.raises(DestructivePlanRefused) as refused:
        memstack.migrate_on_startup(url, project_dir=notes.project)
    assert f"{notes.label} 0002_change: table notes: 4 rows" in str(refused.value)
    assert "allow_destructive=True" in (refused.value.hint or "")
    assert refused.value.destroys == {f"{notes.label} 0002_change": ["table notes: 4 rows"]}
    assert "notes" in table_names(url)
    result = memstack.migrate_on_startup(url, project_dir=notes.project, allow_destructive=True)
    assert result.applied == [f"{notes.label} 0002_change"]
    assert "notes" not in table_names(url)


def test_plain_alembic_upgrade_needs_x_yes(notes: Notes, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    add_alembic_config(notes.project, [notes.label])
    # where make_component writes the package, and this checkout's memstack (not only the installed one)
    packages = [notes.project.parent / "packages", Path(memstack.__file__).parents[1]]

    def alembic(*args: str) -> Any:
        return run_alembic(notes.project, url, *args, pythonpath=packages)

    assert alembic("upgrade", "heads").code == 0
    execute(url, "INSERT INTO notes (id, body, rank) VALUES (1, 'kept', '1')")
    notes.add(DROP_BODY)
    refused = alembic("upgrade", "heads")
    assert refused.code != 0, refused.out  # Alembic's own status for its errors (255)
    line = next(line for line in refused.out.splitlines() if line.startswith("FAILED"))
    assert f"these steps destroy data: apply {notes.label} 0002_change (column notes.body: 1 row holds a value)" \
        in line
    assert refused.out.count("fix: review them, then pass -x yes=1") == 1 and "Traceback" not in refused.err
    assert "body" in columns(url, "notes")
    down = alembic("downgrade", f"{notes.label}@base")
    assert down.code != 0 and f"unapply {notes.label} 0001_initial (table notes: 1 row)" in down.out
    assert "notes" in table_names(url)
    done = alembic("-x", "yes=1", "upgrade", "heads")
    assert done.code == 0, done.err
    assert "body" not in columns(url, "notes")


def test_makemigrations_check_and_lint_say_what_will_be_destroyed(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, sqlite_url: str) -> None:
    migrated(notes, sqlite_url, capsys, monkeypatch)
    notes.add(RANK_TO_INTEGER)
    checked = cli(capsys, monkeypatch, notes.project, sqlite_url, "check", "--database", "--json")
    assert checked.code == 1, checked  # the pending revision is an error; what it destroys is a warning
    warning = next(p for p in json.loads(checked.out)["problems"] if p["kind"] == "destructive_pending")
    assert warning["severity"] == "warning"
    assert "3 rows hold a value, 1 of them would not survive SQLite's copy-and-cast" in warning["message"]
    linted = json.loads(cli(capsys, monkeypatch, notes.project, sqlite_url, "lintmigrations", "--json").out)
    finding = next(f for f in linted["findings"] if f["rule"] == "destroys-data")
    assert not finding["acknowledged"] and "changes column notes.rank from VARCHAR(10) to INTEGER" in finding["message"]


def test_makemigrations_warns_when_it_writes_a_destructive_revision(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, make_component: Any,
        sqlite_url: str) -> None:
    models = ("import sqlalchemy as sa\nfrom memstack.core.db import Base\n\n\nclass {cls}(Base):\n"
              "    __tablename__ = 'items_a'\n    id = sa.Column(sa.Integer, primary_key=True)\n{extra}")
    label = make_component({"models.py": models.format(cls="Item", extra="    note = sa.Column(sa.String(20))\n")},
                           prefix="items")
    write_pyproject(project, [label])
    assert cli(capsys, monkeypatch, project, sqlite_url, "makemigrations", label, "-m", "initial").code == 0
    module = Path(__import__(label).__file__).parent / "models.py"
    module.write_text(models.format(cls="ItemWithoutNote", extra=""))
    import importlib
    import sys

    from memstack.core.db import metadata

    metadata.remove(metadata.tables["items_a"])
    sys.modules.pop(f"{label}.models", None)
    importlib.invalidate_caches()
    written = cli(capsys, monkeypatch, project, sqlite_url, "makemigrations", label, "-m", "drop note",
                  "--no-renames")
    assert written.code == 0, written
    assert f"{label} 0002_drop_note destroys data when applied: drops column items_a.note" in written.err
    assert "migrate will show the rows at stake and ask" in written.err


def test_the_pytest_plugin_runner_confirms_by_itself(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, sqlite_url: str) -> None:
    """A throwaway database: the runner behind ``memstack_migrations`` asks nobody."""
    from memstack.engine.workspace import Workspace
    from memstack.testing.runner import MigrationRunner

    migrated(notes, sqlite_url, capsys, monkeypatch)
    notes.add(DROP_BODY)
    with Workspace.load(notes.project, sqlite_url) as ws:
        results = MigrationRunner(ws).migrate(notes.label)
    assert [r.step.revision.name for r in results] == ["0002_change"]
    assert "body" not in columns(sqlite_url, "notes")


def test_a_fresh_database_has_nothing_to_lose(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, notes: Notes, db_url_no_mariadb: str
) -> None:
    """A new install runs a tree with old drops without asking: what it drops was made by the same plan."""
    notes.add(f"{DROP_BODY}\n{RANK_TO_INTEGER}")
    plan = json_of(cli(capsys, monkeypatch, notes.project, db_url_no_mariadb, "migrate", "--plan", "--json"))
    assert {d["exists"] for d in plan[1]["destroys"]} == {False}
    started = memstack.migrate_on_startup(db_url_no_mariadb, project_dir=notes.project)
    assert [label.split()[1] for label in started.applied] == ["0001_initial", "0002_change"]
