"""Renders revision files from the Jinja2 templates in the project's ``templates/`` folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from alembic.operations import ops as alembic_ops

from memstack.core.errors import MemstackError

REVISION_TEMPLATE = "revision.py.j2"


def _pyrepr(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            return "None"
        if len(value) == 1:
            return repr(value[0]) if isinstance(value, list) else f"({value[0]!r},)"
        return "(" + ", ".join(repr(v) for v in value) + ")"
    return repr(value)


def template_environment(templates_dir: Path) -> Any:
    import jinja2

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


def _render_item(type_: str, obj: Any, _autogen: Any) -> str | bool:
    """Render ``memstack.core.db.string(n)`` compactly (one variant for both MySQL dialect names), and
    ``now()`` server defaults portably."""
    from sqlalchemy import String

    if type_ == "server_default":
        from sqlalchemy.sql import functions

        argument = getattr(obj, "arg", None)
        if isinstance(argument, functions.now):
            return "sa.func.now()"  # sa.text('now()') would break inserts on SQLite
        return False
    mapping = getattr(obj, "_variant_mapping", None) if type_ == "type" else None
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
    from alembic.autogenerate import render
    from alembic.autogenerate.api import AutogenContext
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine.default import DefaultDialect

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
    body = render._indent(render._render_cmd_body(ops, autogen))
    lines = [line for line in body.splitlines() if "### commands auto generated" not in line
             and "### end Alembic commands" not in line]
    return "\n".join(lines).rstrip() or "    pass", set(autogen.imports)


def render_revision(templates_dir: Path, *, component: str, revision: str, message: str,
                    down_revisions: tuple[str, ...], branch_labels: tuple[str, ...], depends_on: list[str],
                    upgrade: alembic_ops.UpgradeOps, downgrade: alembic_ops.DowngradeOps | None,
                    irreversible: bool = False, upgrade_body: str | None = None,
                    downgrade_body: str | None = None) -> str:
    """The text of a revision file."""
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
    if "sa." in up_body or "sa." in down_body:
        imports.add("import sqlalchemy as sa")
    if "op." in up_body or "op." in down_body:
        imports.add("from alembic import op")
    # isort's order: plain imports first, then from-imports, each alphabetical
    ordered = sorted(i for i in imports if i.startswith("import ")) + sorted(
        i for i in imports if i.startswith("from "))
    env = template_environment(templates_dir)
    return str(env.get_template(REVISION_TEMPLATE).render(
        component=component,
        revision=revision,
        message=message,
        down_revisions=list(down_revisions),
        down_revision=list(down_revisions) if len(down_revisions) != 1 else down_revisions[0],
        branch_labels=tuple(branch_labels),
        depends_on=depends_on,
        depends_on_value=list(depends_on),
        create_date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        imports=ordered,
        irreversible=irreversible,
        upgrade_body=up_body,
        downgrade_body=down_body,
    ))


def write_file(path: Path, text: str) -> None:
    if path.exists():
        raise MemstackError(f"{path} exists already; refusing to overwrite it",
                            hint="remove it, or pick another message")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
