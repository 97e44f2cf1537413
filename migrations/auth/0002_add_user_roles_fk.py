"""Add user_roles.tenant_id -> tenants: deferred from 0001_initial to break the auth <-> tenant cycle.

Component: auth
Revision ID: ef933074fc96
Revises: ef6ea33ea000
Depends on: b2f0e85c0d3f
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'ef933074fc96'
down_revision: str | Sequence[str] | None = 'ef6ea33ea000'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = 'b2f0e85c0d3f'


# memstack: lint-ok adding-foreign-key-constraint -- runs right after auth/tenant 0001_initial, while user_roles and tenants are new and empty
# memstack: lint-ok constraint-missing-not-valid -- validating the new, empty user_roles right after 0001_initial scans nothing
def upgrade() -> None:
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.create_foreign_key('user_roles_tenant_id_fkey', 'tenants', ['tenant_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('user_roles', schema=None) as batch_op:
        batch_op.drop_constraint('user_roles_tenant_id_fkey', type_='foreignkey')
