"""Schema documentation read from the live database: HTML, Markdown, a Graphviz ER diagram, drift.

The inspector says what the database holds; the revision files say who owns each table and which
revision created it (the last ``op.create_table`` of that name in graph order), with the models
filling in ownership of tables no revision creates. Tables neither knows are kept and marked.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from memstack.core.components import is_bookkeeping_table
from memstack.core.redaction import mask_url
from memstack.engine.errors import GraphvizFailed, GraphvizMissing, TemplatesMissing
from memstack.engine.run.baseline import load_baselines
from memstack.engine.tree.graph import MigrationGraph, Revision
from memstack.engine.workspace import Workspace

FORMATS = ("html", "markdown", "dot", "svg", "png")
IMAGE_FORMATS = ("svg", "png")


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    type: str
    nullable: bool
    default: str | None
    comment: str | None
    primary_key: bool
    references: tuple[str, str] | None  # (table, column) of the first foreign key using it


@dataclass(frozen=True)
class ForeignKeyDoc:
    name: str | None
    columns: tuple[str, ...]
    referred_table: str
    referred_columns: tuple[str, ...]


@dataclass(frozen=True)
class IndexDoc:
    name: str | None
    columns: tuple[str, ...]
    unique: bool


@dataclass(frozen=True)
class TableDoc:
    name: str
    component: str | None  # None: no component owns it
    created_by: str | None  # "component 0001_initial" of the creating revision
    comment: str | None
    columns: tuple[ColumnDoc, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyDoc, ...]
    indexes: tuple[IndexDoc, ...]
    unique_constraints: tuple[IndexDoc, ...]


@dataclass(frozen=True)
class SchemaDoc:
    database: str  # masked URL
    dialect: str
    components: tuple[str, ...]
    tables: tuple[TableDoc, ...] = field(default=())
    left_out: tuple[str, ...] = field(default=())  # tables no component owns, not shown when components are named

    def by_component(self) -> list[tuple[str | None, list[TableDoc]]]:
        """Tables grouped per component in configuration order; unowned ones last (label None)."""
        groups: list[tuple[str | None, list[TableDoc]]] = [
            (label, [t for t in self.tables if t.component == label]) for label in self.components]
        unowned = [t for t in self.tables if t.component is None]
        return [g for g in groups if g[1]] + ([(None, unowned)] if unowned else [])


# --------------------------------------------------------------------------- ownership


def created_tables_in(path: Path) -> list[str]:
    """Table names a revision file creates, read without running it: ``op.create_table('name', ...)``,
    and ``op.create_table(Model.__tablename__, ...)`` with ``Model`` imported from a module (that
    module is imported for the name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = _imported_names(tree)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "create_table"):
            continue
        first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "table_name"), None)
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append(first.value)
        elif (isinstance(first, ast.Attribute) and first.attr == "__tablename__"
              and isinstance(first.value, ast.Name) and first.value.id in imported):
            name = _tablename(*imported[first.value.id])
            if name is not None:
                found.append(name)
    return found


def _imported_names(tree: ast.Module) -> dict[str, tuple[str, str]]:
    """{local name: (module, attribute)} of the file's ``from module import attribute [as name]``."""
    return {alias.asname or alias.name: (node.module, alias.name) for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module and not node.level for alias in node.names}


def _tablename(module: str, attribute: str) -> str | None:
    try:
        value = getattr(importlib.import_module(module), attribute, None)
    except Exception:  # a module that cannot be imported here names no table
        return None
    name = getattr(value, "__tablename__", None)
    return name if isinstance(name, str) else None


def table_creators(graph: MigrationGraph, path_of: Any) -> dict[str, Revision]:
    """{table: the revision that (last) created it}, in graph order."""
    creators: dict[str, Revision] = {}
    for rid in graph.toposort(set(graph.revisions)):
        revision = graph.get(rid)
        for table in created_tables_in(Path(path_of(rid))):
            creators[table] = revision
    return creators


def ownership(ws: Workspace) -> tuple[dict[str, str], dict[str, Revision]]:
    """({table: owning component}, {table: creating revision}): revisions first, models fill gaps."""
    creators = table_creators(ws.graph, ws.tree.path_of)
    owners = {table: rev.component for table, rev in creators.items()}
    for table, label in ws.registry.load_models().items():
        owners.setdefault(table, label)
    for table, label in baseline_tables(ws).items():
        owners.setdefault(table, label)
    return owners, creators


_CREATE_TABLE_SQL = re.compile(r"\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?[`\"\[]?([A-Za-z_][\w$]*)",
                               re.IGNORECASE)


def baseline_tables(ws: Workspace) -> dict[str, str]:
    """{table: component} of the tables components' baselines create (run/baseline.py)."""
    found: dict[str, str] = {}
    for label, baseline in load_baselines(ws.registry).items():
        if baseline.is_sql:
            path = ws.settings.project_dir / baseline.value
            text = path.read_text(encoding="utf-8") if path.is_file() else ""
            names = [m.group(1) for m in _CREATE_TABLE_SQL.finditer(text)]
        else:
            names = [t.name for t in baseline.tables()]
        for name in names:
            found.setdefault(name, label)
    return found


