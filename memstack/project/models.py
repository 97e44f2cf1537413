"""project: projects and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = fk("tenants.id", nullable=False)
    name: Mapped[str] = mapped_column(string(), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[str] = fk("users.id", nullable=False)
    member_ids: Mapped[list[str] | None] = mapped_column(json(), default=list)
    memory_rules: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    graph_config: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    is_public: Mapped[bool | None] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(timestamp(), onupdate=func.now(), nullable=True)


class UserProject(Base):
    __tablename__ = "user_projects"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = fk("users.id", nullable=False)
    project_id: Mapped[str] = fk("projects.id", nullable=False)
    role: Mapped[str | None] = mapped_column(string(), default="member")  # owner/admin/member/viewer
    permissions: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
