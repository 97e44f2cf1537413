"""Add task_logs.result: the task result data (legacy step 3).

Component: task
Revision ID: e414d0c673f0
Revises: aafcdf2005c9
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:53 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e414d0c673f0'
down_revision: str | Sequence[str] | None = 'aafcdf2005c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.drop_column('result')
