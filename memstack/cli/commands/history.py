"""``history``: every apply, rollback, fake, stamp, adoption, repair and failure."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace
from memstack.cli.fleet_options import FleetArgs, target_options


@click.command(short_help="Show what ran on this database, when and by whom.")
@click.argument("component", required=False)
@click.option("--limit", type=click.IntRange(min=1), help="Only the last N events.")
@click.option("--fleet", "fleet_run", metavar="RUN_ID",
              help="With --targets/--schemas: only what that fleet run (migrate --targets) did in each target.")
@target_options
@json_option
@common_options
def command(component: str | None, limit: int | None, as_json: bool, fleet_run: str | None,
            fleet: FleetArgs | None) -> None:
    """Show the history of this database, newest last.

    One line per event: when, what (apply, unapply, fake, stamp, adopt, repair, failure),
    component and file, how long, by whom and where. Runs of the plain 'alembic upgrade'
    command are recorded too.

    \b
    Examples:
      manage.py history
      manage.py history memory --limit 5 --json
      manage.py history --schemas 'tenant_%' --fleet 6f1c...   # every target's outcome of one fleet run
    """
    from memstack.engine.review.show import history  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    if fleet is not None:
        from memstack.cli.fleet_output import fleet_history  # lazy: loaded when the command runs, not for its --help

        with open_workspace(app) as ws:
            fleet_history(app, ws, fleet, fleet_run, as_json=as_json)
        return
    if fleet_run is not None:
        raise click.UsageError("--fleet goes with --targets, --targets-sql or --schemas")
    with open_workspace(app) as ws:
        entries = history(ws, component, limit)
    if as_json:
        app.json([e.as_json() for e in entries])
        return
    if not entries:
        app.info("No history recorded yet.")
    for entry in entries:
        data = entry.as_json()
        status = app.style("ok", fg="green") if entry.success else app.style("FAILED", fg="red")
        line = (f"{data['started_at']}  {entry.event:<8} {entry.component} {entry.name}  "
                f"{entry.duration_ms if entry.duration_ms is not None else '-'} ms  {status}  "
                f"{entry.user}@{entry.host}")
        if entry.source != "memstack":
            line += f"  (via {entry.source})"
        app.data(line)
        if entry.error:
            app.data(f"    {entry.error}")
        if entry.note and app.verbosity >= 2:
            app.data(f"    note: {entry.note}")
