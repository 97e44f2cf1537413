"""Revisions written for plain Alembic run unchanged under memstack's executor.

Each revision here is written the way public Alembic projects write them: ``from alembic
import context``, ``context.get_x_argument()``, ``op.get_context().config``, ``op.get_bind()``,
``op.batch_alter_table`` and constraints named by the revision itself. SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool
from support.databases import query
from support.inspect import history_rows, tables, version_rows
from support.revisions import new_id
from support.running import cli

from memstack.core.settings import DEFAULT_COMPONENTS
from memstack.engine.run.alembic_config import alembic_setup, revision_environment

HEADER = '''"""{message}

Revision ID: {revision}
Revises: {down}
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import context, op

revision: str = {revision!r}
down_revision: Union[str, None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = {labels!r}
depends_on: Union[str, Sequence[str], None] = None
'''

FIRST = '''

def upgrade() -> None:
    settings = context.get_x_argument(as_dictionary=True)
    assert op.get_context().config is context.config
    assert op.get_context().config.cmd_opts.x == context.get_x_argument()
    op.create_table(
        "package",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("extras", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
    )
    if op.get_bind().dialect.name == "sqlite":  # SQLite cannot ALTER constraints: batch mode
        with op.batch_alter_table("package") as batch_op:
            batch_op.create_check_constraint("package_flat_extras", "extras >= 0")
            batch_op.create_unique_constraint("uq_package_tenant", ["tenant"])
    else:
        op.create_check_constraint("package_flat_extras", "package", "extras >= 0")
        op.create_unique_constraint("uq_package_tenant", "package", ["tenant"])
    op.get_bind().execute(sa.text("INSERT INTO package (id, extras, tenant) VALUES (1, 0, :t)"),
                          {"t": settings.get("tenant", "none")})


def downgrade() -> None:
    op.drop_table("package")
'''

SECOND = '''

def upgrade() -> None:
    with op.batch_alter_table("package") as batch_op:
        batch_op.drop_constraint("package_flat_extras", type_="check")
        batch_op.drop_constraint("uq_package_tenant", type_="unique")


def downgrade() -> None:
    tenant = context.get_x_argument(as_dictionary=True).get("tenant", "none")
    with op.batch_alter_table("package") as batch_op:
        batch_op.create_check_constraint("package_flat_extras", "extras >= 0")
        batch_op.create_unique_constraint("uq_package_tenant", ["tenant"])
    op.get_bind().execute(sa.text("UPDATE package SET tenant = :t"), {"t": tenant})
'''


def write(folder: Path, name: str, revision: str, down: str | None, body: str, labels: tuple[str, ...] | None,
          extra_header: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = HEADER.format(message=name, revision=revision, down=down, labels=labels) + extra_header + body
    (folder / f"{name}.py").write_text(source, encoding="utf-8")
    return folder / f"{name}.py"


def foreign_component(make_component, project: Path) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """A component with two revisions in the public Alembic style; returns (label, ids)."""
    from support.projects import write_pyproject

    label = make_component({}, prefix="pkgs")
    folder = project / "migrations" / label
    ids = [new_id(), new_id()]
    write(folder, "0001_package", ids[0], None, FIRST, (label,))
    write(folder, "0002_drop_package_checks", ids[1], ids[0], SECOND, None)
    write_pyproject(project, [*DEFAULT_COMPONENTS, label])
    return label, ids


def constraint_names(url: str, table: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            checks = {c["name"] for c in found.get_check_constraints(table) if c.get("name")}
            uniques = {c["name"] for c in found.get_unique_constraints(table) if c.get("name")}
            return checks, uniques
    finally:
        engine.dispose()


def test_foreign_revisions_keep_their_names_and_read_x_arguments(
        project: Path, db_url_no_mariadb: str, make_component, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = db_url_no_mariadb
    label, ids = foreign_component(make_component, project)

    result = cli(capsys, monkeypatch, project, url, "migrate", label, "0001", "-x", "tenant=acme", "-x", "flag")
    assert result.code == 0, result
    checks, uniques = constraint_names(url, "package")
    assert "package_flat_extras" in checks  # exactly the revision's name, not package_package_flat_extras_check
    assert "uq_package_tenant" in uniques
    assert query(url, "SELECT tenant FROM package") == [{"tenant": "acme"}]

    # a later revision drops them by the names it gave them
    result = cli(capsys, monkeypatch, project, url, "migrate", label)
    assert result.code == 0, result
    assert constraint_names(url, "package") == (set(), set())
    assert ids[1] in version_rows(url)

    # rollback takes -x too, and the downgrade reads it
    result = cli(capsys, monkeypatch, project, url, "rollback", label, "--yes", "-x", "tenant=globex")
    assert result.code == 0, result
    assert query(url, "SELECT tenant FROM package") == [{"tenant": "globex"}]
    assert "package_flat_extras" in constraint_names(url, "package")[0]
    assert [r["event"] for r in history_rows(url) if r["component"] == label] == ["apply", "apply", "unapply"]


def test_committed_revisions_keep_todays_names(project: Path, db_url_no_mariadb: str,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """memstack's own revisions name every constraint, so running without the naming convention
    gives exactly the names the models' convention produces."""
    import memstack.auth.models
    import memstack.ontology.models
    import memstack.tenant.models  # noqa: F401
    from memstack.core.db import metadata

    url = db_url_no_mariadb
    assert cli(capsys, monkeypatch, project, url, "migrate").code == 0
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            for table in ("user_roles", "tenants", "entity_types", "users"):
                expected_fks = {c.name for c in metadata.tables[table].foreign_key_constraints}
                assert {fk["name"] for fk in found.get_foreign_keys(table)} == expected_fks, table
                expected_ix = {i.name for i in metadata.tables[table].indexes}
                assert {i["name"] for i in found.get_indexes(table)} >= expected_ix, table
            uniques = {u["name"] for u in found.get_unique_constraints("entity_types")}
            assert "uq_entity_type_project_name" in uniques
    finally:
        engine.dispose()


UNDECLARED_AUTOCOMMIT = '''

def upgrade() -> None:
    op.create_table("t_undeclared", sa.Column("id", sa.Integer(), primary_key=True))
    with op.get_context().autocommit_block():
        op.execute("VACUUM" if op.get_bind().dialect.name == "sqlite" else "CREATE INDEX ix_t ON t_undeclared (id)")


def downgrade() -> None:
    op.drop_table("t_undeclared")
'''


def test_autocommit_block_without_atomic_runs_as_plain_alembic_runs_it(
        project: Path, db_url_no_mariadb: str, make_component,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``atomic = False``: the loader sees the call and runs the revision outside a transaction."""
    from support.projects import write_pyproject

    from memstack.engine.tree import loader

    url = db_url_no_mariadb
    label = make_component({}, prefix="undeclared")
    revision = new_id()
    path = write(project / "migrations" / label, "0001_vacuum", revision, None, UNDECLARED_AUTOCOMMIT, (label,))
    assert loader.parse_revision_file(path).atomic is False
    write_pyproject(project, [*DEFAULT_COMPONENTS, label])
    result = cli(capsys, monkeypatch, project, url, "migrate")
    assert result.code == 0, result
    assert "t_undeclared" in tables(url) and revision in version_rows(url)
    result = cli(capsys, monkeypatch, project, url, "migrate", label, "zero", "--yes")
    assert result.code == 0, result
    assert "t_undeclared" not in tables(url)


def test_autocommit_block_under_declared_atomic_true_is_refused(
        project: Path, sqlite_url: str, make_component,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit ``atomic = True`` wins over the detection; the call is refused and the step rolled back."""
    from support.projects import write_pyproject

    label = make_component({}, prefix="declared")
    write(project / "migrations" / label, "0001_vacuum", new_id(), None, UNDECLARED_AUTOCOMMIT, (label,),
          extra_header="atomic = True\n")
    write_pyproject(project, [*DEFAULT_COMPONENTS, label])
    result = cli(capsys, monkeypatch, project, sqlite_url, "migrate")
    assert result.code == 1
    assert "declare atomic = False" in result.err
    assert "t_undeclared" not in tables(sqlite_url)  # the step was rolled back as a whole


def test_offline_environment_and_config_from_pyproject(project: Path) -> None:
    """``--sql`` rendering runs in an offline environment; the Config is the project's [tool.alembic]."""
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text() + '\n[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    setup = alembic_setup(project, ["a=1"])
    assert setup.x_arguments == ["a=1"]
    assert Path(setup.script.dir).resolve() == (project / "migrations").resolve()
    buffer = io.StringIO()
    with revision_environment(setup, dialect_name="postgresql", buffer=buffer) as context:
        from alembic import context as alembic_context
        from alembic import op

        assert alembic_context.get_x_argument(as_dictionary=True) == {"a": "1"}
        assert context.as_sql
        op.create_check_constraint("package_flat_extras", "package", "extras >= 0")
    assert "CONSTRAINT package_flat_extras CHECK" in buffer.getvalue()
    assert alembic_setup(None).x_arguments == []


NAMED_MODELS = '''
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base


class Gadget(Base):
    __tablename__ = "gadgets"
    __table_args__ = (CheckConstraint("weight >= 0", name="weight_positive"), UniqueConstraint("code"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    weight: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("users.id"), index=True)
'''


def test_written_revisions_keep_the_conventions_names(project: Path, db_url_no_mariadb: str, make_component) -> None:  # type: ignore[no-untyped-def]
    """makemigrations writes the convention's names into the file (op.f), so they survive a run
    without the naming convention."""
    from support.projects import write_pyproject
    from support.running import call

    url = db_url_no_mariadb
    package = make_component({"models.py": NAMED_MODELS}, prefix="gadgets")
    write_pyproject(project, [*DEFAULT_COMPONENTS, package])
    call(project, url, "makemigrations")
    call(project, url, "migrate")
    checks, uniques = constraint_names(url, "gadgets")
    assert checks == {"gadgets_weight_positive_check"}
    assert uniques == {"gadgets_code_key"}
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            assert {fk["name"] for fk in found.get_foreign_keys("gadgets")} == {"gadgets_owner_id_fkey"}
            assert {i["name"] for i in found.get_indexes("gadgets")} >= {"ix_gadgets_owner_id"}
    finally:
        engine.dispose()
    call(project, url, "check")  # the models and the migrated database agree


def test_x_arguments_through_call_command_and_manage_py(project: Path, sqlite_url: str, make_component) -> None:  # type: ignore[no-untyped-def]
    from support.projects import package_dir
    from support.running import manage

    from memstack import call_command

    label, _ = foreign_component(make_component, project)
    call_command("migrate", label, "0001", x_argument=["tenant=initech"], project_dir=str(project),
                 database_url=sqlite_url, stdout=io.StringIO(), stderr=io.StringIO())
    assert query(sqlite_url, "SELECT tenant FROM package") == [{"tenant": "initech"}]

    result = manage(project, sqlite_url, "migrate", label, "zero", "--yes", pythonpath=[package_dir(label)])
    assert result.code == 0, result
    result = manage(project, sqlite_url, "migrate", label, "0001", "-x", "tenant=hooli",
                    pythonpath=[package_dir(label)])
    assert result.code == 0, result
    assert query(sqlite_url, "SELECT tenant FROM package") == [{"tenant": "hooli"}]
    result = manage(project, sqlite_url, "migrate", "-x", pythonpath=[package_dir(label)])
    assert result.code == 2  # -x without a value is a usage error


def test_plain_alembic_keeps_foreign_constraint_names(
        project: Path, db_url_no_mariadb: str, make_component) -> None:  # type: ignore[no-untyped-def]
    """The same revisions under the real ``alembic`` command: env.py gives no naming convention
    to revisions it runs, so the names are the revision's own and the drop by name works."""
    from support.projects import LABELS, add_alembic_config, package_dir
    from support.running import alembic

    url = db_url_no_mariadb
    label, ids = foreign_component(make_component, project)
    add_alembic_config(project, [*LABELS, label])
    path = [package_dir(label)]
    upgraded = alembic(project, url, "-x", "tenant=acme", "upgrade", ids[0], pythonpath=path)
    assert upgraded.code == 0, upgraded.err
    checks, uniques = constraint_names(url, "package")
    assert "package_flat_extras" in checks and "uq_package_tenant" in uniques
    upgraded = alembic(project, url, "upgrade", f"{label}@head", pythonpath=path)
    assert upgraded.code == 0, upgraded.err
    assert constraint_names(url, "package") == (set(), set())