# --------------------------------------------------------------------------- reading


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _read_table(connection: Connection, name: str, owner: str | None, creator: Revision | None) -> TableDoc:
    inspector = inspect(connection)
    pk = tuple(inspector.get_pk_constraint(name).get("constrained_columns") or ())
    fks = tuple(ForeignKeyDoc(fk.get("name"), tuple(fk["constrained_columns"]), fk["referred_table"],
                              tuple(fk["referred_columns"])) for fk in inspector.get_foreign_keys(name))
    refs: dict[str, tuple[str, str]] = {}
    for fk in fks:
        for column, target in zip(fk.columns, fk.referred_columns, strict=False):
            refs.setdefault(column, (fk.referred_table, target))
    columns = tuple(
        ColumnDoc(c["name"], str(c["type"]), bool(c["nullable"]), _text(c.get("default")), _text(c.get("comment")),
                  c["name"] in pk, refs.get(c["name"]))
        for c in inspector.get_columns(name))
    indexes = tuple(IndexDoc(i.get("name"), tuple(str(c) for c in i["column_names"] if c), bool(i["unique"]))
                    for i in inspector.get_indexes(name))
    uniques = tuple(IndexDoc(u.get("name"), tuple(u["column_names"]), True)
                    for u in inspector.get_unique_constraints(name))
    try:
        comment = inspector.get_table_comment(name).get("text")
    except NotImplementedError:  # SQLite keeps no comments
        comment = None
    return TableDoc(name, owner, creator.label if creator else None, comment, columns, pk, fks, indexes, uniques)


def read_schema(ws: Workspace, components: Sequence[str] = ()) -> SchemaDoc:
    """The database's tables (memstack's bookkeeping left out), limited to ``components`` when named."""
    selected = [c.label for c in ws.registry.select(components)]
    owners, creators = ownership(ws)
    with ws.engine.connect() as connection:
        names = sorted(t for t in inspect(connection).get_table_names() if not is_bookkeeping_table(t))
        wanted = [n for n in names if owners.get(n) in selected or (not components and n not in owners)]
        tables = tuple(_read_table(connection, n, owners.get(n), creators.get(n)) for n in wanted)
    left_out = tuple(n for n in names if components and n not in owners)
    return SchemaDoc(mask_url(ws.settings.database_url), ws.dialect_name, tuple(ws.registry.labels), tables,
                     left_out)


# --------------------------------------------------------------------------- rendering


def _environment(templates_dir: Path) -> Any:
    folder = templates_dir / "schemadoc"
    if not folder.is_dir():
        raise TemplatesMissing(folder)
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=jinja2.select_autoescape(
        ["html", "j2"]), trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)


def render_text(doc: SchemaDoc, text_format: str, templates_dir: Path) -> str:
    """``html``, ``markdown`` or ``dot`` source from the templates."""
    env = _environment(templates_dir)
    if text_format == "html":
        return str(env.get_template("schema.html.j2").render(doc=doc))
    env.autoescape = False
    if text_format == "markdown":
        return str(env.get_template("schema.md.j2").render(doc=doc))
    env.filters["dot_html"] = _dot_html
    return str(env.get_template("schema.dot.j2").render(doc=doc))


def _dot_html(value: object) -> str:
    """Text safe inside a Graphviz HTML-like label."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_image(dot_source: str, image_format: str) -> bytes:
    """svg/png bytes through Graphviz's ``dot``; :class:`GraphvizMissing` when it is not installed."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(image_format)
    done = subprocess.run([program, f"-T{image_format}"], input=dot_source.encode(), capture_output=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise GraphvizFailed(done.stderr.decode(errors="replace").strip()[:500])
    return done.stdout


def render(doc: SchemaDoc, output_format: str, templates_dir: Path) -> str | bytes:
    if output_format in IMAGE_FORMATS:
        return render_image(render_text(doc, "dot", templates_dir), output_format)
    return render_text(doc, output_format, templates_dir)


# --------------------------------------------------------------------------- drift


def _column_facts(column: ColumnDoc) -> dict[str, object]:
    return {"type": column.type, "nullable": column.nullable, "default": column.default}


def _table_differences(name: str, mine: TableDoc, other: TableDoc) -> list[str]:
    found = []
    my_columns = {c.name: c for c in mine.columns}
    other_columns = {c.name: c for c in other.columns}
    for column in sorted(my_columns.keys() - other_columns.keys()):
        found.append(f"{name}.{column}: only in this database")
    for column in sorted(other_columns.keys() - my_columns.keys()):
        found.append(f"{name}.{column}: only in the other database")
    for column in sorted(my_columns.keys() & other_columns.keys()):
        a, b = _column_facts(my_columns[column]), _column_facts(other_columns[column])
        found += [f"{name}.{column}: {key} {a[key]!r} here, {b[key]!r} there" for key in a if a[key] != b[key]]
    for kind, ours, theirs in (
            ("index", {(i.columns, i.unique) for i in mine.indexes}, {(i.columns, i.unique) for i in other.indexes}),
            ("foreign key", {(f.columns, f.referred_table, f.referred_columns) for f in mine.foreign_keys},
             {(f.columns, f.referred_table, f.referred_columns) for f in other.foreign_keys}),
            ("primary key", {mine.primary_key}, {other.primary_key})):
        found += [f"{name}: {kind} {item!r} only in this database" for item in sorted(ours - theirs, key=repr)]
        found += [f"{name}: {kind} {item!r} only in the other database" for item in sorted(theirs - ours, key=repr)]
    return found


def diff_schemas(mine: SchemaDoc, other: SchemaDoc) -> list[str]:
    """What differs between two databases' schemas, one line per difference (empty: the same)."""
    my_tables = {t.name: t for t in mine.tables}
    other_tables = {t.name: t for t in other.tables}
    found = [f"{t}: table only in this database" for t in sorted(my_tables.keys() - other_tables.keys())]
    found += [f"{t}: table only in the other database" for t in sorted(other_tables.keys() - my_tables.keys())]
    for name in sorted(my_tables.keys() & other_tables.keys()):
        found += _table_differences(name, my_tables[name], other_tables[name])
    return found
