"""merge legacy task columns

Component: task
Revision ID: c7e7ea306d4c
Revises: c24e8d933ed5, e414d0c673f0, e89f967a17b6
Depends on: (nothing outside the component)
Create Date: 2026-11-25 17:53:29 UTC
"""

from collections.abc import Sequence

revision: str = 'c7e7ea306d4c'
down_revision: str | Sequence[str] | None = ('c24e8d933ed5', 'e414d0c673f0', 'e89f967a17b6')
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
