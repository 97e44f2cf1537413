"""``migrate``: bring components to their heads or to any TARGET, forwards or backwards."""

from __future__ import annotations

from collections.abc import Sequence

import click

from memstack.cli.context import AppContext, common_options, get_app, json_option, yes_option
from memstack.cli.workspace import open_workspace


def _confirm(app: AppContext, yes: bool):  # type: ignore[no-untyped-def]
    def confirm(question: str, steps: Sequence[object]) -> None:
        app.info("This also unapplies revisions of other components:", level=0)
        for step in steps:
            rev = step.revision  # type: ignore[attr-defined]
            app.info(f"  - {rev.component} {rev.name} ({step.reason})", level=0)  # type: ignore[attr-defined]
        app.confirm(question, yes=yes)

    return confirm


def _progress(app: AppContext):  # type: ignore[no-untyped-def]
    def progress(event: str, step: object, result: object) -> None:
        rev = step.revision  # type: ignore[attr-defined]
        verb = "Applying" if step.direction == "up" else "Unapplying"  # type: ignore[attr-defined]
        if event == "done":
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('OK', fg='green')} "
                     f"({result.duration_ms} ms)")  # type: ignore[attr-defined]
        elif event == "failed":
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('FAILED', fg='red')}", level=0)

    return progress


@click.command(short_help="Apply or unapply revisions.")
@click.argument("component", required=False)
@click.argument("target", required=False)
@click.option("--fake", is_flag=True, help="Record the plan as done without running it.")
@yes_option
@json_option
@common_options
def command(component: str | None, target: str | None, fake: bool, yes: bool, as_json: bool) -> None:
    """Bring the database up to date, or move one component to TARGET.

    \b
    No argument: every component to its head.
    COMPONENT:   that component to its head, with what it needs from other components first.
    COMPONENT TARGET: forwards or backwards to TARGET: zero, head, a file number (0002 or 2),
                 a file name or slug (0002_add_task_id, add_task_id), or a revision id (prefix).

    Moving backwards also unapplies revisions of other components that depend on what is
    removed; they are listed and you are asked (without a terminal: pass --yes).

    \b
    Examples:
      manage.py migrate
      manage.py migrate memory
      manage.py migrate memory zero --yes
    """
    from memstack.engine import operations

    app = get_app()
    with open_workspace(app) as ws:
        app.info(f"Database: {ws.settings.masked_database_url}", level=2)
        results = operations.migrate(ws, component, target, fake=fake, confirm=_confirm(app, yes),
                                     progress=_progress(app))
    if as_json:
        app.json([{**r.step.as_json(), "success": r.success, "duration_ms": r.duration_ms,
                   "event": "fake" if fake else ("apply" if r.step.direction == "up" else "unapply")}
                  for r in results])
    elif not results:
        app.info("No migrations to apply.")
