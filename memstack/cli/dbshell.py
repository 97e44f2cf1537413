"""Interactive shells on the configured database.

* :func:`shell_command` -- the database's own client (``psql``, ``mariadb``/``mysql``,
  ``sqlite3``) with the URL's connection parameters; the password travels in the child's
  environment (``PGPASSWORD`` / ``MYSQL_PWD``), never on its command line.
* :func:`shell_namespace` -- what ``manage.py shell`` puts in the Python namespace: a
  session, the engine, the metadata and every component's model classes.

Nothing here prints.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from memstack.core.components import _mappers
from memstack.core.db import Base, create_engine, metadata
from memstack.core.errors import MemstackError
from memstack.core.settings import mask_url

if TYPE_CHECKING:
    from memstack.core.components import Registry

#: dialect -> client programs, preferred first
CLIENTS: dict[str, tuple[str, ...]] = {
    "postgresql": ("psql",),
    "mysql": ("mariadb", "mysql"),
    "sqlite": ("sqlite3",),
}

#: how to get each client, for the "not installed" error
INSTALL_HINTS: dict[str, str] = {
    "postgresql": "install the PostgreSQL client: apt-get install postgresql-client, "
    "brew install libpq, or https://www.postgresql.org/download/",
    "mysql": "install the MariaDB client: apt-get install mariadb-client, brew install mariadb, "
    "or https://mariadb.org/download/",
    "sqlite": "install the SQLite shell: apt-get install sqlite3, brew install sqlite, "
    "or https://sqlite.org/download.html",
}

# libpq query parameters that psql takes from the environment
_PG_QUERY_ENV = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
}


def _dialect(url: Any) -> str:
    name = url.get_backend_name()
    return "mysql" if name in ("mysql", "mariadb") else name


def _first(value: Any) -> str | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    return None if value is None else str(value)


def shell_command(url: str, *, extra_args: Sequence[str] = (), environ: Mapping[str, str] | None = None,
                  which: Callable[[str], str | None] = shutil.which) -> tuple[list[str], dict[str, str]]:
    """(argv, env) running the database's client on ``url``.

    ``env`` is ``environ`` (default: this process's environment) plus the connection's
    password and settings. ``argv[0]`` is the first client of the dialect found on PATH
    (``which``), else the preferred one (check with :func:`require_client`).
    ``extra_args`` are passed on to the client.
    """

    parsed = make_url(url)
    dialect = _dialect(parsed)
    if dialect not in CLIENTS:
        raise MemstackError(f"no database shell for {mask_url(url)!r}",
                            hint="dbshell supports PostgreSQL, MariaDB/MySQL and SQLite")
    program = next((name for name in CLIENTS[dialect] if which(name)), CLIENTS[dialect][0])
    env = dict(os.environ if environ is None else environ)
    query = {key: _first(value) for key, value in parsed.query.items()}
    argv = [program]
    if dialect == "postgresql":
        host = parsed.host or query.pop("host", None)
        if host:
            argv += ["--host", host]
        port = parsed.port or query.pop("port", None)
        if port:
            argv += ["--port", str(port)]
        if parsed.username:
            argv += ["--username", parsed.username]
        if parsed.database:
            argv += ["--dbname", parsed.database]
        if parsed.password:
            env["PGPASSWORD"] = str(parsed.password)
        for key, variable in _PG_QUERY_ENV.items():
            if query.get(key):
                env[variable] = str(query[key])
    elif dialect == "mysql":
        socket = query.get("unix_socket")
        if socket:
            argv += ["--socket", socket]
        elif parsed.host:
            # PyMySQL connects over TCP even to "localhost"; the client would use its socket
            argv += ["--host", parsed.host, "--protocol", "TCP"]
        if parsed.port:
            argv += ["--port", str(parsed.port)]
        if parsed.username:
            argv += ["--user", parsed.username]
        if query.get("charset"):
            argv += ["--default-character-set", str(query["charset"])]
        if parsed.password:
            env["MYSQL_PWD"] = str(parsed.password)
        if parsed.database:
            argv.append(parsed.database)
    else:  # sqlite
        database = parsed.database or ""
        if database:
            argv.append(database)
    argv.extend(extra_args)
    return argv, env


def require_client(argv: Sequence[str], url: str, *, which: Callable[[str], str | None] = shutil.which) -> str:
    """The full path of ``argv[0]``; a clear error naming the client when it is not on PATH."""
    found = which(argv[0])
    if found:
        return found
    dialect = _dialect(make_url(url))
    names = " or ".join(repr(name) for name in CLIENTS.get(dialect, (argv[0],)))
    raise MemstackError(
        f"the database client {names} is not installed (not found on PATH)",
        hint=INSTALL_HINTS.get(dialect, f"install {argv[0]!r} and put it on PATH"),
    )


class ClientExit(MemstackError):
    """The database client ended with a non-zero status; memstack exits with the same one."""
    def __init__(self, program: str, status: int) -> None:
        super().__init__(f"{program} exited with status {status}")
        self.exit_code = status if 0 < status < 256 else 1


# --------------------------------------------------------------------------- Python shell


@dataclass
class ShellNamespace:
    """The objects ``manage.py shell`` offers; close it to end the session and the engine."""
    namespace: dict[str, Any]
    #: names of model classes that clashed with an earlier one (kept only under Component_Name)
    clashes: list[str]

    def close(self) -> None:
        session = self.namespace.get("session")
        engine = self.namespace.get("engine")
        if session is not None:
            session.close()
        if engine is not None:
            engine.dispose()


def model_classes(registry: Registry) -> dict[str, list[type]]:
    """label -> the mapped classes declared in that component's package, in name order."""
    registry.load_models()
    by_package = sorted(registry, key=lambda c: len(c.package), reverse=True)
    found: dict[str, list[type]] = {c.label: [] for c in registry}
    for mapper in _mappers(Base):
        module = mapper.class_.__module__
        owner = next((c.label for c in by_package if module == c.package or module.startswith(c.package + ".")),
                     None)
        if owner is not None:
            found[owner].append(mapper.class_)
    return {label: sorted(classes, key=lambda cls: cls.__name__) for label, classes in found.items()}


def shell_namespace(database_url: str, registry: Registry) -> ShellNamespace:
    """A namespace with ``session``, ``engine``, ``metadata``, ``select`` and every model class.

    Two components with a model class of one name: the first keeps the plain name, the
    other is available as ``<label>_<Name>``.
    """


    classes = model_classes(registry)
    engine = create_engine(database_url)
    session = Session(engine)
    namespace: dict[str, Any] = {
        "session": session,
        "engine": engine,
        "metadata": metadata,
        "select": select,
        "func": func,
        "text": text,
    }
    clashes: list[str] = []
    for label, found in classes.items():
        for cls in found:
            if cls.__name__ in namespace:
                clashes.append(f"{label}.{cls.__name__}")
                namespace[f"{label}_{cls.__name__}"] = cls
            else:
                namespace[cls.__name__] = cls
    return ShellNamespace(namespace=namespace, clashes=clashes)
