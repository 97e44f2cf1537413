"""task: the background job log (no foreign keys on purpose: jobs outlive what they touch)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, json, string, timestamp


class TaskLog(Base):
    __tablename__ = "task_logs"
    # created by the old code's separate SQL script; kept under its name
    __table_args__ = (Index("idx_task_logs_progress", "progress"),)

    id: Mapped[str] = id_column()
    group_id: Mapped[str | None] = mapped_column(string(), index=True)
    task_type: Mapped[str | None] = mapped_column(string())
    status: Mapped[str | None] = mapped_column(string(), index=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(timestamp(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(timestamp(), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(string(), nullable=True)
    retry_count: Mapped[int | None] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    # the three legacy steps 2-4: progress percentage, result data, status message
    progress: Mapped[int | None] = mapped_column(Integer, default=0)
    result: Mapped[Any | None] = mapped_column(json(), nullable=True)
    message: Mapped[str | None] = mapped_column(string(), nullable=True)
    entity_id: Mapped[str | None] = mapped_column(string(), index=True, nullable=True)
    entity_type: Mapped[str | None] = mapped_column(string(), nullable=True)
    parent_task_id: Mapped[str | None] = mapped_column(string(), index=True, nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(timestamp(), nullable=True)
