"""``tag``: name the applied state of every component, to come back to it later."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option, open_workspace


@click.command(short_help="Save, list or delete named snapshots of the applied state.")
@click.argument("name", required=False)
@click.option("--list", "list_tags", is_flag=True, help="List the tags.")
@click.option("--delete", "delete_name", metavar="NAME", help="Delete a tag.")
@json_option
@common_options
def command(name: str | None, list_tags: bool, delete_name: str | None, as_json: bool) -> None:
    """Save the applied state of every component under NAME (in memstack's own tables).

    A tag records each component's applied heads (or zero). 'migrate --to-tag NAME' later
    moves every component the tag knows back (or forwards) to that state; components
    installed after the tag are left as they are.

    \b
    Examples:
      manage.py tag before-release-42
      manage.py tag --list --json
      manage.py migrate --to-tag before-release-42 --plan
      manage.py tag --delete before-release-42
    """
    from memstack.engine import tags as engine_tags  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    if sum([bool(name), list_tags, bool(delete_name)]) != 1:
        raise click.UsageError("give a NAME to create, or --list, or --delete NAME")
    with open_workspace(app) as ws:
        names = {rid: rev.name for rid, rev in ws.graph.revisions.items()}
        if list_tags:
            tags = engine_tags.list_tags(ws)
            if as_json:
                app.json([t.as_json(names) for t in tags])
                return
            if not tags:
                app.info("No tags yet.")
            for tag in tags:
                app.data(f"{tag.name}  ({tag.created_at})")
                for label, heads in sorted(tag.state.items()):
                    app.data(f"    {label}: {', '.join(names.get(h, h) for h in heads) or 'zero'}")
            return
        if delete_name:
            engine_tags.delete_tag(ws, delete_name)
            app.info(f"Deleted tag {delete_name}.", level=0)
            return
        assert name is not None
        tag = engine_tags.create_tag(ws, name)
    if as_json:
        app.json(tag.as_json(names))
    else:
        app.info(f"Tagged the current state as {tag.name!r}.", level=0)
