"""``seed``: MemStack's start-up data, created once, idempotent, secrets shown once."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from support.running import main_exit, migrate

from memstack.auth.models import APIKey, Permission, Role, RolePermission, User, UserRole
from memstack.auth.seed import PERMISSIONS
from memstack.cli import call_command
from memstack.core.db import create_engine
from memstack.core.errors import MemstackError
from memstack.core.settings import load_settings
from memstack.onboarding import seed
from memstack.tenant.models import Tenant, UserTenant

ALL_CODES = {code for code, _name, _description in PERMISSIONS}
USER_CODES = {"tenant:create", "tenant:read", "project:create", "project:read", "memory:create", "memory:read",
              "user:read"}
HINT = "run 'manage.py migrate' first"
PASSWORD_LINE = re.compile(r"^(\S+@memstack\.ai) password: (\S+)$", re.M)
KEY_LINE = re.compile(r"^admin@memstack\.ai API key: (ms_sk_[0-9a-f]{64})$", re.M)






@pytest.fixture
def migrated(db_url: str, project: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a database migrated to every head, on each backend (SQLite: a copy of the template)."""
    if db_url.startswith("sqlite"):
        return str(request.getfixturevalue("migrated_sqlite_url"))
    migrate(project, db_url)
    return db_url


@pytest.fixture
def session(migrated: str) -> Iterator[Session]:
    engine = create_engine(migrated)
    with Session(engine) as db:
        yield db
    engine.dispose()


def seed_cli(capsys: pytest.CaptureFixture[str], project: Path, url: str, *extra: str) -> tuple[int, str, str]:
    return main_exit(capsys, "--project-dir", str(project), "--database-url", url, "seed", *extra)


def counts(db: Session) -> dict[str, int]:
    models = {"permissions": Permission, "roles": Role, "role_permissions": RolePermission, "users": User,
              "user_roles": UserRole, "api_keys": APIKey, "tenants": Tenant, "user_tenants": UserTenant}
    db.expire_all()
    return {name: db.scalar(select(func.count()).select_from(model)) or 0 for name, model in models.items()}


def role_codes(db: Session, role: str) -> set[str]:
    return set(db.scalars(
        select(Permission.code).join(RolePermission, RolePermission.permission_id == Permission.id)
        .join(Role, Role.id == RolePermission.role_id).where(Role.name == role)
    ))


def user_role_names(db: Session, email: str) -> list[str]:
    return list(db.scalars(
        select(Role.name).join(UserRole, UserRole.role_id == Role.id).join(User, User.id == UserRole.user_id)
        .where(User.email == email)
    ))


# --------------------------------------------------------------------------- the whole run


