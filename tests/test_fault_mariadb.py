"""MariaDB's marks tell the truth (issue 20, point 5): a step that timed out waiting for a table
lock before any DDL ran leaves no mark, and a ``batch_alter_table`` revision that failed half-way
gets the same report of its objects as a plain one."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.faults import reader_holding
from support.inspect import marks, version_rows
from support.revisions import chain_component, write_revision
from support.running import manage

from memstack.engine.run.halfway import expected_objects

ADD_COLUMN = 'op.add_column("{table}", sa.Column("extra", sa.Integer()))'
BATCH_HALF_WAY = "\n".join([
    'with op.batch_alter_table("{table}") as batch_op:',
    '    batch_op.add_column(sa.Column("first", sa.Integer()))',
    'op.execute("INSERT INTO no_such_table_here (id) VALUES (1)")',
    'with op.batch_alter_table("{table}") as batch_op:',
    '    batch_op.add_column(sa.Column("second", sa.Integer()))',
    '    batch_op.create_index("ix_{table}_second", ["second"])',
])


def _second_revision(make_component, project: Path, body: str):  # type: ignore[no-untyped-def]
    """Two revisions: 1 creates <label>_t1; 2 runs only ``body`` (no table of its own first)."""
    chain = chain_component(make_component, project, 2, prefix="mar")
    write_revision(chain.folder, chain.names[1], chain.ids[1], chain.ids[0],
                   upgrade=body.format(table=chain.table(1)), downgrade="pass")
    return chain


@pytest.mark.slow_faults
@pytest.mark.mariadb
def test_a_lock_wait_timeout_before_any_ddl_leaves_no_mark(project: Path, mariadb_url: str,
                                                          make_component) -> None:
    chain = _second_revision(make_component, project, ADD_COLUMN)
    assert manage(project, mariadb_url, "migrate", chain.label, chain.names[0],
                  pythonpath=[chain.packages_dir]).code == 0
    with reader_holding(mariadb_url, chain.table(1)):
        timed_out = manage(project, mariadb_url, "migrate", "--ddl-lock-timeout", "1",
                           pythonpath=[chain.packages_dir])
    assert timed_out.code == 1, timed_out
    assert "Lock wait timeout" in timed_out.err or "gave up waiting for table locks" in timed_out.err  # the guard
    assert "none of the step's statements took effect, so it left no mark" in timed_out.err
    assert "repair" not in timed_out.err and "--fake" not in timed_out.err
    assert marks(mariadb_url) == []
    again = manage(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir])  # no repair needed
    assert again.code == 0, again
    assert version_rows(mariadb_url) == {chain.ids[1]}


@pytest.mark.mariadb
def test_a_batch_revision_failed_half_way_lists_its_objects(project: Path, mariadb_url: str,
                                                           make_component) -> None:
    chain = _second_revision(make_component, project, BATCH_HALF_WAY)
    failed = manage(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir])
    assert failed.code == 1, failed
    assert [m["state"] for m in marks(mariadb_url)] == ["failed"]
    refused = manage(project, mariadb_url, "migrate", pythonpath=[chain.packages_dir])
    assert refused.code == 1
    table = chain.table(1)
    assert f"done: column {table}.first exists" in refused.err, refused.err
    assert f"column {table}.second is missing" in refused.err
    assert f"index ix_{table}_second on {table} is missing" in refused.err
    assert "batch changes" not in refused.err


def test_batch_operations_are_expected_objects(tmp_path: Path) -> None:
    path = tmp_path / "rev.py"
    body = BATCH_HALF_WAY.format(table="t").replace("\n", "\n    ")
    path.write_text(f"import sqlalchemy as sa\nfrom alembic import op\n\n\ndef upgrade():\n    {body}\n",
                    encoding="utf-8")
    expected, unchecked = expected_objects(path, "up", "mysql")
    assert [(e.kind, e.table, e.name, e.exists_after) for e in expected] == [
        ("column", "t", "first", True), ("column", "t", "second", True), ("index", "t", "ix_t_second", True)]
    assert unchecked == ["an op.execute statement"]
