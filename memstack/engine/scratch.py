"""Throw-away databases of the configured dialect, for comparing models with migrations.

``makemigrations`` and ``check`` never compare against the developer's own database (it may
be behind); they build a scratch one by applying every revision.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url

from memstack.core.db import create_engine
from memstack.core.errors import MemstackError
from memstack.core.settings import mask_url


@contextmanager
def scratch_engine(database_url: str) -> Iterator[Engine]:
    """A migration engine on an empty database like ``database_url``'s, dropped afterwards."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    name = f"memstack_scratch_{secrets.token_hex(6)}"
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="memstack-scratch-"))
        engine = create_engine(f"sqlite:///{folder / 'scratch.db'}", for_migrations=True)
        try:
            yield engine
        finally:
            engine.dispose()
            shutil.rmtree(folder, ignore_errors=True)
        return
    if backend == "postgresql":
        admin_url = url.set(database="postgres")
        create = f'CREATE DATABASE "{name}"'
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    elif backend in ("mysql", "mariadb"):
        # URL.set(database=None) leaves the database as it is; only URL.create drops it
        admin_url = URL.create(url.drivername, url.username, url.password, url.host, url.port, query=url.query)
        create = f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
        drop = f"DROP DATABASE IF EXISTS `{name}`"
    else:
        raise MemstackError(f"no scratch database support for {backend}")
    admin = create_engine(admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(create))
    except Exception as exc:
        admin.dispose()
        raise MemstackError(
            f"cannot create a scratch database on {mask_url(database_url)}: {exc}",
            hint="the comparison needs a user allowed to CREATE DATABASE on that server",
        ) from exc
    engine = create_engine(url.set(database=name).render_as_string(hide_password=False), for_migrations=True)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(drop))
        admin.dispose()
