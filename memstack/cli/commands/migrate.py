"""``migrate``: bring components to their heads or to any TARGET or tag, forwards or backwards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from memstack.cli.context import SECONDS, AppContext, common_options, get_app, json_option, open_workspace, yes_option
from memstack.cli.fleet_options import FleetArgs, fleet_options
from memstack.cli.guard_options import guard_options

if TYPE_CHECKING:
    from memstack.engine.migrate import RunOptions
    from memstack.engine.records.status import DatabaseStatus
    from memstack.engine.workspace import Workspace


@click.command(short_help="Apply or unapply revisions (also: --plan, --sql, --dry-run).")
@click.argument("component", required=False)
@click.argument("target", required=False)
@click.option("--to-tag", metavar="NAME", help="Move every component of a tag to its tagged state.")
@click.option("--plan", "show_plan", is_flag=True, help="Show the steps it would run; change nothing.")
@click.option("--sql", "show_sql", is_flag=True, help="Print the SQL of the plan; execute nothing.")
@click.option("--dry-run", is_flag=True, help="Rehearse: run the plan in one transaction, then roll back.")
@click.option("--locks", "show_locks", is_flag=True,
              help="With --dry-run (PostgreSQL): report the locks each statement takes and what it rewrites.")
@click.option("--fake", is_flag=True, help="Record the plan as done without running it.")
@click.option("--atomic", is_flag=True, help="Run the whole plan in one transaction (PostgreSQL, SQLite).")
@click.option("--prune", "prune_component", metavar="COMPONENT",
              help="Forget the applied revisions of a component removed from the configuration.")
@click.option("--lock-timeout", type=SECONDS, metavar="SECONDS",
              help="How long to wait for another migration to finish (default 60, or lock_timeout).")
@click.option("--ddl-lock-timeout", type=SECONDS, metavar="SECONDS",
              help="The longest one statement waits for a table lock, per try (default 1; PostgreSQL, MariaDB).")
@guard_options
@click.option("-x", "--x-argument", "x_arguments", multiple=True, metavar="KEY=VALUE",
              help="Pass a value to revisions, read there with context.get_x_argument() (repeatable).")
@fleet_options
@yes_option
@json_option
@common_options
def command(component: str | None, target: str | None, to_tag: str | None, show_plan: bool, show_sql: bool,
            dry_run: bool, show_locks: bool, fake: bool, atomic: bool, prune_component: str | None,
            lock_timeout: float | None, ddl_lock_timeout: float | None, guard: dict[str, Any],
            x_arguments: tuple[str, ...], yes: bool, as_json: bool, fleet: FleetArgs | None) -> None:
    """Bring the database up to date, or move one component to TARGET.

    It names the database it works on (password masked) and, as Django's does, warns when the
    models have changes no revision covers (makemigrations' comparison, cached until the tree or
    the models change; not at -v 0 or with MEMSTACK_MODEL_CHECK=0, never in the application's
    start-up call).

    \b
    No argument: every component to its head.
    COMPONENT:   that component to its head, with what it needs from other components first.
    COMPONENT TARGET: forwards or backwards to TARGET: zero, head, a file number (0002 or 2),
                 a file name or slug (0002_add_task_id, add_task_id), or a revision id (prefix).
    --to-tag NAME: every component the tag knows to its tagged state (see 'manage.py tag').

    Every backwards step asks first: the tables (with their row counts), columns (with how
    many rows hold a value), indexes and constraints it drops are read from the database and
    listed, with the revisions of other components that depend on what is removed; without a
    terminal pass --yes. So does a forward step that drops a table or a column, changes a
    column's type so values can change (SQLite's copy-and-cast included) or deletes rows.
    One lock per database keeps concurrent runs apart; each revision runs in its own
    transaction.

    \b
    Preview, from the database's real state:
      --plan     the steps and why each is included (nothing changes)
      --sql      the SQL of those steps, ready for review or psql (nothing is executed)
      --dry-run  run them for real in one transaction and roll back (PostgreSQL, SQLite)

    \b
    Examples:
      manage.py migrate
      manage.py migrate memory
      manage.py migrate task 0001
      manage.py migrate memory zero --plan
      manage.py migrate --to-tag before-release --dry-run
      manage.py migrate --fake task 0002      # record as applied without running
      manage.py migrate -x tenant=acme        # revisions read it: context.get_x_argument(as_dictionary=True)
      manage.py migrate --schemas 'tenant_%' --concurrency 8 --canary 5 --waves 10%,100%   # docs/fleets.md
    """
    app = get_app()
    app.set_lock_timeout(lock_timeout)
    if sum([show_plan, show_sql, dry_run, fake]) > 1:
        raise click.UsageError("--plan, --sql, --dry-run and --fake exclude each other")
    if show_locks and not dry_run:
        raise click.UsageError("--locks goes with --dry-run: the locks are measured while the plan is rehearsed")
    if prune_component and (component or target or to_tag):
        raise click.UsageError("--prune takes no COMPONENT, TARGET or --to-tag")
    if fleet is not None:
        _fleet(app, fleet, yes=yes, as_json=as_json, guard=guard, ddl_lock_timeout=ddl_lock_timeout,
               x_arguments=x_arguments, single=any([component, target, to_tag, show_plan, show_sql, dry_run, fake,
                                                    atomic, prune_component]))
        return
    with open_workspace(app) as ws:
        plain = not (component or target or to_tag or prune_component or show_plan or show_sql or dry_run or fake)
        status = _status(ws) if plain else None
        # named once it answered, on the plain path: a server that cannot be reached gets one error line
        app.info(f"Database: {ws.settings.masked_database_url}", level=1)
        if status is not None and status.digest_current:
            if as_json:
                app.json([])
            else:
                app.info("No migrations to apply.")
            _warn_model_changes(app, ws)
            return
        # lazy: loaded when the command runs, not for its --help
        from memstack.cli.reporting import confirm_destruction, confirm_steps, report_progress, report_wait
        from memstack.engine.migrate import RunOptions, migrate

        if prune_component:
            _prune(app, ws, prune_component, yes=yes, as_json=as_json)
            return
        if show_plan or show_sql:
            _preview(app, ws, component, target, to_tag, sql=show_sql, as_json=as_json)
            return
        options = RunOptions(fake=fake, dry_run=dry_run, atomic=atomic, ddl_lock_timeout=ddl_lock_timeout, guard=guard,
                             confirm=confirm_steps(app, yes), confirm_destruction=confirm_destruction(app, yes),
                             progress=report_progress(app, fake=fake),
                             on_wait=report_wait(app), x_arguments=x_arguments)
        if dry_run:
            locks: list[Any] = []
            if show_locks:
                options.on_locks = locks.extend
            try:
                _rehearse(app, ws, component, target, to_tag, options, as_json and not show_locks)
            finally:  # (a rehearsal that failed still reports what its statements took)
                if show_locks:
                    _report_locks(app, locks, as_json)
            return
        results = migrate(ws, component, target, to_tag, options=options, status=status)
        if as_json:
            event = "fake" if fake else None
            app.json([{**r.step.as_json(), "success": r.success, "duration_ms": r.duration_ms,
                       "event": event or ("apply" if r.step.direction == "up" else "unapply")} for r in results])
        elif not results:
            app.info("No migrations to apply.")
        if not fake:
            _warn_model_changes(app, ws)


def _warn_model_changes(app: AppContext, ws: Workspace) -> None:
    """Django's "Your models have changes that are not yet reflected in a migration", in one line.

    makemigrations' comparison, cached by the digest of the tree and the models' source
    (engine/generate/model_changes.py): it runs once per change. Not at -v 0, nor with
    ``model_check = false`` (``MEMSTACK_MODEL_CHECK=0``).
    """
    if app.verbosity < 1 or not ws.settings.model_check:
        return
    from memstack.engine.generate.model_changes import model_changes  # lazy: not for --help

    found = model_changes(ws)
    kept = " (the answer kept)" if found.cached else ""
    if found.unknown is not None:
        app.info(f"models not compared with the revisions: {found.unknown}{kept}", level=2)
        return
    app.info(f"models compared with the revisions: {'the answer kept' if found.cached else 'compared now'}",
             level=2)
    if found.components:
        names = ", ".join(found.components)
        which = f" {found.components[0]}" if len(found.components) == 1 else ""
        app.warn(f"your models in {names} have changes that are not yet reflected in a revision, so migrate did "
                 f"not apply them: run 'manage.py makemigrations{which}', then 'manage.py migrate'")


def _fleet(app: AppContext, fleet: FleetArgs, *, single: bool, **given: Any) -> None:
    """--targets/--targets-sql/--schemas: every target to its heads (docs/fleets.md)."""
    from memstack.cli.fleet_output import run_fleet  # lazy: loaded when the command runs, not for its --help

    if single:
        raise click.UsageError("--targets, --targets-sql and --schemas bring every target to its heads: they take "
                               "no COMPONENT, TARGET, --to-tag, --plan, --sql, --dry-run, --fake, --atomic or --prune")
    with open_workspace(app) as ws:
        run_fleet(app, ws, fleet, **given)


def _status(ws: Workspace) -> DatabaseStatus:
    """The database's status, the no-op digest first (one query), read before the run's modules are imported."""
    from memstack.engine.records.status import read_status  # lazy: loaded when the command runs, not for its --help

    return read_status(ws, trust_digest=True)


def _prune(app: AppContext, ws: Workspace, component: str, *, yes: bool, as_json: bool) -> None:
    """--prune: forget a removed component's records after a question naming each revision."""
    # lazy: loaded when the command runs, not for its --help
    from memstack.cli.reporting import confirm_steps, report_wait
    from memstack.engine.maintenance import prune  # lazy: loaded when the command runs, not for its --help

    forgotten = prune(ws, component, confirm=confirm_steps(app, yes), on_wait=report_wait(app))
    if as_json:
        app.json({"pruned": component, "forgotten": [{"revision": r.revision, "name": r.name} for r in forgotten]})
    else:
        names = ", ".join(r.name for r in forgotten)
        app.info(f"Forgot {len(forgotten)} revision(s) of {component}: {names}", level=0)


