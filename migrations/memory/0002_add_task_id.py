"""Add memories.task_id: the task id for streaming progress of an ingestion (legacy step 1).

Component: memory
Revision ID: b5a40c3dcf72
Revises: bd4e543ab2c4
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:52:45 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b5a40c3dcf72'
down_revision: str | Sequence[str] | None = 'bd4e543ab2c4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('task_id', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('memories', schema=None) as batch_op:
        batch_op.drop_column('task_id')
