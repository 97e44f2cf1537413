"""The tenant component's start-up data: "Default Tenant", owned by the auth component's admin
(the seed hook, see :mod:`memstack.core.seeding`; it runs after auth's, in component order).

Found by name (tenant names are not unique in the schema, so seeding runs under the migration
lock: replicas seeding at once must not create a second one); the admin's membership is added
only when missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from memstack.auth.models import User
from memstack.core.errors import MemstackError
from memstack.core.seeding import SeedRun
from memstack.tenant.models import Tenant, UserTenant

TENANT_NAME = "Default Tenant"
OWNER_EMAIL = "admin@memstack.ai"  # the auth component's admin (memstack.auth.seed.ADMIN_EMAIL)

TENANT: dict[str, Any] = {
    "name": TENANT_NAME,
    "description": "Default tenant for demonstration",
    "plan": "enterprise",
    # MemStack's own start-up code gives its demonstration tenant these quotas
    "max_projects": 10,
    "max_users": 100,
    "max_storage": 10 * 1024**3,
}

#: the tables this hook writes or reads (checked before any hook runs)
REQUIRED_TABLES = ("tenants", "user_tenants", "users")


def seed(run: SeedRun) -> None:
    """The seed hook: the default tenant and its owner's membership."""

    session = run.session
    owner = session.scalars(select(User).where(User.email == OWNER_EMAIL)).first()
    if owner is None:
        raise MemstackError(f"the default tenant needs its owner {OWNER_EMAIL}, who does not exist",
                            hint="keep memstack.auth before memstack.tenant in [tool.memstack] components")
    tenant = session.scalars(select(Tenant).where(Tenant.name == TENANT_NAME).order_by(Tenant.created_at)).first()
    created = tenant is None
    if tenant is None:
        tenant = Tenant(owner_id=owner.id, created_at=run.now, **TENANT)
        session.add(tenant)
        session.flush()
    run.note("tenant", TENANT_NAME, created)
    member = session.scalars(
        select(UserTenant.id).where(UserTenant.user_id == owner.id, UserTenant.tenant_id == tenant.id)
    ).first()
    if member is None:
        session.add(UserTenant(user_id=owner.id, tenant_id=tenant.id, role="owner", permissions={"admin": True},
                               created_at=run.now))
    run.note("user_tenant", f"{OWNER_EMAIL} {TENANT_NAME} owner", member is None)
    session.flush()
