"""Database URLs as given, and as memstack uses them: one synchronous driver per backend.

A server URL's password may hold raw ``/``, ``#``, ``?`` or ``@``; it is percent-encoded here so
SQLAlchemy reads it whole, and remembered so :func:`memstack.core.redaction.redact` can scrub it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode

from memstack.core.errors import ConfigurationError
from memstack.core.redaction import mask_url, remember_secret, split_credentials

SUPPORTED_URL_FORMS = (
    "postgres://, postgresql://, postgresql+psycopg://, postgresql+asyncpg://, "
    "postgresql+psycopg2://, mysql://, mariadb://, mysql+pymysql://, mysql+aiomysql://, "
    "mysql+asyncmy://, sqlite://, sqlite+aiosqlite://"
)

_POSTGRES_SCHEMES = {
    "postgres",
    "postgresql",
    "postgresql+psycopg",
    "postgresql+psycopg2",
    "postgresql+asyncpg",
}
_MYSQL_SCHEMES = {
    "mysql",
    "mariadb",
    "mysql+pymysql",
    "mariadb+pymysql",
    "mysql+aiomysql",
    "mysql+asyncmy",
}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


def normalize_url(url: str, project_dir: Path) -> str:
    """The URL memstack uses for schema work: synchronous driver, absolute SQLite path.

    A server URL's password is percent-encoded here (it may hold a raw ``/``, ``#``, ``?`` or
    ``@``), remembered for :func:`redact`, and the URL must name a database: without one
    PostgreSQL would quietly use the ``postgres`` maintenance database.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        remember_secret(_password_of(url), mask_url(url))
        raise ConfigurationError(
            f"{mask_url(url)!r} is not a database URL (it has no scheme such as postgresql://)",
            hint=f"use one of the supported forms: {SUPPORTED_URL_FORMS}",
        )
    if scheme in _POSTGRES_SCHEMES or scheme in _MYSQL_SCHEMES:
        rest = _encode_password(rest)
        _require_database_name(url, rest)
        _check_host_and_port(url, rest)
        if scheme in _MYSQL_SCHEMES:
            return "mysql+pymysql://" + rest
        if scheme == "postgresql+asyncpg":
            rest = _asyncpg_query_to_libpq(rest)
        return "postgresql+psycopg://" + rest
    if scheme in _SQLITE_SCHEMES:
        return _absolute_sqlite_url(rest, project_dir)
    remember_secret(_password_of(rest), mask_url(url))
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r} in {mask_url(url)!r}",
        hint=f"use one of the supported forms: {SUPPORTED_URL_FORMS}",
    )


def _password_of(rest: str) -> str | None:
    parts = split_credentials(rest)
    return parts[1] if parts else None


def _encode_password(rest: str) -> str:
    """``rest`` (after ``scheme://``) with its password percent-encoded, the way SQLAlchemy reads it."""
    parts = split_credentials(rest)
    if parts is None or parts[1] is None:
        return rest
    user, password, after = parts[0], parts[1], parts[2]
    remember_secret(password, mask_url(f"postgresql+psycopg:// mysql+pymysql://{rest}"))
    return f"{user}:{quote(unquote(password), safe='')}@{after}"


def _require_database_name(url: str, rest: str) -> None:
    parts = split_credentials(rest)
    after = parts[2] if parts else rest
    location, _, query = after.partition("?")
    database = location.partition("/")[2]
    if database or {"dbname", "database", "db"} & set(parse_qs(query)):
        return
    raise ConfigurationError(
        f"the database URL {mask_url(url)!r} names no database",
        hint="add /<database name> after the host (for example postgresql://user@localhost/memstack)",
    )


def _check_host_and_port(url: str, rest: str) -> None:
    """A port that is a number from 1 to 65535 and a well-formed ``[IPv6]`` host, checked here:
    SQLAlchemy's own parser fails on them with a bare ``ValueError``."""
    parts = split_credentials(rest)
    after = parts[2] if parts else rest
    location = after.partition("?")[0].partition("/")[0]
    problem = _location_problem(location)
    if problem:
        raise ConfigurationError(
            f"the database URL {mask_url(url)!r} has {problem}",
            hint="write the host and port as host:5432, or an IPv6 address in brackets as [::1]:5432",
        )


