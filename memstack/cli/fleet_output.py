"""A fleet's output: one progress line a terminal redraws (plain lines otherwise), the summary table,
``--json`` (one object per target). Progress goes to stderr, the table and JSON to stdout."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from memstack.cli.context import AppContext
from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.cli.fleet_options import FleetArgs
    from memstack.engine.fleet.report import FleetReport, TargetResult
    from memstack.engine.fleet.runner import Progress
    from memstack.engine.run.destruction import StepDestruction
    from memstack.engine.workspace import Workspace

COLOURS = {"failed": "red", "locked": "yellow", "ahead": "yellow", "skipped": "yellow", "applied": "green",
           "behind": "yellow"}


def progress_line(app: AppContext) -> Callable[[TargetResult, Progress], None]:
    """After each target: a terminal's one line redrawn; otherwise one plain line a target."""
    redraw = app.color and app.verbosity >= 1

    def report(result: TargetResult, progress: Progress) -> None:
        if app.verbosity < 1:
            return
        eta = f", ETA {progress.eta:.0f} s" if progress.eta is not None else ""
        line = (f"{progress.done} done, {progress.failed} failed, {progress.left} left "
                f"({progress.rate:.1f}/s{eta})")
        if redraw:
            app.err.write(f"\r\x1b[K{line}")
            app.err.flush()
            return
        app.info(f"{result.status} {result.target} ({result.seconds:.2f} s) -- {line}")

    return report


def end_progress(app: AppContext) -> None:
    if app.color and app.verbosity >= 1:
        app.err.write("\n")


def print_report(app: AppContext, report: FleetReport, *, as_json: bool, statuses: bool = False) -> None:
    """The table (or JSON) of a run or a status read; a status read lists heads and what is behind too."""
    if as_json:
        run = {"fleet_run": report.run_id} if report.run_id else {}
        app.json([{**_json(r, statuses), **run} for r in report.results])
        return
    counts = ", ".join(f"{n} {status}" for status, n in report.counts.items()) or "no targets"
    app.info(f"{len(report.results)} target(s): {counts} ({report.seconds:.1f} s)"
             + (f"; fleet run {report.run_id}" if report.run_id else ""), level=0)
    if statuses:
        for heads, n in Counter(r.heads for r in report.results).most_common():
            app.data(f"{n:>6}  at {', '.join(heads) or '(nothing applied)'}")
    for result in report.results:
        if result.status != "up_to_date" or app.verbosity >= 2:
            status = app.style(f"{result.status:<10}", fg=COLOURS.get(result.status))
            what = f"{len(result.applied)} applied" if result.applied else \
                (f"{len(result.pending)} pending" if result.pending else "")
            app.data(f"{status} {result.target}  {what}  {result.seconds:.2f} s")
            if result.error:
                app.data(f"           {result.error}")


def _json(result: TargetResult, statuses: bool) -> dict[str, object]:
    data = result.as_json()
    if statuses:
        data.update(heads=list(result.heads), pending=list(result.pending))
    return data


def fail_on(report: FleetReport, *, also: tuple[str, ...] = ()) -> None:
    """Exit 1 when a target failed (``also``: further statuses that count, e.g. ``check``'s behind)."""
    bad = [r for r in report.results if r.status == "failed" or r.status in also]
    if bad:
        raise MemstackError(f"{len(bad)} of {len(report.results)} target(s) {'/'.join(('failed', *also))}",
                            hint="see the table above; run again to pick up failed and locked targets")


# --------------------------------------------------------------------------- the commands' fleet paths


def run_fleet(app: AppContext, ws: Workspace, fleet: FleetArgs, *, yes: bool, as_json: bool, guard: dict[str, Any],
              ddl_lock_timeout: float | None, x_arguments: tuple[str, ...]) -> None:
    """``migrate --targets ...``: survey, one question, worker processes, the table; exit 1 on a failure."""
    from memstack.engine.fleet.runner import FleetOptions, migrate_fleet_of, new_run_id
    from memstack.engine.fleet.worker import Job

    targets, shard = fleet.targets(ws)
    job = Job(run_id=new_run_id(), guard=guard, ddl_lock_timeout=ddl_lock_timeout, x_arguments=x_arguments)
    app.info(f"Fleet run {job.run_id}: {len(targets)} target(s)" + (f", shard {shard}" if shard else ""))
    options = FleetOptions(concurrency=fleet.concurrency, canary=fleet.canary, waves=fleet.waves,
                           max_failed=fleet.max_failed, job=job, on_result=progress_line(app))
    try:
        report = migrate_fleet_of(ws, targets, options, confirm=_asker(app, yes))
    finally:
        end_progress(app)
    report.shard = str(shard) if shard else None
    print_report(app, report, as_json=as_json)
    fail_on(report)


def _asker(app: AppContext, yes: bool) -> Callable[[str, Sequence[StepDestruction]], None]:
    """The one confirmation code (cli/reporting.py), imported only when a plan destroys data (never on a no-op)."""
    def ask(question: str, destroys: Sequence[StepDestruction]) -> None:
        from memstack.cli.reporting import confirm_destruction  # lazy: only when something is to be asked

        confirm_destruction(app, yes)(question, destroys)

    return ask


def show_fleet(app: AppContext, ws: Workspace, fleet: FleetArgs, *, as_json: bool, check: bool) -> None:
    """``showmigrations``/``check --targets``: where every target stands; ``check`` exits 1 unless all are at head."""
    from memstack.engine.fleet.overview import fleet_status  # lazy: loaded when the command runs

    targets, _shard = fleet.targets(ws)
    report = fleet_status(ws, targets)
    print_report(app, report, as_json=as_json, statuses=True)
    if check:
        fail_on(report, also=("behind", "locked", "ahead"))


def fleet_history(app: AppContext, ws: Workspace, fleet: FleetArgs, run_id: str | None, *, as_json: bool) -> None:
    """``history --targets ... --fleet RUN_ID``: every target's rows of that run (all rows without it)."""
    from memstack.engine.fleet.tenants import split  # lazy: loaded when the command runs
    from memstack.engine.review.show import history

    targets, _shard = fleet.targets(ws)
    _shared, tenant = split(ws)
    rows: list[dict[str, Any]] = []
    for target in targets:
        with tenant.for_database(target.url, schema=target.schema) as db:
            entries = history(db, fleet_run=run_id)
        rows += [{"target": target.label, **e.as_json()} for e in entries]
        if not as_json:
            outcome = "failed" if any(not e.success for e in entries) else ("applied" if entries else "nothing")
            app.data(f"{outcome:<8} {target.label}  {len(entries)} event(s)")
            for entry in entries:
                mark = "ok" if entry.success else app.style("FAILED", fg="red")
                app.data(f"    {entry.event:<8} {entry.component} {entry.name}  {mark}"
                         + (f"  {entry.error}" if entry.error else ""))
    if as_json:
        app.json(rows)
