"""A revision that failed half-way (MariaDB commits each DDL statement): the refusal, ``check``
and ``doctor`` list which of its objects exist and which do not (issue 12, item 7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.databases import connect, execute
from support.inspect import marks, tables
from support.projects import add_alembic_table
from support.revisions import Chain, chain_component, new_id, write_revision
from support.running import cli, manage

from memstack.engine.run.halfway import MarkProgress, expected_objects, mark_progress
from memstack.engine.tree.graph import Revision

#: revision 1 creates <label>_t1 (chain_component), then this fails before <label>_t2 exists
FAILS_AFTER_FIRST_TABLE = "\n".join([
    'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")',
    'op.create_table("{label}_t2", sa.Column("id", sa.Integer(), primary_key=True))',
])


def _failed_half_way(project: Path, url: str, make_component, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> Chain:
    chain = chain_component(make_component, project, 1, prefix="half", bodies={1: FAILS_AFTER_FIRST_TABLE})
    add_alembic_table(project)
    failed = cli(capsys, monkeypatch, project, url, "migrate")
    assert failed.code == 1, failed
    assert chain.table(1) in tables(url) and chain.table(2) not in tables(url)
    assert [m["state"] for m in marks(url)] == ["failed"]
    return chain


# --------------------------------------------------------------------------- MariaDB, end to end


@pytest.mark.mariadb
def test_refusal_lists_what_exists_and_what_does_not(project: Path, mariadb_url: str, make_component,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _failed_half_way(project, mariadb_url, make_component, capsys, monkeypatch)
    refused = manage(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir])
    assert refused.code == 1, refused
    assert "Traceback" not in refused.err
    assert f"table {chain.table(1)} exists" in refused.err
    assert f"table {chain.table(2)} is missing" in refused.err
    assert "not checked: an op.execute statement" in refused.err
    # the fix names both ways out, with the objects to act on
    assert f"undo what is done (table {chain.table(1)} exists)" in refused.err
    assert f"manage.py migrate --fake {chain.label} {chain.names[0]}" in refused.err
    assert chain.table(2) not in tables(mariadb_url)  # the refusal changed nothing


@pytest.mark.mariadb
def test_check_and_doctor_list_the_objects(project: Path, mariadb_url: str, make_component,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    chain = _failed_half_way(project, mariadb_url, make_component, capsys, monkeypatch)
    checked = cli(capsys, monkeypatch, project, mariadb_url, "check", "--database", "--json")
    assert checked.code == 1
    mark = next(p for p in json.loads(checked.out)["problems"] if p["kind"] == "failure_mark")
    assert f"done: table {chain.table(1)} exists" in mark["message"]
    assert f"not done: table {chain.table(2)} is missing" in mark["message"]

    doctored = cli(capsys, monkeypatch, project, mariadb_url, "doctor", "--json")
    item = next(i for i in json.loads(doctored.out)["items"] if i["item"] == "failure marks")
    assert item["status"] == "error"
    assert f"table {chain.table(2)} is missing" in item["detail"]


@pytest.mark.mariadb
def test_after_finishing_by_hand_fake_resolves_it(project: Path, mariadb_url: str, make_component,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Following the listed fix: create what is missing, then --fake; the mark is gone."""
    chain = _failed_half_way(project, mariadb_url, make_component, capsys, monkeypatch)
    execute(mariadb_url, f"CREATE TABLE {chain.table(2)} (id INTEGER PRIMARY KEY)")
    checked = cli(capsys, monkeypatch, project, mariadb_url, "check", "--database", "--json")
    mark = next(p for p in json.loads(checked.out)["problems"] if p["kind"] == "failure_mark")
    assert "not done: nothing" in mark["message"]
    faked = cli(capsys, monkeypatch, project, mariadb_url, "migrate", "--fake", chain.label, chain.names[0])
    assert faked.code == 0, faked
    assert marks(mariadb_url) == []


# --------------------------------------------------------------------------- pure: what a revision touches


def test_expected_objects_are_recorded_without_a_database(tmp_path: Path) -> None:
    path = write_revision(tmp_path, "0001_many", new_id(), None, upgrade="\n".join([
        'op.create_table("a", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.add_column("b", sa.Column("note", sa.String(20)))',
        'op.create_index("ix_b_note", "b", ["note"])',
        'op.create_foreign_key("b_a_id_fkey", "b", "a", ["a_id"], ["id"])',
        'op.drop_table("old")',
        'op.rename_table("c", "d")',
        'op.execute("UPDATE b SET note = \'x\'")',
    ]))
    expected, unchecked = expected_objects(path, "up", "mysql")
    assert [(e.describe(), e.exists_after) for e in expected] == [
        ("table a", True), ("column b.note", True), ("index ix_b_note on b", True),
        ("foreign key b_a_id_fkey on b", True), ("table old", False), ("table c", False), ("table d", True)]
    assert unchecked == ["an op.execute statement"]


def test_recording_leaves_alembic_op_as_it_was(tmp_path: Path) -> None:
    import alembic.op as op_module

    before = getattr(op_module, "_proxy", None)
    path = write_revision(tmp_path, "0001_one", new_id(), None, upgrade='op.drop_table("x")')
    expected_objects(path, "up", "sqlite")
    assert getattr(op_module, "_proxy", None) is before


# ---------------------------------------------------------- on SQLite: a downgrade, a revision needing a bind


def _revision(path: Path) -> Revision:
    return Revision(id="r1", component="c", name=path.stem, path=str(path))


def test_a_half_done_downgrade_says_what_is_still_there(tmp_path: Path, sqlite_url: str) -> None:
    path = write_revision(tmp_path, "0001_two", new_id(), None,
                          downgrade='op.drop_table("gone_t")\nop.drop_table("kept_t")')
    execute(sqlite_url, "CREATE TABLE kept_t (id INTEGER PRIMARY KEY)")
    with connect(sqlite_url) as connection:
        progress = mark_progress(connection, _revision(path), "down")
    assert progress == MarkProgress(done=["table gone_t is gone"], pending=["table kept_t is still there"])
    assert progress.describe() == "done: table gone_t is gone; not done: table kept_t is still there"


def test_a_revision_that_needs_the_database_is_said_so(tmp_path: Path, sqlite_url: str) -> None:
    path = write_revision(tmp_path, "0001_reads", new_id(), None,
                          upgrade='rows = op.get_bind().execute(sa.text("SELECT 1")).fetchall()')
    with connect(sqlite_url) as connection:
        progress = mark_progress(connection, _revision(path), "up")
    assert progress.error and "could not be told" in progress.describe()


def test_a_revision_without_a_known_file(sqlite_url: str) -> None:
    with connect(sqlite_url) as connection:
        progress = mark_progress(connection, Revision(id="r1", component="c", name="0001_x"), "up")
    assert progress.describe() == "which of its objects exist could not be told (its file is not known)"
