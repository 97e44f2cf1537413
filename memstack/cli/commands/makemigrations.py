"""``makemigrations``: new revisions from model changes, with dependencies worked out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from memstack.cli.context import AppContext, common_options, get_app, json_option, open_workspace
from memstack.cli.scratch_option import apply_scratch_url, scratch_url_option
from memstack.cli.worded import program
from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.engine.generate.makemigrations import MakeMigrationsResult
    from memstack.engine.generate.renames import RenameChoices
    from memstack.engine.workspace import Workspace


@click.command(short_help="Create revisions from model changes.")
@click.argument("components", nargs=-1)
@click.option("-m", "--message", help="What the revision does (also its file name slug).")
@click.option("-n", "--name", "name", metavar="NAME", callback=lambda _c, _p, v: _valid_name(v),
              help="The file name after the number (NNNN_NAME.py), as Django's --name; a Python identifier.")
@click.option("--empty", is_flag=True,
              help="Create an empty revision for the named components (a data migration: op and sa imported).")
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option("--merge", "merge", is_flag=True, help="Write a merge revision joining COMPONENT's heads.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when any component has changes (for CI).")
@click.option("--rename", "renames", multiple=True, metavar="TABLE.OLD=NEW|OLD=NEW",
              help="Treat a dropped + added column (TABLE.OLD=NEW) or table (OLD=NEW) as a rename; repeatable.")
@click.option("--no-renames", is_flag=True,
              help="Write possible renames as drop + add (the dropped column's or table's data is lost).")
@click.option("--allow-not-null", is_flag=True,
              help="Allow a NOT NULL column without a server default on a table that has or may have rows.")
@scratch_url_option
@json_option
@common_options
def command(components: tuple[str, ...], message: str | None, name: str | None, empty: bool, dry_run: bool, merge: bool,
            check: bool, renames: tuple[str, ...], no_renames: bool, allow_not_null: bool, scratch_url: str | None,
            as_json: bool) -> None:
    """Compare each component's models with its migrations and write a revision per change.

    Only the tables a component owns are compared; references to other components'
    tables become depends_on links automatically (the minimal set), and reference cycles
    between new tables are split into a follow-up revision. The comparison runs on a
    scratch database built from every revision, never on your own database.

    A column (or table) that disappears while one of the same type (or the same columns)
    appears is probably a rename: on a terminal you are asked; otherwise pass --rename
    (keeps the data) or --no-renames (drop + add). A NOT NULL column without a server default
    is refused unless your database shows its table empty: give it a server default, or add it
    nullable, backfill, then make it NOT NULL in a second revision.

    Alembic's post_write_hooks ([[tool.alembic.post_write_hooks]] in pyproject.toml, or
    [post_write_hooks] in alembic.ini: ruff, black, ...) run on every file written, as for
    'alembic revision'.

    \b
    Examples:
      manage.py makemigrations
      manage.py makemigrations memory -m "add summary column"
      manage.py makemigrations memo --empty --name backfill_titles   # memo NNNN_backfill_titles.py
      manage.py makemigrations --check        # in CI: exit 1 when migrations are missing
      manage.py makemigrations --merge task   # join two heads after a git merge
      manage.py makemigrations memo --rename memos.content=body   # a renamed column keeps its data
      manage.py makemigrations --scratch-url postgresql://me@db/memstack_scratch   # no CREATEDB privilege
    """
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.makemigrations import make_migrations

    app = get_app()
    apply_scratch_url(app, scratch_url)
    if empty and not components:
        raise click.UsageError("--empty needs at least one COMPONENT")
    if merge:
        if len(components) != 1:
            raise click.UsageError("--merge takes exactly one COMPONENT")
        _merge(app, components[0], message, dry_run, name)
        return
    with open_workspace(app) as ws:
        choices = None if check else _rename_choices(renames, no_renames, allow_not_null)
        result = make_migrations(ws, components, message=message, empty=empty,
                                 write=not (dry_run or check), renames=choices, name=name)
        destroys = _destroys(ws, result)
    names = dict(result.labels)
    names.update({f.revision: f"{f.component} {f.name}" for f in result.files})
    _report(app, result, names, dry_run=dry_run, check=check, as_json=as_json, destroys=destroys)
    if check and result.files:
        raise MemstackError(
            f"{len(result.files)} revision(s) missing: models differ from migrations in "
            + ", ".join(sorted({f.component for f in result.files})),
            hint=f"run '{program()} makemigrations' and commit the new files",
        )


def _valid_name(name: str | None) -> str | None:
    """``--name``: the file name's part after the number, so a Python identifier (as Django asks) that
    every filesystem and the bookkeeping's name column hold."""
    import re  # lazy: loaded when the command runs, not for its --help

    if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", name):
        raise click.BadParameter(f"{name!r}: expected a Python identifier of ASCII letters, digits and "
                                 "underscores, at most 100 characters (e.g. add_summary_column)", param_hint="--name")
    return name


