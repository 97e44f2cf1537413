"""memory: the memories themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class Memory(Base):
    __tablename__ = "memories"

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = fk("projects.id", nullable=False)
    title: Mapped[str] = mapped_column(String(500), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_type: Mapped[str | None] = mapped_column(String(20), default="text")
    tags: Mapped[list[str] | None] = mapped_column(json(), default=list)
    entities: Mapped[list[Any] | None] = mapped_column(json(), default=list)
    relationships: Mapped[list[Any] | None] = mapped_column(json(), default=list)
    version: Mapped[int | None] = mapped_column(Integer, default=1)
    author_id: Mapped[str] = fk("users.id", nullable=False)
    collaborators: Mapped[list[str] | None] = mapped_column(json(), default=list)
    is_public: Mapped[bool | None] = mapped_column(Boolean, default=False)
    status: Mapped[str | None] = mapped_column(string(), default="ENABLED")  # DataStatus
    processing_status: Mapped[str | None] = mapped_column(string(), default="PENDING")  # ProcessingStatus
    meta: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    # legacy step 1: task id for streaming progress of an ingestion
    task_id: Mapped[str | None] = mapped_column(string(), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(timestamp(), onupdate=func.now(), nullable=True)
