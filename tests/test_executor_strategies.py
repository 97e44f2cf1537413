"""The executor's strategies (per revision, atomic, rehearsal), non-transactional revisions
(``atomic = False`` with ``autocommit_block()``), and one loaded workspace against many databases.

Real databases: SQLite files and PostgreSQL.
"""

from __future__ import annotations

import ast
import multiprocessing
from pathlib import Path

import pytest
from support.databases import query, sqlite_url_for, temporary_database
from support.inspect import history_rows, marks, snapshot, tables, version_rows
from support.projects import write_pyproject
from support.revisions import PLAIN_HEADER, new_id
from support.running import cli

from memstack.core.settings import DEFAULT_COMPONENTS
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.records import recorder as bookkeeping
from memstack.engine.tree import loader
from memstack.engine.workspace import Workspace

SEED = '''

def upgrade() -> None:
    op.create_table("items", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("kind", sa.String(16)))
    op.execute("INSERT INTO items (id, kind) VALUES " + ", ".join(f"({n}, 'k{n % 3}')" for n in range(1, 201)))


def downgrade() -> None:
    op.drop_table("items")
'''

CONCURRENT = '''

def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index("ix_items_kind", "items", ["kind"], postgresql_concurrently=True)
        if op.get_bind().dialect.name == "postgresql":
            op.execute("ALTER TYPE mood ADD VALUE 'ecstatic'")
        op.execute("VACUUM")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_items_kind", table_name="items", postgresql_concurrently=True)
'''

FAILING_OUTSIDE = '''

def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("CREATE TABLE half_done (id INTEGER)")
        op.execute("INSERT INTO no_such_table (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("half_done")
'''


def non_atomic_component(make_component, project: Path, third: str = CONCURRENT):  # type: ignore[no-untyped-def]
    """label, ids: 0001 seeds a table with rows, 0002 is atomic = False, 0003 is a plain step."""
    label = make_component({}, prefix="conc")
    folder = project / "migrations" / label
    folder.mkdir(parents=True)
    ids = [new_id() for _ in range(3)]
    bodies = [SEED, third, '''

def upgrade() -> None:
    op.add_column("items", sa.Column("note", sa.String(32)))


def downgrade() -> None:
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_column("note")
''']
    names = ["0001_items", "0002_concurrent_index", "0003_note"]
    for number, (name, body) in enumerate(zip(names, bodies, strict=True)):
        extra = "atomic = False\n" if number == 1 else ""
        source = PLAIN_HEADER.format(name=name, revision=ids[number], down=ids[number - 1] if number else None,
                               labels=(label,) if number == 0 else None, extra=extra)
        (folder / f"{name}.py").write_text(source + body, encoding="utf-8")
    write_pyproject(project, [*DEFAULT_COMPONENTS, label])
    return label, ids


def prepare_enum(url: str) -> None:
    if url.startswith("postgresql"):
        from support.databases import execute

        execute(url, "CREATE TYPE mood AS ENUM ('sad', 'happy')")


def test_loader_reads_atomic_header(tmp_path: Path) -> None:
    path = tmp_path / "0001_x.py"
    path.write_text(PLAIN_HEADER.format(name="x", revision="abc", down=None, labels=None, extra="atomic = False\n"))
    assert loader.parse_revision_file(path).atomic is False
    path.write_text(PLAIN_HEADER.format(name="x", revision="abc", down=None, labels=None, extra=""))
    assert loader.parse_revision_file(path).atomic is True


