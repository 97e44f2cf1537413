"""``doctor``: a readable health report of the configuration, server and database."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option
from memstack.core.errors import MemstackError


@click.command(short_help="Health report: driver, server, database, pending, checksums, lock.")
@json_option
@common_options
def command(as_json: bool) -> None:
    """Report what works and what needs action, each item with its fix; exit 1 on any error.

    Checks the configuration, the database driver, that the server is reachable (and its
    version), that the database exists, pending revisions per component, heads, changed
    applied files (checksums), failure marks, revisions the code does not know, and who holds
    the migration lock.

    \b
    Examples:
      manage.py doctor
      manage.py doctor --json
    """
    from sqlalchemy.exc import DBAPIError  # lazy: loaded when the command runs, not for its --help

    from memstack.cli.errors import fix_text  # lazy: loaded when the command runs, not for its --help
    from memstack.core.privileges import privilege_error  # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.doctor import doctor  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    try:
        findings = doctor(app.settings)
    except DBAPIError as exc:  # a user without privileges on the tables: one line, not "unexpected"
        refused = privilege_error(exc, app.settings.database_url)
        if refused is None:
            raise
        raise refused from exc
    fixes = [fix_text(f.fix, f.cause) for f in findings]
    if as_json:
        items = [{"item": f.item, "status": f.status, "detail": f.detail, "fix": fix}
                 for f, fix in zip(findings, fixes, strict=True)]
        app.json({"ok": all(f.status != "error" for f in findings), "items": items})
    else:
        marks = {"ok": app.style("ok  ", fg="green"), "warning": app.style("warn", fg="yellow"),
                 "error": app.style("FAIL", fg="red")}
        for finding, fix in zip(findings, fixes, strict=True):
            app.data(f"[{marks[finding.status]}] {finding.item}: {finding.detail}")
            if fix and finding.status != "ok":
                app.data(f"       fix: {fix}")
    errors = [f for f in findings if f.status == "error"]
    if errors:
        raise MemstackError(f"doctor found {len(errors)} problem(s) that need action", hint="see the fixes above")
