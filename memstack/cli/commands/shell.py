"""``shell``: Python with a session on the database and every component's models loaded."""

from __future__ import annotations

import sys
import traceback
from typing import IO

import click

from memstack.cli.context import common_options, get_app
from memstack.core.errors import MemstackError


@click.command(short_help="Python shell with a database session and the models loaded.")
@click.option("-c", "--command", "code", metavar="CODE", help="Run CODE and exit instead of starting a shell.")
@common_options
def command(code: str | None) -> None:
    """Start Python with the database and the models at hand.

    \b
    In the namespace:
      session    a SQLAlchemy Session on the configured database (commit yourself)
      engine     its Engine;  metadata  the shared MetaData
      select, func, text   from SQLAlchemy
      User, Tenant, Memory, ...   every component's model classes

    Uses IPython when it is installed, else the standard interactive console. With
    -c CODE (or code piped on stdin) the code runs and the shell exits; an exception
    exits 1. Uncommitted changes are rolled back at the end.

    \b
    Examples:
      manage.py shell
      manage.py shell -c "print(session.scalar(select(func.count()).select_from(User)))"
      echo "print(metadata.tables.keys())" | manage.py shell
    """
    from memstack.cli.dbshell import shell_namespace  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    shell = shell_namespace(app.settings.database_url, app.registry)
    for name in shell.clashes:
        app.warn(f"model {name} clashes with another component's class of that name; "
                 f"it is available as {name.replace('.', '_')}")
    try:
        if code is None and not sys.stdin.isatty():
            code = sys.stdin.read()
        if code is not None:
            _run(code, shell.namespace, app.err)
        else:
            names = ", ".join(sorted(k for k in shell.namespace if not k.startswith("_")))
            _interact(shell.namespace, f"memstack shell on {app.settings.masked_database_url}\nAvailable: {names}")
    finally:
        shell.close()


def _run(code: str, namespace: dict[str, object], err: IO[str]) -> None:
    try:
        exec(compile(code, "<shell -c>", "exec"), namespace)
    except SystemExit:
        raise
    except Exception as exc:
        traceback.print_exc(file=err)
        raise MemstackError(f"the code raised {type(exc).__name__}: {exc}") from None


def _interact(namespace: dict[str, object], banner: str) -> None:
    try:
        from IPython import start_ipython
    except ImportError:
        start_ipython = None
    if start_ipython is not None:
        click.echo(banner, err=True)
        start_ipython(argv=[], user_ns=namespace)
        return
    import code as code_module  # lazy: loaded when the command runs, not for its --help

    try:
        import readline
        import rlcompleter

        readline.set_completer(rlcompleter.Completer(namespace).complete)
        readline.parse_and_bind("tab: complete")
    except ImportError:  # no readline on this platform
        pass
    code_module.interact(banner=banner, local=namespace, exitmsg="")
