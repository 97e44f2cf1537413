"""``adopt``: take over a database that MemStack's old code built."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, open_workspace, yes_option
from memstack.cli.reporting import confirm_steps, report_progress, report_wait
from memstack.cli.worded import program


@click.command(short_help="Take over a database built by MemStack's old code.")
@yes_option
@common_options
def command(yes: bool) -> None:
    """Bring a database built by MemStack's old schema code under memstack's control.

    For databases with MemStack's tables but no version table (built by create_all, with any
    of the four hand-written column steps), or stamped '001' by the earlier Alembic attempt.
    memstack inspects the schema, records as applied (history event 'adopt') every revision
    whose effect is already there, creates indexes a half-present revision lacks, then applies
    the rest. Compatible differences it accepts are listed (task_logs.result as JSONB, an SQL
    DEFAULT 0 on task_logs.progress). A database that matches no state of the migrations is
    refused, with the differences shown, and left untouched.

    \b
    Example:
      manage.py --database-url postgresql://app@db/memstack adopt --yes
    """
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.adopt.adoption import AdoptionPlan, adopt

    app = get_app()

    def report(plan: AdoptionPlan) -> None:
        with_labels = sorted(ws.graph.get(r).label for r in plan.present)
        app.info(f"Already present, recorded as applied ({len(with_labels)}):", level=0)
        for label in with_labels:
            app.info(f"  - {label}", level=0)
        for rid, effect in plan.create_indexes:
            app.info(f"Will create the missing {effect.describe()} ({ws.graph.get(rid).label})", level=0)
        for row in plan.foreign_rows:
            app.info(f"Will replace version row {row!r}, which no revision file provides", level=0)
        for variant in plan.variants:
            app.info(f"Accepted: {variant}", level=0)
        for table in plan.ignored_tables:
            app.warn(f"table {table!r} belongs to no component; left as it is")
        if plan.pending:
            app.info("Then applies: " + ", ".join(s.revision.label for s in plan.pending), level=0)

    with open_workspace(app) as ws:
        adopt(ws, confirm=confirm_steps(app, yes), progress=report_progress(app), on_wait=report_wait(app),
              report=report)
    app.info(f"Adopted. Check with '{program()} check --database'.", level=0)