def _preview(app: AppContext, ws: Workspace, component: str | None, target: str | None, to_tag: str | None,
             *, sql: bool, as_json: bool) -> None:
    """--plan (with what each backwards step destroys) or --sql, from the database's real state."""
    from memstack.cli.reporting import print_plan  # lazy: loaded when the command runs, not for its --help
    from memstack.engine.migrate import plan_for, plan_sql_blocks
    from memstack.engine.records.status import read_status  # lazy: loaded when the command runs, not for its --help

    state = read_status(ws)
    plan = plan_for(ws, state, component, target, to_tag)
    if not sql:
        # lazy: loaded when the command runs, not for its --help
        from memstack.engine.run.destruction import read_destruction

        print_plan(app, plan.steps, as_json, read_destruction(ws, plan.steps))
        return
    blocks = plan_sql_blocks(ws, plan, state)  # checks reversibility before anything is written
    pending: list[str] = []
    size = 0
    try:  # written as rendered, about 64 KiB at a time; a step that cannot render ends the
        for block in blocks:  # script with a statement that stops a client, then exit 1
            pending.append(block)
            size += len(block)
            if size > 1 << 16:
                app.data("\n".join(pending))
                pending, size = [], 0
    finally:
        if pending:
            app.data("\n".join(pending))


def _rehearse(app: AppContext, ws: Workspace, component: str | None, target: str | None, to_tag: str | None,
              options: RunOptions, as_json: bool) -> None:
    """--dry-run: run the plan for real in one transaction, report, roll back."""
    from memstack.engine.errors import RehearsalFailed  # lazy: loaded when the command runs, not for its --help
    from memstack.engine.migrate import migrate  # lazy: loaded when the command runs, not for its --help

    app.warn("--dry-run runs the plan for real and holds the same table locks as a real run until it "
             "rolls back (--ddl-lock-timeout applies)")
    try:
        results = migrate(ws, component, target, to_tag, options=options)
    except RehearsalFailed as failed:
        _report_rehearsal(app, failed.results, failed.error, as_json)
        raise
    _report_rehearsal(app, results, None, as_json)
    app.info(f"Dry run: {len(results)} step(s) worked; everything was rolled back.", level=0)