def test_seed_creates_everything_then_nothing(project: Path, migrated: str, session: Session,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = seed_cli(capsys, project, migrated)
    assert code == 0, err
    assert "Created: 12 permissions, 2 roles, 19 role permissions, 2 users, 2 user roles, 1 API key, " \
           "1 tenant, 1 tenant membership." in err
    passwords = dict(PASSWORD_LINE.findall(out))
    assert set(passwords) == {"admin@memstack.ai", "user@memstack.ai"}
    keys = KEY_LINE.findall(out)
    assert len(keys) == 1
    for secret in [*passwords.values(), keys[0]]:
        assert secret not in err  # secrets go to stdout only

    # permissions and roles
    assert set(session.scalars(select(Permission.code))) == ALL_CODES
    assert all(p.name and p.description for p in session.scalars(select(Permission)))
    roles = {r.name: r.description for r in session.scalars(select(Role))}
    assert roles == {"admin": "System Administrator", "user": "Regular User"}
    assert role_codes(session, "admin") == ALL_CODES
    assert role_codes(session, "user") == USER_CODES
    assert session.scalar(select(func.count()).select_from(RolePermission)) == 12 + 7

    # users: bcrypt hashes of the printed passwords, one role each
    users = {u.email: u for u in session.scalars(select(User))}
    assert set(users) == {"admin@memstack.ai", "user@memstack.ai"}
    assert users["admin@memstack.ai"].name == "Default Admin"
    for email, user in users.items():
        assert user.is_active
        assert user.password_hash and user.password_hash.startswith("$2")
        assert bcrypt.checkpw(passwords[email].encode(), user.password_hash.encode())
        assert passwords[email] not in user.password_hash
    assert user_role_names(session, "admin@memstack.ai") == ["admin"]
    assert user_role_names(session, "user@memstack.ai") == ["user"]

    # the admin's API key: only its SHA-256 is stored
    key = session.scalars(select(APIKey)).one()
    assert key.user_id == users["admin@memstack.ai"].id
    assert key.is_active
    assert key.key_hash == hashlib.sha256(keys[0].encode()).hexdigest()
    assert keys[0] not in (key.key_hash or "")

    # the tenant and its owner
    tenant = session.scalars(select(Tenant)).one()
    assert (tenant.name, tenant.description, tenant.plan) == (
        "Default Tenant", "Default tenant for demonstration", "enterprise")
    assert tenant.owner_id == users["admin@memstack.ai"].id
    membership = session.scalars(select(UserTenant)).one()
    assert (membership.user_id, membership.tenant_id, membership.role) == (
        users["admin@memstack.ai"].id, tenant.id, "owner")

    before = counts(session)
    code, out, err = seed_cli(capsys, project, migrated)
    assert code == 0, err
    assert out == ""  # no new secrets
    assert "Nothing to do" in err
    assert counts(session) == before


def test_seed_json(project: Path, migrated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = seed_cli(capsys, project, migrated, "--json")
    assert code == 0, err
    first = json.loads(out)
    assert set(first) == {"created", "present", "password_sources", "passwords", "api_key"}
    assert {item["key"] for item in first["created"] if item["kind"] == "permission"} == ALL_CODES
    assert first["present"] == []
    assert set(first["passwords"]) == {"admin@memstack.ai", "user@memstack.ai"}
    assert first["password_sources"] == {"admin@memstack.ai": "generated", "user@memstack.ai": "generated"}
    assert re.fullmatch(r"ms_sk_[0-9a-f]{64}", first["api_key"])

    code, out, err = seed_cli(capsys, project, migrated, "--json")
    assert code == 0, err
    second = json.loads(out)
    assert second["created"] == []
    assert second["passwords"] == {} and second["api_key"] is None
    assert sorted(map(json.dumps, second["present"])) == sorted(map(json.dumps, first["created"]))


# --------------------------------------------------------------------------- passwords


@pytest.mark.parametrize("where", ["environment", "dotenv"])
def test_password_from_the_environment_is_never_printed(project: Path, migrated: str, session: Session, where: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    given = "Correct-Horse-7f3a9c-Battery"
    if where == "environment":
        monkeypatch.setenv("MEMSTACK_ADMIN_PASSWORD", given)
    else:
        (project / ".env").write_text(f"MEMSTACK_ADMIN_PASSWORD={given}\n", encoding="utf-8")
    code, out, err = seed_cli(capsys, project, migrated)
    assert code == 0, err
    assert given not in out and given not in err
    assert "admin@memstack.ai: password from MEMSTACK_ADMIN_PASSWORD" in err
    passwords = dict(PASSWORD_LINE.findall(out))
    assert set(passwords) == {"user@memstack.ai"}  # only the generated one is shown
    admin = session.scalars(select(User).where(User.email == "admin@memstack.ai")).one()
    assert bcrypt.checkpw(given.encode(), (admin.password_hash or "").encode())

    code, out, err = seed_cli(capsys, project, migrated, "--json")
    assert code == 0 and given not in out and given not in err


def test_real_environment_wins_over_dotenv(project: Path, migrated_sqlite_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_url = migrated_sqlite_url
    (project / ".env").write_text("MEMSTACK_USER_PASSWORD=from-dotenv\n", encoding="utf-8")
    monkeypatch.setenv("MEMSTACK_USER_PASSWORD", "from-environment")
    result = seed(load_settings(project_dir=project, database_url=sqlite_url))
    assert result.password_sources["user@memstack.ai"] == "MEMSTACK_USER_PASSWORD"
    engine = create_engine(sqlite_url)
    with Session(engine) as db:
        stored = db.scalar(select(User.password_hash).where(User.email == "user@memstack.ai"))
    engine.dispose()
    assert bcrypt.checkpw(b"from-environment", (stored or "").encode())


def test_too_long_password_is_refused(project: Path, migrated_sqlite_url: str) -> None:
    sqlite_url = migrated_sqlite_url
    settings = load_settings(project_dir=project, database_url=sqlite_url)
    with pytest.raises(MemstackError, match="72 bytes"):
        seed(settings, environ={"MEMSTACK_ADMIN_PASSWORD": "x" * 73})
    # nothing was written: the whole run is one transaction
    engine = create_engine(sqlite_url)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(Permission)) == 0
    engine.dispose()


# --------------------------------------------------------------------------- idempotence in parts


def test_missing_links_are_added_back_and_existing_rows_kept(project: Path, migrated: str, session: Session) -> None:
    settings = load_settings(project_dir=project, database_url=migrated)
    first = seed(settings, environ={})
    admin_hash = session.scalar(select(User.password_hash).where(User.email == "admin@memstack.ai"))
    user_role = session.scalar(select(Role.id).where(Role.name == "user"))
    session.execute(text("DELETE FROM user_tenants"))
    session.execute(text("DELETE FROM user_roles WHERE role_id = :r"), {"r": user_role})
    session.execute(text("DELETE FROM role_permissions WHERE role_id = :r"), {"r": user_role})
    session.execute(text("UPDATE api_keys SET is_active = :f"), {"f": False})
    session.commit()

    second = seed(settings, environ={"MEMSTACK_ADMIN_PASSWORD": "not-applied-to-an-existing-user"})
    created = {(item.kind, item.key) for item in second.created}
    assert created == {
        ("user_tenant", "admin@memstack.ai Default Tenant owner"),
        ("user_role", "user@memstack.ai user"),
        ("api_key", "admin@memstack.ai"),
        *{("role_permission", f"user {code}") for code in USER_CODES},
    }
    assert second.passwords == {} and second.password_sources == {}
    assert second.api_key and second.api_key != first.api_key
    session.expire_all()
    assert session.scalar(select(User.password_hash).where(User.email == "admin@memstack.ai")) == admin_hash
    assert role_codes(session, "user") == USER_CODES
    assert session.scalar(select(func.count()).select_from(APIKey)) == 2
    assert seed(settings, environ={}).created == []


# --------------------------------------------------------------------------- before migrate


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_seed_before_migrate_exits_1_with_the_hint(project: Path, backend: str, request: pytest.FixtureRequest,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    code, out, err = seed_cli(capsys, project, url)
    assert code == 1
    assert out == ""
    assert f"fix: {HINT}" in err
    if backend == "sqlite":
        assert not Path(url.removeprefix("sqlite:///")).exists()  # no empty database file left behind


def test_seed_on_a_partly_migrated_database(project: Path, sqlite_url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    call_command("migrate", "auth", "0001", project_dir=str(project), database_url=sqlite_url, stdout=io.StringIO(),
                 stderr=io.StringIO())
    code, _out, err = seed_cli(capsys, project, sqlite_url)
    assert code == 1
    assert "tenants" in err and f"fix: {HINT}" in err


def test_seed_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = main_exit(capsys, "seed", "--help")
    assert code == 0
    assert "Example" in out and "MEMSTACK_ADMIN_PASSWORD" in out


def test_seeds_started_at_once_create_one_default_tenant(project: Path, migrated: str, session: Session) -> None:
    """Replicas seeding together: the migration lock keeps "Default Tenant" (no unique name) single."""
    import os
    import subprocess
    import sys

    # they queue for the lock as long as a loaded machine needs (the default 60 s is not the subject)
    env = {**os.environ, "MEMSTACK_DATABASE_URL": migrated, "MEMSTACK_ADMIN_PASSWORD": "a-long-secret",
           "MEMSTACK_USER_PASSWORD": "another-secret", "MEMSTACK_LOCK_TIMEOUT": "200"}
    procs = [subprocess.Popen([sys.executable, "-m", "memstack", "--project-dir", str(project), "seed"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=600) for p in procs]  # read while waiting: a full pipe cannot stall a child
    results = [(p.returncode, output) for p, output in zip(procs, outputs, strict=True)]
    assert all(code == 0 for code, _ in results), results
    assert session.scalar(select(func.count()).select_from(Tenant).where(Tenant.name == "Default Tenant")) == 1
    assert session.scalar(select(func.count()).select_from(APIKey)) == 1


# --------------------------------------------------------------------------- the seed hook

GADGET_SEED = '''
from memstack.core.seeding import SeedRun

REQUIRED_TABLES = ("users",)


def seed(run: SeedRun) -> None:
    from sqlalchemy import select

    from memstack.auth.models import User

    admin = run.session.scalars(select(User).where(User.email == "admin@memstack.ai")).first()
    run.note("gadget", f"after auth: {admin is not None}", True)
'''


def test_seed_hooks_are_found_in_component_order(project: Path, make_component) -> None:
    from support.projects import set_components as use_components

    from memstack.core.components import build_registry
    from memstack.core.seeding import seed_hooks

    without = make_component({}, prefix="plain")
    gadget = make_component({"seed.py": GADGET_SEED}, prefix="gadget")
    use_components(project, without, gadget)
    hooks = seed_hooks(build_registry(load_settings(project_dir=project)))
    assert [h.label for h in hooks] == ["auth", "tenant", gadget]  # components without seed.py are skipped
    assert hooks[-1].required_tables == ("users",)


@pytest.mark.parametrize(("source", "words"), [
    ("raise RuntimeError('boom')\n", "importing {package}.seed failed: RuntimeError: boom"),
    ("VALUE = 1\n", "{package}.seed defines no seed(run) function"),
])
def test_a_broken_seed_hook_names_itself(project: Path, make_component, sqlite_url: str, source: str,
                                        words: str, capsys: pytest.CaptureFixture[str]) -> None:
    from support.projects import set_components as use_components

    package = make_component({"seed.py": source}, prefix="broken")
    use_components(project, package)
    migrate(project, sqlite_url)
    code, out, err = seed_cli(capsys, project, sqlite_url)
    assert code == 1 and out == ""
    assert words.format(package=package) in err


def test_a_component_hook_runs_after_auth_in_the_same_seed(project: Path, make_component, sqlite_url: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from support.projects import set_components as use_components

    package = make_component({"seed.py": GADGET_SEED}, prefix="gadget")
    use_components(project, package)
    migrate(project, sqlite_url)
    code, out, _err = seed_cli(capsys, project, sqlite_url, "--json")
    assert code == 0
    created = json.loads(out)["created"]
    assert created[-1] == {"kind": "gadget", "key": "after auth: True"}
    assert {"kind": "tenant", "key": "Default Tenant"} in created


def test_seed_on_an_unreachable_server_masks_the_password(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = seed_cli(capsys, project, "postgresql://app:s3cret@127.0.0.1:1/db")
    assert code == 1
    assert "cannot seed the database postgresql+psycopg://app:***@127.0.0.1:1/db" in err
    assert "s3cret" not in err and "fix:" in err
