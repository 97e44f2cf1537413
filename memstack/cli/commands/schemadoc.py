"""``schemadoc``: documentation of the live database's schema, or its drift from another database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from memstack.cli.context import AppContext, common_options, get_app, open_workspace
from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.engine.review.schemadoc import SchemaDoc
    from memstack.engine.workspace import Workspace


@click.command(short_help="Document the database's schema (HTML, Markdown, ER diagram) or diff two databases.")
@click.argument("components", nargs=-1)
@click.option("--format", "output_format", type=click.Choice(["html", "markdown", "dot", "svg", "png"]),
              default="html", show_default=True, help="html: one self-contained page; dot/svg/png: ER diagram.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout (png always needs it or a redirect).")
@click.option("--diff", "other_url", metavar="OTHER_URL",
              help="Instead of documenting, list what differs from the database at OTHER_URL; exit 1 when anything.")
@common_options
def command(components: tuple[str, ...], output_format: str, output: Path | None, other_url: str | None) -> None:
    """Read the live database's tables through SQLAlchemy's inspector and document them.

    Every table with its columns (type, nullable, default), keys, indexes, foreign keys and
    comments, the component that owns it (its revisions create it, its models or its baseline
    declare it) and the revision that created it. Tables no component owns are shown and marked.
    Naming COMPONENTs limits the output to their tables; the unowned ones left out are named. svg and png
    need Graphviz's `dot` (the graphviz package).

    With --diff OTHER_URL, print one line per difference between this database and the other
    (drift between staging and production) and exit 1 when there is any.

    \b
    Examples:
      manage.py schemadoc -o schema.html
      manage.py schemadoc --format png -o docs/schema.png
      manage.py schemadoc memory task --format markdown
      manage.py schemadoc --diff postgresql+psycopg://app@prod-db/memstack
    """
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.schemadoc import read_schema, render

    app = get_app()
    with open_workspace(app) as ws:
        doc = read_schema(ws, components)
        if doc.left_out:  # never dropped silently: named, with how to see them
            app.warn(f"{len(doc.left_out)} table(s) no component owns are not shown: {', '.join(doc.left_out)} "
                     "(run schemadoc without COMPONENTs to include them)")
        if other_url is not None:
            _diff(app, ws, doc, other_url, components)
            return
        rendered = render(doc, output_format, ws.settings.templates_dir)
    _write(app, rendered, output)
    app.info(f"Documented {len(doc.tables)} table(s) as {output_format}" + (f" in {output}" if output else "") + ".")


def _diff(app: AppContext, ws: Workspace, doc: SchemaDoc, other_url: str, components: tuple[str, ...]) -> None:
    """Drift: one line per difference; the other database's connection errors name that database."""
    # lazy: loaded when the command runs, not for its --help
    from sqlalchemy.exc import InterfaceError, OperationalError

    from memstack.core.db import database_unavailable  # lazy: loaded when the command runs, not for its --help
    from memstack.core.redaction import mask_url  # lazy: loaded when the command runs, not for its --help
    from memstack.engine.review.schemadoc import diff_schemas, read_schema

    other_ws = ws.for_database(other_url)
    try:
        other = read_schema(other_ws, components)
    except (OperationalError, InterfaceError) as exc:
        raise database_unavailable(exc, other_url) from exc
    finally:
        other_ws.close()
    differences = diff_schemas(doc, other)
    for line in differences:
        app.data(line)
    if differences:
        raise MemstackError(f"{len(differences)} difference(s) between {doc.database} and {mask_url(other_url)}",
                            hint="see the list above; migrate the one that is behind, or adopt what drifted")
    app.info(f"No differences between {doc.database} and {mask_url(other_url)}.")


def _write(app: AppContext, rendered: str | bytes, output: Path | None) -> None:
    data = rendered.encode() if isinstance(rendered, str) else rendered
    if output is not None:  # written whole beside the target, then moved: a failure leaves no part of it
        from memstack.core.staging import all_or_nothing  # lazy: only when writing a file

        with all_or_nothing() as changes:
            changes.mkdir(output.parent)
            partial = output.with_name(f".{output.name}.partial")
            changes.write_bytes(partial, data)
            partial.replace(output)
        return
    if isinstance(rendered, bytes) and app.out is sys.stdout and sys.stdout.isatty():
        raise MemstackError("refusing to write a binary image to the terminal", hint="pass -o FILE or redirect")
    if isinstance(rendered, str):
        app.data(rendered.rstrip("\n"))
    else:
        stream = getattr(app.out, "buffer", None)
        if stream is None:
            raise MemstackError("this output stream takes no binary image", hint="pass -o FILE")
        app.out.flush()
        stream.write(data)
        stream.flush()