def _report_rehearsal(app: AppContext, results: Sequence[Any], error: str | None, as_json: bool) -> None:
    """With --json, the steps a dry run ran and the error that stopped it (if any)."""
    if as_json:
        app.json({"dry_run": True, "error": error, "steps": [
            {**r.step.as_json(), "success": r.success, "duration_ms": r.duration_ms, "error": r.error}
            for r in results]})


def _report_locks(app: AppContext, statements: Sequence[Any], as_json: bool) -> None:
    """--dry-run --locks: per statement, the locks it took, its time, what it rewrote, and why it is flagged."""
    if as_json:
        app.json({"dry_run": True, "locks": [s.as_json() for s in statements]})
        return
    for item in statements:
        if hasattr(item, "algorithm"):  # MariaDB: probed on an empty copy
            flag = f"  {app.style('FLAG', fg='yellow')}" if item.flagged else ""
            app.data(f"{' '.join(item.statement.split())[:160]}\n    {item.algorithm} on {item.table}{flag}")
            continue
        rev = item.step.revision
        took = f"{item.duration_ms:.1f} ms" if item.rehearsed else "not rehearsed: as PostgreSQL documents"
        app.data(f"{rev.component} {rev.name}: {' '.join(item.statement.split())[:160]}  ({took})")
        for lock in item.locks:
            size = f", {lock.size_bytes} bytes, ~{lock.rows} rows" if lock.size_bytes is not None else ""
            app.data(f"    {lock.mode} on {lock.kind} {lock.relation}{size}")
        for name in item.rewrites:
            app.data(f"    rewrites {name}")
        for flag in item.flags:
            app.data(f"    {app.style('FLAG', fg='yellow')}: {flag}")
