"""Initial schema of memo, as MemStack had it before its hand-written migrations.

Component: memo
Revision ID: bc9a7cdd598c
Revises: (start of the branch)
Depends on: ef6ea33ea000
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'bc9a7cdd598c'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('memo',)
depends_on: str | Sequence[str] | None = 'ef6ea33ea000'


def upgrade() -> None:
    op.create_table('memos',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('user_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=True),
    sa.Column('visibility', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('memos_user_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('memos_pkey'))
    )


def downgrade() -> None:
    op.drop_table('memos')
