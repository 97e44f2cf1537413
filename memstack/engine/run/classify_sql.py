"""What raw SQL does to data: the ``op.execute`` half of the revision classifier.

Statements are split on ``;`` outside quotes, dollar quotes and comments, then read by their
leading words. The rules, conservative where a statement could lose values:

* destructive: ``DROP TABLE``, ``DROP SCHEMA``/``DATABASE``, ``ALTER TABLE ... DROP [COLUMN]
  c``, a column type change (``ALTER COLUMN c [SET DATA] TYPE``, MySQL's ``MODIFY``/``CHANGE``:
  raw SQL does not say the old type, so it counts as one that can alter values),
  ``TRUNCATE``, ``DELETE`` (with or without ``WHERE``: rows go either way);
* data (writes rows, removes none; not destructive): ``INSERT``, ``UPDATE`` (a backfill is
  the usual case, and whether it overwrites values the author wanted cannot be told from SQL);
* DDL only: every other ``CREATE``, ``ALTER``, ``DROP`` (index, view, constraint, sequence,
  function: no rows of their own), ``COMMENT``, ``GRANT``, ``SET``, ``SELECT``, ...;
* code (shown, not by itself destructive): ``DO`` blocks, ``CALL``, ``EXECUTE``, and any
  statement whose first word is not known here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["classify_sql", "split_statements"]

@dataclass(frozen=True)
class Fact:
    """One thing a step does. ``effect``: destructive | ddl | data | code; ``kind`` says what exactly."""
    effect: str
    kind: str  # drop_table | drop_column | type_change | truncate | delete_rows | drop_schema | insert | update
    #            | sql | code | the lower-cased Alembic operation (createtable, addcolumn, ...)
    table: str | None = None
    column: str | None = None
    schema: str | None = None
    from_type: str | None = None
    to_type: str | None = None
    why: str = ""
    sql: str | None = None
    condition: str | None = None  # a DELETE's WHERE clause
    line: int | None = None

    def as_json(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != ""}



_NAME = r'(?:"[^"]+"|`[^`]+`|\[[^\]]+\]|[\w$]+)'
_QUALIFIED = rf"({_NAME}(?:\s*\.\s*{_NAME})?)"
_DDL_WORDS = frozenset({"CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE", "SET", "RESET", "SELECT", "WITH",
                        "ANALYZE", "VACUUM", "REINDEX", "REFRESH", "CLUSTER", "LOCK", "PRAGMA", "RENAME",
                        "BEGIN", "COMMIT", "START", "SAVEPOINT", "RELEASE", "ROLLBACK", "NOTIFY", "SHOW",
                        "SECURITY", "VALIDATE", "OPTIMIZE", "FLUSH", "USE", "EXPLAIN", "DECLARE"})
_DROP_DATA = re.compile(rf"^DROP\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+EXISTS\s+)?{_QUALIFIED}", re.I)
_DROP_SCHEMA = re.compile(rf"^DROP\s+(SCHEMA|DATABASE)\s+(?:IF\s+EXISTS\s+)?{_QUALIFIED}", re.I)
_ALTER = re.compile(rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_QUALIFIED}\s+(.*)$", re.I | re.S)
_DROP_COLUMN = re.compile(rf"(?:^|,)\s*DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?(?!CONSTRAINT\b|INDEX\b|KEY\b|"
                          rf"PRIMARY\b|FOREIGN\b|CHECK\b|DEFAULT\b|NOT\b|EXPRESSION\b|IDENTITY\b|PARTITION\b)"
                          rf"({_NAME})", re.I)
_TYPE_CHANGE = re.compile(rf"(?:^|,)\s*(?:ALTER\s+(?:COLUMN\s+)?({_NAME})\s+(?:SET\s+DATA\s+)?TYPE\s+([^,]+)|"
                          rf"MODIFY\s+(?:COLUMN\s+)?({_NAME})\s+([^,]+)|"
                          rf"CHANGE\s+(?:COLUMN\s+)?{_NAME}\s+({_NAME})\s+([^,]+))", re.I)
_TRUNCATE = re.compile(rf"^TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?{_QUALIFIED}", re.I)
_DELETE = re.compile(rf"^DELETE\s+FROM\s+(?:ONLY\s+)?{_QUALIFIED}(?:\s+(?:AS\s+)?(?!WHERE\b){_NAME})?\s*(.*)$",
                     re.I | re.S)


def split_statements(sql: str) -> list[str]:
    """``sql`` cut into statements, comments removed; quotes and ``$tag$`` bodies kept whole."""
    statements: list[str] = []
    current: list[str] = []
    index, length = 0, len(sql)
    while index < length:
        char = sql[index]
        if sql.startswith("--", index):
            end = sql.find("\n", index)
            index = length if end < 0 else end
            continue
        if sql.startswith("/*", index):
            end = sql.find("*/", index + 2)
            index = length if end < 0 else end + 2
            current.append(" ")
            continue
        if char in "'\"`":
            end = index + 1
            while end < length and not (sql[end] == char and not sql.startswith(char * 2, end)):
                end += 2 if sql.startswith(char * 2, end) else 1
            current.append(sql[index:end + 1])
            index = end + 1
            continue
        tag = re.match(r"\$[A-Za-z_]*\$", sql[index:]) if char == "$" else None
        if tag:
            end = sql.find(tag.group(0), index + len(tag.group(0)))
            end = length if end < 0 else end + len(tag.group(0))
            current.append(sql[index:end])
            index = end
            continue
        if char == ";":
            statements.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    statements.append("".join(current))
    return [" ".join(s.split()) if "$" not in s and "'" not in s else s.strip() for s in statements if s.strip()]


def _unquote(name: str) -> str:
    return name.strip().strip('"`[]')


def _split_name(qualified: str) -> tuple[str | None, str]:
    parts = [_unquote(p) for p in re.split(r"\s*\.\s*(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", qualified.strip())]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def classify_sql(sql: str) -> list[Fact]:
    """Per statement of ``sql``, what it does (one fact, or several for a multi-clause ALTER TABLE)."""
    facts: list[Fact] = []
    for statement in split_statements(sql):
        facts.extend(_classify_statement(statement))
    return facts


def _classify_statement(statement: str) -> list[Fact]:
    short = statement if len(statement) <= 200 else statement[:197] + "..."
    first = (statement.split(None, 1) or [""])[0].upper().rstrip("(")
    found = _DROP_DATA.match(statement)
    if found:
        schema, name = _split_name(found.group(1))
        return [Fact("destructive", "drop_table", name, schema=schema, why="DROP TABLE", sql=short)]
    found = _DROP_SCHEMA.match(statement)
    if found:
        return [Fact("destructive", "drop_schema", None, schema=_unquote(found.group(2)),
                     why=f"DROP {found.group(1).upper()}", sql=short)]
    found = _ALTER.match(statement)
    if found:
        return _alter_table(found.group(1), found.group(2), short)
    found = _TRUNCATE.match(statement)
    if found:
        schema, name = _split_name(found.group(1))
        return [Fact("destructive", "truncate", name, schema=schema, why="TRUNCATE", sql=short)]
    found = _DELETE.match(statement)
    if found:
        schema, name = _split_name(found.group(1))
        rest = found.group(2).strip()
        where = rest[5:].strip() if rest.upper().startswith("WHERE") else None
        why = "DELETE with a WHERE clause" if where is not None else "DELETE of every row"
        if rest and where is None:
            why = "DELETE (with a clause memstack does not read)"
        return [Fact("destructive", "delete_rows", name, schema=schema, why=why, sql=short, condition=where)]
    if first in ("INSERT", "UPDATE", "REPLACE", "MERGE", "COPY", "UPSERT"):
        kind = "update" if first == "UPDATE" else "insert"
        return [Fact("data", kind, None, why=f"{first} writes rows and removes none", sql=short)]
    if first in _DDL_WORDS:
        return [Fact("ddl", "sql", None, why=first, sql=short)]
    return [Fact("code", "sql", None, why=f"a {first or 'blank'} statement memstack cannot classify", sql=short)]


def _alter_table(qualified: str, body: str, short: str) -> list[Fact]:
    schema, name = _split_name(qualified)
    facts: list[Fact] = []
    for found in _DROP_COLUMN.finditer(body):
        facts.append(Fact("destructive", "drop_column", name, _unquote(found.group(1)), schema=schema,
                          why="ALTER TABLE ... DROP COLUMN", sql=short))
    for found in _TYPE_CHANGE.finditer(body):
        column = found.group(1) or found.group(3) or found.group(5)
        new_type = (found.group(2) or found.group(4) or found.group(6) or "").strip()
        new_type = re.split(r"\s+(?:USING|NOT|NULL|DEFAULT|COLLATE|FIRST|AFTER|COMMENT)\b", new_type, flags=re.I)[0]
        facts.append(Fact("destructive", "type_change", name, _unquote(column), schema=schema, to_type=new_type,
                          why="a type change in raw SQL (the old type is not stated, so values may change)",
                          sql=short))
    return facts or [Fact("ddl", "sql", name, schema=schema, why="ALTER TABLE", sql=short)]
