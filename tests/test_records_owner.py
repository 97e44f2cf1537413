"""One module writes memstack's tables: ``memstack/engine/records/recorder.py`` (issue 19).

Adding a column to history must touch that module, its tests and the output that shows it,
nothing else; so no other module under ``memstack/`` may hold a statement that writes
``alembic_version`` or a ``memstack_*`` table: SQL text (INSERT/UPDATE/DELETE/CREATE/ALTER/DROP/
TRUNCATE naming one) or SQLAlchemy Core on their Table objects (``insert(history_table)``,
``history_table.insert()``, ``bookkeeping_metadata.create_all``, ``CreateTable(version_table)``).
"""

from __future__ import annotations

import re
from pathlib import Path

import memstack

PACKAGE = Path(memstack.__file__).parent
OWNER = PACKAGE / "engine" / "records" / "recorder.py"
TABLE_OBJECTS = r"(?:version|meta|history|applied|marks|tags)_table"
WRITES = [
    re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|(?:CREATE|ALTER|DROP|TRUNCATE)\s+TABLE(?:\s+IF\s+(?:NOT\s+)?"
               r"EXISTS)?)\s+[\"`]?(?:memstack_\w+|alembic_version|\{[\w.]+\})", re.IGNORECASE),
    re.compile(rf"\b(?:insert|update|delete|CreateTable|DropTable)\(\s*{TABLE_OBJECTS}\b"),
    re.compile(rf"\b{TABLE_OBJECTS}\s*\.\s*(?:insert|update|delete|create|drop)\("),
    re.compile(r"\bbookkeeping_metadata\s*\.\s*(?:create_all|drop_all)\("),
]


def writers(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    found = []
    for pattern in WRITES:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {match.group(0)}")
    return found


def test_only_the_owner_writes_memstacks_tables() -> None:
    others = [hit for path in sorted(PACKAGE.rglob("*.py")) if path != OWNER for hit in writers(path)]
    assert others == [], "statements writing memstack's tables outside records/recorder.py:\n" + "\n".join(others)


def test_the_grep_sees_the_owners_writes() -> None:
    """The patterns are not vacuous: they find every kind of write in the owner itself."""
    found = "\n".join(writers(OWNER))
    for needle in ("insert(history_table", "delete(version_table", "update(applied_table", "create_all(",
                   "ALTER TABLE memstack_history", "UPDATE {version}", "INSERT INTO {table.name}",
                   "CreateTable(version_table"):
        assert needle in found, needle


def test_a_writer_elsewhere_is_caught(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('connection.execute(meta_table.delete())\nexec_driver_sql("DELETE FROM memstack_marks")\n'
                      'connection.execute(insert(tags_table).values(name="x"))\n'
                      'sql = "UPDATE alembic_version SET version_num = 1"\n', encoding="utf-8")
    hits = [hit for pattern in WRITES for hit in pattern.findall(sample.read_text(encoding="utf-8"))]
    assert len(hits) == 4
