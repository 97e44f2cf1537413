"""``showmigrations``: every revision per component, applied or not."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace


@click.command(short_help="List revisions and whether each is applied.")
@click.argument("components", nargs=-1)
@click.option("--graph", "as_graph", is_flag=True,
              help="Draw the revision graph instead: one lane per component, dependencies, merges, applied marked.")
@click.option("--format", "graph_format", type=click.Choice(["text", "dot", "mermaid"]), default="text",
              show_default=True, help="With --graph: text, Graphviz dot (| dot -Tsvg), or Mermaid (for Markdown).")
@json_option
@common_options
def command(components: tuple[str, ...], as_json: bool, as_graph: bool, graph_format: str) -> None:
    """List each component's revisions in graph order: [X] applied, [ ] pending.

    With -v 2, also what each revision builds on (down_revision) and depends on in other
    components. The state is read from the database's alembic_version table.

    \b
    Examples:
      manage.py showmigrations
      manage.py showmigrations memory task --json
      manage.py showmigrations --graph --format dot | dot -Tsvg -o revisions.svg
    """
    from memstack.engine.show import show_migrations

    app = get_app()
    with open_workspace(app) as ws:
        states = show_migrations(ws, components)
        graph = ws.graph
    if as_graph:
        from memstack.engine.graphdoc import render_graph

        applied = [s.revision.id for rows in states.values() for s in rows if s.applied]
        app.data(render_graph(graph, applied, graph_format, list(states)).rstrip("\n"))
        return
    if as_json:
        app.json([s.as_json() for rows in states.values() for s in rows])
        return
    for label, rows in states.items():
        app.data(app.style(label, bold=True))
        if not rows:
            app.data("  (no revisions)")
        for state in rows:
            mark = app.style("[X]", fg="green") if state.applied else "[ ]"
            line = f"  {mark} {state.revision.name}"
            if app.verbosity >= 2:
                deps = [graph.get(d).label if d in graph else d for d in state.revision.depends_on]
                line += f"  ({state.revision.id})"
                if deps:
                    line += f"  depends on: {', '.join(deps)}"
            app.data(line)
