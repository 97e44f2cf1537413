"""``showmigrations``: every revision per component, applied or not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from memstack.cli.context import AppContext, common_options, get_app, json_option, open_workspace
from memstack.cli.fleet_options import FleetArgs, target_options
from memstack.cli.worded import program

if TYPE_CHECKING:
    from memstack.engine.review.show import ForeignRevision, Listing
    from memstack.engine.tree.graph import MigrationGraph


@click.command(short_help="List revisions and whether each is applied.")
@click.argument("components", nargs=-1)
@click.option("--graph", "as_graph", is_flag=True,
              help="Draw the revision graph instead: one lane per component, dependencies, merges, applied marked.")
@click.option("--format", "graph_format", type=click.Choice(["text", "dot", "mermaid"]), default="text",
              show_default=True, help="With --graph: text, Graphviz dot (| dot -Tsvg), or Mermaid (for Markdown).")
@click.option("--plan", "as_plan", is_flag=True,
              help="One list in the order migrate applies: applied first, then pending; -v 2 adds dependencies.")
@target_options
@json_option
@common_options
def command(components: tuple[str, ...], as_json: bool, as_graph: bool, graph_format: str, as_plan: bool,
            fleet: FleetArgs | None) -> None:
    """List each component's revisions in graph order: [X] applied, [ ] pending.

    Revisions the database holds but no file here provides are listed too, marked [?]: under
    their component when it is configured (the database is ahead: a newer release or another
    git branch migrated it), or under "NAME (not configured)" when the component was removed.

    With -v 2, also what each revision builds on (down_revision) and depends on in other
    components. The state is read from the database's alembic_version table.

    With --plan (as Django's), one list across components in the order migrate applies them:
    the applied revisions, then the pending ones exactly as 'migrate' (or 'migrate COMPONENT...'
    for the named ones, with what they need elsewhere) would apply them now; -v 2 shows each
    revision's dependencies, --json lists down_revisions and depends_on.

    \b
    Examples:
      manage.py showmigrations
      manage.py showmigrations memory task --json
      manage.py showmigrations --plan -v 2     # the order migrate applies, with dependencies
      manage.py showmigrations --graph --format dot | dot -Tsvg -o revisions.svg
      manage.py showmigrations --schemas 'tenant_%'   # many targets: how many stand where (docs/fleets.md)
    """
    from memstack.engine.review.show import listing  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    if as_plan and as_graph:
        raise click.UsageError("--plan and --graph are two views: choose one")
    if fleet is not None:
        from memstack.cli.fleet_output import show_fleet  # lazy: loaded when the command runs, not for its --help

        with open_workspace(app) as ws:
            show_fleet(app, ws, fleet, as_json=as_json, check=False)
        return
    if as_plan:
        _show_plan(app, components, as_json)
        return
    with open_workspace(app) as ws:
        shown = listing(ws, components)
        graph = ws.graph
    if as_graph:
        # lazy: loaded when the command runs, not for its --help
        from memstack.engine.review.graphdoc import render_graph

        applied = [s.revision.id for rows in shown.components.values() for s in rows if s.applied]
        app.data(render_graph(graph, applied, graph_format, list(shown.components)).rstrip("\n"))
        return
    if as_json:
        app.json([s.as_json() for rows in shown.components.values() for s in rows]
                 + [f.as_json() for f in shown.foreign])
    else:
        _print_listing(app, graph, shown)
    _hint_foreign(app, shown.foreign)


def _show_plan(app: AppContext, components: tuple[str, ...], as_json: bool) -> None:
    """--plan: Django's ``[X]  auth 0001_initial ... (dependencies)`` list, or its JSON."""
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.show import listing, plan_listing

    with open_workspace(app) as ws:
        planned = plan_listing(ws, components)
        foreign = listing(ws, components).foreign
        graph = ws.graph
    if as_json:
        app.json([state.as_json() for state in planned])
    else:
        done = app.style("[X]", fg="green")
        lines = []
        for state in planned:
            line = f"{done if state.applied else '[ ]'}  {state.revision.label}"
            if app.verbosity >= 2:
                parents = [graph.get(p).label if p in graph else p for p in state.revision.parents]
                line += f" ... ({', '.join(parents)})" if parents else " ... (start of the branch)"
            lines.append(line)
        if lines:
            app.data("\n".join(lines))
    _hint_foreign(app, foreign)


def _print_listing(app: AppContext, graph: MigrationGraph, shown: Listing) -> None:
    """One write for the whole listing (thousands of lines)."""
    from memstack.engine.review.show import AHEAD  # lazy: loaded when the command runs, not for its --help

    done, unknown = app.style("[X]", fg="green"), app.style("[?]", fg="yellow")
    lines: list[str] = []
    for label, rows in shown.components.items():
        lines.append(app.style(label, bold=True))
        if not rows:
            lines.append("  (no revisions)")
        for state in rows:
            line = f"  {done if state.applied else '[ ]'} {state.revision.name}"
            if app.verbosity >= 2:
                deps = [graph.get(d).label if d in graph else d for d in state.revision.depends_on]
                line += f"  ({state.revision.id})"
                if deps:
                    line += f"  depends on: {', '.join(deps)}"
            lines.append(line)
        for foreign in (f for f in shown.foreign if f.component == label):
            lines.append(f"  {unknown} {foreign.name}  ({foreign.revision}; in the database, no file here)")
    by_removed: dict[str, list[ForeignRevision]] = {}
    for foreign in shown.foreign:
        if foreign.why != AHEAD:
            by_removed.setdefault(foreign.component or "", []).append(foreign)
    for component, items in by_removed.items():
        title = f"{component} (not configured)" if component else "(no component: memstack has no record of these)"
        lines.append(app.style(title, bold=True))
        for foreign in items:
            lines.append(f"  {unknown} {foreign.name or foreign.revision}  "
                         f"({foreign.revision}; in the database, no file here)")
    if lines:
        app.data("\n".join(lines))


def _hint_foreign(app: AppContext, foreign: list[ForeignRevision]) -> None:
    """Say why the database holds revisions no file provides, and what to do (stderr)."""
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.show import AHEAD, REMOVED, UNKNOWN

    ahead = sorted({f.component for f in foreign if f.why == AHEAD and f.component})
    removed = sorted({f.component for f in foreign if f.why == REMOVED and f.component})
    bare = [f.revision for f in foreign if f.why == UNKNOWN]
    if ahead:
        app.warn(f"the database is ahead of this code in {', '.join(ahead)}: it holds revisions marked [?] that "
                 "no file here provides (a newer release was deployed, or another git branch migrated it); "
                 "deploy that code or check out that branch before migrating")
    for component in removed:
        app.warn(f"component {component!r} was removed from the configuration, but its revisions are still "
                 f"applied: put it back and run '{program()} migrate {component} zero', or forget them with "
                 f"'{program()} migrate --prune {component}'")
    if bare:
        app.warn(f"the database holds version row(s) no file provides and memstack has no record of: "
                 f"{', '.join(bare)} (migrated by newer code, or another tool); '{program()} adopt' takes over a "
                 "database stamped by an older tool")
