"""MemStack's start-up data: permissions, roles, the two default users, an API key, a tenant.

Idempotent by natural key (permission ``code``, role ``name``, user ``email``, tenant
``name``); link rows (role permissions, user roles, tenant membership) are added only when
missing, and the admin's API key only when the admin has no active key. Passwords come from
``MEMSTACK_ADMIN_PASSWORD`` / ``MEMSTACK_USER_PASSWORD`` (the real environment, then the
project's ``.env``) or are generated; generated passwords and the plain API key are returned
once, in :class:`SeedResult`, and never stored in the clear. Nothing here prints.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memstack.core.errors import MemstackError
from memstack.core.settings import Settings, mask_url, read_dotenv

ADMIN_EMAIL = "admin@memstack.ai"
USER_EMAIL = "user@memstack.ai"
ADMIN_PASSWORD_ENV = "MEMSTACK_ADMIN_PASSWORD"
USER_PASSWORD_ENV = "MEMSTACK_USER_PASSWORD"
API_KEY_PREFIX = "ms_sk_"
API_KEY_NAME = "Default API Key"
API_KEY_PERMISSIONS = ["read", "write", "admin"]
TENANT_NAME = "Default Tenant"

#: (code, name, description) -- the labels MemStack itself uses
PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("tenant:create", "Create Tenant", "Create new tenants"),
    ("tenant:read", "Read Tenant", "View tenant details"),
    ("tenant:update", "Update Tenant", "Update tenant details"),
    ("tenant:delete", "Delete Tenant", "Delete tenants"),
    ("project:create", "Create Project", "Create new projects"),
    ("project:read", "Read Project", "View project details"),
    ("project:update", "Update Project", "Update project details"),
    ("project:delete", "Delete Project", "Delete projects"),
    ("memory:create", "Create Memory", "Create new memories"),
    ("memory:read", "Read Memory", "View memories"),
    ("user:read", "Read User", "View user details"),
    ("user:update", "Update User", "Update user details"),
)

#: role name -> description
ROLES: dict[str, str] = {"admin": "System Administrator", "user": "Regular User"}

#: (email, display name, role, password variable)
USERS: tuple[tuple[str, str, str, str], ...] = (
    (ADMIN_EMAIL, "Default Admin", "admin", ADMIN_PASSWORD_ENV),
    (USER_EMAIL, "Default User", "user", USER_PASSWORD_ENV),
)

TENANT: dict[str, Any] = {
    "name": TENANT_NAME,
    "description": "Default tenant for demonstration",
    "plan": "enterprise",
    # MemStack's own start-up code gives its demonstration tenant these quotas
    "max_projects": 10,
    "max_users": 100,
    "max_storage": 10 * 1024**3,
}

#: the tables seeding writes (all must exist: the schema is migrated first)
REQUIRED_TABLES = ("users", "roles", "permissions", "role_permissions", "user_roles", "api_keys",
                   "tenants", "user_tenants")

_MIGRATE_HINT = "run 'manage.py migrate' first"


def role_permission_codes(role: str) -> list[str]:
    """The permission codes ``role`` gets: admin all, user those containing read or create."""
    codes = [code for code, _name, _description in PERMISSIONS]
    if role == "admin":
        return codes
    return [code for code in codes if "read" in code or "create" in code]


@dataclass(frozen=True)
class SeedItem:
    """One row (or link) seeding looked for; ``key`` is its natural key in words."""

    kind: str  # permission, role, role_permission, user, user_role, api_key, tenant, user_tenant
    key: str
    created: bool

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key}


@dataclass
class SeedResult:
    """What seeding found and did. ``passwords`` and ``api_key`` are secrets, shown once."""

    items: list[SeedItem] = field(default_factory=list)
    #: email -> generated password (only for users created now without a password variable)
    passwords: dict[str, str] = field(default_factory=dict)
    #: email -> where a created user's password came from (variable name or "generated")
    password_sources: dict[str, str] = field(default_factory=dict)
    #: the admin's plain API key, when one was created now
    api_key: str | None = None

    @property
    def created(self) -> list[SeedItem]:
        return [item for item in self.items if item.created]

    @property
    def present(self) -> list[SeedItem]:
        return [item for item in self.items if not item.created]

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": [item.as_json() for item in self.created],
            "present": [item.as_json() for item in self.present],
            "password_sources": dict(self.password_sources),
            "passwords": dict(self.passwords),
            "api_key": self.api_key,
        }


# --------------------------------------------------------------------------- helpers


def hash_password(password: str) -> str:
    """bcrypt hash as text, what MemStack's login checks."""
    import bcrypt

    data = password.encode()
    if len(data) > 72:
        raise MemstackError(
            "a password is longer than bcrypt's 72 bytes",
            hint=f"choose a shorter {ADMIN_PASSWORD_ENV} / {USER_PASSWORD_ENV}",
        )
    return bcrypt.hashpw(data, bcrypt.gensalt()).decode()


