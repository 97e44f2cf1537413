"""Unexpected values in memstack's own tables and ``alembic_version``: what a hand edit, a bad
restore, another tool or a half-written row can leave there. Each draw is one SQL statement run on
a database migrated to the heads (SQLite: no type is enforced, so any value fits any column)."""

from __future__ import annotations

from hypothesis import strategies as st

MEMO_HEAD = "bc9a7cdd598c"

VALUES = st.sampled_from(["NULL", "''", "' '", "'x'", "'zzz'", "-1", "0", "1", "2", "99999999999", "1.5",
                          "'9999-99-99'", "'not a date'", "'2026-12-07 10:00:00'", "'{}'", "'[]'", "'{\"a\": 1}'",
                          "'" + "a" * 300 + "'", "'caf\u00e9'", "X'00ff'", f"'{MEMO_HEAD}'", "'nan'", "'ffffffffffff'"])

#: (table, column) pairs of memstack's bookkeeping and Alembic's version table
COLUMNS = st.sampled_from([
    ("memstack_applied", "checksum"), ("memstack_applied", "verified"), ("memstack_applied", "applied_at"),
    ("memstack_applied", "component"), ("memstack_applied", "name"), ("memstack_applied", "revision"),
    ("memstack_history", "event"), ("memstack_history", "direction"), ("memstack_history", "started_at"),
    ("memstack_history", "finished_at"), ("memstack_history", "duration_ms"), ("memstack_history", "success"),
    ("memstack_history", "component"), ("memstack_history", "revision"), ("memstack_history", "checksum"),
    ("memstack_history", "source"), ("memstack_meta", "value"), ("alembic_version", "version_num"),
])
ROW_INSERTS = st.sampled_from([
    "INSERT INTO memstack_marks (revision, component, name, direction, state, started_at) "
    "VALUES ('{v}', 'memo', '0001_initial', 'up', 'running', '2026-12-07 10:00:00')",
    "INSERT INTO memstack_marks (revision, component, name, direction, state, started_at) "
    f"VALUES ('{MEMO_HEAD}', 'memo', '0001_initial', '{{v}}', '{{v}}', '{{v}}')",
    "INSERT INTO memstack_tags (name, created_at, state) VALUES ('t', '2026-12-07 10:00:00', '{v}')",
    "INSERT INTO memstack_meta (key, value) VALUES ('{v}', '{v}')",
    "INSERT INTO alembic_version (version_num) VALUES ('{v}')",
    "DELETE FROM memstack_meta WHERE key = 'schema_version'",
    "UPDATE memstack_meta SET value = '{v}' WHERE key = 'schema_version'",
    "DROP TABLE memstack_applied",
    "DELETE FROM alembic_version",
])
RAW = st.sampled_from(["x", "", "99", "-1", "running", "zzzz", "a" * 40, "{", "[1]", "caf\u00e9", "bc9a7cdd598c"])


@st.composite
def corruptions(draw: st.DrawFn) -> str:
    """One SQL statement that leaves an unexpected value behind."""
    if draw(st.booleans()):
        table, column = draw(COLUMNS)
        return f"UPDATE {table} SET {column} = {draw(VALUES)}"
    return draw(ROW_INSERTS).replace("{v}", draw(RAW).replace("'", "''"))
