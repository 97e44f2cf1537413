"""Renders revision files from the Jinja2 templates in the project's ``templates/`` folder."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from alembic.autogenerate.api import AutogenContext
from alembic.operations import ops as alembic_ops
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Boolean, String, Text
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.sql import elements, functions

from memstack.core.errors import MemstackError
from memstack.core.staging import FileChanges
from memstack.engine.alembic_compat import render_body, render_type, type_variants

REVISION_TEMPLATE = "revision.py.j2"
MAX_LINE = 120  # ruff's line-length in pyproject.toml


def _pyrepr(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            return "None"
        if len(value) == 1:
            return repr(value[0]) if isinstance(value, list) else f"({value[0]!r},)"
        return "(" + ", ".join(repr(v) for v in value) + ")"
    return repr(value)


def template_environment(templates_dir: Path) -> Any:
    if not (templates_dir / REVISION_TEMPLATE).is_file():
        raise MemstackError(
            f"the revision template {templates_dir / REVISION_TEMPLATE} is missing",
            hint="restore templates/ from the memstack checkout",
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["pyrepr"] = _pyrepr
    return env


_NOW_SPELLINGS = {"now()", "current_timestamp", "current_timestamp()", "localtimestamp", "getdate()",
                  "(datetime('now'))", "datetime('now')"}
_BOOLEAN_SPELLINGS = {"false": "sa.false()", "0": "sa.false()", "true": "sa.true()", "1": "sa.true()"}


def portable_server_default(sql: str, *, boolean: bool) -> str:
    """A reflected (dialect-spelled) server default as an expression every dialect accepts.

    PostgreSQL refuses ``DEFAULT '0'`` for a boolean and SQLite has no ``now()``; PostgreSQL
    also reflects casts (``'x'::character varying``) that no other dialect parses.
    """
    spelled = re.sub(r"::[a-z ]+(\(\d+\))?$", "", sql.strip(), flags=re.IGNORECASE).strip()
    while spelled.startswith("(") and spelled.endswith(")") and spelled.lower() not in _NOW_SPELLINGS:
        spelled = spelled[1:-1].strip()
    if spelled.lower() in _NOW_SPELLINGS:
        return "sa.func.now()"
    bare = spelled.strip("'").lower()
    if boolean and bare in _BOOLEAN_SPELLINGS:
        return _BOOLEAN_SPELLINGS[bare]
    return f"sa.text({spelled!r})"


def portable_type(type_: Any) -> Any:
    """The generic SQLAlchemy type for a reflected one (``mysql.TINYINT(1)``, ``postgresql.TIMESTAMP``,
    ``DATETIME``...), so a dropped table's downgrade recreates it on any dialect; None when already generic."""

    module = type(type_).__module__
    dialect_bound = module.startswith("sqlalchemy.dialects")
    if not dialect_bound and not (module.startswith("sqlalchemy.") and type(type_).__name__.isupper()):
        return None
    if dialect_bound and type(type_).__name__ == "TINYINT" and getattr(type_, "display_width", None) == 1:
        return Boolean()
    if dialect_bound and type(type_).__name__ in ("LONGTEXT", "MEDIUMTEXT", "TINYTEXT"):
        return Text()
    try:
        generic = type_.as_generic()
    except NotImplementedError:
        return None
    if type(generic) is type(type_):
        return None  # JSON, BIGINT... are generic already
    if isinstance(generic, String) and getattr(generic, "collation", None):
        generic.collation = None  # MariaDB reflects utf8mb4_bin etc.; the other dialects do not know them
    return generic


def _render_server_default(obj: Any) -> str | bool:
    argument = getattr(obj, "arg", None)
    column = getattr(obj, "column", None)
    is_boolean = isinstance(getattr(column, "type", None), Boolean) or type(
        getattr(column, "type", None)).__name__ == "TINYINT"
    if isinstance(argument, functions.now):
        return "sa.func.now()"  # sa.text('now()') would break inserts on SQLite
    if isinstance(argument, elements.False_):
        return "sa.false()"  # DefaultDialect would write sa.text('0'), which PostgreSQL refuses for a boolean
    if isinstance(argument, elements.True_):
        return "sa.true()"
    if isinstance(argument, elements.TextClause):
        return portable_server_default(argument.text, boolean=is_boolean)
    if isinstance(argument, functions.FunctionElement) and not list(argument.clauses):
        return f"sa.func.{argument.name}()"
    return False


def _render_item(type_: str, obj: Any, autogen: Any) -> str | bool:
    """Render types and server defaults in a form every dialect accepts: ``memstack.core.db.string(n)``
    compactly (one variant for both MySQL dialect names), reflected types as generic ones, and
    server defaults as portable expressions."""

    if type_ == "server_default":
        return _render_server_default(obj)
    if type_ != "type":
        return False
    generic = portable_type(obj)
    if generic is not None:
        if type(generic) is String and generic.length is None:
            return "sa.String().with_variant(sa.String(255), 'mysql', 'mariadb')"
        return render_type(generic, autogen)
    mapping = type_variants(obj)
    if not mapping or not isinstance(obj, String) or obj.length is not None:
        return False
    variants = {name: variant for name, variant in mapping.items()}
    lengths = {getattr(v, "length", None) for v in variants.values()}
    if set(variants) <= {"mysql", "mariadb"} and len(lengths) == 1 and all(isinstance(v, String) for v in
                                                                          variants.values()):
        length = lengths.pop()
        return f"sa.String().with_variant(sa.String({length}), 'mysql', 'mariadb')"
    return False


