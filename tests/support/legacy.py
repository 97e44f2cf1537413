"""Databases as MemStack's old code built them, for adoption tests.

The old code ran ``create_all`` on models without the four legacy columns (and without any
naming convention), then any subset of four hand-written "add the column if missing" steps.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import MetaData, create_engine, text

LEGACY_STEPS = ("task_id", "progress", "result", "message")
_LEGACY_COLUMNS = {("memories", "task_id"), ("task_logs", "progress"), ("task_logs", "result"),
                   ("task_logs", "message")}


def pre_legacy_metadata() -> MetaData:
    """The models as they were before the four columns: no naming convention, no legacy columns."""
    import memstack.memory.models
    import memstack.task.models  # noqa: F401
    from memstack.core.components import build_registry
    from memstack.core.db import metadata
    from memstack.core.settings import load_settings

    del build_registry, load_settings
    for module in ("auth", "tenant", "project", "memory", "ontology", "memo", "task"):
        __import__(f"memstack.{module}.models")
    old = MetaData()
    for table in metadata.sorted_tables:
        copy = table.to_metadata(old)
        for table_name, column in _LEGACY_COLUMNS:
            if copy.name == table_name:
                copy._columns.remove(copy.c[column])
        for index in list(copy.indexes):
            if index.name == "idx_task_logs_progress":
                copy.indexes.discard(index)
    return old


def legacy_step_sql(step: str, dialect: str) -> list[str]:
    """The old code's hand-written steps (PostgreSQL spelling; JSON where JSONB does not exist)."""
    json_type = "JSONB" if dialect == "postgresql" else "JSON"
    return {
        "task_id": ["ALTER TABLE memories ADD COLUMN task_id VARCHAR(255) NULL"],
        "progress": ["ALTER TABLE task_logs ADD COLUMN progress INTEGER NULL DEFAULT 0",
                     "CREATE INDEX idx_task_logs_progress ON task_logs (progress)"],
        "result": [f"ALTER TABLE task_logs ADD COLUMN result {json_type} NULL"],
        "message": ["ALTER TABLE task_logs ADD COLUMN message VARCHAR(255) NULL"],
    }[step]


def build_legacy_database(url: str, steps: Iterable[str] = (), *, stamp: str | None = None) -> None:
    """Build the old schema on ``url``, apply the given legacy steps, optionally stamp a version row."""
    engine = create_engine(url)
    try:
        pre_legacy_metadata().create_all(engine)
        with engine.begin() as connection:
            for step in steps:
                for statement in legacy_step_sql(step, engine.dialect.name):
                    connection.execute(text(statement))
            if stamp is not None:
                connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
                connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": stamp})
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- comparing schemas


def schema_signature(url: str) -> dict[str, dict[str, object]]:
    """Per application table: columns (type, nullable, SQL default), primary key, foreign keys,
    indexes and unique constraints, with their names.

    SQLite keeps no name for a constraint created without one (the old ``create_all`` named
    none), so there the primary key, foreign keys and unique constraints are compared by their
    columns only; index names are compared on every backend.
    """
    from sqlalchemy import inspect
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            named = connection.dialect.name != "sqlite"
            tables: dict[str, dict[str, object]] = {}
            for table in sorted(inspector.get_table_names()):
                if table.startswith("memstack_") or table == "alembic_version":
                    continue
                pk = inspector.get_pk_constraint(table)
                tables[table] = {
                    "columns": {c["name"]: (str(c["type"]), bool(c["nullable"]),
                                            None if c.get("default") is None else str(c["default"]))
                                for c in inspector.get_columns(table)},
                    "primary_key": (pk.get("name") if named else None, tuple(pk["constrained_columns"])),
                    "foreign_keys": sorted((fk.get("name") if named else None, tuple(fk["constrained_columns"]),
                                            fk["referred_table"], tuple(fk["referred_columns"]))
                                           for fk in inspector.get_foreign_keys(table)),
                    "indexes": sorted((ix["name"], tuple(ix["column_names"]), bool(ix.get("unique")))
                                      for ix in inspector.get_indexes(table)),
                    "uniques": sorted((uq.get("name") if named else None, tuple(uq["column_names"]))
                                      for uq in inspector.get_unique_constraints(table)),
                }
            return tables
    finally:
        engine.dispose()


#: one row in each of users, tenants, projects and memories (the data adoption must keep)
SAMPLE_ROWS = (
    ("users", {"id": "u-1", "email": "old@example.com", "password_hash": "x", "name": "Old User",
               "is_active": True}),
    ("tenants", {"id": "t-1", "name": "Old Tenant", "owner_id": "u-1"}),
    ("projects", {"id": "p-1", "tenant_id": "t-1", "name": "Old Project", "owner_id": "u-1"}),
    ("memories", {"id": "m-1", "project_id": "p-1", "title": "A memory", "content": "kept across adoption",
                  "author_id": "u-1"}),
)


def insert_sample_rows(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for table, values in SAMPLE_ROWS:
                names = ", ".join(values)
                marks = ", ".join(f":{name}" for name in values)
                connection.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)
    finally:
        engine.dispose()


def sample_rows_present(url: str) -> dict[str, bool]:
    """{table: whether the sample row is there with its values}."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found: dict[str, bool] = {}
            for table, values in SAMPLE_ROWS:
                row = connection.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": values["id"]})
                mapping = row.mappings().first()
                found[table] = mapping is not None and all(
                    (bool(mapping[k]) if isinstance(v, bool) else mapping[k]) == v for k, v in values.items())
            return found
    finally:
        engine.dispose()
