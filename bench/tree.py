"""The synthetic tree of issue 13, written twice: as a memstack project and as a plain Alembic one.

Shape: COMPONENTS components; each component's first revision creates its table, every later
one adds a column; every 10th revision of component k also depends on component k-1's head
at that moment. Both projects hold byte-identical revision files, so any difference in
time is the tool's. ``write_model_projects`` writes the 200-table model used to compare
``makemigrations`` with ``alembic revision --autogenerate``.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

REVISION = '''"""synthetic revision {n}"""
import sqlalchemy as sa
from alembic import op

revision = {rid!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {deps!r}


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''

ALEMBIC_ENV = '''"""Plain Alembic environment (as `alembic init` writes it, URL from BENCH_DATABASE_URL)."""
import os

from alembic import context
from sqlalchemy import create_engine, pool

target_metadata = {metadata}
url = os.environ["BENCH_DATABASE_URL"]

if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
'''


def labels_of(components: int) -> list[str]:
    return [f"c{i:03d}" for i in range(components)]


def revision_files(revisions: int, components: int) -> dict[tuple[str, str], str]:
    """{(label, file name): source} of the whole tree, identical for both tools."""
    labels = labels_of(components)
    heads: dict[str, str | None] = dict.fromkeys(labels)
    counts = dict.fromkeys(labels, 0)
    files: dict[tuple[str, str], str] = {}
    for n in range(revisions):
        k = n % components
        label = labels[k]
        counts[label] += 1
        rid = f"{k:03d}{counts[label]:09d}"
        deps = heads[labels[k - 1]] if k > 0 and counts[label] % 10 == 0 else None
        table = f"t_{label}"
        if heads[label] is None:
            up = f'op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True))'
            down = f"op.drop_table({table!r})"
        else:
            up = f'op.add_column({table!r}, sa.Column("c{counts[label]}", sa.Integer, nullable=True))'
            down = f'op.drop_column({table!r}, "c{counts[label]}")'
        files[(label, f"{counts[label]:04d}_r{n}.py")] = REVISION.format(
            n=n, rid=rid, down=heads[label], labels=(label,) if heads[label] is None else None, deps=deps,
            upgrade=up, downgrade=down)
        heads[label] = rid
    return files


def _write_packages(root: Path, labels: list[str], models: dict[str, str] | None = None) -> None:
    (root / "synthetic").mkdir(parents=True, exist_ok=True)
    (root / "synthetic" / "__init__.py").write_text("")
    for label in labels:
        package = root / "synthetic" / label
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text("")
        if models and label in models:
            (package / "models.py").write_text(models[label])


def _memstack_pyproject(root: Path, labels: list[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'{{ package = "synthetic.{label}", label = "{label}" }}' for label in labels)
    (root / "pyproject.toml").write_text(f"[tool.memstack]\ncomponents = [{listed}]\n")


def _alembic_project(root: Path, labels: list[str], metadata: str = "None") -> None:
    script = root / "alembic"
    (script / "versions").mkdir(parents=True, exist_ok=True)
    (script / "env.py").write_text(ALEMBIC_ENV.format(metadata=metadata))
    spec = importlib.util.find_spec("alembic")  # not imported: the runner stays light (see run.py)
    assert spec is not None and spec.origin is not None
    shutil.copy(Path(spec.origin).parent / "templates" / "generic" / "script.py.mako", script)
    locations = " ".join(f"%(here)s/alembic/versions/{label}" for label in labels)
    (root / "alembic.ini").write_text(
        f"[alembic]\nscript_location = %(here)s/alembic\nversion_locations = {locations}\n"
        "path_separator = space\n")
    for label in labels:
        (script / "versions" / label).mkdir(exist_ok=True)


def write_projects(root: Path, revisions: int, components: int) -> tuple[Path, Path]:
    """(memstack project, Alembic project) under ``root`` with the same revision files."""
    labels = labels_of(components)
    ours, plain = root / "memstack", root / "alembic"
    _memstack_pyproject(ours, labels)
    _write_packages(ours, labels)
    _alembic_project(plain, labels)
    for (label, name), source in revision_files(revisions, components).items():
        for folder in (ours / "migrations" / label, plain / "alembic" / "versions" / label):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(source)
    return ours, plain


def model_source(tables: int, metadata_import: str) -> str:
    lines = [metadata_import, "from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table", ""]
    for i in range(tables):
        parent = f', ForeignKey("m{i - 1:03d}.id")' if i % 5 and i else ""
        lines.append(f'm{i:03d} = Table("m{i:03d}", metadata, Column("id", Integer, primary_key=True), '
                     f'Column("name", String(80), nullable=False), Column("parent_id", Integer{parent}), '
                     f'Index("ix_m{i:03d}_name", "name"))')
    return "\n".join(lines) + "\n"


def write_model_projects(root: Path, tables: int = 200) -> tuple[Path, Path]:
    """One component whose model has ``tables`` tables and no revisions yet, for both tools."""
    ours, plain = root / "model-memstack", root / "model-alembic"
    _memstack_pyproject(ours, ["m"])
    _write_packages(ours, ["m"], {"m": model_source(tables, "from memstack.core.db import metadata")})
    (ours / "migrations" / "m").mkdir(parents=True)
    shutil.copytree(Path(__file__).resolve().parents[1] / "templates", ours / "templates")  # makemigrations' own
    _write_packages(plain, ["m"], {"m": model_source(tables, "from sqlalchemy import MetaData\nmetadata = MetaData()")})
    _alembic_project(plain, ["m"], metadata="__import__('synthetic.m.models').m.models.metadata")
    return ours, plain