def render_ops(ops: alembic_ops.UpgradeOps | alembic_ops.DowngradeOps) -> tuple[str, set[str]]:
    """(indented Python body, import lines) for a set of operations, in batch style."""
    context = MigrationContext.configure(dialect=DefaultDialect())
    autogen = AutogenContext(context, opts={
        "sqlalchemy_module_prefix": "sa.",
        "alembic_module_prefix": "op.",
        "render_as_batch": True,
        "user_module_prefix": None,
        "render_item": _render_item,
    })
    if not ops.ops:
        return "    pass", set()
    body = render_body(ops, autogen)
    lines = [line for line in body.splitlines() if "### commands auto generated" not in line
             and "### end Alembic commands" not in line]
    wrapped = [part for line in lines for part in _wrap(line)]
    return "\n".join(wrapped).rstrip() or "    pass", set(autogen.imports)


def _wrap(line: str, limit: int = MAX_LINE) -> list[str]:
    """``line`` broken after commas inside brackets, so generated files pass the project's linter."""
    if len(line) <= limit:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    depth, quote, cut = 0, "", -1
    for position, char in enumerate(line):
        if quote:
            quote = "" if char == quote and line[position - 1] != "\\" else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth >= 1 and position < limit - 1 and line[position + 1:position + 2] == " ":
            cut = position
    if cut < 0:
        return [line]
    return [line[:cut + 1], *_wrap(indent + line[cut + 2:], limit)]


def render_revision(templates_dir: Path, *, component: str, revision: str, message: str,
                    down_revisions: tuple[str, ...], branch_labels: tuple[str, ...], depends_on: list[str],
                    upgrade: alembic_ops.UpgradeOps, downgrade: alembic_ops.DowngradeOps | None,
                    irreversible: bool = False, upgrade_body: str | None = None,
                    downgrade_body: str | None = None, depends_on_names: Sequence[str] | None = None,
                    down_revision_names: Sequence[str] | None = None, data_migration: bool = False) -> str:
    """The text of a revision file; its docstring names revisions as ``component NNNN_slug (id)``.

    ``data_migration`` (``makemigrations --empty``): the file imports ``op`` and ``sa`` whatever its
    body holds, since its author is about to write ``op.execute(sa.text(...))`` into it.
    """
    up_imports: set[str]
    down_imports: set[str]
    up_body, up_imports = (upgrade_body, set()) if upgrade_body is not None else render_ops(upgrade)
    if downgrade_body is not None:
        down_body, down_imports = downgrade_body, set()
    elif irreversible or downgrade is None:
        down_body = f'    raise NotImplementedError("{component} {revision} cannot be undone")'
        down_imports = set()
    else:
        down_body, down_imports = render_ops(downgrade)
    imports = set(up_imports) | set(down_imports)
    if data_migration and up_body.strip() == "pass":
        up_body = _DATA_MIGRATION_BODY
    if data_migration or "sa." in up_body or "sa." in down_body:
        imports.add("import sqlalchemy as sa")
    if data_migration or "op." in up_body or "op." in down_body:
        imports.add("from alembic import op")
    # isort's order: plain imports first, then from-imports, each alphabetical
    ordered = sorted(i for i in imports if i.startswith("import ")) + sorted(
        i for i in imports if i.startswith("from "))
    if data_migration:  # imported for the author's next edit: unused until then, which linters must accept
        code = "\n".join(line for line in (up_body + "\n" + down_body).splitlines()
                         if not line.lstrip().startswith("#"))
        ordered = [f"{line}  # noqa: F401" if line.endswith((" op", " sa")) and f"{line[-2:]}." not in code
                   else line for line in ordered]
    env = template_environment(templates_dir)
    return str(env.get_template(REVISION_TEMPLATE).render(
        component=component,
        revision=revision,
        message=docstring_text(message),
        down_revisions=list(down_revisions),
        down_revision=list(down_revisions) if len(down_revisions) != 1 else down_revisions[0],
        branch_labels=tuple(branch_labels),
        depends_on=_named(depends_on, depends_on_names),
        revises=_named(down_revisions, down_revision_names),
        depends_on_value=list(depends_on),
        create_date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        imports=ordered,
        irreversible=irreversible,
        upgrade_body=up_body,
        downgrade_body=down_body,
    ))


#: the upgrade of an empty revision: where a data migration's statements go
_DATA_MIGRATION_BODY = """\
    # a data migration, e.g.:
    #     op.execute(sa.text("UPDATE memos SET title = :t WHERE title IS NULL").bindparams(t="untitled"))
    # or, for rows read in Python: connection = op.get_bind()
    pass"""


def docstring_text(message: str) -> str:
    """``message`` as it can stand inside the revision's docstring: backslashes, quotes that would
    end it, and characters Python refuses in source (NUL) or reads as line ends are escaped."""
    text = message.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else f"\\u{ord(ch):04x}" if ord(ch) < 0x10000
                   else f"\\U{ord(ch):08x}" for ch in text)
    return text + " " if text.endswith('"') else text


def _named(ids: Sequence[str], names: Sequence[str] | None) -> list[str]:
    if not names or len(names) != len(ids):
        return list(ids)
    return [f"{name} ({rid})" for rid, name in zip(ids, names, strict=True)]


def write_file(path: Path, text: str, changes: FileChanges) -> None:
    """Write a new revision file through ``changes`` (undone with the rest when the command fails)."""
    if path.exists():
        raise MemstackError(f"{path} exists already; refusing to overwrite it",
                            hint="remove it, or pick another message")
    changes.write_text(path, text)
