"""ontology: the per-project graph schema (which entity and edge types a knowledge graph may hold)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class _TypeDefinition:
    """The columns entity types and edge types share: a named, per-project schema entry."""
    id: Mapped[str] = id_column()
    project_id: Mapped[str] = fk("projects.id", nullable=False)
    name: Mapped[str] = mapped_column(string(), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    schema: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    status: Mapped[str | None] = mapped_column(string(), default="ENABLED")
    source: Mapped[str | None] = mapped_column(string(), default="user")
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(timestamp(), onupdate=func.now(), nullable=True)


class EntityType(_TypeDefinition, Base):
    __tablename__ = "entity_types"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_entity_type_project_name"),)


class EdgeType(_TypeDefinition, Base):
    __tablename__ = "edge_types"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_edge_type_project_name"),)


class EdgeTypeMap(Base):
    __tablename__ = "edge_type_maps"
    __table_args__ = (
        UniqueConstraint("project_id", "source_type", "target_type", "edge_type", name="uq_edge_map_unique"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = fk("projects.id", nullable=False)
    # 191 characters on MariaDB keeps uq_edge_map_unique within its 3072-byte key limit
    source_type: Mapped[str] = mapped_column(string(191), nullable=False)
    target_type: Mapped[str] = mapped_column(string(191), nullable=False)
    edge_type: Mapped[str] = mapped_column(string(191), nullable=False)
    status: Mapped[str | None] = mapped_column(string(), default="ENABLED")
    source: Mapped[str | None] = mapped_column(string(), default="user")
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
