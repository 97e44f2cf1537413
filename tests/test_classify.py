"""The revision classifier on many revision shapes, without a database.

Each revision is written to a file, imported, and its upgrade() called against the recording
``op``; the facts say what it destroys, what is DDL only, what writes rows, and what runs code
the classifier cannot read.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from support.revisions import indent

from memstack.engine.run.alembic_config import alembic_setup, load_revision_module
from memstack.engine.run.classify import Classification, classify_module, widens
from memstack.engine.run.classify_sql import classify_sql, split_statements

_COUNTER = itertools.count()


def classify(tmp_path: Path, body: str, dialect: str = "postgresql", module: str = "") -> Classification:
    path = tmp_path / f"r{next(_COUNTER)}.py"
    path.write_text("import sqlalchemy as sa\nfrom alembic import op, context\n" + module + "\n\n"
                    "def upgrade() -> None:\n" + indent(body) + "\n\n\ndef downgrade() -> None:\n    pass\n")
    return classify_module(load_revision_module(path), "up", alembic_setup(), dialect)


def shape(found: Classification) -> list[tuple[str, str, str | None, str | None]]:
    return [(f.effect, f.kind, f.table, f.column) for f in found.facts]


def test_drops_are_destructive_creates_are_not(tmp_path: Path) -> None:
    found = classify(tmp_path, """
op.create_table("a", sa.Column("id", sa.Integer(), primary_key=True))
op.add_column("b", sa.Column("x", sa.String(10)))
op.create_index("ix", "b", ["x"])
op.drop_index("old_ix", table_name="b")
op.drop_constraint("fk", "b", type_="foreignkey")
op.drop_column("b", "gone")
op.drop_table("c", schema="s")
""")
    assert shape(found) == [("ddl", "createtable", "a", None), ("ddl", "addcolumn", "b", None),
                            ("ddl", "createindex", "b", None), ("ddl", "dropindex", "b", None),
                            ("ddl", "dropconstraint", "b", None), ("destructive", "drop_column", "b", "gone"),
                            ("destructive", "drop_table", "c", None)]
    assert found.destructive and found.facts[-1].schema == "s" and not found.code and found.declared is None


def test_batch_alter_table_and_the_sqlite_copy_and_cast(tmp_path: Path) -> None:
    body = """
with op.batch_alter_table("notes", schema=None) as batch_op:
    batch_op.alter_column("rank", existing_type=sa.String(length=10), type_=sa.Integer(), existing_nullable=True)
    batch_op.alter_column("body", existing_type=sa.String(length=40), type_=sa.String(length=200))
    batch_op.alter_column("title", existing_type=sa.String(length=40), nullable=False)
    batch_op.drop_column("old")
