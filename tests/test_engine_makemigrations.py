"""``makemigrations``: a new user's component, ownership, removed models, the scratch comparison,
the FK-cycle split on an empty tree, and minimal ``depends_on`` links."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.databases import execute
from support.inspect import foreign_keys, table_names, version_rows
from support.projects import LABELS, MEMORY_LINKS_MODELS, TABLES, remove_migration_folders, set_components
from support.revisions import REV, assert_minimal_links, load_graph, parsed, revision_files, ruff_check
from support.running import applied_set, call, run_main, shown

from memstack.core.errors import MemstackError

ALL = set(REV)
MakeComponent = Callable[..., str]

TWO_MODELS = '''
"""Two tables; the second one goes away in the next version of this component."""

from __future__ import annotations

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, string


class Bookmark(Base):
    __tablename__ = "bookmarks"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = fk("users.id", nullable=False)
    url: Mapped[str] = mapped_column(string(500), nullable=False)


class BookmarkVisit(Base):
    __tablename__ = "bookmark_visits"

    id: Mapped[str] = id_column()
    bookmark_id: Mapped[str] = fk("bookmarks.id", nullable=False)
    count: Mapped[int | None] = mapped_column(Integer, default=0)
'''

ONE_MODEL = TWO_MODELS.split("\n\nclass BookmarkVisit")[0] + "\n"


def _new_component(project: Path, make_component: MakeComponent, models: str = MEMORY_LINKS_MODELS) -> str:
    """A new component package added to the project's configuration; returns its label."""
    package = make_component({"models.py": models}, prefix="links")
    set_components(project, package)
    return package


# --------------------------------------------------------------------------- a new user's component


def test_new_component_first_revision(project: Path, make_component: MakeComponent, sqlite_url: str) -> None:
    label = _new_component(project, make_component)
    result = call(project, sqlite_url, "makemigrations")
    files = revision_files(project, label)
    assert [f.name for f in files] == ["0001_initial.py"]
    assert label in result.err and "0001_initial" in result.err
    # no other component got a revision
    for other in LABELS:
        assert [f.stem for f in revision_files(project, other)] == sorted(n for c, n in REV if c == other)

    revision = parsed(files[0])
    assert revision.branch_labels == (label,)
    assert revision.down_revision == ()
    # the revisions that created memories and users (memory 0001 and auth 0001), not the components'
    # heads; memory 0001 already implies auth 0001, so one link is the minimal set
    assert revision.depends_on == (REV[("memory", "0001_initial")],)
    assert "memory 0001_initial (" in files[0].read_text()  # the docstring names it
    assert "depends on: memory 0001_initial" in result.err
    assert_minimal_links(load_graph(project))

    text = files[0].read_text()
    assert "memory_links" in text
    for other_table in TABLES:  # ownership: no operation on another component's tables
        assert f"create_table('{other_table}'" not in text
        assert f"batch_alter_table('{other_table}'" not in text
        assert f"drop_table('{other_table}'" not in text
    lint = ruff_check(files)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    clean = call(project, sqlite_url, "makemigrations", check=True)
    assert "No changes detected" in clean.err
    # the comparison ran on a scratch database: the configured SQLite file was never created
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()


