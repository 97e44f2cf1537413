"""``stamp``: set a component's recorded state without running anything."""

from __future__ import annotations

import click

from memstack.cli.context import SECONDS, common_options, get_app, open_workspace, yes_option
from memstack.cli.reporting import confirm_destruction, confirm_steps, report_progress, report_wait


@click.command(short_help="Record a component as being at TARGET, without running anything.")
@click.argument("component")
@click.argument("target")
@click.option("--lock-timeout", type=SECONDS, metavar="SECONDS",
              help="How long to wait for another migration to finish.")
@yes_option
@common_options
def command(component: str, target: str, lock_timeout: float | None, yes: bool) -> None:
    """Record COMPONENT as migrated to TARGET, without running any revision.

    Use it when the schema already is (or is not) what the revisions describe, e.g. after a
    change made by hand. It plans like migrate (dependencies forwards, dependents backwards,
    with the same confirmation), takes the same lock and writes 'stamp' events to history.
    Stamping backwards drops nothing, but memstack then thinks those revisions are not
    applied (the next migrate runs them again), so it asks first (without a terminal: --yes).

    \b
    Examples:
      manage.py stamp task 0004
      manage.py stamp memory zero --yes
    """
    from memstack.engine.migrate import RunOptions, stamp  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    app.set_lock_timeout(lock_timeout)
    with open_workspace(app) as ws:
        options = RunOptions(confirm=confirm_steps(app, yes), confirm_destruction=confirm_destruction(app, yes),
                             progress=report_progress(app, fake=True), on_wait=report_wait(app))
        results = stamp(ws, component, target, options)
    app.info(f"Stamped {len(results)} revision(s): recorded, none of them run." if results
             else "Nothing to stamp: already there.")