def test_non_atomic_revision_runs_outside_a_transaction(project: Path, db_url_no_mariadb: str, make_component,  # type: ignore[no-untyped-def]
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    prepare_enum(url)
    label, ids = non_atomic_component(make_component, project)
    result = cli(capsys, monkeypatch, project, url, "migrate", label)
    assert result.code == 0, result
    assert ids[2] in version_rows(url)
    assert marks(url) == []  # marked while it ran, cleared when recorded
    events = [(r["name"], r["event"], bool(r["success"])) for r in history_rows(url) if r["component"] == label]
    assert events == [("0001_items", "apply", True), ("0002_concurrent_index", "apply", True),
                      ("0003_note", "apply", True)]
    if url.startswith("postgresql"):
        valid = query(url, "SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                           "WHERE c.relname = 'ix_items_kind'")
        assert valid == [{"valid": True}]
        labels = query(url, "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                            "WHERE t.typname = 'mood' ORDER BY enumsortorder")
        assert [r["enumlabel"] for r in labels] == ["sad", "happy", "ecstatic"]
    else:
        assert query(url, "SELECT name FROM sqlite_master WHERE name = 'ix_items_kind'") == [{"name": "ix_items_kind"}]

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "0001", "--yes")
    assert result.code == 0, result
    assert version_rows(url) & set(ids) == {ids[0]}


def test_atomic_and_dry_run_name_the_non_atomic_revision(project: Path, db_url_no_mariadb: str, make_component,  # type: ignore[no-untyped-def]
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    prepare_enum(url)
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0  # the default components only
    label, _ = non_atomic_component(make_component, project)
    before = snapshot(url)

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "--atomic")
    assert result.code == 1
    assert f"{label} 0002_concurrent_index" in result.err and "atomic = False" in result.err
    assert snapshot(url) == before

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "--dry-run")
    assert result.code == 1
    assert f"{label} 0002_concurrent_index declares atomic = False" in result.err
    assert "stopped before it" in result.err
    assert snapshot(url) == before  # 0001 was rehearsed and rolled back


def test_failing_non_atomic_revision_leaves_a_failed_mark(project: Path, db_url_no_mariadb: str, make_component,  # type: ignore[no-untyped-def]
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, ids = non_atomic_component(make_component, project, third=FAILING_OUTSIDE)
    result = cli(capsys, monkeypatch, project, url, "migrate", label)
    assert result.code == 1
    assert "half-applied" in result.err and "declares atomic = False" in result.err
    assert "half_done" in tables(url)  # committed by the autocommit block: not rolled back
    assert [(m["revision"], m["state"]) for m in marks(url)] == [(ids[1], "failed")]
    assert ids[1] not in version_rows(url) and ids[0] in version_rows(url)

    # the mark blocks the next run until it is resolved
    result = cli(capsys, monkeypatch, project, url, "migrate", label)
    assert result.code == 1


def test_bookkeeping_is_prepared_once_per_run(project: Path, sqlite_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = bookkeeping.ensure_bookkeeping

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bookkeeping, "ensure_bookkeeping", counting)
    with Workspace.load(project_dir=project, database_url=sqlite_url) as ws:
        results = migrate(ws, options=RunOptions())
    assert len(results) == 13
    assert len(calls) == 1  # not once per step


def _migrate_in_child(ws: Workspace, url: str) -> None:
    with ws.for_database(url) as other:
        migrate(other, options=RunOptions())


def test_one_loaded_workspace_migrates_many_databases(project: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[Path] = []
    real = loader.parse_revision_file

    def counting(path: Path, source: str | None = None, tree: ast.Module | None = None) -> loader.RevisionFile:
        parsed.append(path)
        return real(path, source, tree)

    monkeypatch.setattr(loader, "parse_revision_file", counting)
    first, second = sqlite_url_for(tmp_path, "one.db"), sqlite_url_for(tmp_path, "two.db")
    ws = Workspace.load(project_dir=project, database_url=first)
    ws.tree  # noqa: B018 - the one load
    loads = len(parsed)
    assert loads == 13

    with temporary_database("postgres") as postgres:
        for url in (first, second, postgres):
            with ws.for_database(url) as other:
                assert other.tree is ws.tree
                assert len(migrate(other, options=RunOptions())) == 13
                assert migrate(other, options=RunOptions()) == []
        assert len(parsed) == loads  # no file was read again
        assert len(version_rows(postgres)) > 0 and version_rows(first) == version_rows(second)

        # a schema of its own inside the PostgreSQL database
        from support.databases import execute

        execute(postgres, "CREATE SCHEMA fleet_b")
        with ws.for_database(postgres, schema="fleet_b") as other:
            assert len(migrate(other, options=RunOptions())) == 13
        rows = query(postgres, "SELECT count(*) AS n FROM fleet_b.alembic_version")
        assert rows[0]["n"] == len(version_rows(postgres))
    assert len(parsed) == loads
    ws.close()


def test_workspaces_migrate_in_parallel_processes(project: Path, tmp_path: Path) -> None:
    """Parallelism is by processes (Alembic's op is a module-global proxy): forked children
    share the parent's loaded tree and migrate their own databases at the same time."""
    ws = Workspace.load(project_dir=project)
    ws.tree  # noqa: B018 - loaded once, in the parent
    urls = [sqlite_url_for(tmp_path, f"fleet{n}.db") for n in range(3)]
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_migrate_in_child, args=(ws, url)) for url in urls]
    for child in children:
        child.start()
    for child in children:
        child.join(600)  # only a hung child takes this long
        assert child.exitcode == 0, f"child exit code {child.exitcode} (None: still running after 600 s)"
    assert all(len(version_rows(url)) > 0 for url in urls)
    assert len({frozenset(version_rows(url)) for url in urls}) == 1


def test_for_database_refuses_a_schema_off_postgresql(project: Path, sqlite_url: str) -> None:
    from memstack.engine.errors import SchemaUnsupported

    ws = Workspace.load(project_dir=project)
    with pytest.raises(SchemaUnsupported, match="PostgreSQL"):
        ws.for_database(sqlite_url, schema="other")


# --------------------------------------------------------------------------- wording (pure)
@pytest.mark.parametrize(("outcome", "dialect", "words"), [
    ("plan_rolled_back", "postgresql", "the whole plan was rolled back"),
    ("maybe_half_applied", "mariadb", "mariadb cannot roll back DDL"),
    ("maybe_half_applied", "postgresql", "it declares atomic = False"),
    ("step_rolled_back", "sqlite", "steps 1..1 stayed applied"),
])
def test_failures_are_worded_at_the_cli_boundary(outcome: str, dialect: str, words: str) -> None:
    from memstack.cli.errors import for_person
    from memstack.engine.errors import MigrationFailed
    from memstack.engine.tree.graph import Revision, Step

    step = Step(Revision(id="abc123def456", component="task", name="0002_add_progress"), "up")
    error = MigrationFailed(step=step, index=2, total=3, error=RuntimeError("boom"), outcome=outcome,
                            dialect=dialect)
    assert "manage.py" not in str(error) and error.hint is None
    worded = for_person(error)
    assert worded.message == "step 2 of 3 failed: task 0002_add_progress (up): boom"
    assert words in (worded.hint or "")
    if outcome == "maybe_half_applied":
        assert "manage.py migrate --fake task 0002_add_progress" in (worded.hint or "")


def test_lock_timeout_is_worded_and_engine_modules_spell_no_command() -> None:
    from memstack.cli.errors import for_person
    from memstack.engine.errors import LockTimeout

    error = LockTimeout("PostgreSQL", 2.5, "pid 42 on host")
    assert str(error) == "could not take the migration lock on PostgreSQL within 2.5 s; held by pid 42 on host"
    assert (error.what, error.timeout, error.holder) == ("PostgreSQL", 2.5, "pid 42 on host")
    assert "--lock-timeout" in (for_person(error).hint or "")
    engine_folder = Path(loader.__file__).parents[1]
    modules = sorted(engine_folder.rglob("*.py"))
    assert len(modules) > 40
    for module in modules:
        assert "manage.py" not in module.read_text(encoding="utf-8"), module


def test_sql_of_a_non_atomic_revision_commits_around_the_block(project: Path, make_component,  # type: ignore[no-untyped-def]
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    label, _ = non_atomic_component(make_component, project)
    offline = "postgresql://nobody@127.0.0.1:1/never_connected"
    result = cli(capsys, monkeypatch, project, offline, "sqlmigrate", label, "0002")
    assert result.code == 0, result
    sql = " ".join(result.out.split())
    assert "COMMIT; CREATE INDEX CONCURRENTLY ix_items_kind ON items (kind); ALTER TYPE mood ADD VALUE" in sql
    assert sql.rstrip().endswith("BEGIN;")
