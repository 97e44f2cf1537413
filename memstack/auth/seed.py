"""The auth component's start-up data: 12 permissions, roles admin and user, the two default
users with their roles, and an API key for the admin (the seed hook, see
:mod:`memstack.core.seeding`).

Rows are found by natural key (permission ``code``, role ``name``, user ``email``); links
are added only when missing, the admin's API key only when the admin has no active key.
Passwords come from ``MEMSTACK_ADMIN_PASSWORD`` / ``MEMSTACK_USER_PASSWORD`` or are
generated; generated passwords and the plain API key go into the result once, only their
hashes into the database.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import bcrypt
from sqlalchemy import select

from memstack.auth.models import APIKey, Permission, Role, RolePermission, User, UserRole
from memstack.core.errors import MemstackError
from memstack.core.seeding import SeedRun

ADMIN_EMAIL = "admin@memstack.ai"
USER_EMAIL = "user@memstack.ai"
ADMIN_PASSWORD_ENV = "MEMSTACK_ADMIN_PASSWORD"
USER_PASSWORD_ENV = "MEMSTACK_USER_PASSWORD"
API_KEY_PREFIX = "ms_sk_"
API_KEY_NAME = "Default API Key"
API_KEY_PERMISSIONS = ["read", "write", "admin"]

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

#: the tables this hook writes (checked before any hook runs)
REQUIRED_TABLES = ("users", "roles", "permissions", "role_permissions", "user_roles", "api_keys")


def role_permission_codes(role: str) -> list[str]:
    """The permission codes ``role`` gets: admin all, user those containing read or create."""
    codes = [code for code, _name, _description in PERMISSIONS]
    if role == "admin":
        return codes
    return [code for code in codes if "read" in code or "create" in code]


def hash_password(password: str) -> str:
    """bcrypt hash as text, what MemStack's login checks."""
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


def seed(run: SeedRun) -> None:
    """The seed hook: permissions, roles and their links, users and theirs, the admin's API key."""
    roles = _roles(run, _permissions(run))
    users = _users(run, roles)
    _api_key(run, users[ADMIN_EMAIL])


def _permissions(run: SeedRun) -> dict[str, Any]:
    permissions: dict[str, Any] = {}
    for code, name, description in PERMISSIONS:
        permission = run.session.scalars(select(Permission).where(Permission.code == code)).first()
        created = permission is None
        if permission is None:
            permission = Permission(code=code, name=name, description=description, created_at=run.now)
            run.session.add(permission)
        run.note("permission", code, created)
        permissions[code] = permission
    return permissions


def _roles(run: SeedRun, permissions: dict[str, Any]) -> dict[str, Any]:
    session = run.session
    roles: dict[str, Any] = {}
    for role_name, description in ROLES.items():
        role = session.scalars(select(Role).where(Role.name == role_name)).first()
        created = role is None
        if role is None:
            role = Role(name=role_name, description=description, created_at=run.now)
            session.add(role)
        run.note("role", role_name, created)
        roles[role_name] = role
    session.flush()
    for role_name, role in roles.items():
        linked = set(session.scalars(select(RolePermission.permission_id).where(RolePermission.role_id == role.id)))
        for code in role_permission_codes(role_name):
            created = permissions[code].id not in linked
            if created:
                session.add(RolePermission(role_id=role.id, permission_id=permissions[code].id, created_at=run.now))
            run.note("role_permission", f"{role_name} {code}", created)
    return roles


def _users(run: SeedRun, roles: dict[str, Any]) -> dict[str, Any]:
    session, result = run.session, run.result
    users: dict[str, Any] = {}
    for email, display_name, role_name, variable in USERS:
        user = session.scalars(select(User).where(User.email == email)).first()
        created = user is None
        if user is None:
            given = run.env.get(variable) or ""
            if given:
                password, source = given, variable
            else:
                password, source = secrets.token_urlsafe(16), "generated"
                result.passwords[email] = password
            result.password_sources[email] = source
            user = User(email=email, name=display_name, password_hash=hash_password(password), is_active=True,
                        created_at=run.now)
            session.add(user)
            session.flush()
        run.note("user", email, created)
        users[email] = user
        role = roles[role_name]
        has_role = session.scalars(
            select(UserRole.id).where(UserRole.user_id == user.id, UserRole.role_id == role.id)
        ).first() is not None
        if not has_role:
            session.add(UserRole(user_id=user.id, role_id=role.id, created_at=run.now))
        run.note("user_role", f"{email} {role_name}", not has_role)
    return users


def _api_key(run: SeedRun, admin: Any) -> None:
    active_key = run.session.scalars(
        select(APIKey.id).where(APIKey.user_id == admin.id, APIKey.is_active.is_(True))
    ).first()
    if active_key is None:
        plain = generate_api_key()
        run.session.add(APIKey(key_hash=hash_api_key(plain), name=API_KEY_NAME, user_id=admin.id, is_active=True,
                               permissions=list(API_KEY_PERMISSIONS), created_at=run.now))
        run.result.api_key = plain
    run.note("api_key", ADMIN_EMAIL, active_key is None)  # natural key: the admin's one active key
    run.session.flush()
