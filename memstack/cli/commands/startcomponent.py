"""``startcomponent``: scaffold a new component from ``templates/component/``."""

from __future__ import annotations

import click

from memstack.cli.context import common_options, get_app, json_option


@click.command(short_help="Create a new component (package, migrations folder, configuration).")
@click.argument("name")
@click.option("--package-dir", metavar="DIR", default=None,
              help="Folder the package goes into (default: memstack, i.e. memstack/NAME; "
                   "relative to the project root).")
@json_option
@common_options
def command(name: str, package_dir: str | None, as_json: bool) -> None:
    """Create component NAME from the templates in templates/component/.

    Writes the package (models.py with an example table on memstack.core.db.Base, and a
    commands/ folder with an example 'hello' command), an empty migrations/NAME/ folder,
    and adds the component to [tool.memstack] components and [tool.alembic]
    version_locations in pyproject.toml, keeping its comments. NAME must be a lowercase
    Python identifier that no installed component uses.

    With --package-dir DIR the package is DIR/NAME and its dotted name follows from DIR
    (DIR must be importable: '.' for a top-level package in the project root).

    \b
    Examples:
      manage.py startcomponent billing
      manage.py startcomponent billing --package-dir .
    """
    from memstack.cli.scaffold import start_component  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    result = start_component(app.settings, name, package_dir=package_dir)
    for warning in result.warnings:
        app.warn(warning)
    if as_json:
        app.json(result.as_json(app.settings.project_dir))
        return
    root = app.settings.project_dir
    app.info(f"Created component {result.name} ({result.package}):")
    for path in result.files:
        app.info(f"  {path.relative_to(root).as_posix() if path.is_relative_to(root) else path}")
    if result.pyproject_changed:
        app.info("Updated pyproject.toml: [tool.memstack] components, [tool.alembic] version_locations")
    app.info("Next: edit its models.py, then run")
    for line in result.next_commands:
        app.data(f"  {line}")
