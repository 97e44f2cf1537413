"""``seed``: MemStack's start-up data (permissions, roles, default users, API key, tenant)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import click

from memstack.cli.context import common_options, get_app, json_option

if TYPE_CHECKING:
    from memstack.cli.context import AppContext
    from memstack.core.seeding import SeedItem, SeedResult

_KIND_WORDS = {
    "permission": ("permission", "permissions"),
    "role": ("role", "roles"),
    "role_permission": ("role permission", "role permissions"),
    "user": ("user", "users"),
    "user_role": ("user role", "user roles"),
    "api_key": ("API key", "API keys"),
    "tenant": ("tenant", "tenants"),
    "user_tenant": ("tenant membership", "tenant memberships"),
}


def _summary(items: list[SeedItem]) -> str:
    counts = Counter(item.kind for item in items)
    parts = []
    for kind, (one, many) in _KIND_WORDS.items():
        if counts.get(kind):
            parts.append(f"{counts[kind]} {one if counts[kind] == 1 else many}")
    return ", ".join(parts)


@click.command(short_help="Create MemStack's start-up data (idempotent).")
@json_option
@common_options
def command(as_json: bool) -> None:
    """Create MemStack's start-up data where it is missing; run it again at any time.

    \b
    Seeds: 12 permissions; roles admin (all of them) and user (read and create);
    users admin@memstack.ai and user@memstack.ai; an API key for the admin;
    "Default Tenant", owned by the admin. Rows are found by permission code, role
    name, user email and tenant name, so nothing is created twice.

    Passwords come from MEMSTACK_ADMIN_PASSWORD and MEMSTACK_USER_PASSWORD (environment
    or the project's .env) and are never printed; without them a password is generated.
    Generated passwords and the new API key are printed once, on stdout; only hashes are
    stored. The schema must be migrated first.

    Each component may ship its own start-up data as <package>/seed.py defining
    seed(run); the hooks run in component order, in one transaction (see
    memstack.core.seeding).

    \b
    Examples:
      manage.py migrate && manage.py seed
      MEMSTACK_ADMIN_PASSWORD=... manage.py seed --json
    """
    from memstack.onboarding import seed  # lazy: loaded when the command runs, not for its --help

    app = get_app()
    app.info(f"Database: {app.settings.masked_database_url}", level=2)
    result = seed(app.settings)
    if as_json:
        app.json(result.as_json())
        return
    report_seed(app, result)


def report_seed(app: AppContext, result: SeedResult) -> None:
    """What seeding did on stderr; generated secrets, once, on stdout (also used by onboard)."""
    from memstack.auth.seed import ADMIN_EMAIL  # lazy: loaded when the command runs, not for its --help

    if result.created:
        app.info(f"Created: {_summary(result.created)}.")
        for item in result.created:
            app.info(f"  + {item.kind} {item.key}", level=2)
    if result.present:
        app.info(f"Already present: {_summary(result.present)}.", level=1 if result.created else 2)
    if not result.created:
        app.info("Nothing to do: MemStack's start-up data is already present.")
    for email, source in result.password_sources.items():
        if source != "generated":
            app.info(f"{email}: password from {source}.")
    for email, password in result.passwords.items():
        app.data(f"{email} password: {password}")
    if result.api_key:
        app.data(f"{ADMIN_EMAIL} API key: {result.api_key}")
    if result.passwords or result.api_key:
        app.info("These secrets are shown only now; only their hashes are stored.", fg="yellow")
