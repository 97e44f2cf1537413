"""memo: short notes of a user."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class Memo(Base):
    __tablename__ = "memos"

    id: Mapped[str] = id_column()
    content: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[str | None] = fk("users.id", nullable=True)
    visibility: Mapped[str | None] = mapped_column(string(), default="PRIVATE")  # PRIVATE/PUBLIC/PROTECTED
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(timestamp(), onupdate=func.now(), nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(json(), default=list)