"""
    found = classify(tmp_path, body, "sqlite")
    assert shape(found) == [("destructive", "type_change", "notes", "rank"), ("ddl", "alter_column", "notes", "body"),
                            ("ddl", "alter_column", "notes", "title"), ("destructive", "drop_column", "notes", "old")]
    cast = found.facts[0]
    assert (cast.from_type, cast.to_type) == ("VARCHAR(10)", "INTEGER")
    assert "CAST" in cast.why
    assert not found.code  # a batch block is not "Python between operations"
    assert "SQLite" not in classify(tmp_path, body, "postgresql").facts[0].why


@pytest.mark.parametrize(("old", "new", "safe"), [
    ("sa.String(10)", "sa.String(20)", True), ("sa.String(20)", "sa.String(10)", False),
    ("sa.String(20)", "sa.Text()", True), ("sa.Text()", "sa.String(20)", False),
    ("sa.Integer()", "sa.BigInteger()", True), ("sa.BigInteger()", "sa.Integer()", False),
    ("sa.SmallInteger()", "sa.Integer()", True), ("sa.String(10)", "sa.Integer()", False),
    ("sa.Numeric(10, 2)", "sa.Numeric(12, 2)", True), ("sa.Numeric(10, 2)", "sa.Numeric(10, 0)", False),
    ("sa.Float()", "sa.Integer()", False), ("sa.DateTime()", "sa.Date()", False),
    ("sa.DateTime()", "sa.DateTime(timezone=True)", False), ("sa.Enum('a', name='e')", "sa.Enum('a', 'b', name='e')",
                                                            True),
    ("sa.String(5)", "sa.Enum('a', name='e')", False),
])
def test_which_type_changes_keep_every_value(old: str, new: str, safe: bool) -> None:
    import sqlalchemy as sa

    assert widens(eval(old, {"sa": sa}), eval(new, {"sa": sa})) is safe


def test_a_type_change_without_the_old_type_is_destructive(tmp_path: Path) -> None:
    found = classify(tmp_path, 'op.alter_column("t", "c", type_=sa.BigInteger())')
    assert found.destructive and found.facts[0].from_type is None
    assert "does not record" in found.facts[0].why


def test_raw_sql_through_op_execute(tmp_path: Path) -> None:
    found = classify(tmp_path, '''
op.execute("UPDATE notes SET body = upper(body)")
op.execute("DELETE FROM notes WHERE body IS NULL; TRUNCATE audit")
op.execute(sa.text("ALTER TABLE notes DROP COLUMN legacy, ADD COLUMN x int"))
op.execute("CREATE INDEX CONCURRENTLY ix ON notes (body)")
op.execute("DO $$ BEGIN PERFORM 1; END $$")
notes = sa.table("notes", sa.column("id"))
op.execute(notes.delete().where(notes.c.id > 5))
op.execute(notes.insert().values(id=1))
op.bulk_insert(notes, [{"id": 2}])
''')
    assert shape(found) == [("data", "update", None, None), ("destructive", "delete_rows", "notes", None),
                            ("destructive", "truncate", "audit", None),
                            ("destructive", "drop_column", "notes", "legacy"),
                            ("ddl", "sql", None, None), ("code", "sql", None, None),
                            ("destructive", "delete_rows", "notes", None), ("data", "insert", "notes", None),
                            ("data", "insert", "notes", None)]
    assert found.facts[1].condition == "body IS NULL"
    assert found.facts[6].condition == "notes.id > 5"
    assert found.facts[5].why.startswith("a DO statement")


@pytest.mark.parametrize(("sql", "expected"), [
    ("DROP TABLE IF EXISTS public.\"Notes\"", [("destructive", "drop_table", "Notes", None)]),
    ("drop schema tenant_a cascade", [("destructive", "drop_schema", None, None)]),
    ("DROP INDEX ix; DROP VIEW v; DROP SEQUENCE s", [("ddl", "sql", None, None)] * 3),
    ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL", [("ddl", "sql", "t", None)]),
    ("ALTER TABLE t DROP CONSTRAINT fk_x", [("ddl", "sql", "t", None)]),
    ("ALTER TABLE t ALTER COLUMN c TYPE integer USING c::integer", [("destructive", "type_change", "t", "c")]),
    ("ALTER TABLE `t` MODIFY COLUMN `c` INT NOT NULL", [("destructive", "type_change", "t", "c")]),
    ("ALTER TABLE t CHANGE old new VARCHAR(5)", [("destructive", "type_change", "t", "new")]),
    ("ALTER TABLE t RENAME COLUMN a TO b", [("ddl", "sql", "t", None)]),
    ("delete from t", [("destructive", "delete_rows", "t", None)]),
    ("INSERT INTO t VALUES ('; DROP TABLE x')", [("data", "insert", None, None)]),
    ("-- DROP TABLE x\nSELECT 1 /* ; DROP TABLE y */", [("ddl", "sql", None, None)]),
    ("CALL cleanup()", [("code", "sql", None, None)]),
    ("VACUUM", [("ddl", "sql", None, None)]),
])
def test_sql_statements(sql: str, expected: list[tuple[str, str, str | None, str | None]]) -> None:
    assert [(f.effect, f.kind, f.table, f.column) for f in classify_sql(sql)] == expected


def test_statements_split_outside_quotes_and_dollar_bodies() -> None:
    sql = "SELECT ';'; CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT \"a;b\""
    assert len(split_statements(sql)) == 3


def test_code_it_cannot_classify_is_shown_not_destructive(tmp_path: Path) -> None:
    found = classify(tmp_path, '''
bind = op.get_bind()
rows = bind.execute(sa.text("SELECT id FROM notes")).fetchall()
for row in rows:
    op.execute(f"UPDATE notes SET body = 'x' WHERE id = {row[0]}")
''')
    reasons = [f.why for f in found.code]
    assert "reads the database through op.get_bind()" in reasons
    assert "runs Python between its operations" in reasons
    assert not any(r.startswith("stops when recorded") for r in reasons)  # read from its source, never run
    assert not found.destructive
    lines = {f.why: f.line for f in found.code}
    assert lines["reads the database through op.get_bind()"] == 6  # the file's own line numbers


def test_x_arguments_autocommit_blocks_and_helpers(tmp_path: Path) -> None:
    found = classify(tmp_path, '''
tenant = context.get_x_argument(as_dictionary=True).get("tenant", "public")
with op.get_context().autocommit_block():
    op.create_index("ix", "notes", ["body"], postgresql_concurrently=True)
''')
    assert {f.why for f in found.code} == {"reads -x arguments (context.get_x_argument())",
                                           "commits half-way (autocommit_block)"}
    assert ("ddl", "createindex", "notes", None) in shape(found)
    helper = classify(tmp_path, 'print("hello")\nop.drop_column("t", "c")')
    assert helper.destructive and [f.why for f in helper.code] == ["runs Python between its operations"]


def test_declared_destruction_is_carried_and_still_destructive(tmp_path: Path) -> None:
    found = classify(tmp_path, 'op.drop_column("t", "legacy")', module='destroys_data = "legacy is unused since 2024"')
    assert found.declared == "legacy is unused since 2024" and found.destructive
    assert classify(tmp_path, "pass", module="destroys_data = True").declared == "yes"


def test_a_revision_with_code_of_its_own_is_read_not_run(tmp_path: Path) -> None:
    """Its Python would run before the lock and again in the step: its literal op calls are read instead."""
    marker = tmp_path / "ran"
    found = classify(tmp_path, f"""
open({str(marker)!r}, "w").close()
op.drop_column("notes", "body")
with op.batch_alter_table("tags") as batch:
    batch.drop_column("colour")
op.execute("DELETE FROM notes WHERE id < 10")
op.drop_table(computed_name())
""", module="import os\n\ndef computed_name():\n    return 'x'\n")
    assert not marker.exists()
    assert [(f.effect, f.kind, f.table, f.column) for f in found.facts if f.effect == "destructive"] == [
        ("destructive", "drop_column", "notes", "body"), ("destructive", "drop_column", "tags", "colour"),
        ("destructive", "delete_rows", "notes", None)]
    assert found.code and "runs Python between its operations" in {f.why for f in found.facts}


def test_assignments_of_helpers_are_still_recorded(tmp_path: Path) -> None:
    found = classify(tmp_path, """
notes = sa.table("notes", sa.column("id", sa.Integer()))
op.bulk_insert(notes, [{"id": 1}])
op.drop_column("notes", "body")
""")
    assert ("destructive", "drop_column", "notes", "body") in shape(found)
