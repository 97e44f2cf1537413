"""Initial schema of task, as MemStack had it before its hand-written migrations.

Component: task
Revision ID: aafcdf2005c9
Revises: (start of the branch)
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'aafcdf2005c9'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('task',)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('task_logs',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('group_id', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('task_type', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('worker_id', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('retry_count', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('entity_id', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('entity_type', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('parent_task_id', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('task_logs_pkey'))
    )
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_logs_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_logs_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_logs_parent_task_id'), ['parent_task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_logs_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_logs_status'))
        batch_op.drop_index(batch_op.f('ix_task_logs_parent_task_id'))
        batch_op.drop_index(batch_op.f('ix_task_logs_group_id'))
        batch_op.drop_index(batch_op.f('ix_task_logs_entity_id'))

    op.drop_table('task_logs')
