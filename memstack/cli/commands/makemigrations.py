"""``makemigrations``: new revisions from model changes, with dependencies worked out."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace
from memstack.core.errors import MemstackError


@click.command(short_help="Create revisions from model changes.")
@click.argument("components", nargs=-1)
@click.option("-m", "--message", help="What the revision does (also its file name slug).")
@click.option("--empty", is_flag=True, help="Create an empty revision for the named components.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--merge", "merge", is_flag=True, help="Write a merge revision joining COMPONENT's heads.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when any component has changes (for CI).")
@json_option
@common_options
def command(components: tuple[str, ...], message: str | None, empty: bool, dry_run: bool, merge: bool,
            check: bool, as_json: bool) -> None:
    """Compare each component's models with its migrations and write a revision per change.

    Only the tables a component owns are compared; references to other components'
    tables become depends_on links automatically (the minimal set), and reference cycles
    between new tables are split into a follow-up revision. The comparison runs on a
    scratch database built from every revision, never on your own database.

    \b
    Examples:
      manage.py makemigrations
      manage.py makemigrations memory -m "add summary column"
      manage.py makemigrations --check        # in CI: exit 1 when migrations are missing
      manage.py makemigrations --merge task   # join two heads after a git merge
    """
    from memstack.engine import operations

    app = get_app()
    if empty and not components:
        raise click.UsageError("--empty needs at least one COMPONENT")
    if merge:
        if len(components) != 1:
            raise click.UsageError("--merge takes exactly one COMPONENT")
        with open_workspace(app) as ws:
            planned = operations.make_merge(ws, components[0], message=message, write=not dry_run)
        app.info(f"{'Would write' if dry_run else 'Wrote'} {planned.component} {planned.name} ({planned.revision})",
                 level=0)
        if dry_run:
            app.data(planned.text)
        return
    with open_workspace(app) as ws:
        result = operations.make_migrations(ws, components, message=message, empty=empty,
                                            write=not (dry_run or check))
    for label in result.without_models:
        app.warn(f"component {label!r} has no models module, so it was not compared (nothing of it is dropped); "
                 "declare its tables in the package's models.py to manage them")
    for table in result.ignored_tables:
        app.warn(f"ignored table {table!r}: no component owns it (declare it in a component's models to manage it)")
    if as_json:
        app.json([f.as_json() for f in result.files])
    elif not result.files:
        app.info("No changes detected.")
    for planned in result.files:
        if not as_json:
            verb = "Would write" if (dry_run or check) else "Wrote"
            app.info(f"{verb} {planned.component} {planned.name} ({planned.revision})", level=0 if check else 1)
            if planned.depends_on:
                app.info(f"    depends on: {', '.join(planned.depends_on)}", level=1)
        if dry_run and not as_json:
            app.data(f"# --- {planned.path}")
            app.data(planned.text)
    if check and result.files:
        raise MemstackError(
            f"{len(result.files)} revision(s) missing: models differ from migrations in "
            + ", ".join(sorted({f.component for f in result.files})),
            hint="run 'manage.py makemigrations' and commit the new files",
        )
