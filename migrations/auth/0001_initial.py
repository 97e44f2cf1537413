"""Initial schema of auth, as MemStack had it before its hand-written migrations.

Component: auth
Revision ID: ef6ea33ea000
Revises: (start of the branch)
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'ef6ea33ea000'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('auth',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('permissions',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('code', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('description', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('permissions_pkey'))
    )
    with op.batch_alter_table('permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_permissions_code'), ['code'], unique=True)

    op.create_table('roles',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('description', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('roles_pkey'))
    )
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roles_name'), ['name'], unique=True)

    op.create_table('users',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('email', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('password_hash', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('profile', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('users_pkey'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_email'), ['email'], unique=True)

    op.create_table('api_keys',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('key_hash', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('user_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=True),
    sa.Column('permissions', sa.JSON(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('api_keys_user_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('api_keys_pkey'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_key_hash'), ['key_hash'], unique=False)

    op.create_table('role_permissions',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('role_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('permission_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.ForeignKeyConstraint(['permission_id'], ['permissions.id'], name=op.f('role_permissions_permission_id_fkey')),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('role_permissions_role_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('role_permissions_pkey'))
    )
    op.create_table('user_roles',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('user_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('role_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('tenant_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.ForeignKeyConstraint(['role_id'], ['roles.id'], name=op.f('user_roles_role_id_fkey')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('user_roles_user_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('user_roles_pkey'))
    )


def downgrade() -> None:
    op.drop_table('user_roles')
    op.drop_table('role_permissions')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_key_hash'))

    op.drop_table('api_keys')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_email'))

    op.drop_table('users')
    with op.batch_alter_table('roles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roles_name'))

    op.drop_table('roles')
    with op.batch_alter_table('permissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_permissions_code'))

    op.drop_table('permissions')