def generate_api_key() -> str:
    """A plain API key: ``ms_sk_`` and 64 hex characters (32 random bytes)."""
    return API_KEY_PREFIX + secrets.token_hex(32)


def hash_api_key(key: str) -> str:
    """What ``api_keys.key_hash`` stores: the SHA-256 hex digest of the plain key."""
    return hashlib.sha256(key.encode()).hexdigest()


def seed_environment(project_dir: Path) -> dict[str, str]:
    """The settings' environment chain: the real environment wins over the project's ``.env``."""
    return {**read_dotenv(project_dir), **os.environ}


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def check_schema(engine: Any) -> None:
    """Raise unless every table (and column) seeding writes exists."""
    from sqlalchemy import inspect

    from memstack.core.db import metadata

    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    missing = [name for name in REQUIRED_TABLES if name not in existing]
    if missing:
        raise MemstackError(
            f"the database has no table{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "its schema is not migrated",
            hint=_MIGRATE_HINT,
        )
    for name in REQUIRED_TABLES:
        have = {column["name"] for column in inspector.get_columns(name)}
        lacking = [column.name for column in metadata.tables[name].columns if column.name not in have]
        if lacking:
            raise MemstackError(
                f"table {name} lacks column{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}: "
                "its schema is not up to date",
                hint=_MIGRATE_HINT,
            )


# --------------------------------------------------------------------------- seeding


def seed(settings: Settings, *, environ: Mapping[str, str] | None = None) -> SeedResult:
    """Create whatever of MemStack's start-up data is missing; return what was found and done.

    ``environ`` replaces the environment chain (real environment over ``.env``) for the
    password variables. Raises :class:`MemstackError` when the schema is not migrated.
    """
    env = seed_environment(settings.project_dir) if environ is None else dict(environ)
    url = settings.database_url
    sqlite_path = _sqlite_file(url)
    if sqlite_path is not None and not sqlite_path.is_file():
        raise MemstackError(f"the database file {sqlite_path} does not exist yet", hint=_MIGRATE_HINT)

    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    import memstack.auth.models
    import memstack.tenant.models  # noqa: F401  (both declare the tables checked and written below)
    from memstack.core.db import create_engine
    from memstack.engine.lock import migration_lock

    engine = create_engine(url)
    try:
        try:
            check_schema(engine)
            # under the migration lock: replicas seeding at once must not create a second
            # "Default Tenant" (tenant names are not unique in the schema)
            with migration_lock(engine, settings.lock_timeout), Session(engine) as session, session.begin():
                return _seed(session, env)
        except SQLAlchemyError as exc:
            first_line = (str(exc).strip().splitlines() or [""])[0]
            raise MemstackError(
                f"seeding {mask_url(url)} failed: {type(exc).__name__}: {mask_url(first_line)}",
                hint="check that the database is reachable and migrated ('manage.py migrate')",
            ) from exc
    finally:
        engine.dispose()