def test_new_component_migrate_and_cascade(project: Path, make_component: MakeComponent, db_url: str,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    label = _new_component(project, make_component)
    call(project, db_url, "makemigrations", label)
    assert [f.name for f in revision_files(project, label)] == ["0001_initial.py"]

    # migrate <new> on an empty database: what it needs first, nothing else
    result = call(project, db_url, "migrate", label)
    needed = {("auth", "0001_initial"), ("tenant", "0001_initial"), ("project", "0001_initial"),
              ("memory", "0001_initial")}
    assert [(c, n) for _, c, n in result.steps()][-1] == (label, "0001_initial")
    assert {(c, n) for _, c, n in result.steps()} == needed | {(label, "0001_initial")}
    state = shown(project, db_url)
    assert {k for k, v in state.items() if v} == needed | {(label, "0001_initial")}
    for unapplied in ("ontology", "memo", "task"):
        assert not any(v for (c, _), v in state.items() if c == unapplied)
    assert {("memory_id", "memories"), ("user_id", "users")} <= foreign_keys(db_url, "memory_links")
    assert table_names(db_url) & {"entity_types", "memos", "task_logs"} == set()

    # unapplying memory 0002 (which the new table does not need) leaves the new component alone
    call(project, db_url, "migrate", "memory")
    done_0001 = call(project, db_url, "migrate", "memory", "0001", yes=True)
    assert [(c, n) for _, c, n in done_0001.steps()] == [("memory", "0002_add_task_id")]
    assert "memory_links" in table_names(db_url)

    # memory zero without --yes and without a terminal: refused, nothing changes
    rows = version_rows(db_url)
    base = ("--project-dir", str(project), "--database-url", db_url)
    refused = run_main(capsys, monkeypatch, *base, "migrate", "memory", "zero")
    assert refused.code == 1
    assert f"{label} 0001_initial" in refused.err
    assert "Unapplying" not in refused.err
    assert version_rows(db_url) == rows
    assert "memory_links" in table_names(db_url)

    # with --yes: the new component's revision is listed (stderr) before anything is undone, then removed
    done = run_main(capsys, monkeypatch, *base, "migrate", "memory", "zero", "--yes")
    assert done.code == 0, done.err
    listed = done.err.index(f"{label} 0001_initial")
    first_unapply = done.err.index("Unapplying")
    assert listed < first_unapply
    unapplied = [line.split()[1:3] for line in done.err.splitlines() if line.strip().startswith("Unapplying")]
    assert unapplied[0] == [label, "0001_initial"]
    assert {tuple(u) for u in unapplied} == {(label, "0001_initial"), ("memory", "0001_initial")}
    assert {k for k, v in shown(project, db_url).items() if v} == needed - {("memory", "0001_initial")}
    assert table_names(db_url) & {"memory_links", "memories"} == set()


# --------------------------------------------------------------------------- ownership


def test_makemigrations_for_one_component_touches_only_its_tables(project: Path, make_component: MakeComponent,
                                                                  sqlite_url: str) -> None:
    """memory's models are ahead of its migrations (0002 removed); the new component's revision ignores that."""
    (project / "migrations" / "memory" / "0002_add_task_id.py").unlink()
    label = _new_component(project, make_component)

    call(project, sqlite_url, "makemigrations", label)
    files = revision_files(project, label)
    assert len(files) == 1
    text = files[0].read_text()
    assert "task_id" not in text
    assert "'memories'" not in text.replace("'memories.id'", "")
    assert [f.name for f in revision_files(project, "memory")] == ["0001_initial.py"]
    # its dependency: the revision that created memories (and, through it, users)
    assert parsed(files[0]).depends_on == (REV[("memory", "0001_initial")],)

    # memory's own change goes to memory's branch only
    with pytest.raises(MemstackError, match="memory"):
        call(project, sqlite_url, "makemigrations", check=True)
    call(project, sqlite_url, "makemigrations", "memory")
    memory_files = revision_files(project, "memory")
    assert len(memory_files) == 2
    added = memory_files[1].read_text()
    assert "add_column" in added and "task_id" in added
    assert "memory_links" not in added
    assert [f.name for f in revision_files(project, label)] == ["0001_initial.py"]
    call(project, sqlite_url, "makemigrations", check=True)


def test_unowned_table_in_the_database_is_ignored(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate")
    execute(db_url, "CREATE TABLE legacy_audit (id INTEGER PRIMARY KEY, note VARCHAR(50))")
    before = sorted((project / "migrations").rglob("*.py"))

    result = call(project, db_url, "makemigrations")
    assert "No changes detected" in result.err
    assert sorted((project / "migrations").rglob("*.py")) == before
    call(project, db_url, "makemigrations", check=True)
    # warned about, never dropped
    assert "legacy_audit" in result.err
    assert "warning" in result.err
    call(project, db_url, "migrate")
    assert "legacy_audit" in table_names(db_url)


def test_removed_model_is_dropped_in_its_former_owners_branch(project: Path, make_component: MakeComponent,
                                                              db_url: str) -> None:
    from memstack.core.db import metadata

    first = make_component({"models.py": TWO_MODELS}, prefix="bookmarks")
    set_components(project, {"package": first, "label": "bookmarks"})
    call(project, db_url, "makemigrations")
    assert [f.name for f in revision_files(project, "bookmarks")] == ["0001_initial.py"]
    call(project, db_url, "migrate")
    assert {"bookmarks", "bookmark_visits"} <= table_names(db_url)

    # the next version of the component no longer declares bookmark_visits
    for name in ("bookmarks", "bookmark_visits"):
        metadata.remove(metadata.tables[name])
    second = make_component({"models.py": ONE_MODEL}, prefix="bookmarks")
    set_components(project, {"package": second, "label": "bookmarks"})

    call(project, db_url, "makemigrations")
    files = revision_files(project, "bookmarks")
    assert [f.name for f in files] == ["0001_initial.py", "0002_drop_bookmark_visits.py"]
    for label in LABELS:  # nobody else got a revision
        assert len(revision_files(project, label)) == len([1 for c, _ in REV if c == label])
    drop = files[1].read_text()
    assert "op.drop_table('bookmark_visits')" in drop
    assert "'bookmarks'" not in drop.split("def downgrade")[0]
    assert parsed(files[1]).down_revision == (parsed(files[0]).revision,)
    assert ruff_check(files).returncode == 0

    call(project, db_url, "migrate", yes=True)  # dropping a table (empty, but there) asks
    tables = table_names(db_url)
    assert "bookmark_visits" not in tables and "bookmarks" in tables
    call(project, db_url, "makemigrations", check=True)

    # and its downgrade brings the table back
    call(project, db_url, "migrate", "bookmarks", "0001", yes=True)
    assert "bookmark_visits" in table_names(db_url)


# --------------------------------------------------------------------------- the scratch comparison


def test_check_is_clean_with_a_developer_database_that_is_behind(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate", "task", "0001", yes=True)
    assert applied_set(project, db_url) == {("task", "0001_initial")}
    rows = version_rows(db_url)

    result = call(project, db_url, "makemigrations", check=True)
    assert "No changes detected" in result.err
    # the developer database was neither compared nor changed
    assert version_rows(db_url) == rows
    assert table_names(db_url) == {"task_logs", "alembic_version"}


def test_check_fails_when_a_revision_is_missing(project: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "migrations" / "task" / "0005_merge_legacy_task_columns.py").unlink()
    (project / "migrations" / "task" / "0004_add_message.py").unlink()
    (project / "migrations" / "task" / "0003_add_result.py").unlink()
    before = sorted((project / "migrations").rglob("*.py"))
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", sqlite_url,
                      "makemigrations", "--check")
    assert result.code == 1
    assert "task" in result.err
    assert sorted((project / "migrations").rglob("*.py")) == before


# --------------------------------------------------------------------------- an empty tree: the FK-cycle split


def test_empty_tree_generates_every_component_and_splits_the_cycle(project: Path, db_url: str) -> None:
    remove_migration_folders(project)
    call(project, db_url, "makemigrations")

    files = {label: revision_files(project, label) for label in LABELS}
    assert {label: [f.name for f in found] for label, found in files.items()} == {
        "auth": ["0001_initial.py", "0002_add_user_roles_fk.py"],
        **{label: ["0001_initial.py"] for label in LABELS[1:]},
    }
    ids = {label: parsed(found[0]).revision for label, found in files.items()}
    for label, found in files.items():
        first = parsed(found[0])
        assert first.branch_labels == (label,)
        assert first.down_revision == ()
        assert first.revision[0] in "abcdef" and len(first.revision) == 12

    auth_followup = parsed(files["auth"][1])
    assert auth_followup.down_revision == (ids["auth"],)
    assert auth_followup.depends_on == (ids["tenant"],)
    assert auth_followup.branch_labels == ()
    followup_text = files["auth"][1].read_text()
    assert "create_foreign_key('user_roles_tenant_id_fkey', 'tenants', ['tenant_id'], ['id'])" in followup_text
    auth_initial = files["auth"][0].read_text()
    assert "'tenants.id'" not in auth_initial  # the deferred FK is not in the CREATE TABLE
    assert "tenant_id" in auth_initial  # but the column is

    # dependencies between the first revisions, minimal
    assert set(parsed(files["tenant"][0]).depends_on) == {ids["auth"]}
    assert set(parsed(files["project"][0]).depends_on) == {ids["tenant"]}
    assert set(parsed(files["memory"][0]).depends_on) == {ids["project"]}
    assert set(parsed(files["ontology"][0]).depends_on) == {ids["project"]}
    assert set(parsed(files["memo"][0]).depends_on) == {ids["auth"]}
    assert parsed(files["task"][0]).depends_on == ()
    assert_minimal_links(load_graph(project))

    every_file = [f for found in files.values() for f in found]
    lint = ruff_check(every_file)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    result = call(project, db_url, "migrate")
    assert len(result.steps()) == 8
    assert table_names(db_url) == TABLES | {"alembic_version"}
    assert ("tenant_id", "tenants") in foreign_keys(db_url, "user_roles")
    clean = call(project, db_url, "makemigrations", check=True)
    assert "No changes detected" in clean.err


def test_committed_tree_has_minimal_links(project: Path) -> None:
    graph = load_graph(project)
    assert_minimal_links(graph)
    assert graph.get(REV[("auth", "0002_add_user_roles_fk")]).depends_on == (REV[("tenant", "0001_initial")],)


def test_links_stay_minimal_across_a_chain_of_new_components(project: Path, make_component: MakeComponent,
                                                             sqlite_url: str) -> None:
    """A table referencing users, tenants and projects depends on project alone (it implies the others)."""
    models = '''
from sqlalchemy.orm import Mapped

from memstack.core.db import Base, fk, id_column


class Share(Base):
    __tablename__ = "shares"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = fk("users.id", nullable=False)
    tenant_id: Mapped[str] = fk("tenants.id", nullable=False)
    project_id: Mapped[str] = fk("projects.id", nullable=False)
    memo_id: Mapped[str] = fk("memos.id", nullable=True)
'''
    label = _new_component(project, make_component, models)
    call(project, sqlite_url, "makemigrations")
    revision = parsed(revision_files(project, label)[0])
    # users -> auth 0001, tenants -> tenant 0001 (both implied by project 0001), projects -> project 0001,
    # memos -> memo 0001: the creating revisions, reduced
    assert set(revision.depends_on) == {REV[("project", "0001_initial")], REV[("memo", "0001_initial")]}
    assert_minimal_links(load_graph(project))
    call(project, sqlite_url, "migrate", label)
    assert {c for c, _ in applied_set(project, sqlite_url)} == {"auth", "tenant", "project", "memo", label}
