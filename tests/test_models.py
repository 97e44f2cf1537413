"""The models build MemStack's 16 tables, with PostgreSQL's names, on all three backends."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memstack.core.db import create_engine, metadata
from memstack.core.settings import DEFAULT_COMPONENTS

for _package in DEFAULT_COMPONENTS:
    importlib.import_module(f"{_package}.models")

from memstack.auth.models import User  # noqa: E402
from memstack.memory.models import Memory  # noqa: E402
from memstack.ontology.models import EntityType  # noqa: E402
from memstack.project.models import Project  # noqa: E402
from memstack.task.models import TaskLog  # noqa: E402
from memstack.tenant.models import Tenant, UserTenant  # noqa: E402

# memstack-schema.md, table by table
SCHEMA: dict[str, set[str]] = {
    "users": {"id", "email", "password_hash", "name", "is_active", "created_at", "profile"},
    "roles": {"id", "name", "description", "created_at"},
    "permissions": {"id", "code", "name", "description", "created_at"},
    "role_permissions": {"id", "role_id", "permission_id", "created_at"},
    "user_roles": {"id", "user_id", "role_id", "tenant_id", "created_at"},
    "api_keys": {"id", "key_hash", "name", "user_id", "created_at", "expires_at", "is_active", "permissions",
                 "last_used_at"},
    "tenants": {"id", "name", "description", "owner_id", "plan", "max_projects", "max_users", "max_storage",
                "created_at", "updated_at"},
    "user_tenants": {"id", "user_id", "tenant_id", "role", "permissions", "created_at"},
    "projects": {"id", "tenant_id", "name", "description", "owner_id", "member_ids", "memory_rules",
                 "graph_config", "is_public", "created_at", "updated_at"},
    "user_projects": {"id", "user_id", "project_id", "role", "permissions", "created_at"},
    "memories": {"id", "project_id", "title", "content", "content_type", "tags", "entities", "relationships",
                 "version", "author_id", "collaborators", "is_public", "status", "processing_status", "meta",
                 "task_id", "created_at", "updated_at"},
    "entity_types": {"id", "project_id", "name", "description", "schema", "status", "source", "created_at",
                     "updated_at"},
    "edge_types": {"id", "project_id", "name", "description", "schema", "status", "source", "created_at",
                   "updated_at"},
    "edge_type_maps": {"id", "project_id", "source_type", "target_type", "edge_type", "status", "source",
                       "created_at"},
    "memos": {"id", "content", "user_id", "visibility", "created_at", "updated_at", "tags"},
    "task_logs": {"id", "group_id", "task_type", "status", "created_at", "started_at", "completed_at",
                  "error_message", "worker_id", "retry_count", "payload", "progress", "result", "message",
                  "entity_id", "entity_type", "parent_task_id", "stopped_at"},
}

NULLABILITY = [
    ("memories", "task_id", True),
    ("memories", "title", False),
    ("memories", "content", False),
    ("memories", "project_id", False),
    ("memories", "author_id", False),
    ("task_logs", "progress", True),
    ("task_logs", "result", True),
    ("task_logs", "message", True),
    ("tenants", "owner_id", False),
    ("tenants", "name", False),
    ("tenants", "description", True),
    ("user_roles", "tenant_id", True),
    ("user_roles", "role_id", False),
    ("projects", "tenant_id", False),
    ("entity_types", "name", False),
    ("edge_type_maps", "edge_type", False),
    ("users", "id", False),
]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    metadata.create_all(engine, tables=[metadata.tables[name] for name in SCHEMA])
    try:
        yield engine
    finally:
        engine.dispose()


def test_models_declare_exactly_the_schema() -> None:
    declared = {name for name in metadata.tables if name in SCHEMA}
    assert declared == set(SCHEMA)
    for name, columns in SCHEMA.items():
        assert set(metadata.tables[name].c.keys()) == columns, name


def test_create_all_builds_the_full_schema(engine: Engine) -> None:
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(SCHEMA)
    for name, columns in SCHEMA.items():
        assert {c["name"] for c in inspector.get_columns(name)} == columns, name
        assert inspector.get_pk_constraint(name)["constrained_columns"] == ["id"]


@pytest.mark.parametrize(("table", "column", "nullable"), NULLABILITY)
def test_nullability(engine: Engine, table: str, column: str, nullable: bool) -> None:
    columns = {c["name"]: c for c in inspect(engine).get_columns(table)}
    assert columns[column]["nullable"] is nullable


def test_only_timestamps_have_server_defaults(engine: Engine) -> None:
    """Python-side defaults emit no SQL DEFAULT (as the old create_all did); now() ones do."""
    inspector = inspect(engine)
    for name in SCHEMA:
        for column in inspector.get_columns(name):
            has_default = column.get("default") is not None
            assert has_default is (column["name"] == "created_at"), (name, column["name"], column.get("default"))


def test_foreign_keys(engine: Engine) -> None:
    inspector = inspect(engine)

    def targets(table: str) -> set[tuple[str, str]]:
        return {(fk["constrained_columns"][0], fk["referred_table"]) for fk in inspector.get_foreign_keys(table)}

    assert targets("tenants") == {("owner_id", "users")}
    assert targets("user_roles") == {("user_id", "users"), ("role_id", "roles"), ("tenant_id", "tenants")}
    assert targets("projects") == {("tenant_id", "tenants"), ("owner_id", "users")}
    assert targets("memories") == {("project_id", "projects"), ("author_id", "users")}
    assert targets("memos") == {("user_id", "users")}
    assert targets("task_logs") == set()  # no foreign keys on purpose


def test_index_names(engine: Engine) -> None:
    inspector = inspect(engine)

    def indexes(table: str) -> dict[str, Any]:
        return {ix["name"]: ix for ix in inspector.get_indexes(table)}

    users = indexes("users")
    assert users["ix_users_email"]["column_names"] == ["email"]
    assert users["ix_users_email"]["unique"]
    assert indexes("roles")["ix_roles_name"]["unique"]
    assert indexes("permissions")["ix_permissions_code"]["unique"]
    assert not indexes("api_keys")["ix_api_keys_key_hash"]["unique"]
    task_logs = indexes("task_logs")
    assert task_logs["idx_task_logs_progress"]["column_names"] == ["progress"]
    assert {"ix_task_logs_group_id", "ix_task_logs_status", "ix_task_logs_entity_id",
            "ix_task_logs_parent_task_id"} <= set(task_logs)


@pytest.mark.postgres
def test_postgresql_constraint_names(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        metadata.create_all(engine, tables=[metadata.tables[name] for name in SCHEMA])
        inspector = inspect(engine)
        for name in SCHEMA:
            assert inspector.get_pk_constraint(name)["name"] == f"{name}_pkey"
        fks = {fk["name"] for fk in inspector.get_foreign_keys("tenants")}
        assert fks == {"tenants_owner_id_fkey"}
        assert {fk["name"] for fk in inspector.get_foreign_keys("user_roles")} == {
            "user_roles_user_id_fkey", "user_roles_role_id_fkey", "user_roles_tenant_id_fkey",
        }
        uniques = {uq["name"]: uq["column_names"] for uq in inspector.get_unique_constraints("entity_types")}
        assert uniques == {"uq_entity_type_project_name": ["project_id", "name"]}
        assert {uq["name"] for uq in inspector.get_unique_constraints("edge_types")} == {"uq_edge_type_project_name"}
        assert {uq["name"] for uq in inspector.get_unique_constraints("edge_type_maps")} == {"uq_edge_map_unique"}
        assert "ix_users_email" in {ix["name"] for ix in inspector.get_indexes("users")}
        assert "idx_task_logs_progress" in {ix["name"] for ix in inspector.get_indexes("task_logs")}
        # the PostgreSQL types stay as MemStack has them: VARCHAR without a length, JSON, timestamptz
        users = {c["name"]: c for c in inspector.get_columns("users")}
        assert str(users["email"]["type"]) == "VARCHAR"
        assert str(users["profile"]["type"]) == "JSON"
        assert str(users["created_at"]["type"]) == "TIMESTAMP"
        assert users["created_at"]["type"].timezone
        memories = {c["name"]: c for c in inspector.get_columns("memories")}
        assert str(memories["title"]["type"]) == "VARCHAR(500)"
        assert str(memories["content_type"]["type"]) == "VARCHAR(20)"
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_mariadb_varchar_lengths(mariadb_url: str) -> None:
    engine = create_engine(mariadb_url)
    try:
        metadata.create_all(engine, tables=[metadata.tables[name] for name in SCHEMA])
        inspector = inspect(engine)
        for name in SCHEMA:
            for column in inspector.get_columns(name):
                length = getattr(column["type"], "length", None)
                if type(column["type"]).__name__ == "VARCHAR":
                    assert length is not None, (name, column["name"])
        ids = {c["name"]: c for c in inspector.get_columns("users")}
        assert ids["id"]["type"].length == 64
        assert {uq["name"] for uq in inspector.get_unique_constraints("edge_type_maps")} == {"uq_edge_map_unique"}
        assert "tenants_owner_id_fkey" in {fk["name"] for fk in inspector.get_foreign_keys("tenants")}
    finally:
        engine.dispose()


def test_insert_applies_python_defaults(engine: Engine) -> None:
    with Session(engine) as session:
        user = User(email="ada@example.com", name="Ada", password_hash="x")
        session.add(user)
        session.flush()
        tenant = Tenant(name="Acme", owner_id=user.id)
        session.add(tenant)
        session.flush()
        project = Project(name="P", tenant_id=tenant.id, owner_id=user.id)
        session.add(project)
        session.flush()
        session.add_all([
            UserTenant(user_id=user.id, tenant_id=tenant.id),
            Memory(project_id=project.id, author_id=user.id, title="t", content="c"),
            TaskLog(group_id="g", task_type="ingest", status="PENDING"),
            EntityType(project_id=project.id, name="Person"),
        ])
        session.commit()
        user_id = user.id

    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        assert len(user.id) == 36 and user.id.count("-") == 4
        assert user.is_active is True
        assert user.profile == {}
        assert user.created_at is not None  # server default now()
        tenant = session.scalars(select(Tenant)).one()
        assert (tenant.plan, tenant.max_projects, tenant.max_users, tenant.max_storage) == ("free", 3, 10, 1073741824)
        assert tenant.updated_at is None
        assert session.scalars(select(UserTenant)).one().role == "member"
        project = session.scalars(select(Project)).one()
        assert (project.member_ids, project.memory_rules, project.graph_config) == ([], {}, {})
        assert project.is_public is False
        memory = session.scalars(select(Memory)).one()
        assert memory.content_type == "text"
        assert (memory.tags, memory.entities, memory.relationships, memory.collaborators) == ([], [], [], [])
        assert (memory.version, memory.is_public, memory.meta) == (1, False, {})
        assert (memory.status, memory.processing_status, memory.task_id) == ("ENABLED", "PENDING", None)
        task = session.scalars(select(TaskLog)).one()
        assert (task.progress, task.retry_count, task.payload, task.result, task.message) == (0, 0, {}, None, None)
        entity_type = session.scalars(select(EntityType)).one()
        assert (entity_type.schema, entity_type.status, entity_type.source) == ({}, "ENABLED", "user")

        project.name = "renamed"
        session.commit()
        assert session.scalars(select(Project)).one().updated_at is not None  # onupdate


def test_json_round_trip(engine: Engine) -> None:
    payload = {"steps": [1, 2, {"ok": True}], "text": "naïve ✓ 漢字"}
    with Session(engine) as session:
        session.add(TaskLog(task_type="t", payload=payload, result=["done"]))
        session.commit()
    with Session(engine) as session:
        task = session.scalars(select(TaskLog)).one()
        assert task.payload == payload
        assert task.result == ["done"]


def test_unique_constraint_is_enforced(engine: Engine) -> None:
    with Session(engine) as session:
        user = User(email="u@example.com")
        session.add(user)
        session.flush()
        tenant = Tenant(name="T", owner_id=user.id)
        session.add(tenant)
        session.flush()
        project = Project(name="P", tenant_id=tenant.id, owner_id=user.id)
        session.add(project)
        session.flush()
        session.add(EntityType(project_id=project.id, name="Person"))
        session.commit()
        session.add(EntityType(project_id=project.id, name="Person"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.add(User(email="u@example.com"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(Tenant(name="orphan", owner_id="no-such-user"))
        with pytest.raises(IntegrityError):
            session.commit()
