"""The click layer: the ``manage.py``/``memstack`` command group and its error boundary.

Commands are discovered like Django's: the built-in ones in ``memstack.cli.commands`` plus
``<package>/commands/<name>.py`` of every installed component. Nothing is imported until a
command is run or its help is shown, so a broken component command cannot break the rest.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback as traceback_module
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from memstack.cli.context import AppContext, common_options, get_app
from memstack.cli.worded import program, program_of, ran_as
from memstack.core.errors import MemstackError
from memstack.core.redaction import redact

#: built-in command name -> module (each module defines ``command``)
BUILTIN_COMMANDS: dict[str, str] = {
    "components": "memstack.cli.commands.components",
    "makemigrations": "memstack.cli.commands.makemigrations",
    "migrate": "memstack.cli.commands.migrate",
    "showmigrations": "memstack.cli.commands.showmigrations",
    "stamp": "memstack.cli.commands.stamp",
    "repair": "memstack.cli.commands.repair",
    "history": "memstack.cli.commands.history",
    "check": "memstack.cli.commands.check",
    "tag": "memstack.cli.commands.tag",
    "rollback": "memstack.cli.commands.rollback",
    "adopt": "memstack.cli.commands.adopt",
    "takeover": "memstack.cli.commands.takeover",
    "doctor": "memstack.cli.commands.doctor",
    "onboard": "memstack.cli.commands.onboard",
    "sqlmigrate": "memstack.cli.commands.sqlmigrate",
    "seed": "memstack.cli.commands.seed",
    "startcomponent": "memstack.cli.commands.startcomponent",
    "dbshell": "memstack.cli.commands.dbshell",
    "shell": "memstack.cli.commands.shell",
    "schemadoc": "memstack.cli.commands.schemadoc",
    "lintmigrations": "memstack.cli.commands.lintmigrations",
    "squashmigrations": "memstack.cli.commands.squashmigrations",
}

#: each built-in command's short help, so ``--help`` lists them without importing ~20 modules
#: (tests/test_help_table.py keeps it equal to each command's own ``short_help``)
SHORT_HELP: dict[str, str] = {
    "components": "List the installed components.",
    "makemigrations": "Create revisions from model changes.",
    "migrate": "Apply or unapply revisions (also: --plan, --sql, --dry-run).",
    "showmigrations": "List revisions and whether each is applied.",
    "stamp": "Record a component as being at TARGET, without running anything.",
    "repair": "Record current checksums and clear failure marks.",
    "history": "Show what ran on this database, when and by whom.",
    "check": "Check the tree (and a database) for problems; exit 1 when any.",
    "tag": "Save, list or delete named snapshots of the applied state.",
    "rollback": "Undo the last N applied revisions.",
    "adopt": "Take over a database built by MemStack's old code.",
    "takeover": "Take over an existing Alembic project as a component.",
    "doctor": "Health report: driver, server, database, pending, checksums, lock.",
    "onboard": "From clone to working database: create, migrate, seed.",
    "sqlmigrate": "Print the SQL of one revision.",
    "seed": "Create MemStack's start-up data (idempotent).",
    "startcomponent": "Create a new component (package, migrations folder, configuration).",
    "dbshell": "Open psql, mariadb/mysql or sqlite3 on the database.",
    "shell": "Python shell with a database session and the models loaded.",
    "schemadoc": "Document the database's schema (HTML, Markdown, ER diagram) or diff two databases.",
    "lintmigrations": "Review revisions for locking and deploy dangers (squawk + model checks); exit 1 on any.",
    "squashmigrations": "Replace a range of a component's revisions with one, proven equal on every dialect.",
}


class BrokenCommand(click.Command):
    """Stands in for a command whose module failed to import: listed, and explains itself."""
    def __init__(self, name: str, module: str, error: BaseException) -> None:
        self.error_text = f"{type(error).__name__}: {error}"
        self.module = module
        super().__init__(name, help=f"(failed to load from {module}: {self.error_text})",
                         short_help=f"failed to load: {self.error_text}")
        self.callback = self._fail

    def _fail(self) -> None:
        raise MemstackError(
            f"command {self.name!r} failed to load from {self.module}: {self.error_text}",
            hint="fix the module, or run with --traceback to see where it fails",
        )


class MemstackGroup(click.Group):
    """A click group whose commands are found by convention and imported on demand."""
    def _component_commands(self, ctx: click.Context) -> dict[str, str]:
        app = get_app(ctx)
        try:
            registry = app.registry
        except MemstackError:
            return {}  # no project here: only the built-in commands
        found: dict[str, str] = {}
        for component in registry:
            spec = importlib.util.find_spec(component.package)
            for folder in (spec.submodule_search_locations or []) if spec else []:
                commands_dir = Path(folder) / "commands"
                if not (commands_dir / "__init__.py").is_file():
                    continue
                for path in sorted(commands_dir.glob("*.py")):
                    name = path.stem
                    if not name.startswith("_") and name not in BUILTIN_COMMANDS:
                        found.setdefault(name.replace("_", "-"), f"{component.package}.commands.{name}")
        return found

    def _all_commands(self, ctx: click.Context) -> dict[str, str]:
        return {**BUILTIN_COMMANDS, **self._component_commands(ctx)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._all_commands(ctx)) | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list: built-in commands from :data:`SHORT_HELP`, component ones imported."""
        rows: list[tuple[str, str]] = []
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)  # as click's own
        for name in names:
            if name in SHORT_HELP and name not in self.commands:
                rows.append((name, SHORT_HELP[name]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        module_name = BUILTIN_COMMANDS.get(cmd_name) or self._component_commands(ctx).get(cmd_name)
        if module_name is None:
            return None
        try:
            module = importlib.import_module(module_name)
            command = module.command
            if not isinstance(command, click.Command):
                raise TypeError(f"{module_name}.command is not a click command")
        except Exception as exc:
            if get_app(ctx).traceback:
                _print_traceback()
            return BrokenCommand(cmd_name, module_name, exc)
        command.name = cmd_name
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0])
        if self.get_command(ctx, name) is None and not ctx.resilient_parsing and not name.startswith("-"):
            import difflib  # (only for a mistyped command)

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=1, cutoff=0.5)
            suggestion = f" Did you mean {close[0]!r}?" if close else ""
            ctx.fail(f"Unknown command {name!r}.{suggestion} Run '{program()} --help' for the list.")
        return super().resolve_command(ctx, args)