def _seed(session: Any, env: Mapping[str, str]) -> SeedResult:
    from sqlalchemy import select

    from memstack.auth.models import APIKey, Permission, Role, RolePermission, User, UserRole
    from memstack.tenant.models import Tenant, UserTenant

    result = SeedResult()
    # created_at is set here rather than left to the column's server default: the same value on
    # every backend, and no reliance on now() existing in SQL (SQLite has no such function)
    now = datetime.now(UTC)

    def note(kind: str, key: str, created: bool) -> None:
        result.items.append(SeedItem(kind, key, created))

    permissions: dict[str, Any] = {}
    for code, name, description in PERMISSIONS:
        permission = session.scalars(select(Permission).where(Permission.code == code)).first()
        created = permission is None
        if created:
            permission = Permission(code=code, name=name, description=description, created_at=now)
            session.add(permission)
        note("permission", code, created)
        permissions[code] = permission

    roles: dict[str, Any] = {}
    for role_name, description in ROLES.items():
        role = session.scalars(select(Role).where(Role.name == role_name)).first()
        created = role is None
        if created:
            role = Role(name=role_name, description=description, created_at=now)
            session.add(role)
        note("role", role_name, created)
        roles[role_name] = role
    session.flush()

    for role_name, role in roles.items():
        linked = set(session.scalars(select(RolePermission.permission_id).where(RolePermission.role_id == role.id)))
        for code in role_permission_codes(role_name):
            created = permissions[code].id not in linked
            if created:
                session.add(RolePermission(role_id=role.id, permission_id=permissions[code].id, created_at=now))
            note("role_permission", f"{role_name} {code}", created)

    users: dict[str, Any] = {}
    for email, display_name, role_name, variable in USERS:
        user = session.scalars(select(User).where(User.email == email)).first()
        created = user is None
        if created:
            given = env.get(variable) or ""
            if given:
                password, source = given, variable
            else:
                password, source = secrets.token_urlsafe(16), "generated"
                result.passwords[email] = password
            result.password_sources[email] = source
            user = User(email=email, name=display_name, password_hash=hash_password(password), is_active=True,
                        created_at=now)
            session.add(user)
            session.flush()
        note("user", email, created)
        users[email] = user
        role = roles[role_name]
        has_role = session.scalars(
            select(UserRole.id).where(UserRole.user_id == user.id, UserRole.role_id == role.id)
        ).first() is not None
        if not has_role:
            session.add(UserRole(user_id=user.id, role_id=role.id, created_at=now))
        note("user_role", f"{email} {role_name}", not has_role)

    admin = users[ADMIN_EMAIL]
    active_key = session.scalars(
        select(APIKey.id).where(APIKey.user_id == admin.id, APIKey.is_active.is_(True))
    ).first()
    if active_key is None:
        plain = generate_api_key()
        session.add(APIKey(key_hash=hash_api_key(plain), name=API_KEY_NAME, user_id=admin.id, is_active=True,
                           permissions=list(API_KEY_PERMISSIONS), created_at=now))
        result.api_key = plain
    note("api_key", ADMIN_EMAIL, active_key is None)  # natural key: the admin's one active key

    tenant = session.scalars(select(Tenant).where(Tenant.name == TENANT_NAME).order_by(Tenant.created_at)).first()
    created = tenant is None
    if created:
        tenant = Tenant(owner_id=admin.id, created_at=now, **TENANT)
        session.add(tenant)
        session.flush()
    note("tenant", TENANT_NAME, created)
    member = session.scalars(
        select(UserTenant.id).where(UserTenant.user_id == admin.id, UserTenant.tenant_id == tenant.id)
    ).first()
    if member is None:
        session.add(UserTenant(user_id=admin.id, tenant_id=tenant.id, role="owner", permissions={"admin": True},
                               created_at=now))
    note("user_tenant", f"{ADMIN_EMAIL} {TENANT_NAME} owner", member is None)
    session.flush()
    return result
