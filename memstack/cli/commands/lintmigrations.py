"""``lintmigrations``: review revisions for operations that are dangerous on a live PostgreSQL database."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace
from memstack.core.errors import MemstackError


@click.command(short_help="Review revisions for locking and deploy dangers (squawk + model checks); exit 1 on any.")
@click.argument("components", nargs=-1)
@json_option
@common_options
def command(components: tuple[str, ...], as_json: bool) -> None:
    """Render each revision's upgrade SQL offline for PostgreSQL, run it through squawk, and check
    what squawk cannot see: dropping a table or column a model still maps, renames that running
    code will not know, data migrations that import the application's models.

    No database is touched. Exit 1 when any finding is not acknowledged. To acknowledge one,
    put a marker comment in the revision file, with a reason after `--`:

    \b
      # memstack: lint-ok require-concurrent-index-creation -- task_logs is new and empty here

    \b
    Examples:
      manage.py lintmigrations                 # every component, in CI
      manage.py lintmigrations task --json     # one component, for a review bot
    """
    from memstack.engine.review.lint import lint  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    with open_workspace(app) as ws:
        findings = lint(ws, components)
    open_findings = [f for f in findings if f.acknowledged is None]
    if as_json:
        app.json({"ok": not open_findings, "findings": [f.as_json() for f in findings]})
    else:
        for finding in findings:
            where = f"{'sql ' if finding.source == 'squawk' else ''}line {finding.line}" if finding.line else ""
            head = f"{finding.revision.label} [{finding.rule}]" + (f" ({where})" if where else "")
            if finding.acknowledged is None:
                app.data(f"{app.style('FINDING', fg='red')} {head}: {finding.message}")
            elif app.verbosity >= 2:
                app.data(f"{app.style('ok', fg='green')} {head}: acknowledged: {finding.acknowledged}")
        acknowledged = len(findings) - len(open_findings)
        if not open_findings:
            app.info(f"No unacknowledged findings ({acknowledged} acknowledged; -v 2 lists them).")
    if open_findings:
        raise MemstackError(f"lintmigrations found {len(open_findings)} unacknowledged finding(s)",
                            hint="fix the revision, or acknowledge the finding in its file: "
                                 "# memstack: lint-ok <rule> -- <reason>")
