"""The guard's options on ``migrate`` and ``rollback`` (contract: "Waiting and timeouts"), passed to
the command as one ``guard`` dict of the values given (absent ones come from the settings chain)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from memstack.cli.context import SECONDS

F = TypeVar("F", bound=Callable[..., Any])
_NAMES = ("statement_timeout", "lock_retries", "lock_retry_max_wait", "blocker_policy")


def guard_options(function: F) -> F:
    """Add --statement-timeout, --lock-retries, --lock-retry-max-wait, --blocker-policy."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["guard"] = {name: kwargs.pop(name) for name in _NAMES if kwargs.get(name) is not None}
        for name in _NAMES:
            kwargs.pop(name, None)
        return function(*args, **kwargs)

    decorated: Any = wrapper
    for option in reversed((
        click.option("--statement-timeout", type=SECONDS, metavar="SECONDS",
                     help="The longest one statement may run (default 3600; 0: no bound)."),
        click.option("--lock-retries", type=click.IntRange(min=0), metavar="N",
                     help="How often a step that timed out waiting for a table lock is tried again (default 30)."),
        click.option("--lock-retry-max-wait", type=SECONDS, metavar="SECONDS",
                     help="The most time the retries of one step may spend waiting and sleeping (default 60)."),
        click.option("--blocker-policy", type=click.Choice(["ladder", "wait", "refuse"]),
                     help="When sessions hold locks a step needs: go ahead under the retries (ladder, default), "
                          "wait for them, or refuse."),
    )):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]
