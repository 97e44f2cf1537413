"""Add task_logs.message: the task status message (legacy step 4).

Component: task
Revision ID: e89f967a17b6
Revises: aafcdf2005c9
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:53 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'e89f967a17b6'
down_revision: str | Sequence[str] | None = 'aafcdf2005c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task_logs', schema=None) as batch_op:
        batch_op.drop_column('message')
