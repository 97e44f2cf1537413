"""``repair``: accept changed files' checksums and clear failure marks."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, open_workspace, yes_option
from memstack.cli.reporting import confirm_steps, report_wait


@click.command(short_help="Record current checksums and clear failure marks.")
@yes_option
@common_options
def command(yes: bool) -> None:
    """Record the current checksums of applied revision files, and clear failure marks.

    migrate refuses to run when an applied revision's file changed (its checksum differs
    from the one recorded when it ran), or when a revision failed half-way on MariaDB.
    Once you have checked that the change is harmless, or fixed the schema by hand, repair
    records the new checksums and clears the marks (asking first). Each change is written to
    history as a 'repair' event.

    \b
    Example:
      manage.py repair --yes
    """
    from memstack.engine.maintenance import repair  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    with open_workspace(app) as ws:
        result = repair(ws, confirm=confirm_steps(app, yes), on_wait=report_wait(app))
    for item in result.checksums:
        app.info(f"  recorded new checksum of {item.component} {item.name}: {item.current[:12]}... "
                 f"(was {item.recorded[:12]}...)", level=0)
    if result.verified:
        app.info(f"  recorded checksums of {len(result.verified)} revision(s) applied without one")
    for mark in result.marks:
        app.info(f"  cleared the failure mark of {mark}", level=0)
    if not (result.checksums or result.verified or result.marks):
        app.info("Nothing to repair.")
