"""A database URL's query options, checked against what its driver accepts before connecting.

The drivers fail on an option they do not know, or on a value of the wrong kind, with errors that
name neither the URL nor the option (PyMySQL: ``TypeError: ... unexpected keyword argument``, an
unknown charset: ``AttributeError: 'NoneType' object has no attribute 'encoding'``; SQLAlchemy:
``ValueError: invalid literal for int()``; psycopg: ``ProgrammingError: invalid connection
option``). Checked here, each becomes one :class:`ConfigurationError` naming the option and how
to write it. Called by :func:`memstack.core.db.create_engine` with the normalized URL; the driver is
imported only when the URL has a query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import parse_qsl

from memstack.core.errors import ConfigurationError
from memstack.core.redaction import mask_url

_TRUE = {"true", "yes", "on", "y", "t", "1"}
_FALSE = {"false", "no", "off", "n", "f", "0"}


def _integer(value: str) -> bool:
    return value.strip().lstrip("+-").isdigit() and value.strip().isascii()


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity")


def _boolean(value: str) -> bool:
    return value.strip().lower() in _TRUE | _FALSE


def _file(value: str) -> bool:
    return Path(value).expanduser().is_file()


def _folder(value: str) -> bool:
    return Path(value).expanduser().is_dir()


Check = Callable[[str], bool]
_KINDS: dict[Check, str] = {_integer: "a whole number", _number: "a finite number", _boolean: "true or false",
                            _file: "an existing file", _folder: "an existing folder"}

#: PyMySQL's options SQLAlchemy passes on from the query, and the kind of value each takes
_MYSQL_VALUES: dict[str, Check | None] = {
    "compress": _boolean, "connect_timeout": _integer, "read_timeout": _integer, "write_timeout": _integer,
    "client_flag": _integer, "local_infile": _boolean, "use_unicode": _boolean, "max_allowed_packet": _integer,
    "ssl_ca": _file, "ssl_cert": _file, "ssl_key": _file, "ssl_capath": _folder, "ssl_cipher": None,
    "ssl_check_hostname": _boolean, "ssl_disabled": _boolean, "ssl_verify_cert": _boolean,
    "ssl_verify_identity": _boolean, "read_default_file": _file, "autocommit": _boolean,
}
#: PyMySQL's keyword arguments that take Python objects, or that the URL itself already sets
_MYSQL_NOT_IN_QUERY = {"self", "conv", "cursorclass", "auth_plugin_map", "ssl", "defer_connect", "user", "password",
                       "passwd", "host", "port", "database", "db"}
_POSTGRES_VALUES: dict[str, Check | None] = {
    "connect_timeout": _integer, "keepalives": _integer, "keepalives_idle": _integer,
    "keepalives_interval": _integer, "keepalives_count": _integer, "tcp_user_timeout": _integer, "port": _integer,
}
#: pysqlite's connect arguments SQLAlchemy reads from the query (with ``uri=true`` the rest go to SQLite)
_SQLITE_VALUES: dict[str, Check | None] = {
    "timeout": _number, "detect_types": _integer, "check_same_thread": _boolean, "cached_statements": _integer,
    "uri": _boolean, "isolation_level": None,
}
_REPEATABLE = {"postgresql": {"host", "hostaddr", "port"}}


def check_url_options(url: str) -> None:
    """Refuse a query option ``url``'s driver does not accept, or a value of the wrong kind."""
    scheme, _, rest = url.partition("://")
    query = rest.partition("?")[2]
    if not query:
        return
    pairs = parse_qsl(query, keep_blank_values=True)
    backend = scheme.partition("+")[0]
    if backend == "sqlite":
        uri = any(k == "uri" and v.strip().lower() in _TRUE for k, v in pairs)
        _check(url, pairs, "SQLite", _SQLITE_VALUES, None if uri else set(_SQLITE_VALUES))
    elif backend == "mysql":
        try:
            accepted = _mysql_accepts()
        except ImportError:  # no PyMySQL: require_driver says how to install it
            return
        _check(url, pairs, "PyMySQL", _MYSQL_VALUES, accepted)
        _check_charset(url, pairs)
    elif backend == "postgresql":
        _check(url, pairs, "libpq", _POSTGRES_VALUES, _libpq_accepts(), repeatable=_REPEATABLE["postgresql"])


def _check(url: str, pairs: list[tuple[str, str]], driver: str, values: dict[str, Check | None],
           accepted: set[str] | None, repeatable: Iterable[str] = ()) -> None:
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen and key not in repeatable:
            _refuse(url, f"gives the option {key!r} twice", f"keep one {key}=... in the URL's query")
        seen.add(key)
        if accepted is not None and key not in accepted:
            known = ", ".join(sorted(accepted)[:12])
            _refuse(url, f"has an option {driver} does not accept: {key!r}",
                    f"remove {key}=... from the URL's query (options {driver} accepts: {known}, ...)")
        check = values.get(key)
        if check is not None and not check(value):
            _refuse(url, f"has option {key}={value!r}, which must be {_KINDS[check]}",
                    f"give {key} {_KINDS[check]}, or remove it from the URL's query")


def _check_charset(url: str, pairs: list[tuple[str, str]]) -> None:
    from pymysql.charset import charset_by_name  # type: ignore[import-untyped]  # lazy: a URL with a query only

    for key, value in pairs:
        if key == "charset" and charset_by_name(value) is None:
            _refuse(url, f"names a character set MariaDB/MySQL does not know: charset={value!r}",
                    "use charset=utf8mb4 (memstack's tables are utf8mb4), or leave charset out")


def _mysql_accepts() -> set[str]:
    import inspect  # lazy: a URL with a query only

    from pymysql.connections import Connection  # type: ignore[import-untyped]  # lazy: a URL with a query only

    names = set(inspect.signature(Connection.__init__).parameters) - _MYSQL_NOT_IN_QUERY
    return names | {"ssl_capath", "ssl_cipher", "ssl_check_hostname"}


def _libpq_accepts() -> set[str]:
    from psycopg import pq  # lazy: a URL with a query only

    return {option.keyword.decode() for option in pq.Conninfo.get_defaults()}


def _refuse(url: str, problem: str, hint: str) -> None:
    raise ConfigurationError(f"the database URL {mask_url(url)!r} {problem}", hint=hint)
