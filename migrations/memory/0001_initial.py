"""Initial schema of memory, as MemStack had it before its hand-written migrations.

Component: memory
Revision ID: bd4e543ab2c4
Revises: (start of the branch)
Depends on: e15b1783fbad
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'bd4e543ab2c4'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('memory',)
depends_on: str | Sequence[str] | None = 'e15b1783fbad'


def upgrade() -> None:
    op.create_table('memories',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('project_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('content_type', sa.String(length=20), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=True),
    sa.Column('entities', sa.JSON(), nullable=True),
    sa.Column('relationships', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('collaborators', sa.JSON(), nullable=True),
    sa.Column('is_public', sa.Boolean(), nullable=True),
    sa.Column('status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('processing_status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('meta', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('memories_author_id_fkey')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('memories_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('memories_pkey'))
    )


def downgrade() -> None:
    op.drop_table('memories')
