"""``migrate``: bring components to their heads or to any TARGET, forwards or backwards."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, yes_option
from memstack.cli.reporting import confirm_steps, report_progress, report_wait
from memstack.cli.workspace import open_workspace


@click.command(short_help="Apply or unapply revisions.")
@click.argument("component", required=False)
@click.argument("target", required=False)
@click.option("--fake", is_flag=True, help="Record the plan as done without running it.")
@click.option("--atomic", is_flag=True, help="Run the whole plan in one transaction (PostgreSQL, SQLite).")
@click.option("--prune", "prune_component", metavar="COMPONENT",
              help="Forget the applied revisions of a component removed from the configuration.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="How long to wait for another migration to finish (default 60, or lock_timeout).")
@click.option("--ddl-lock-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="How long one DDL statement may wait for table locks (PostgreSQL, MariaDB).")
@yes_option
@json_option
@common_options
def command(component: str | None, target: str | None, fake: bool, atomic: bool, prune_component: str | None,
            lock_timeout: float | None, ddl_lock_timeout: float | None, yes: bool, as_json: bool) -> None:
    """Bring the database up to date, or move one component to TARGET.

    \b
    No argument: every component to its head.
    COMPONENT:   that component to its head, with what it needs from other components first.
    COMPONENT TARGET: forwards or backwards to TARGET: zero, head, a file number (0002 or 2),
                 a file name or slug (0002_add_task_id, add_task_id), or a revision id (prefix).

    Moving backwards also unapplies revisions of other components that depend on what is
    removed; they are listed and you are asked (without a terminal: pass --yes). One lock per
    database keeps concurrent runs apart; each revision runs in its own transaction.

    \b
    Examples:
      manage.py migrate
      manage.py migrate memory
      manage.py migrate task 0001
      manage.py migrate memory zero --yes
      manage.py migrate --fake task 0002      # record as applied without running
    """
    from memstack.engine import operations

    app = get_app()
    app.set_lock_timeout(lock_timeout)
    with open_workspace(app) as ws:
        app.info(f"Database: {ws.settings.masked_database_url}", level=2)
        if prune_component:
            if component or target:
                raise click.UsageError("--prune takes no COMPONENT or TARGET arguments")
            names = operations.prune(ws, prune_component, confirm=confirm_steps(app, yes), on_wait=report_wait(app))
            app.info(f"Forgot {len(names)} revision(s) of {prune_component}: {', '.join(names)}", level=0)
            return
        options = operations.RunOptions(fake=fake, atomic=atomic, ddl_lock_timeout=ddl_lock_timeout,
                                        confirm=confirm_steps(app, yes), progress=report_progress(app),
                                        on_wait=report_wait(app))
        results = operations.migrate(ws, component, target, options=options)
    if as_json:
        app.json([{**r.step.as_json(), "success": r.success, "duration_ms": r.duration_ms,
                   "event": "fake" if fake else ("apply" if r.step.direction == "up" else "unapply")}
                  for r in results])
    elif not results:
        app.info("No migrations to apply.")
