"""``rollback``: undo the last N applied revisions."""

from __future__ import annotations

from typing import Any

import click

from memstack.cli.context import SECONDS, common_options, get_app, json_option, open_workspace, yes_option
from memstack.cli.guard_options import guard_options
from memstack.cli.reporting import confirm_destruction, confirm_steps, print_plan, report_progress, report_wait


@click.command(short_help="Undo the last N applied revisions.")
@click.argument("component", required=False)
@click.option("--steps", "-n", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many revisions to undo (a merge revision counts as one).")
@click.option("--plan", "show_plan", is_flag=True, help="Show what would be undone; change nothing.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="How long to wait for another migration to finish.")
@click.option("--ddl-lock-timeout", type=SECONDS, metavar="SECONDS",
              help="The longest one statement waits for a table lock, per try (default 1; PostgreSQL, MariaDB).")
@guard_options
@click.option("-x", "--x-argument", "x_arguments", multiple=True, metavar="KEY=VALUE",
              help="Pass a value to revisions, read there with context.get_x_argument() (repeatable).")
@yes_option
@json_option
@common_options
def command(component: str | None, steps: int, show_plan: bool, lock_timeout: float | None,
            ddl_lock_timeout: float | None, guard: dict[str, Any], x_arguments: tuple[str, ...], yes: bool,
            as_json: bool) -> None:
    """Undo the last N applied revisions, of COMPONENT or of the whole database.

    Which revisions are applied comes from the database's version rows; history only says
    which were applied last (revisions applied before history existed count, in graph
    order). What depends on an undone revision in other components is undone too. What the
    plan drops is read from the database and shown (tables with row counts, columns with how
    many rows hold a value, indexes, constraints) and you are asked (without a terminal: pass
    --yes). If another process changes the database while you are asked, nothing runs and
    you are asked again about the new plan.

    \b
    Examples:
      manage.py rollback                 # the last revision applied, whichever component
      manage.py rollback task --steps 2 --yes
      manage.py rollback memory --plan
    """
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.migrate import RunOptions, rollback, rollback_plan_for
    from memstack.engine.records.status import read_status  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    app.set_lock_timeout(lock_timeout)
    with open_workspace(app) as ws:
        if show_plan:
            plan = rollback_plan_for(ws, read_status(ws), component, steps)
            # lazy: loaded when the command runs, not for its --help
            from memstack.engine.run.destruction import read_destruction

            print_plan(app, plan.steps, as_json, read_destruction(ws, plan.steps))
            return
        options = RunOptions(confirm=confirm_steps(app, yes), confirm_destruction=confirm_destruction(app, yes),
                             progress=report_progress(app),
                             on_wait=report_wait(app), x_arguments=x_arguments,
                             ddl_lock_timeout=ddl_lock_timeout, guard=guard)
        results = rollback(ws, component, steps, options)
    if as_json:
        app.json([{**r.step.as_json(), "success": r.success, "duration_ms": r.duration_ms, "event": "unapply"}
                  for r in results])
    elif not results:
        app.info("Nothing to roll back.")
