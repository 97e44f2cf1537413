"""Item 3 of issue 11: a revision generated on one dialect runs forwards and backwards on
SQLite, PostgreSQL and MariaDB, for a model using every column helper and default the
components use (``string``, ``json``, ``timestamp``, ``id_column``, ``fk``, Boolean with
``sa.false()``/``sa.true()``, ``func.now()``, Integer/BigInteger/Text, indexes, named unique
constraints), including removing that model again (drop table + its indexes and foreign keys)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.inspect import table_names
from support.projects import set_components
from support.revisions import parsed, revision_files, ruff_check
from support.running import call

from memstack.engine.generate.writer import portable_server_default

MakeComponent = Callable[..., str]

EVERYTHING = '''
"""Every helper and default MemStack's components use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Boolean, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class Gadget(Base):
    __tablename__ = "gadgets"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_gadget_owner_name"),
                      Index("idx_gadgets_rank", "rank"))

    id: Mapped[str] = id_column()
    owner_id: Mapped[str] = fk("users.id", nullable=False)
    tenant_id: Mapped[str | None] = fk("tenants.id", nullable=True)
    name: Mapped[str] = mapped_column(string(100), nullable=False)
    label: Mapped[str | None] = mapped_column(string(), index=True)
    body: Mapped[str | None] = mapped_column(Text)
    settings: Mapped[Any] = mapped_column(json(), nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, default=0, server_default=sa.text("0"))
    size: Mapped[int | None] = mapped_column(BigInteger, default=1073741824)
    archived: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=sa.false())
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=sa.true())
    is_public: Mapped[bool | None] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(string(20), nullable=False, server_default="plain")
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
'''

DIALECTS = ["sqlite", "postgres", "mariadb"]


def _params() -> list[object]:
    marks = {"sqlite": (), "postgres": (pytest.mark.postgres,), "mariadb": (pytest.mark.mariadb,)}
    return [pytest.param(d, id=d, marks=marks[d]) for d in DIALECTS]


@pytest.mark.parametrize("generated_on", _params())
def test_generated_revisions_run_up_down_up_on_every_dialect(
        generated_on: str, project: Path, make_component: MakeComponent, request: pytest.FixtureRequest) -> None:
    from memstack.core.db import metadata

    urls = {d: request.getfixturevalue(f"{d}_url") for d in DIALECTS}
    package = make_component({"models.py": EVERYTHING}, prefix="gadgets")
    set_components(project, {"package": package, "label": "gadgets"})
    call(project, urls[generated_on], "makemigrations", "gadgets")
    # the model goes away again: the next revision drops the table (its downgrade recreates it)
    metadata.remove(metadata.tables["gadgets"])
    empty = make_component({"models.py": "from memstack.core.db import Base  # noqa: F401\n"}, prefix="gadgets")
    set_components(project, {"package": empty, "label": "gadgets"})
    call(project, urls[generated_on], "makemigrations", "gadgets")

    files = revision_files(project, "gadgets")
    assert [f.name for f in files] == ["0001_initial.py", "0002_drop_gadgets.py"]
    created, dropped = (f.read_text() for f in files)
    assert "sa.false()" in created and "sa.true()" in created and "sa.func.now()" in created
    assert "sa.text('0')" not in created.replace("server_default=sa.text('0'), nullable=True", "")
    for text in (created, dropped):  # nothing bound to one dialect
        assert "postgresql." not in text and "mysql." not in text and "sqlite." not in text
    lint = ruff_check(files)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    for dialect, url in urls.items():  # up, down, up on every dialect, through both revisions
        call(project, url, "migrate")
        assert "gadgets" not in table_names(url), dialect
        call(project, url, "migrate", "gadgets", "0001", yes=True)
        assert "gadgets" in table_names(url), dialect
        call(project, url, "migrate", "gadgets", "zero", yes=True)
        assert "gadgets" not in table_names(url), dialect
        call(project, url, "migrate", "gadgets", "0001")
        assert "gadgets" in table_names(url), dialect
        call(project, url, "migrate", yes=True)  # the drop asks: the table exists
        assert "gadgets" not in table_names(url), dialect
    assert parsed(files[1]).down_revision == (parsed(files[0]).revision,)


@pytest.mark.parametrize(("reflected", "boolean", "expected"), [
    ("false", True, "sa.false()"),
    ("'0'", True, "sa.false()"),
    ("0", True, "sa.false()"),
    ("true", True, "sa.true()"),
    ("1", True, "sa.true()"),
    ("now()", False, "sa.func.now()"),
    ("CURRENT_TIMESTAMP", False, "sa.func.now()"),
    ("current_timestamp()", False, "sa.func.now()"),
    ("'plain'::character varying", False, "sa.text(\"'plain'\")"),
    ("0", False, "sa.text('0')"),
])
def test_reflected_server_defaults_become_portable(reflected: str, boolean: bool, expected: str) -> None:
    assert portable_server_default(reflected, boolean=boolean) == expected