def _merge(app: AppContext, component: str, message: str | None, dry_run: bool, name: str | None) -> None:
    """--merge: one revision joining the component's heads."""
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.makemigrations import make_merge

    with open_workspace(app) as ws:
        planned = make_merge(ws, component, message=message, write=not dry_run, name=name)
    app.info(f"{'Would write' if dry_run else 'Wrote'} {planned.component} {planned.name} ({planned.revision})",
             level=0)
    if dry_run:
        app.data(planned.text)


def _destroys(ws: Workspace, result: MakeMigrationsResult) -> dict[str, list[str]]:
    """Per generated revision, what its upgrade destroys, in words (the revision classifier's facts)."""
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.run.classify import classify_source, describe_fact

    setup = ws.alembic_setup()
    found = {}
    for planned in result.files:
        facts = classify_source(planned.text, setup, ws.dialect_name).destroys
        if facts:
            found[planned.revision] = [describe_fact(f) for f in facts]
    return found


def _report(app: AppContext, result: MakeMigrationsResult, names: dict[str, str], *, dry_run: bool, check: bool,
            as_json: bool, destroys: dict[str, list[str]] | None = None) -> None:
    """What was (or would be) written, and the tables and components that were left out."""
    for label in result.without_models:
        app.warn(f"component {label!r} has no models module (or it declares its tables on a metadata of its own), "
                 "so it was not compared (nothing of it is dropped); "
                 "declare its tables in the package's models.py to manage them")
    for table in result.ignored_tables:
        app.warn(f"ignored table {table!r}: no component owns it (declare it in a component's models to manage it)")
    destroys = destroys or {}
    if as_json:
        app.json([{**f.as_json(), "destroys": destroys.get(f.revision, [])} for f in result.files])
    elif not result.files:
        app.info("No changes detected.")
    for planned in result.files:
        if not as_json:
            verb = "Would write" if (dry_run or check) else "Wrote"
            app.info(f"{verb} {planned.component} {planned.name} ({planned.revision})", level=0 if check else 1)
            if planned.depends_on:
                app.info(f"    depends on: {', '.join(names.get(d, d) for d in planned.depends_on)}", level=1)
            if planned.revision in destroys:
                app.warn(f"{planned.component} {planned.name} destroys data when applied: "
                         f"{'; '.join(destroys[planned.revision])}; migrate will show the rows at stake and ask")
        if dry_run and not as_json:
            app.data(f"# --- {planned.path}")
            app.data(planned.text)


def _rename_choices(renames: tuple[str, ...], no_renames: bool, allow_not_null: bool) -> RenameChoices:
    """The rename decisions from the flags; on a terminal, the questions nobody answered with a flag."""
    import sys  # lazy: loaded when the command runs, not for its --help

    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.renames import RenameCandidate, RenameChoices

    for spelled in renames:
        if "=" not in spelled or not all(spelled.split("=", 1)):
            raise click.BadParameter(f"{spelled!r}: expected TABLE.OLD=NEW (a column) or OLD=NEW (a table)",
                                     param_hint="--rename")
    if renames and no_renames:
        raise click.UsageError("--rename and --no-renames contradict each other")

    def ask(candidate: RenameCandidate) -> bool:
        return click.confirm(candidate.question, default=False, err=True)

    terminal = sys.stdin.isatty()
    return RenameChoices(accepted=set(renames), no_renames=no_renames, ask=ask if terminal else None,
                         allow_not_null=allow_not_null)
