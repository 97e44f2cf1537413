"""``dbshell``: the database's own command-line client on the configured database."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app


@click.command(short_help="Open psql, mariadb/mysql or sqlite3 on the database.",
               context_settings={"ignore_unknown_options": True})
@click.argument("client_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- CLIENT_ARGS]...")
@common_options
def command(client_args: tuple[str, ...]) -> None:
    """Run the database's command-line client, connected to the configured database.

    PostgreSQL: psql; MariaDB/MySQL: mariadb (or mysql); SQLite: sqlite3. The password is
    passed in the environment (PGPASSWORD / MYSQL_PWD), never on the command line. Anything
    after -- goes to the client. The exit status is the client's.

    \b
    Examples:
      manage.py dbshell
      manage.py dbshell -- -c "select count(*) from users"     # psql
      manage.py --database-url sqlite:///other.db dbshell
    """
    import subprocess  # lazy: loaded when the command runs, not for its --help
    from pathlib import Path  # lazy: loaded when the command runs, not for its --help

    # lazy: loaded when the command runs, not for its --help
    from memstack.cli.dbshell import ClientExit, require_client, shell_command

    app = get_app()
    url = app.settings.database_url
    argv, env = shell_command(url, extra_args=client_args)
    argv[0] = require_client(argv, url)
    app.info(f"Database: {app.settings.masked_database_url}", level=2)
    completed = subprocess.run(argv, env=env, check=False)  # stdin, stdout, stderr inherited
    if completed.returncode:
        # (not click's Exit: memstack's main() and call_command turn MemstackError into the status)
        raise ClientExit(Path(argv[0]).name, completed.returncode)
