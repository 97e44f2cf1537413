"""Initial schema of project, as MemStack had it before its hand-written migrations.

Component: project
Revision ID: e15b1783fbad
Revises: (start of the branch)
Depends on: b2f0e85c0d3f
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e15b1783fbad'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('project',)
depends_on: str | Sequence[str] | None = 'b2f0e85c0d3f'


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('tenant_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('owner_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('member_ids', sa.JSON(), nullable=True),
    sa.Column('memory_rules', sa.JSON(), nullable=True),
    sa.Column('graph_config', sa.JSON(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('projects_owner_id_fkey')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('projects_tenant_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('projects_pkey'))
    )
    op.create_table('user_projects',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('user_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('project_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('role', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('permissions', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('user_projects_project_id_fkey')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('user_projects_user_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('user_projects_pkey'))
    )


def downgrade() -> None:
    op.drop_table('user_projects')
    op.drop_table('projects')