def _location_problem(location: str) -> str | None:
    """What is wrong with ``host[:port]`` of a server URL, or None."""
    import ipaddress  # lazy: kept off the no-op path and --help

    host, port = location, ""
    if location.startswith("["):
        inside, bracket, port_part = location[1:].partition("]")
        if not bracket:
            return f"an IPv6 host without its closing bracket ({location!r})"
        try:
            ipaddress.IPv6Address(inside.partition("%")[0])
        except ValueError:
            return f"an IPv6 host that is not an IPv6 address ({'[' + inside + ']'!r})"
        if port_part and not port_part.startswith(":"):
            return f"text after the IPv6 host's closing bracket ({port_part!r})"
        port = port_part[1:]
    elif ":" in location:
        host, _, port = location.rpartition(":")
        if ":" in host or "[" in host or "]" in host:
            return f"an IPv6 host not in brackets ({location!r})"
    elif "[" in location or "]" in location:
        return f"a bracket in its host ({location!r})"
    has_port = (location.startswith("[") and "]:" in location) or (not location.startswith("[") and ":" in location)
    if has_port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return f"a port that is not a number from 1 to 65535 ({port!r})"
    return None


_ASYNCPG_SSL = {"true": "require", "1": "require", "on": "require", "false": "disable", "0": "disable",
                "off": "disable"}


def _asyncpg_query_to_libpq(rest: str) -> str:
    """asyncpg's ``ssl=...`` becomes libpq's ``sslmode=...`` (``true`` meaning ``require``)."""
    base, sep, query = rest.partition("?")
    if not sep:
        return rest
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "ssl":
            key, value = "sslmode", _ASYNCPG_SSL.get(value.lower(), value)
        pairs.append((key, value))
    return f"{base}?{urlencode(pairs)}"


def _absolute_sqlite_url(rest: str, project_dir: Path) -> str:
    # rest is "" (memory), "/relative.db", "//abs/path.db" or "/:memory:", maybe with "?query"
    path, sep, query = rest.partition("?")
    suffix = f"?{query}" if sep else ""
    if path in ("", "/", "/:memory:") or path.startswith("/file:"):
        return f"sqlite://{path}{suffix}"
    relative = path[1:] if path.startswith("/") else path
    file_path = Path(relative)
    if not file_path.is_absolute():
        file_path = (project_dir / file_path).resolve()
    return f"sqlite:///{file_path.as_posix()}{suffix}"


def legacy_postgres_url(env: Mapping[str, str]) -> str | None:
    """MemStack's old ``POSTGRES_*`` variables, used only when POSTGRES_HOST or POSTGRES_DB is set."""
    if not (env.get("POSTGRES_HOST") or env.get("POSTGRES_DB")):
        return None
    host = env.get("POSTGRES_HOST") or "localhost"
    port = env.get("POSTGRES_PORT") or "5432"
    db = env.get("POSTGRES_DB") or "memstack"
    user = env.get("POSTGRES_USER") or "postgres"
    password = env.get("POSTGRES_PASSWORD") or ""
    remember_secret(password, f"postgresql+psycopg://{user}@{host}:{port}/{db}")
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgresql+psycopg://{auth}@{host}:{port}/{db}"


def missing_sqlite_file(url: str) -> bool:
    """True when ``url`` (normalized) names a SQLite file that does not exist: reading it must not
    create it (a mistyped path would otherwise become a new empty database)."""
    if not url.startswith("sqlite:///") or url.startswith(("sqlite:///:memory:", "sqlite:///file:")):
        return False
    return not Path(url[len("sqlite:///"):].partition("?")[0]).exists()


#: the driver module of each normalized scheme, and how to install it
_DRIVERS = {
    "postgresql+psycopg": ("psycopg", "pip install 'psycopg[binary]'"),
    "mysql+pymysql": ("pymysql", "pip install 'memstack[mysql]' (or PyMySQL)"),
}


def require_driver(url: str) -> None:
    """Refuse with the install command when the URL's database driver cannot be imported."""
    import importlib  # lazy: kept off the no-op path and --help

    scheme = url.partition("://")[0]
    if scheme not in _DRIVERS:
        return
    module, install = _DRIVERS[scheme]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigurationError(
            f"the database driver {module!r} for {scheme}:// URLs is not installed ({exc})",
            hint=install,
        ) from exc


def refuse_missing_sqlite_folder(url: str) -> None:
    """A SQLite file whose folder does not exist is a typo, not a new database: refused before
    anything (SQLite, memstack's lock file) could create it. The default database lives in the
    project root, which exists."""
    if not url.startswith("sqlite:///") or url.startswith(("sqlite:///:memory:", "sqlite:///file:")):
        return
    path = Path(url[len("sqlite:///"):].partition("?")[0])
    if path.parent.is_dir():
        return
    what = "is not a folder" if path.parent.exists() else "does not exist"
    raise ConfigurationError(
        f"the SQLite database {path} cannot be created: its folder {path.parent} {what}",
        hint="fix the path in --database-url (MEMSTACK_DATABASE_URL, DATABASE_URL, database_url), "
        "or create the folder first if a new database belongs there",
    )
