"""A generated plain-Alembic project in a foreign style, for ``takeover`` tests.

``count`` revisions: a chain 1..50, two branches 51..60 and 61..70 off revision 50, a merge at
71, a chain to the end. Each creates ``f_NNN`` with named constraints (primary key, unique,
foreign key to the one before); every tenth also adds an indexed column to an older table.
Revision 20 reads ``-x label=...`` through ``context.get_x_argument()``; revision 30 asks
``op.get_context()`` for the dialect. File names are Alembic's ``<id>_<slug>.py``; ids are
Alembic-style random hex (some start with a digit).
"""

from __future__ import annotations

import secrets
from pathlib import Path

ENV_PY = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
'''

INI = """[alembic]
script_location = %(here)s/alembic
path_separator = os
sqlalchemy.url = {url}
"""

REVISION = '''"""create f_{n:03d}

Revision ID: {rev}
Revises: {down_text}
Create Date: 2024-01-01 00:00:00
"""
from alembic import op
import sqlalchemy as sa
{extra_import}

# revision identifiers, used by Alembic.
revision = {rev!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None


def upgrade():
    op.create_table(
        "f_{n:03d}",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(40), nullable=True),
{parent_column}        sa.PrimaryKeyConstraint("id", name="pk_f_{n:03d}"),
        sa.UniqueConstraint("name", name="uq_f_{n:03d}_name"),
{parent_fk}    )
{extra_upgrade}

def downgrade():
{extra_downgrade}    op.drop_table("f_{n:03d}")
'''


def _parent(n: int, merge_parents: dict[int, tuple[int, ...]]) -> int | None:
    if n == 1:
        return None
    return merge_parents.get(n, (n - 1,))[0]


def write_foreign_project(root: Path, url: str, count: int = 110) -> list[str]:
    """Write the project under ``root``; returns the ids in revision order (1..count)."""
    versions = root / "alembic" / "versions"
    versions.mkdir(parents=True)
    (root / "alembic.ini").write_text(INI.format(url=url), encoding="utf-8")
    (root / "alembic" / "env.py").write_text(ENV_PY, encoding="utf-8")
    ids = [secrets.token_hex(6) for _ in range(count)]
    parents: dict[int, tuple[int, ...]] = {61: (50,), 71: (60, 70)}
    for n in range(1, count + 1):
        down_numbers = parents.get(n, (n - 1,)) if n > 1 else ()
        down = tuple(ids[d - 1] for d in down_numbers)
        parent = _parent(n, parents)
        extra_import, extra_up, extra_down = "", "", ""
        if n == 20:
            extra_import = "from alembic import context"
            extra_up = ('    label = context.get_x_argument(as_dictionary=True).get("label", "none")\n'
                        '    insert = sa.text("INSERT INTO f_020 (id, name) VALUES (1, :label)")\n'
                        '    op.execute(insert.bindparams(label=label))\n')
        if n == 30:
            extra_up = ('    if op.get_context().dialect.name == "postgresql":\n'
                        '        op.execute("COMMENT ON TABLE f_030 IS \'foreign\'")\n')
        if n % 10 == 5 and n > 5:
            old = n - 3
            extra_up += (f'    op.add_column("f_{old:03d}", sa.Column("note_{n}", sa.String(20), nullable=True))\n'
                         f'    op.create_index("ix_f_{old:03d}_note_{n}", "f_{old:03d}", ["note_{n}"])\n')
            extra_down = (f'    op.drop_index("ix_f_{old:03d}_note_{n}", table_name="f_{old:03d}")\n'
                          f'    op.drop_column("f_{old:03d}", "note_{n}")\n')
        parent_column = '        sa.Column("parent_id", sa.Integer(), nullable=True),\n' if parent else ""
        parent_fk = (f'        sa.ForeignKeyConstraint(["parent_id"], ["f_{parent:03d}.id"], '
                     f'name="fk_f_{n:03d}_parent"),\n') if parent else ""
        text = REVISION.format(
            n=n, rev=ids[n - 1], down=down[0] if len(down) == 1 else (down or None),
            down_text=", ".join(down) or "", labels=("foreign",) if n == 1 else None, extra_import=extra_import,
            parent_column=parent_column, parent_fk=parent_fk, extra_upgrade=extra_up, extra_downgrade=extra_down)
        (versions / f"{ids[n - 1]}_create_f_{n:03d}.py").write_text(text, encoding="utf-8")
    return ids


SECOND_ROOT = '''"""a second root"""
from alembic import op
import sqlalchemy as sa

revision = {rev!r}
down_revision = None
branch_labels = ("other",)
depends_on = None


def upgrade():
    op.create_table("s_001", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade():
    op.drop_table("s_001")
'''

MERGE = '''"""merge the two roots"""
revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
'''


def add_second_root(root: Path, ids: list[str], *, merged: bool) -> str:
    """A second root revision (its own branch label, as ``alembic revision --head base`` makes), optionally
    merged with the last of ``ids``; returns the second root's id."""
    versions = root / "alembic" / "versions"
    second = secrets.token_hex(6)
    (versions / f"{second}_second_root.py").write_text(SECOND_ROOT.format(rev=second), encoding="utf-8")
    if merged:
        merge = secrets.token_hex(6)
        (versions / f"{merge}_merge.py").write_text(MERGE.format(rev=merge, down=(ids[-1], second)),
                                                    encoding="utf-8")
    return second
