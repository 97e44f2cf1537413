"""Schema snapshots of memstack.testing: the diff wording (pure) and the SQLite cache against a real file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from memstack.testing.snapshot import SnapshotCache, describe_difference, take_snapshot


def _table(**columns: str) -> dict[str, object]:
    return {"columns": columns, "primary_key": ["id"], "foreign_keys": [], "indexes": [], "unique": []}


def test_the_difference_names_tables_and_columns() -> None:
    before = {"items": _table(id="INTEGER NOT NULL", name="VARCHAR(50) NOT NULL"), "gone": _table(id="INTEGER")}
    after = {"items": _table(id="INTEGER NOT NULL", name="VARCHAR(80) NOT NULL", price="INTEGER NULL"),
             "extra": _table(id="INTEGER")}
    assert describe_difference(before, after) == [
        "table gone is missing",
        "table extra is left over (columns: id)",
        "column items.price is left over (INTEGER NULL)",
        "column items.name was VARCHAR(50) NOT NULL, is now VARCHAR(80) NOT NULL",
    ]


def test_equal_snapshots_have_no_difference() -> None:
    assert describe_difference({"t": _table(id="INTEGER")}, {"t": _table(id="INTEGER")}) == []


def test_the_sqlite_cache_sees_every_change(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    cache = SnapshotCache()
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50))"))
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
    first = take_snapshot(engine, cache)
    assert list(first) == ["items"]  # alembic_version is bookkeeping
    with engine.begin() as connection:
        connection.execute(text("CREATE INDEX ix_items_name ON items (name)"))
    cached = take_snapshot(engine, cache)
    assert cached == take_snapshot(engine) != first
    assert cached["items"]["indexes"] == ["ix_items_name(name)"]
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE items"))
    assert take_snapshot(engine, cache) == {}
    engine.dispose()
