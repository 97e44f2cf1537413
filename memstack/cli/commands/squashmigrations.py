"""``squashmigrations``: a range of one component's revisions becomes one, proven equal first."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import click

from memstack.cli.context import AppContext, common_options, get_app, json_option, open_workspace
from memstack.cli.fleet_options import FleetArgs, target_options

if TYPE_CHECKING:
    from memstack.engine.generate.squash import SquashResult


@click.command(short_help="Replace a range of a component's revisions with one, proven equal on every dialect.")
@click.argument("component")
@click.argument("bounds", nargs=-1, metavar="[START] END")
@click.option("--proof-url", "proof_urls", multiple=True, metavar="URL",
              help="A PostgreSQL or MariaDB server to prove the squash on too (any existing database of it: "
                   "scratch databases are created next to it and dropped); repeatable. SQLite is always used.")
@click.option("--samples", type=click.IntRange(0), default=12, show_default=True,
              help="How many replaced revisions to stop a scratch database at and migrate to head with "
                   "the squashed tree.")
@click.option("--dry-run", is_flag=True, help="Generate and prove, print the squash; write nothing.")
@click.option("--cleanup", is_flag=True,
              help="Remove the replaced files and the replaces list of COMPONENT's squashes, once every "
                   "--database-url and every target (--targets, --targets-sql, --schemas) is past them "
                   "(no START/END).")
@target_options
@json_option
@functools.partial(common_options, many_databases=True)
def command(component: str, bounds: tuple[str, ...], proof_urls: tuple[str, ...], samples: int, dry_run: bool,
            cleanup: bool, database_urls: tuple[str, ...], as_json: bool, fleet: FleetArgs | None) -> None:
    """Write one revision that replaces START..END of COMPONENT (START: its first revision).

    The new revision's operations are the net schema change of the range (generated on scratch
    databases, never a concatenation), written as makemigrations writes them, with their own
    downgrade, and a module-level replaces = [...] list. The old files stay: a database part-way
    through the range keeps migrating through them, a new database runs the squash, and a
    database past END counts it as applied. What other components' revisions depended on is
    rewired to the squash; a range whose rewiring would make a cycle is refused, naming the
    cycle and the largest END that works.

    Before writing, the old and the squashed tree are each built from empty on SQLite and on
    every --proof-url server and their catalogs compared (tables, columns, types, defaults,
    keys, indexes, unique constraints), and scratch databases stopped at a sample of replaced
    revisions are migrated to head by the squashed tree and compared too. Nothing is written
    unless every comparison agrees; the comparison is printed.

    A replaced revision that runs Python or data SQL is kept as a revision of its own between
    squashes, unless it declares elidable = True (its work is not needed by new databases).

    \b
    Examples:
      manage.py squashmigrations task 0005
      manage.py squashmigrations task 0002 0005 --proof-url postgresql://postgres@localhost/postgres
      manage.py squashmigrations task 0005 --dry-run --json
      manage.py squashmigrations --cleanup task --database-url postgresql://app@prod/memstack \\
          --database-url postgresql://app@staging/memstack
      manage.py squashmigrations --cleanup task --targets tenants.txt --database-url postgresql://app@prod/memstack

    With --cleanup, every --database-url and every target of a fleet (--targets, --targets-sql,
    --schemas: all of them, never a shard) must be past the squash (default: the project's
    database); otherwise nothing is removed and the ones not past it are named. A past database
    whose version row names a replaced revision gets the squash's id.
    """
    app = get_app()
    if cleanup:
        if bounds:
            raise click.UsageError("--cleanup takes only COMPONENT (no START or END)")
        if fleet is not None and fleet.shard is not None:
            raise click.UsageError("--cleanup checks every target: --shard would leave some unchecked")
        _cleanup(app, component, database_urls, fleet, as_json)
        return
    if fleet is not None:
        raise click.UsageError("--targets, --targets-sql and --schemas go with --cleanup (a squash writes files only)")
    if len(bounds) not in (1, 2):
        raise click.UsageError("give END, or START and END (a revision number, name or id)")
    start, end = (None, bounds[0]) if len(bounds) == 1 else bounds
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.squash import squash_migrations

    with open_workspace(app) as ws:
        result = squash_migrations(ws, component, start, end, proof_urls=proof_urls, samples=samples,
                                   write=not dry_run)
    _report(app, result, dry_run=dry_run, as_json=as_json)


def _report(app: AppContext, result: SquashResult, *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        app.json(result.as_json())
        return
    for proof in result.proofs:
        for line in proof.lines():
            app.info(line, level=0)
    plan = result.plan
    for rid, why in plan.data.items():
        app.info(f"kept {plan.labels[rid]} as its own revision: it runs data ({why}); "
                 "mark it elidable = True if new databases do not need it", level=0)
    for rid in plan.elided:
        app.info(f"left out the data work of {plan.labels[rid]} (elidable = True)", level=0)
    for seg in plan.squashes:
        verb = "Would write" if dry_run else "Wrote"
        app.info(f"{verb} {plan.component} {seg.name} ({seg.new_id}), replacing "
                 f"{len(seg.ids)} revisions: {', '.join(plan.labels[r].split(' ', 1)[1] for r in seg.ids)}",
                 level=0)
        if dry_run:
            app.data(f"# --- {result.paths[seg.new_id]}")
            app.data(seg.text)


def _cleanup(app: AppContext, component: str, database_urls: tuple[str, ...], fleet: FleetArgs | None,
             as_json: bool) -> None:
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.squash_cleanup import Target, cleanup_squashes

    with open_workspace(app) as ws:
        targets = [Target(t.url, t.schema, t.label) for t in fleet.every_target(ws)] if fleet is not None else []
        result = cleanup_squashes(ws, component, database_urls, targets)
    if as_json:
        app.json(result.as_json())
        return
    if result.removed:
        app.info(f"{len(result.checked)} database(s) checked, every one past the squash", level=0)
    for path in result.removed:
        app.info(f"removed {path}", level=0)
    for path in result.rewritten:
        app.info(f"rewrote {path}", level=0)
    if not result.removed:
        app.info(f"{component} has no squash with replaced files left; nothing to do", level=0)
