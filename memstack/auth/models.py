"""auth: users, roles, permissions and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, func
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, json, string, timestamp


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str | None] = mapped_column(string(), unique=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(string())
    name: Mapped[str | None] = mapped_column(string())
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    profile: Mapped[dict[str, Any] | None] = mapped_column(json(), default=dict)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(string(), unique=True, index=True)
    description: Mapped[str | None] = mapped_column(string(), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())


class Permission(Base):
    __tablename__ = "permissions"

    id: Mapped[str] = id_column()
    code: Mapped[str | None] = mapped_column(string(), unique=True, index=True)
    name: Mapped[str | None] = mapped_column(string())
    description: Mapped[str | None] = mapped_column(string(), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())


class RolePermission(Base):
    __tablename__ = "role_permissions"

    id: Mapped[str] = id_column()
    role_id: Mapped[str] = mapped_column(string(64), ForeignKey("roles.id"), nullable=False)
    permission_id: Mapped[str] = mapped_column(string(64), ForeignKey("permissions.id"), nullable=False)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())


class UserRole(Base):
    __tablename__ = "user_roles"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(string(64), ForeignKey("users.id"), nullable=False)
    role_id: Mapped[str] = mapped_column(string(64), ForeignKey("roles.id"), nullable=False)
    tenant_id: Mapped[str | None] = mapped_column(string(64), ForeignKey("tenants.id"), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())


class APIKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    key_hash: Mapped[str | None] = mapped_column(string(), index=True)
    name: Mapped[str | None] = mapped_column(string())
    user_id: Mapped[str | None] = mapped_column(string(64), ForeignKey("users.id"))
    created_at: Mapped[datetime | None] = mapped_column(timestamp(), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(timestamp(), nullable=True)
    is_active: Mapped[bool | None] = mapped_column(Boolean, default=True)
    permissions: Mapped[list[str] | None] = mapped_column(json(), default=list)
    last_used_at: Mapped[datetime | None] = mapped_column(timestamp(), nullable=True)
