"""Initial schema of ontology, as MemStack had it before its hand-written migrations.

Component: ontology
Revision ID: f2841aa6d0d7
Revises: (start of the branch)
Depends on: e15b1783fbad
Create Date: 2026-11-25 17:52:43 UTC
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f2841aa6d0d7'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('ontology',)
depends_on: str | Sequence[str] | None = 'e15b1783fbad'


def upgrade() -> None:
    op.create_table('edge_type_maps',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('project_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('source_type', sa.String().with_variant(sa.String(191), 'mysql', 'mariadb'), nullable=False),
    sa.Column('target_type', sa.String().with_variant(sa.String(191), 'mysql', 'mariadb'), nullable=False),
    sa.Column('edge_type', sa.String().with_variant(sa.String(191), 'mysql', 'mariadb'), nullable=False),
    sa.Column('status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('source', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('edge_type_maps_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('edge_type_maps_pkey')),
    sa.UniqueConstraint('project_id', 'source_type', 'target_type', 'edge_type', name='uq_edge_map_unique')
    )
    op.create_table('edge_types',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('project_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('schema', sa.JSON(), nullable=True),
    sa.Column('status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('source', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('edge_types_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('edge_types_pkey')),
    sa.UniqueConstraint('project_id', 'name', name='uq_edge_type_project_name')
    )
    op.create_table('entity_types',
    sa.Column('id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('project_id', sa.String().with_variant(sa.String(64), 'mysql', 'mariadb'), nullable=False),
    sa.Column('name', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('schema', sa.JSON(), nullable=True),
    sa.Column('status', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('source', sa.String().with_variant(sa.String(255), 'mysql', 'mariadb'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('entity_types_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('entity_types_pkey')),
    sa.UniqueConstraint('project_id', 'name', name='uq_entity_type_project_name')
    )


def downgrade() -> None:
    op.drop_table('entity_types')
    op.drop_table('edge_types')
    op.drop_table('edge_type_maps')
