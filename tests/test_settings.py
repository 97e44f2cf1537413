"""Settings: project root discovery, the database URL chain, URL forms, masking, lock_timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.projects import write_pyproject

from memstack.core.errors import ConfigurationError, MemstackError
from memstack.core.settings import (
    DEFAULT_COMPONENTS,
    DEFAULT_LOCK_TIMEOUT,
    ComponentEntry,
    find_project_root,
    load_settings,
    mask_url,
    normalize_url,
)

CONFIG_URL = "postgresql://config@config-host/configdb"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A project root whose [tool.memstack] sets database_url (the last link before the default)."""
    root = tmp_path / "proj"
    write_pyproject(root, extra=f'database_url = "{CONFIG_URL}"\nlock_timeout = 15')
    return root


@pytest.fixture
def bare_root(tmp_path: Path) -> Path:
    """A project root with an empty [tool.memstack] table (every setting at its default)."""
    root = tmp_path / "bare"
    write_pyproject(root, components=None)
    return root


def settings(root: Path, env: dict[str, str] | None = None, **kwargs: object):
    return load_settings(environ=env or {}, cwd=root, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the URL chain

ALL_LINKS = {
    "MEMSTACK_DATABASE_URL": "postgresql://memstack-env@h/db",
    "DATABASE_URL": "postgresql://database-url@h/db",
    "POSTGRES_HOST": "legacy-host",
    "POSTGRES_DB": "legacydb",
}


def test_option_beats_everything(root: Path) -> None:
    s = settings(root, ALL_LINKS, database_url="postgres://option@h/db")
    assert s.database_url == "postgresql+psycopg://option@h/db"
    assert s.sources["database_url"] == "--database-url"


def test_memstack_database_url_beats_database_url_legacy_and_config(root: Path) -> None:
    s = settings(root, ALL_LINKS)
    assert s.database_url == "postgresql+psycopg://memstack-env@h/db"
    assert s.sources["database_url"] == "MEMSTACK_DATABASE_URL"


def test_database_url_beats_legacy_and_config(root: Path) -> None:
    env = {k: v for k, v in ALL_LINKS.items() if k != "MEMSTACK_DATABASE_URL"}
    s = settings(root, env)
    assert s.database_url == "postgresql+psycopg://database-url@h/db"
    assert s.sources["database_url"] == "DATABASE_URL"


def test_legacy_postgres_variables_beat_config(root: Path) -> None:
    env = {
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PORT": "6543",
        "POSTGRES_DB": "prod",
        "POSTGRES_USER": "app",
        "POSTGRES_PASSWORD": "s3cret",
    }
    s = settings(root, env)
    assert s.database_url == "postgresql+psycopg://app:s3cret@db.internal:6543/prod"
    assert s.sources["database_url"] == "POSTGRES_* variables"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"POSTGRES_HOST": "db.internal"}, "postgresql+psycopg://postgres@db.internal:5432/memstack"),
        ({"POSTGRES_DB": "other"}, "postgresql+psycopg://postgres@localhost:5432/other"),
        ({"POSTGRES_DB": "other", "POSTGRES_USER": "bob"}, "postgresql+psycopg://bob@localhost:5432/other"),
    ],
    ids=["host-only", "db-only", "db-and-user"],
)
def test_legacy_defaults(root: Path, env: dict[str, str], expected: str) -> None:
    assert settings(root, env).database_url == expected


def test_legacy_password_is_quoted_and_masked(root: Path) -> None:
    s = settings(root, {"POSTGRES_HOST": "h", "POSTGRES_PASSWORD": "p@ss:w/rd"})
    assert s.database_url == "postgresql+psycopg://postgres:p%40ss%3Aw%2Frd@h:5432/memstack"
    assert s.masked_database_url == "postgresql+psycopg://postgres:***@h:5432/memstack"


@pytest.mark.parametrize(
    "env",
    [{"POSTGRES_USER": "bob"}, {"POSTGRES_PORT": "6543"}, {"POSTGRES_PASSWORD": "x"}, {"POSTGRES_HOST": ""}],
    ids=["user", "port", "password", "empty-host"],
)
def test_legacy_variables_ignored_without_host_or_db(root: Path, env: dict[str, str]) -> None:
    s = settings(root, env)
    assert s.database_url == "postgresql+psycopg://config@config-host/configdb"
    assert s.sources["database_url"] == "[tool.memstack] database_url"


