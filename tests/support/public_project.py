"""A small plain Alembic project written the way public ones are, for ``takeover`` tests.

``shop/`` is the application package: ``models.py`` (declarative models), ``database.py`` (a
framework-ish engine holder whose connection env.py must establish before any revision runs,
and whose own exception the revisions catch), ``migrations/`` (env.py with ``render_as_batch``,
``compare_type`` and an ``include_object``; the versions folder). ``alembic.ini`` says
``script_location = shop/migrations`` (relative to the working directory, as Alembic reads it)
and ``prepend_sys_path = .``.

``customers`` exists before the first revision (the project creates it with ``create_all`` of
``shop.baseline``); the revisions:

1. ``products`` created as ``op.create_table(Product.__tablename__, ...)``, a column added to
   ``customers`` in batch mode;
2. ``orders`` with an indexed foreign key to ``customers``; reads ``database.connection()``,
   which fails unless env.py's set-up ran ("No sql_connection parameter is established");
3. an index built inside ``autocommit_block()``, no ``atomic = False``;
4. a data revision without ``downgrade()``.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

from alembic import __file__ as alembic_init

INI = """[alembic]
script_location = {script_location}
prepend_sys_path = .
path_separator = os
sqlalchemy.url = {url}
"""

DATABASE = '''"""The application's database handle (a framework would own it)."""
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

_connection = None


class DatabaseError(Exception):
    """The framework's own exception, which revisions catch."""


def get_engine(url):
    return create_engine(url, poolclass=NullPool)


def establish(connection):
    global _connection
    _connection = connection


def connection():
    if _connection is None:
        raise DatabaseError("No sql_connection parameter is established")
    return _connection
'''

MODELS = '''import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    email: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(80))


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    note: Mapped[str | None] = mapped_column(sa.String(40), nullable=True)
    __table_args__ = (sa.Index("ix_orders_note", "note"),)
'''

BASELINE = '''"""The tables the project creates with create_all before its first revision."""
import sqlalchemy as sa

metadata = sa.MetaData()
customers = sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String(80), nullable=False))
'''

ENV_PY = '''from alembic import context

from shop import database
from shop.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    return not (type_ == "table" and name.startswith("legacy_"))


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = database.get_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        database.establish(connection)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

HEAD = '''"""{message}

Revision ID: {rev}
Revises: {down}
Create Date: 2024-03-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
{imports}

# revision identifiers, used by Alembic.
revision = {rev!r}
down_revision = {down_value!r}
branch_labels = None
depends_on = None

'''

BODIES = [
    ("products", "from shop.models import Product", '''
def upgrade():
    op.create_table(
        Product.__tablename__,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("email")
    op.drop_table(Product.__tablename__)
'''),
    ("orders", "from shop import database", '''
def upgrade():
    try:
        database.connection()
    except database.DatabaseError:
        raise
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_customer_id"), ["customer_id"], unique=False)


def downgrade():
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_customer_id"))
    op.drop_table("orders")
'''),
    ("orders note index", "", '''
def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_note", "orders", ["note"], unique=False,
                        postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_orders_note", table_name="orders", postgresql_concurrently=True)
'''),
    ("seed products", "", '''
def upgrade():
    op.execute("INSERT INTO products (id, title) VALUES (1, 'first')")
'''),
]


def write_public_project(root: Path, url: str, *, script_location: str = "shop/migrations") -> list[str]:
    """Write the project under ``root``; returns the revision ids in order."""
    package = root / "shop"
    versions = package / "migrations" / "versions"
    versions.mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "migrations" / "__init__.py").write_text("", encoding="utf-8")
    (package / "database.py").write_text(DATABASE, encoding="utf-8")
    (package / "models.py").write_text(MODELS, encoding="utf-8")
    (package / "baseline.py").write_text(BASELINE, encoding="utf-8")
    (package / "migrations" / "env.py").write_text(ENV_PY, encoding="utf-8")
    template = Path(alembic_init).parent / "templates" / "generic" / "script.py.mako"
    shutil.copy(template, package / "migrations" / "script.py.mako")
    (root / "alembic.ini").write_text(INI.format(script_location=script_location, url=url), encoding="utf-8")
    ids = [secrets.token_hex(6) for _ in BODIES]
    for number, (message, imports, body) in enumerate(BODIES):
        down = ids[number - 1] if number else None
        text = HEAD.format(message=message, rev=ids[number], down=down or "", down_value=down,
                           imports=imports) + body
        (versions / f"{ids[number]}_{message.replace(' ', '_')}.py").write_text(text, encoding="utf-8")
    return ids


def create_baseline(url: str) -> None:
    """What the project does before its first revision: ``create_all`` of ``shop.baseline``."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    metadata = sa.MetaData()
    sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(80), nullable=False))
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


APP_TABLES = ("customers", "products", "orders")


def schema_of(url: str, names: tuple[str, ...] = APP_TABLES) -> dict[str, object]:
    """The application tables as the database reports them: columns, keys, indexes (to compare builds)."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        found = sa.inspect(engine)
        present = set(found.get_table_names())
        return {name: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
            "pk": found.get_pk_constraint(name)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"]) for f in found.get_foreign_keys(name)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in found.get_indexes(name)),
        } if name in present else None for name in names}
    finally:
        engine.dispose()


def plain_alembic_build(root: Path, url: str) -> list[str]:
    """The reference: the same project (a copy of ``root``'s package and files), baseline then
    ``alembic upgrade head`` with the real binary, from the project's folder as it expects."""
    import subprocess

    from support.running import VENV_BIN

    copy = root.parent / f"{root.name}-reference"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__", "memstack_env.py"))
    ini = copy / "alembic.ini"
    ini.write_text("\n".join(f"sqlalchemy.url = {url}" if line.startswith("sqlalchemy.url") else line
                             for line in ini.read_text(encoding="utf-8").splitlines()) + "\n", encoding="utf-8")
    create_baseline(url)
    done = subprocess.run([str(VENV_BIN / "alembic"), "upgrade", "head"], cwd=copy, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return [copy.name]
