"""Add task_logs.progress (percentage 0-100) and its index idx_task_logs_progress (legacy step 2).

Component: task
Revision ID: c24e8d933ed5
Revises: aafcdf2005c9
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:52 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c24e8d933ed5'
down_revision: str | Sequence[str] | None = 'aafcdf2005c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# memstack: lint-ok require-concurrent-index-creation -- part of the initial schema (legacy step 2): on an install task_logs is new and empty; on a big existing task_logs run migrate off-peak with --ddl-lock-timeout
def upgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.Integer(), nullable=True))
        batch_op.create_index('idx_task_logs_progress', ['progress'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.drop_index('idx_task_logs_progress')
        batch_op.drop_column('progress')
