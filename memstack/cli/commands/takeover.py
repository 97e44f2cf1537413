"""``takeover``: make an existing plain-Alembic project one memstack component."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from memstack.cli.context import common_options, get_app, open_workspace

if TYPE_CHECKING:
    from memstack.engine.adopt.takeover import TakeoverPlan


@click.command(short_help="Take over an existing Alembic project as a component.")
@click.argument("alembic_project", metavar="ALEMBIC_PROJECT")
@click.option("--component", "label", required=True, help="Label of the new component (a Python identifier).")
@click.option("--package", default=None, help="Its Python package (default memstack.LABEL, created if missing).")
@click.option("--dry-run", is_flag=True, help="Show the files it would write; change nothing.")
@common_options
def command(alembic_project: str, label: str, package: str | None, dry_run: bool) -> None:
    """Copy ALEMBIC_PROJECT's revisions into migrations/LABEL/ as component LABEL.

    ALEMBIC_PROJECT is the project's alembic.ini, the folder holding it (or a pyproject.toml
    with [tool.alembic], or the script folder with env.py), or the package holding env.py
    (pkg:migrations). script_location and version_locations are resolved as Alembic does:
    %(here)s, package:path, and relative paths against the working directory (then against
    the configuration file's folder). Revision ids and file contents are kept, so every
    database plain Alembic migrated is recognised as it is, with no stamp. Two edits only: the
    root revision gets branch_labels = ('LABEL',) (other branch labels are cleared) and files
    are renamed NNNN_slug.py in graph order. Merges and several branches are kept.

    Refused, with what to change: a project with several root revisions (a component is one
    branch, and Alembic lets its label name one root only) and one keeping its version rows in
    a table other than alembic_version (version_table / version_table_schema).

    The component starts without models, so check and makemigrations leave its tables alone
    (nothing is ever dropped) until you declare them in PACKAGE/models.py.

    \b
    Example:
      manage.py takeover ../billing-service --component billing
      manage.py showmigrations billing && manage.py migrate billing
    """
    # lazy: loaded when the command runs, not for its --help
    from memstack.core.staging import all_or_nothing
    from memstack.engine.adopt.takeover import (
        add_component_entry,
        ensure_package,
        package_folder,
        plan_takeover,
        write_env_hook,
        write_takeover,
    )
    from memstack.engine.run.alembic_config import sync_alembic_config
    from memstack.engine.workspace import Workspace

    app = get_app()
    with open_workspace(app) as ws:
        settings = ws.settings
        if label in ws.registry.labels:
            raise click.UsageError(f"component {label!r} already exists")
        plan = plan_takeover(alembic_project, label, settings.migrations_dir / label)
    root = plan.files[0].revision
    for taken in plan.files:
        note = (" (branch label set)" if taken.revision == root else " (branch label cleared)") if taken.edited else ""
        app.info(f"{'Would copy' if dry_run else 'Copying'} {taken.source.name} -> "
                 f"{taken.target.relative_to(settings.project_dir)}{note}", level=1)
    app.info(f"{len(plan.files)} revisions, {plan.merges} merge(s), head(s): {', '.join(plan.heads)}", level=0)
    package = package or f"memstack.{label}"
    _report_env(app, plan, package, dry_run)
    if dry_run:
        return
    with all_or_nothing() as changes:  # refused half-way (the new component's registry, a write): nothing kept
        created = ensure_package(settings.project_dir, package, changes)
        hook = write_env_hook(plan, package_folder(settings.project_dir, package), changes)
        write_takeover(plan, changes)
        add_component_entry(settings.pyproject_path, package, label, changes)
        with Workspace.load(project_dir=settings.project_dir) as updated:
            changes.remember(settings.pyproject_path)
            sync_alembic_config(updated.registry, settings.pyproject_path)
            updated.graph  # noqa: B018 (the copied revisions read back: a tree that does not load is undone)
    if hook is not None:
        app.info(f"Wrote the environment hook {hook}", level=0)
    # lazy: loaded when the command runs, not for its --help
    from memstack.engine.generate.write_hooks import run_hooks

    run_hooks(settings.project_dir, [taken.target for taken in plan.files])  # post_write_hooks, once all is in place
    if created:
        app.info(f"Created package {package} ({created.parent})", level=1)
    app.info(f"Took over {plan.project.script_location} as component {label!r}. It has no models yet: "
             f"declare its tables in {package.replace('.', '/')}/models.py to let makemigrations manage them.",
             level=0)


def _report_env(app: Any, plan: TakeoverPlan, package: str, dry_run: bool) -> None:
    """What the project's env.py gives the hook, and, line by line, what it does not (before any write)."""
    env = plan.env
    if env is None:
        return
    if env.carries_anything:
        carried = ", ".join([*env.options, *(["set-up calls"] if env.setup else [])])
        app.info(f"{'Would carry' if dry_run else 'Carrying'} from {env.path.name} into "
                 f"{package}.memstack_env:setup: {carried}", level=0)
    if env.metadata:
        app.info(f"{env.path.name} compares target_metadata = {env.metadata}: declare those tables in "
                 f"{package}/models.py for makemigrations and check to compare them", level=0)
    for line, text, why in env.not_carried:
        app.warn(f"{env.path.name}:{line}: not carried: {text} ({why})")
