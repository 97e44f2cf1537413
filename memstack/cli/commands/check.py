"""``check``: a CI gate for the migration tree (and, with --database, for one database)."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace
from memstack.cli.fleet_options import FleetArgs, target_options
from memstack.cli.scratch_option import apply_scratch_url, scratch_url_option
from memstack.core.errors import MemstackError


@click.command(short_help="Check the tree (and a database) for problems; exit 1 when any.")
@click.option("--database", "with_database", is_flag=True,
              help="Also check the database: pending revisions, changed files, unknown revisions, marks.")
@scratch_url_option
@target_options
@json_option
@common_options
def command(with_database: bool, scratch_url: str | None, as_json: bool, fleet: FleetArgs | None) -> None:
    """Find what would break a deploy, each problem with its fix; exit 1 when anything is wrong.

    \b
    Always: several heads in a component, models that differ from the migrations (compared
    on a scratch database), broken or cyclic dependencies, [tool.alembic] out of step with
    the components.
    With --database: pending revisions, applied files that changed (checksums), revisions
    applied without a checksum (a warning), revisions no file provides, failure marks.

    \b
    Examples:
      manage.py check                       # in CI, before merging
      manage.py check --database --json     # before a deploy
      manage.py check --scratch-url postgresql://me@db/memstack_scratch   # no CREATEDB privilege
      manage.py check --targets tenants.txt --json   # many targets: exit 1 unless every one is at head
    """
    from memstack.cli.errors import fix_text  # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.checks import run_checks  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    if fleet is not None:
        from memstack.cli.fleet_output import show_fleet  # lazy: loaded when the command runs, not for its --help

        with open_workspace(app) as ws:
            show_fleet(app, ws, fleet, as_json=as_json, check=True)
        return
    apply_scratch_url(app, scratch_url)
    with open_workspace(app) as ws:
        problems = run_checks(ws, database=with_database)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        app.json({"ok": not errors, "problems": [
            {"kind": p.kind, "message": p.message, "fix": fix_text(p.fix, p.cause) or "", "component": p.component,
             "severity": p.severity} for p in problems]})
    else:
        for problem in problems:
            tag = app.style(problem.severity.upper(), fg="red" if problem.severity == "error" else "yellow")
            app.data(f"{tag} [{problem.kind}] {problem.message}")
            app.data(f"    fix: {fix_text(problem.fix, problem.cause)}")
        if not problems:
            app.info("No problems found.")
    if errors:
        raise MemstackError(f"check found {len(errors)} problem(s)", hint="see the list above")
