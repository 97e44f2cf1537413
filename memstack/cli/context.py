"""What every command gets: settings, registry and output, all loaded on first use."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import click

from memstack.core.errors import DeclinedError

if TYPE_CHECKING:
    from memstack.core.components import Registry
    from memstack.core.settings import Settings
    from memstack.engine.workspace import Workspace


@dataclass
class AppContext:
    """Options shared by every command, and lazily loaded project state."""
    verbosity: int = 1
    no_color: bool = False
    database_url: str | None = None
    project_dir: str | None = None
    lock_timeout: float | None = None
    traceback: bool = False
    stdout: IO[str] | None = None
    stderr: IO[str] | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ project state
    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from memstack.core.settings import load_settings  # lazy: kept off the no-op path and --help

            self._settings = load_settings(
                project_dir=self.project_dir, database_url=self.database_url, lock_timeout=self.lock_timeout
            )
        return self._settings

    def set_lock_timeout(self, seconds: float | None) -> None:
        """A command's own ``--lock-timeout`` (it wins over every other source)."""
        if seconds is None:
            return
        self.lock_timeout = seconds
        if self._settings is not None:
            import dataclasses  # lazy: kept off the no-op path and --help

            self._settings = dataclasses.replace(self._settings, lock_timeout=seconds)

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from memstack.core.components import build_registry  # lazy: kept off the no-op path and --help

            self._registry = build_registry(self.settings)
        return self._registry

    # ------------------------------------------------------------------ output
    @property
    def out(self) -> IO[str]:
        return self.stdout or sys.stdout

    @property
    def err(self) -> IO[str]:
        return self.stderr or sys.stderr

    @property
    def color(self) -> bool:
        if self.no_color or os.environ.get("NO_COLOR"):
            return False
        stream = self.err
        return bool(getattr(stream, "isatty", lambda: False)())

    def style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def data(self, text: str = "") -> None:
        """Data for scripts and people: stdout, always."""
        click.echo(_redact(text), file=self.out)

    def json(self, payload: Any) -> None:
        click.echo(_redact(json.dumps(payload, indent=2, default=str)), file=self.out)

    def info(self, text: str, level: int = 1, **styles: Any) -> None:
        """Chatter: stderr, shown from verbosity ``level`` up."""
        if self.verbosity >= level:
            text = _redact(text)
            click.echo(self.style(text, **styles) if styles else text, file=self.err)

    def warn(self, text: str) -> None:
        if self.verbosity >= 1:
            click.echo(self.style(f"warning: {_redact(text)}", fg="yellow"), file=self.err)

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask on a terminal; without one refuse unless ``--yes``. Declining raises."""
        if yes:
            return
        if not sys.stdin.isatty():
            raise DeclinedError(
                f"{question} -- refusing without a terminal to ask on",
                hint="pass --yes to confirm non-interactively",
            )
        if not click.confirm(question, default=False, err=True):
            raise DeclinedError("declined; nothing was changed")


def _redact(text: str) -> str:
    """Last line of defence for ordinary output: no URL reaches the terminal with its password."""
    from memstack.core.redaction import mask_urls_in  # lazy: kept off the no-op path and --help

    return mask_urls_in(text)


def get_app(ctx: click.Context | None = None) -> AppContext:
    ctx = ctx or click.get_current_context()
    app = ctx.find_object(AppContext)
    if app is None:
        app = ctx.ensure_object(AppContext)
    return app


# ---------------------------------------------------------------------- shared options


def _setter(attr: str, convert: Any = None) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value is None or value is False:
            return value
        app = get_app(ctx)
        setattr(app, attr, convert(value) if convert else value)
        if attr in ("database_url", "project_dir"):
            app._settings = None  # loaded earlier to find the command; reload with this option
            app._registry = None
        return value

    return callback


def _first_database(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    """A repeatable ``--database-url``: the first is the database to work on, all are passed on."""
    if value:
        _setter("database_url")(ctx, param, value[0])
    return value


def common_options(func: Any, *, many_databases: bool = False) -> Any:
    """The global options, accepted after the command name too (``migrate -v 2``); ``many_databases``:
    ``--database-url`` is repeatable and passed to the command as ``database_urls`` (the first is the
    database to work on)."""
    database = click.option("--database-url", "database_urls", multiple=True, is_eager=True, metavar="URL",
                            callback=_first_database,
                            help="A database to work on (overrides MEMSTACK_DATABASE_URL, ...); repeatable.") \
        if many_databases else click.option(
            "--database-url", default=None, expose_value=False, is_eager=True,
            metavar="URL", callback=_setter("database_url"),
            help="Database to work on (overrides MEMSTACK_DATABASE_URL, DATABASE_URL, ...).")
    options = [
        click.option("-v", "--verbosity", type=click.IntRange(0, 3), default=None, expose_value=False,
                     is_eager=True, callback=_setter("verbosity"),
                     help="0 quiet, 1 normal, 2 verbose, 3 very verbose."),
        database,
        click.option("--project-dir", default=None, expose_value=False, is_eager=True,
                     type=click.Path(file_okay=False), callback=_setter("project_dir"),
                     help="Project root (the folder with pyproject.toml's [tool.memstack])."),
        click.option("--no-color", is_flag=True, default=False, expose_value=False, is_eager=True,
                     callback=_setter("no_color"), help="No colour (also when NO_COLOR is set)."),
        click.option("--traceback", is_flag=True, default=False, expose_value=False, is_eager=True,
                     callback=_setter("traceback"), help="Show the Python stack on errors."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


if TYPE_CHECKING:
    FloatParam = click.ParamType[float, Any]
else:  # click before 8.5 has a plain ParamType; subscripting it would fail at import
    FloatParam = click.ParamType


class Seconds(FloatParam):
    """A duration in seconds: a finite number, 0 or more (``nan`` would wait for ever)."""
    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math  # lazy: kept off the no-op path and --help

        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (for example 60)", param, ctx)
        if not math.isfinite(seconds) or seconds < 0:
            self.fail(f"{value!r} is not a finite number of seconds, 0 or more (for example 60)", param, ctx)
        return seconds


SECONDS = Seconds()


def json_option(func: Any) -> Any:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")(func)


def yes_option(func: Any) -> Any:
    return click.option("--yes", "-y", is_flag=True, help="Confirm destructive steps without asking.")(func)

@contextmanager
def open_workspace(app: AppContext) -> Iterator[Workspace]:
    """The workspace of the command's project; a database that cannot be used becomes one clear error."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError  # lazy: kept off the no-op path and --help

    from memstack.core.db import database_unavailable, not_a_database  # lazy: kept off the no-op path and --help
    from memstack.engine.workspace import Workspace  # lazy: kept off the no-op path and --help

    ws = Workspace(settings=app.settings, registry=app.registry)
    try:
        yield ws
    except DBAPIError as exc:
        from memstack.core.privileges import privilege_error

        refused = privilege_error(exc, ws.settings.database_url)
        if refused is not None:
            raise refused from exc
        if isinstance(exc, (OperationalError, InterfaceError)) or not_a_database(exc):
            raise database_unavailable(exc, ws.settings.database_url) from exc
        raise
    finally:
        ws.close()
