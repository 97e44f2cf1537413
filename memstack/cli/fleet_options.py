"""The options of runs over many targets (contract: "Many targets"), passed to a command as one
``fleet`` value (None when no target option was given: the command works on one database)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from memstack.engine.fleet.shard import Shard
    from memstack.engine.fleet.targets import Target
    from memstack.engine.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
_SELECT = ("targets_file", "targets_sql", "schemas", "shard")
_RUN = ("concurrency", "canary", "waves", "max_failed")


@dataclass(frozen=True)
class FleetArgs:
    targets_file: IO[str] | None = None
    targets_sql: str | None = None
    schemas: str | None = None
    shard: str | None = None
    concurrency: int | None = None
    canary: int = 0
    waves: str | None = None
    max_failed: int | None = None

    def targets(self, ws: Workspace) -> tuple[list[Target], Shard | None]:
        """The targets named (file, query or schema pattern, together), then this shard's share."""
        from memstack.engine.fleet.shard import choose_shard  # lazy: loaded when the command runs

        unique = self.every_target(ws)
        shard = choose_shard(self.shard, os.environ)
        return (shard.select(unique) if shard else unique), shard

    def every_target(self, ws: Workspace) -> list[Target]:
        """The targets named (file, query or schema pattern, together), repeats once; no shard."""
        from memstack.engine.fleet.targets import parse_targets, targets_from_schemas, targets_from_sql

        found: list[Target] = []
        if self.targets_file is not None:
            found += parse_targets(self.targets_file, getattr(self.targets_file, "name", "--targets"))
        if self.targets_sql:
            found += targets_from_sql(ws, self.targets_sql)
        if self.schemas:
            found += targets_from_schemas(ws, self.schemas)
        return list(dict.fromkeys(found))


def _options(names: tuple[str, ...], run: bool) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in _SELECT + _RUN if name in kwargs}
            chosen = any(given.get(name) is not None for name in _SELECT[:3])
            kwargs["fleet"] = FleetArgs(**{k: v for k, v in given.items() if v is not None}) if chosen else None
            return function(*args, **kwargs)

        decorated: Any = wrapper
        for option in reversed(_select_options() + (_run_options() if run else ())):
            decorated = option(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


def _select_options() -> tuple[Callable[[Any], Any], ...]:
    return (
        click.option("--targets", "targets_file", type=click.File("r"), metavar="FILE",
                     help="Many targets: one a line, a URL or URL#schema=NAME ('-': stdin)."),
        click.option("--targets-sql", metavar="QUERY",
                     help="Many targets: each row of QUERY (run on the configured database), a URL or a schema name."),
        click.option("--schemas", metavar="PATTERN",
                     help="Many targets: every schema of the configured PostgreSQL database LIKE PATTERN."),
        click.option("--shard", metavar="I/N",
                     help="Only shard I of N (default: JOB_COMPLETION_INDEX+1 of MEMSTACK_SHARD_COUNT)."),
    )


def _run_options() -> tuple[Callable[[Any], Any], ...]:
    return (
        click.option("--concurrency", type=click.IntRange(min=1), metavar="N",
                     help="Targets migrated at once, each in a worker process (default: the number of CPUs)."),
        click.option("--canary", type=click.IntRange(min=0), default=0, metavar="N",
                     help="Migrate N targets first; the rest only if none of them failed."),
        click.option("--waves", metavar="SIZES",
                     help="Then in waves, e.g. 10%,100%: a wave starts when the earlier ones had no failure."),
        click.option("--max-failed", type=click.IntRange(min=1), metavar="K",
                     help="Start no new target after K failures (those running finish)."),
    )


target_options = _options(_SELECT, run=False)
"""--targets, --targets-sql, --schemas, --shard (showmigrations, check, history)."""
fleet_options = _options(_SELECT + _RUN, run=True)
"""The target options and --concurrency, --canary, --waves, --max-failed (migrate)."""
