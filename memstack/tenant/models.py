"""tenant: tenants and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, fk, id_column, json, string, timestamp


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(string(), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[str] = fk("users.id", nullable=False)
    plan: Mapped[str | None] = mapped_column(string(), default="free")
    max_projects: Mapped[int | None] = mapped_column(Integer, default=3)
    max_users: Mapped[int | None] = mapped_column(Integer, default=10)
    max_storage: Mapped[int | None] = mapped_column(BigInteger, default=1073741824)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(timestamp(), onupdate=func.now(), nullable=True)


class UserTenant(Base):
    __tablename__ = "user_tenants"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = fk("users.id", nullable=False)
    tenant_id: Mapped[str] = fk("tenants.id", nullable=False)
    role: Mapped[str | None] = mapped_column(string(), default="member")  # owner/admin/member/guest
    permissions: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
