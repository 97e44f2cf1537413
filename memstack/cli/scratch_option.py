"""``--scratch-url`` of ``check`` and ``makemigrations``: where to build the comparison database
when the user may not create databases."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from memstack.cli.context import AppContext

SCRATCH_HELP = ("An existing EMPTY database (or PostgreSQL schema, via ?options=-csearch_path%3DNAME) to build "
                "the comparison in, for users who may not CREATE DATABASE; emptied again afterwards. "
                "Also MEMSTACK_SCRATCH_URL or scratch_url in [tool.memstack].")


def scratch_url_option(func: Any) -> Any:
    return click.option("--scratch-url", "scratch_url", metavar="URL", help=SCRATCH_HELP)(func)


def apply_scratch_url(app: AppContext, value: str | None) -> None:
    """The command's ``--scratch-url`` wins over the environment and the configuration."""
    if value is None:
        return
    if not value.strip():
        raise click.BadParameter("is empty (an unset shell variable?); pass a database URL or leave it out",
                                 param_hint="'--scratch-url'")
    app._settings = dataclasses.replace(app.settings, scratch_url=value.strip())
