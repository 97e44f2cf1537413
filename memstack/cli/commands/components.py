"""``components``: what is installed, and where its tables and migrations are."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option


@click.command(short_help="List the installed components.")
@json_option
@common_options
def command(as_json: bool) -> None:
    """List the installed components: label, package, tables and migrations folder.

    The label is the component's Alembic branch label and the name other commands take
    (``manage.py migrate memory``). Components come from [tool.memstack] components in
    pyproject.toml.

    \b
    Example:
      manage.py components --json
    """
    app = get_app()
    registry = app.registry
    registry.load_models()
    rows = [c.as_json(app.settings.project_dir) for c in registry]
    if as_json:
        app.json(rows)
        return
    for row in rows:
        app.data(f"{app.style(str(row['label']), bold=True)}  ({row['package']})  migrations: {row['migrations_path']}")
        tables = row["tables"]
        app.data(f"    tables: {', '.join(tables) if isinstance(tables, list) and tables else '(none)'}")