def test_config_database_url_beats_default(root: Path) -> None:
    s = settings(root)
    assert s.database_url == "postgresql+psycopg://config@config-host/configdb"
    assert s.sources["database_url"] == "[tool.memstack] database_url"


def test_default_is_sqlite_in_project_root(bare_root: Path) -> None:
    s = settings(bare_root)
    assert s.database_url == f"sqlite:///{bare_root.resolve().as_posix()}/memstack.db"
    assert s.sources["database_url"] == "default"


def test_default_is_in_project_root_even_from_a_subfolder(bare_root: Path) -> None:
    sub = bare_root / "a" / "b"
    sub.mkdir(parents=True)
    s = settings(sub)
    assert s.project_dir == bare_root.resolve()
    assert s.database_url == f"sqlite:///{bare_root.resolve().as_posix()}/memstack.db"


def test_empty_variable_counts_as_unset(root: Path) -> None:
    s = settings(root, {"MEMSTACK_DATABASE_URL": "", "DATABASE_URL": "mysql://u@h/db"})
    assert s.database_url == "mysql+pymysql://u@h/db"
    assert s.sources["database_url"] == "DATABASE_URL"


def test_real_environment_is_used_without_environ(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mariadb://from-os-environ@h/db")
    s = load_settings(cwd=root)
    assert s.database_url == "mysql+pymysql://from-os-environ@h/db"


# --------------------------------------------------------------------------- .env


def test_dotenv_is_read_from_the_project_root(root: Path) -> None:
    (root / ".env").write_text("DATABASE_URL=postgresql://dotenv@h/db\nMEMSTACK_LOCK_TIMEOUT=7\n")
    sub = root / "sub"
    sub.mkdir()
    s = settings(sub)
    assert s.database_url == "postgresql+psycopg://dotenv@h/db"
    assert s.lock_timeout == 7


def test_real_environment_wins_over_dotenv(root: Path) -> None:
    (root / ".env").write_text("DATABASE_URL=postgresql://dotenv@h/db\nMEMSTACK_LOCK_TIMEOUT=7\n")
    s = settings(root, {"DATABASE_URL": "postgresql://real@h/db", "MEMSTACK_LOCK_TIMEOUT": "9"})
    assert s.database_url == "postgresql+psycopg://real@h/db"
    assert s.lock_timeout == 9


def test_option_wins_over_dotenv(root: Path) -> None:
    (root / ".env").write_text("MEMSTACK_DATABASE_URL=postgresql://dotenv@h/db\n")
    s = settings(root, database_url="sqlite:///opt.db")
    assert s.database_url == f"sqlite:///{root.resolve().as_posix()}/opt.db"


def test_dotenv_legacy_variables(root: Path) -> None:
    (root / ".env").write_text("POSTGRES_HOST=dotenv-host\nPOSTGRES_PASSWORD=pw\n")
    assert settings(root).database_url == "postgresql+psycopg://postgres:pw@dotenv-host:5432/memstack"


def test_dotenv_of_another_folder_is_ignored(tmp_path: Path, root: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://outside@h/db\n")  # above the project root
    assert settings(root).sources["database_url"] == "[tool.memstack] database_url"


# --------------------------------------------------------------------------- URL forms

URL_FORMS = [
    ("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg2://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql+asyncpg://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql+asyncpg://u:p@h/db?ssl=require", "postgresql+psycopg://u:p@h/db?sslmode=require"),
    (
        "postgresql+asyncpg://u@h/db?ssl=require&application_name=app",
        "postgresql+psycopg://u@h/db?sslmode=require&application_name=app",
    ),
    ("POSTGRESQL://u@h/db", "postgresql+psycopg://u@h/db"),
    ("mysql://root@h:3306/db", "mysql+pymysql://root@h:3306/db"),
    ("mariadb://root:pw@h/db", "mysql+pymysql://root:pw@h/db"),
    ("mysql+pymysql://root@h/db?charset=utf8mb4", "mysql+pymysql://root@h/db?charset=utf8mb4"),
    ("mysql+aiomysql://root@h/db", "mysql+pymysql://root@h/db"),
    ("mysql+asyncmy://root@h/db", "mysql+pymysql://root@h/db"),
    ("sqlite:////abs/path/app.db", "sqlite:////abs/path/app.db"),
    ("sqlite+aiosqlite:////abs/path/app.db", "sqlite:////abs/path/app.db"),
    ("sqlite://", "sqlite://"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
]


@pytest.mark.parametrize(("given", "expected"), URL_FORMS, ids=[g for g, _ in URL_FORMS])
def test_url_forms(tmp_path: Path, given: str, expected: str) -> None:
    assert normalize_url(given, tmp_path) == expected


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite"])
def test_relative_sqlite_is_relative_to_project_root(tmp_path: Path, scheme: str) -> None:
    root = tmp_path / "proj"
    write_pyproject(root, extra=f'database_url = "{scheme}:///data/app.db"')
    sub = root / "deep" / "er"
    sub.mkdir(parents=True)
    for cwd in (root, sub):
        assert settings(cwd).database_url == f"sqlite:///{root.resolve().as_posix()}/data/app.db"
    # the same from the environment, resolved against the root, not the current directory
    env = {"DATABASE_URL": f"{scheme}:///other.db?timeout=5"}
    assert settings(sub, env).database_url == f"sqlite:///{root.resolve().as_posix()}/other.db?timeout=5"


@pytest.mark.parametrize("url", ["oracle://scott:tiger@h/orcl", "mssql+pyodbc://u@dsn", "redis://h:6379/0"])
def test_unsupported_scheme_is_an_error_listing_the_forms(root: Path, url: str) -> None:
    loaded = settings(root, {"DATABASE_URL": url})  # checked when used, not when loaded
    with pytest.raises(MemstackError) as excinfo:
        _ = loaded.database_url
    error = excinfo.value
    assert isinstance(error, ConfigurationError)
    assert error.exit_code == 1
    assert "unsupported" in error.message
    for form in ("postgres://", "postgresql://", "postgresql+asyncpg://", "postgresql+psycopg2://", "mysql://",
                 "mariadb://", "mysql+aiomysql://", "mysql+asyncmy://", "sqlite://", "sqlite+aiosqlite://"):
        assert form in (error.hint or "")
    assert "tiger" not in str(error)


def test_text_without_scheme_is_an_error(root: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a database URL"):
        _ = settings(root, database_url="localhost:5432/db").database_url


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://user:secret@host:5432/db", "postgresql+psycopg://user:***@host:5432/db"),
        ("postgresql://user:s%40cr%3At@host/db", "postgresql://user:***@host/db"),
        ("mysql+pymysql://root:@host/db", "mysql+pymysql://root:***@host/db"),
        ("mysql+pymysql://root@host/db", "mysql+pymysql://root@host/db"),
        ("postgresql://host/db?user=u&password=secret&sslmode=require",
         "postgresql://host/db?user=u&password=***&sslmode=require"),
        ("sqlite:////tmp/x:y/app.db", "sqlite:////tmp/x:y/app.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_settings_masked_url(root: Path) -> None:
    s = settings(root, {"DATABASE_URL": "postgresql+asyncpg://app:hunter2@h/db?ssl=require"})
    assert "hunter2" in s.database_url
    assert s.masked_database_url == "postgresql+psycopg://app:***@h/db?sslmode=require"


# --------------------------------------------------------------------------- project root


def test_root_found_from_a_subfolder(root: Path) -> None:
    sub = root / "memstack" / "auth"
    sub.mkdir(parents=True)
    assert find_project_root(sub, environ={}) == root.resolve()
    assert settings(sub).project_dir == root.resolve()


def test_pyproject_without_memstack_table_is_passed_over(root: Path) -> None:
    nested = root / "vendor" / "lib"
    nested.mkdir(parents=True)
    (root / "vendor" / "pyproject.toml").write_text('[project]\nname = "lib"\n[tool.ruff]\nline-length = 99\n')
    assert settings(nested).project_dir == root.resolve()


def test_nearest_memstack_project_wins(root: Path) -> None:
    inner = root / "inner"
    write_pyproject(inner, components=["memstack.memo"])
    s = settings(inner / ".")
    assert s.project_dir == inner.resolve()
    assert s.components == (ComponentEntry("memstack.memo"),)


def test_no_project_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no memstack project found") as excinfo:
        settings(tmp_path)
    assert "--project-dir" in (excinfo.value.hint or "")


def test_project_dir_argument(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    s = settings(elsewhere, project_dir=str(root))
    assert s.project_dir == root.resolve()
    assert s.sources["database_url"] == "[tool.memstack] database_url"


def test_memstack_project_dir_variable(root: Path, tmp_path: Path) -> None:
    s = settings(tmp_path, {"MEMSTACK_PROJECT_DIR": str(root)})
    assert s.project_dir == root.resolve()


def test_project_dir_argument_beats_variable(root: Path, bare_root: Path, tmp_path: Path) -> None:
    s = settings(tmp_path, {"MEMSTACK_PROJECT_DIR": str(bare_root)}, project_dir=root)
    assert s.project_dir == root.resolve()


def test_project_dir_variable_beats_discovery(root: Path, bare_root: Path) -> None:
    s = settings(root, {"MEMSTACK_PROJECT_DIR": str(bare_root)})
    assert s.project_dir == bare_root.resolve()


@pytest.mark.parametrize("how", ["argument", "variable"])
def test_explicit_project_dir_must_be_a_project(tmp_path: Path, how: str) -> None:
    not_a_project = tmp_path / "plain"
    not_a_project.mkdir()
    (not_a_project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    kwargs = {"project_dir": str(not_a_project)} if how == "argument" else {}
    env = {"MEMSTACK_PROJECT_DIR": str(not_a_project)} if how == "variable" else {}
    with pytest.raises(ConfigurationError, match="is not a memstack project"):
        settings(tmp_path, env, **kwargs)


def test_paths_derive_from_the_root(root: Path) -> None:
    s = settings(root)
    assert s.migrations_dir == root.resolve() / "migrations"
    assert s.templates_dir == root.resolve() / "templates"
    assert s.pyproject_path == root.resolve() / "pyproject.toml"


# --------------------------------------------------------------------------- lock_timeout and components


def test_lock_timeout_option_beats_everything(root: Path) -> None:
    (root / ".env").write_text("MEMSTACK_LOCK_TIMEOUT=7\n")
    s = settings(root, {"MEMSTACK_LOCK_TIMEOUT": "9"}, lock_timeout=3)
    assert (s.lock_timeout, s.sources["lock_timeout"]) == (3, "--lock-timeout")


def test_lock_timeout_variable_beats_config(root: Path) -> None:
    s = settings(root, {"MEMSTACK_LOCK_TIMEOUT": "2.5"})
    assert (s.lock_timeout, s.sources["lock_timeout"]) == (2.5, "MEMSTACK_LOCK_TIMEOUT")


def test_lock_timeout_dotenv_beats_config(root: Path) -> None:
    (root / ".env").write_text("MEMSTACK_LOCK_TIMEOUT=7\n")
    assert settings(root).lock_timeout == 7


def test_lock_timeout_config_beats_default(root: Path) -> None:
    s = settings(root)
    assert (s.lock_timeout, s.sources["lock_timeout"]) == (15, "[tool.memstack] lock_timeout")


def test_lock_timeout_default(bare_root: Path) -> None:
    s = settings(bare_root)
    assert (s.lock_timeout, s.sources["lock_timeout"]) == (DEFAULT_LOCK_TIMEOUT, "default")
    assert DEFAULT_LOCK_TIMEOUT == 60


def test_lock_timeout_zero_is_allowed(root: Path) -> None:
    assert settings(root, lock_timeout=0).lock_timeout == 0


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_lock_timeout_must_be_a_non_negative_number(root: Path, value: str) -> None:
    with pytest.raises(ConfigurationError, match="MEMSTACK_LOCK_TIMEOUT"):
        settings(root, {"MEMSTACK_LOCK_TIMEOUT": value})


def test_components_default_and_override(bare_root: Path, root: Path) -> None:
    s = settings(bare_root)
    assert [c.package for c in s.components] == list(DEFAULT_COMPONENTS)
    assert s.sources["components"] == "default"
    assert settings(root).sources["components"] == "[tool.memstack] components"
    s = settings(root, {"MEMSTACK_COMPONENTS": "memstack.auth, memstack.tenant,"})
    assert [c.package for c in s.components] == ["memstack.auth", "memstack.tenant"]
    assert s.sources["components"] == "MEMSTACK_COMPONENTS"


def test_invalid_toml_in_explicit_project(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.memstack\ncomponents = [")
    with pytest.raises(ConfigurationError):
        settings(tmp_path, project_dir=root)


def test_broken_memstack_pyproject_is_reported_not_skipped(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    (root / "sub").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.memstack]\ncomponents = [\n")
    with pytest.raises(ConfigurationError, match="is not valid TOML"):
        load_settings(environ={}, cwd=root / "sub")
