"""A generated revision creating a table whose foreign-key column is indexed runs up, down and up
on MariaDB (issue 22 point 7): the downgrade drops the table, with its indexes, instead of
dropping an index a foreign key needs first (MariaDB error 1553). Generated on MariaDB, run on
every dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.inspect import table_names
from support.projects import set_components
from support.revisions import revision_files
from support.running import call

MakeComponent = Callable[..., str]

MODELS = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base


class Shelf(Base):
    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    shelf_id: Mapped[int] = mapped_column(sa.ForeignKey("shelves.id"), index=True)
    title: Mapped[str | None] = mapped_column(sa.String(40), index=True)
'''


@pytest.mark.mariadb
def test_indexed_foreign_key_table_generated_on_mariadb_downgrades_there(
        project: Path, make_component: MakeComponent, request: pytest.FixtureRequest) -> None:
    mariadb = request.getfixturevalue("mariadb_url")
    package = make_component({"models.py": MODELS}, prefix="books")
    set_components(project, {"package": package, "label": "books"})
    call(project, mariadb, "makemigrations", "books")
    [created] = revision_files(project, "books")
    text = created.read_text()
    assert "create_index" in text and "ix_books_shelf_id" in text
    for dialect in ("mariadb", "sqlite", "postgres"):
        url = mariadb if dialect == "mariadb" else request.getfixturevalue(f"{dialect}_url")
        call(project, url, "migrate", "books")
        assert {"books", "shelves"} <= table_names(url), dialect
        call(project, url, "migrate", "books", "zero", yes=True)
        assert not {"books", "shelves"} & table_names(url), dialect
        call(project, url, "migrate", "books")
        assert {"books", "shelves"} <= table_names(url), dialect