@click.group(cls=MemstackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@common_options
@click.version_option(package_name="memstack", prog_name="memstack")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """memstack: MemStack's database layer and schema migrations.

    Every component (auth, tenant, project, ...) owns its tables and its own migration
    folder; memstack works out the dependencies between them.

    \b
    Start here:
      manage.py onboard           create, migrate, seed: a working database
      manage.py components        what is installed
      manage.py migrate           bring the database up to date
      manage.py COMMAND --help    help on one command
    """
    get_app(ctx)


def _wants_traceback(argv: Sequence[str]) -> bool:
    return "--traceback" in argv


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: the one place errors become messages and exit statuses."""
    args = list(sys.argv[1:] if argv is None else argv)
    previous = _terminate_like_ctrl_c()
    try:
        with ran_as(program_of(sys.argv[0] if sys.argv else "")):  # hints name the command the person ran
            _main(args)
    finally:  # called in-process (tests, an embedding program): their SIGTERM handler comes back
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _main(args: list[str]) -> None:
    app = AppContext()
    try:
        result = cli.main(args=args, prog_name=_prog_name(), standalone_mode=False, obj=app)
        if isinstance(result, int) and not isinstance(result, bool) and result:
            sys.exit(result)  # a command raised click's Exit(code): click hands the code back
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # usage errors: exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):  # click wraps Ctrl-C in Abort
            _interrupted(exc.__cause__ or exc.__context__)
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except MemstackError as raised:
        _report(app, args, raised)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except Exception as exc:
        translated = _database_error(app, exc)
        if translated is not None:
            _report(app, args, translated)
        if app.traceback or _wants_traceback(args):
            _print_traceback()
        else:
            click.echo(f"error: unexpected {type(exc).__name__}: {redact(str(exc))}", err=True)
            click.echo("  (run again with --traceback to see where it happened)", err=True)
        sys.exit(1)
    sys.exit(0)


def _report(app: AppContext, args: Sequence[str], raised: MemstackError) -> None:
    """The error line and its fix line, then exit with the error's status."""
    if app.traceback or _wants_traceback(args):
        _print_traceback()
    from memstack.cli.errors import for_person  # the wordings import the engine: only on error

    worded = for_person(raised)
    click.echo(app.style(f"error: {redact(worded.message)}", fg="red"), err=True)
    if worded.hint:
        click.echo(f"  fix: {redact(worded.hint)}", err=True)
    sys.exit(worded.exit_code)


def _database_error(app: AppContext, exc: Exception) -> MemstackError | None:
    """A database error a command let through (outside ``open_workspace``: doctor, onboard), worded
    as open_workspace words it: a refused privilege, an unreachable server, a file that is no database."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError  # lazy: only on error

    from memstack.core.db import database_unavailable, not_a_database  # lazy: only on error
    from memstack.core.privileges import privilege_error  # lazy: only on error

    if not isinstance(exc, DBAPIError):
        return None
    try:
        url = app.settings.database_url
    except MemstackError:
        return None
    refused = privilege_error(exc, url)
    if refused is not None:
        return refused
    if isinstance(exc, (OperationalError, InterfaceError)) or not_a_database(exc):
        return database_unavailable(exc, url)
    return None


def _terminate_like_ctrl_c() -> Any:
    """SIGTERM raises :class:`~memstack.engine.errors.Terminated` (a KeyboardInterrupt) in the main thread.

    The default action would end the process at once, leaving a statement queued on the
    server (an ALTER waiting for a table lock keeps waiting, and every query on the table
    queues behind it). Raised like Ctrl-C, it cancels the running statement on the server
    (psycopg sends a cancel request), the executor records the interruption, every session
    is closed, and the process exits 143.
    """
    import signal  # lazy: --help stays fast
    import threading  # lazy: --help stays fast

    if threading.current_thread() is not threading.main_thread():  # signal handlers live in the main thread
        return None

    def terminate(_signum: int, _frame: object) -> None:
        from memstack.engine.errors import Terminated  # lazy: --help stays fast

        raise Terminated()

    return signal.signal(signal.SIGTERM, terminate)


def _interrupted(exc: BaseException | None) -> None:
    from memstack.engine.errors import Terminated  # lazy: --help stays fast

    if isinstance(exc, Terminated):
        click.echo("Terminated (SIGTERM).", err=True)
        sys.exit(143)
    click.echo("Interrupted.", err=True)
    sys.exit(130)


def _print_traceback() -> None:
    """The stack for --traceback, with every password memstack has seen masked."""
    click.echo(redact(traceback_module.format_exc()), err=True, nl=False)


def _prog_name() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "memstack"
    return name if name not in ("__main__.py", "-c", "") else "memstack"


def call_command(name: str, /, *args: object, stdout: IO[str] | None = None, stderr: IO[str] | None = None,
                 **options: Any) -> Any:
    """Run command ``name`` from Python and return its result; errors raise, nothing exits.

    Options use their Python names (``call_command("migrate", "memory", "zero", yes=True)``);
    ``True`` becomes a flag, a list repeats the option. Global options (``database_url``,
    ``project_dir``, ``verbosity``, ``no_color``, ``lock_timeout``) apply to this call only; a list of
    ``database_url`` values is for a command whose ``--database-url`` repeats.
    """
    app = AppContext(stdout=stdout, stderr=stderr)
    for key in ("database_url", "project_dir", "verbosity", "no_color", "lock_timeout", "traceback"):
        if key == "database_url" and isinstance(options.get(key), (list, tuple)):
            app.database_url = options[key][0] if options[key] else None  # many: also passed on (squashmigrations)
        elif key in options:
            setattr(app, key, options.pop(key))
    argv: list[str] = [name, *map(str, args)]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv.extend([flag, str(item)])
        else:
            argv.extend([flag, str(value)])
    try:
        return cli.main(args=argv, prog_name="call_command", standalone_mode=False, obj=app)
    except click.exceptions.Exit as exc:
        if exc.exit_code:
            raise MemstackError(f"command {name!r} exited with status {exc.exit_code}") from exc
        return None
    except click.UsageError as exc:
        raise MemstackError(f"{name}: {exc.format_message()}") from exc
    except MemstackError as exc:
        from memstack.cli.errors import for_person  # lazy: the wordings import the engine

        worded = for_person(exc)
        if worded is exc:
            raise
        raise worded from exc
    except Exception as exc:  # a database error a command let through: worded as the command line words it
        translated = _database_error(app, exc)
        if translated is None:
            raise
        from memstack.cli.errors import for_person  # lazy: the wordings import the engine

        raise for_person(translated) from exc
