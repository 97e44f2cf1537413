"""``sqlmigrate``: the SQL of one revision, without touching the database."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, open_workspace
from memstack.core.errors import MemstackError


@click.command(short_help="Print the SQL of one revision.")
@click.argument("component")
@click.argument("target")
@click.option("--backwards", is_flag=True, help="The SQL of its downgrade instead.")
@common_options
def command(component: str, target: str, backwards: bool) -> None:
    """Print the SQL of exactly one revision for the configured database's dialect.

    TARGET names the revision as in migrate (file number, file name, slug or revision id).
    Nothing is executed and the database is not contacted. A revision that cannot render
    offline (a SQLite table rebuild, a data migration reading rows) says so.

    \b
    Examples:
      manage.py sqlmigrate memory 0002
      manage.py --database-url postgresql://localhost/memstack sqlmigrate task add_progress --backwards
    """
    from memstack.engine.review.show import sql_for_revision  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    with open_workspace(app) as ws:
        rendered = sql_for_revision(ws, component, target, backwards=backwards)
    rev = rendered.revision
    if rendered.sql is None:
        raise MemstackError(f"{rev.component} {rev.name}: {rendered.problem}")
    app.info(f"-- {rev.component} {rev.name} ({rev.id}), {rendered.direction}", level=1)
    app.data(rendered.sql.rstrip())
