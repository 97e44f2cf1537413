"""``onboard``: from a fresh clone to a working database in one command."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app
from memstack.cli.reporting import report_progress, report_wait
from memstack.cli.worded import program


@click.command(short_help="From clone to working database: create, migrate, seed.")
@click.option("--no-seed", is_flag=True, help="Do not create the start-up data.")
@common_options
def command(no_seed: bool) -> None:
    """Set up a working database in one step; safe to run again (a second run changes nothing).

    \b
    1. checks the configuration and the revision tree;
    2. creates the database when it does not exist (PostgreSQL and MariaDB through the
       server's maintenance database; SQLite: the file);
    3. migrates every component to its head;
    4. seeds MemStack's start-up data (unless --no-seed): generated passwords and the admin's
       API key are printed once.

    \b
    Examples:
      manage.py onboard
      MEMSTACK_DATABASE_URL=postgresql://postgres@localhost/memstack manage.py onboard
    """
    from memstack.cli.commands.seed import report_seed  # lazy: loaded when the command runs, not for its --help
    from memstack.onboarding import onboard  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    app.info(f"Database: {app.settings.masked_database_url}", level=0)
    result = onboard(app.settings, seed=not no_seed, progress=report_progress(app), on_wait=report_wait(app))
    app.info("Created the database." if result.created_database else "The database exists.", level=0)
    app.info(f"Applied {len(result.applied)} revision(s)." if result.applied else "Schema is up to date.", level=0)
    if result.seed is not None:
        report_seed(app, result.seed)
    app.info(f"\nNext: '{program()} showmigrations' to see the state, '{program()} doctor' for a health report,\n"
             f"'{program()} makemigrations' after you change a model.", level=0)
