"""Item 2 of issue 11: ``makemigrations`` writes renames instead of drop + add (asked on a terminal,
given with ``--rename`` otherwise, drop + add only with ``--no-renames``), and refuses a NOT NULL
column without a default on a table holding rows. The data survives up and down on every backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.databases import connect, execute
from support.projects import set_components
from support.revisions import revision_files, ruff_check
from support.running import Result, call, run_main

from memstack.engine.errors import EngineError
from memstack.engine.generate.renames import NotNullWithoutDefault, RenameCandidate, UndecidedRenames

MakeComponent = Callable[..., str]

MODELS = '''
from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, string


class Note(Base):
    __tablename__ = "{table}"

    id: Mapped[str] = id_column()
    {column}: Mapped[str | None] = mapped_column(string(100), nullable=True)
    stars: Mapped[int | None] = mapped_column(Integer, nullable=True)
{extra}'''


def _models(table: str = "notes", column: str = "title", extra: str = "") -> str:
    return MODELS.format(table=table, column=column, extra=extra)


class Notes:
    """A component whose model changes between versions, migrated on ``url`` with one row in it."""

    def __init__(self, project: Path, make_component: MakeComponent, url: str) -> None:
        self.project, self.make_component, self.url = project, make_component, url
        self.table = "notes"
        self.use(_models())
        call(project, url, "makemigrations", "notes")
        call(project, url, "migrate", "notes")

    def use(self, models: str) -> None:
        from memstack.core.db import metadata

        for name in ("notes", "jottings"):
            if name in metadata.tables:
                metadata.remove(metadata.tables[name])
        package = self.make_component({"models.py": models}, prefix="notes")
        set_components(self.project, {"package": package, "label": "notes"})

    def main(self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
             terminal_input: str | None = None) -> Result:
        return run_main(capsys, monkeypatch, "--project-dir", str(self.project), "--database-url", self.url,
                        *args, terminal_input=terminal_input)

    def files(self) -> list[str]:
        return [f.name for f in revision_files(self.project, "notes")]

    def rows(self, table: str, column: str) -> list[object]:
        from sqlalchemy import text

        with connect(self.url) as connection:
            return [r[0] for r in connection.execute(text(f"SELECT {column} FROM {table}"))]


@pytest.fixture
def notes(project: Path, make_component: MakeComponent, db_url: str) -> Notes:
    made = Notes(project, make_component, db_url)
    execute(db_url, "INSERT INTO notes (id, title, stars) VALUES ('n1', 'hello', 3)")
    return made


def test_candidates_and_errors_are_domain_facts() -> None:
    column = RenameCandidate("column", "notes", "title", "heading")
    table = RenameCandidate("table", "notes", "notes", "jottings")
    assert column.key == "notes.title=heading" and table.key == "notes=jottings"
    assert column.question == "Was column notes.title renamed to heading?"
    for error in (UndecidedRenames([column, table]), NotNullWithoutDefault("notes", "priority", 4)):
        assert isinstance(error, EngineError)
        assert "manage.py" not in str(error)


def test_column_rename_refused_without_a_terminal_then_kept_with_rename(
        notes: Notes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    notes.use(_models(column="heading"))
    refused = notes.main(capsys, monkeypatch, "makemigrations", "notes")
    assert refused.code == 1
    assert "notes.title" in refused.err and "heading" in refused.err
    assert "--rename notes.title=heading" in refused.err and "--no-renames" in refused.err
    assert notes.files() == ["0001_initial.py"]

    done = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--rename", "notes.title=heading")
    assert done.code == 0, done.err
    assert notes.files() == ["0001_initial.py", "0002_rename_title_to_heading.py"]
    path = revision_files(notes.project, "notes")[1]
    text = path.read_text()
    assert "new_column_name='heading'" in text and "drop_column" not in text
    assert ruff_check([path]).returncode == 0

    call(notes.project, notes.url, "migrate")
    assert notes.rows("notes", "heading") == ["hello"]
    call(notes.project, notes.url, "migrate", "notes", "0001", yes=True)
    assert notes.rows("notes", "title") == ["hello"]
    call(notes.project, notes.url, "migrate")
    call(notes.project, notes.url, "makemigrations", check=True)  # the renamed table matches its model
    call(notes.project, notes.url, "migrate")
    assert notes.rows("notes", "heading") == ["hello"]
    call(notes.project, notes.url, "makemigrations", check=True)


def test_table_rename_keeps_rows_up_and_down(notes: Notes, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    notes.use(_models(table="jottings"))
    refused = notes.main(capsys, monkeypatch, "makemigrations", "notes")
    assert refused.code == 1 and "--rename notes=jottings" in refused.err

    done = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--rename", "notes=jottings")
    assert done.code == 0, done.err
    assert notes.files()[1] == "0002_rename_notes_to_jottings.py"
    assert "op.rename_table('notes', 'jottings')" in revision_files(notes.project, "notes")[1].read_text()
    call(notes.project, notes.url, "migrate")
    assert notes.rows("jottings", "title") == ["hello"]
    call(notes.project, notes.url, "migrate", "notes", "0001", yes=True)
    assert notes.rows("notes", "title") == ["hello"]
    call(notes.project, notes.url, "migrate")
    call(notes.project, notes.url, "makemigrations", check=True)  # the renamed table matches its model


def test_terminal_answers_decide(project: Path, make_component: MakeComponent, sqlite_url: str,
                                 capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    notes = Notes(project, make_component, sqlite_url)
    notes.use(_models(column="heading"))
    said_no = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--dry-run", terminal_input="n\n")
    assert said_no.code == 0, said_no.err
    assert "Was column notes.title renamed to heading? [y/N]" in said_no.err
    assert "drop_column('title')" in said_no.out and "add_column" in said_no.out

    said_yes = notes.main(capsys, monkeypatch, "makemigrations", "notes", terminal_input="y\n")
    assert said_yes.code == 0, said_yes.err
    assert notes.files()[1] == "0002_rename_title_to_heading.py"


def test_no_renames_writes_drop_and_add_and_unknown_rename_is_refused(
        project: Path, make_component: MakeComponent, sqlite_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    notes = Notes(project, make_component, sqlite_url)
    notes.use(_models(column="heading"))
    unknown = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--rename", "notes.nope=heading")
    assert unknown.code == 1
    assert "notes.nope=heading" in unknown.err and "notes.title=heading" in unknown.err
    malformed = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--rename", "notes.title")
    assert malformed.code == 2
    both = notes.main(capsys, monkeypatch, "makemigrations", "--rename", "a=b", "--no-renames")
    assert both.code == 2

    dropped = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--no-renames")
    assert dropped.code == 0, dropped.err
    text = revision_files(project, "notes")[1].read_text()
    assert "drop_column('title')" in text and "add_column" in text
    # --check still sees the change as a change, and never asks
    assert notes.main(capsys, monkeypatch, "makemigrations", "--check").code == 0


NOT_NULL = "    priority: Mapped[int] = mapped_column(Integer, nullable=False{default})\n"


def test_not_null_without_default_on_a_table_with_rows_is_refused(
        notes: Notes, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    notes.use(_models(extra=NOT_NULL.format(default="")))
    refused = notes.main(capsys, monkeypatch, "makemigrations", "notes")
    assert refused.code == 1
    assert "notes.priority" in refused.err and "1 row" in refused.err
    assert "server default" in refused.err and "backfill" in refused.err
    assert notes.files() == ["0001_initial.py"]

    notes.use(_models(extra=NOT_NULL.format(default=", server_default='0'")))
    done = notes.main(capsys, monkeypatch, "makemigrations", "notes")
    assert done.code == 0, done.err
    call(notes.project, notes.url, "migrate")
    assert notes.rows("notes", "priority") == [0]


def test_not_null_checks_the_database(project: Path, make_component: MakeComponent, sqlite_url: str,
                                      capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    notes = Notes(project, make_component, sqlite_url)  # migrated, no rows
    notes.use(_models(extra=NOT_NULL.format(default="")))
    empty = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--dry-run")
    assert empty.code == 0, empty.err  # the table is empty: the column can be added

    Path(sqlite_url.removeprefix("sqlite:///")).unlink()  # no database to look into: conservative
    unknown = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--dry-run")
    assert unknown.code == 1 and "may hold rows" in unknown.err
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()
    allowed = notes.main(capsys, monkeypatch, "makemigrations", "notes", "--allow-not-null")
    assert allowed.code == 0, allowed.err
