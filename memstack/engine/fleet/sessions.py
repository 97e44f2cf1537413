"""A worker's databases: one engine (and its pooled sessions) per database, kept across the targets it runs.

Creating an engine per target cost a new server session or two, the dialect's first-connect queries
and the engine's set-up, each time: more than a small revision's DDL. A worker therefore keeps one
engine per database URL for its whole life. A PostgreSQL schema target gets a view of that engine
(``Engine.execution_options``: same pool, an identity of its own, so the migration lock, the step
barrier and the fence key and find it exactly as they do a workspace's own engine) that sets the
session's ``search_path`` to the schema when a pooled session is handed out for it, only when the
session's last target was another schema (the setting is committed at once, so no rollback undoes it).
Kept sessions are checked once a target (:func:`_ping`), not at each checkout.
With tenant components split off, a schema's revisions run with the shared schema after the
tenant's in their ``search_path`` (:data:`memstack.engine.run.steps.REVISION_SEARCH_PATH`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from memstack.core.settings import Settings
    from memstack.engine.fleet.targets import Target

#: the execution option naming the schema a view's sessions work in (None: the database's default)
SCHEMA_OPTION = "memstack_schema"
_SET = "memstack_search_path"  # in the pooled session's info: what its search_path was last set to


class Databases:
    """The engines of one worker process, one per database URL; :meth:`engine_for` a target's view."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engines: dict[str, Engine] = {}

    def engine_for(self, target: Target, shared_schema: str | None = None) -> Engine:
        """The engine a target's run uses: the database's, scoped to its schema (a new view per run).

        ``shared_schema``: where the shared components' tables are (tenant components split off):
        a revision's code runs with ``search_path`` the target's schema, then that one."""
        from memstack.core.urls import normalize_url  # lazy: only in workers
        from memstack.engine.run.fencing import scope_to_schema  # lazy: only in workers
        from memstack.engine.run.steps import REVISION_SEARCH_PATH  # lazy: only in workers

        base = self._engines.get(target.url)
        if base is None:
            base = self._engines[target.url] = self._create(normalize_url(target.url, self.settings.project_dir))
        elif base.dialect.name != "sqlite":  # (a file opens afresh every time)
            _ping(base if target.schema is None else base.execution_options(**{SCHEMA_OPTION: target.schema}))
        if target.schema is None or base.dialect.name != "postgresql":
            return base
        view = base.execution_options(**{SCHEMA_OPTION: target.schema})
        if shared_schema is not None and shared_schema != target.schema:
            own = _quoted(target.schema)
            view = view.execution_options(**{REVISION_SEARCH_PATH: (f"{own}, {_quoted(shared_schema)}", own)})
        scope_to_schema(view, target.schema)  # its lock covers the schema: schemas run in parallel
        return view

    def _create(self, url: str) -> Engine:
        from sqlalchemy import event  # lazy: only in workers

        from memstack.core.db import create_engine  # lazy: only in workers
        from memstack.core.urls import require_driver  # lazy: only in workers

        require_driver(url)
        engine = create_engine(url, for_migrations=True, network=self.settings.network)
        if engine.dialect.name == "postgresql":
            event.listen(engine, "engine_connect", _set_search_path)
            event.listen(engine, "checkin", self._after_lock)
        return engine

    def _after_lock(self, dbapi_connection: Any, record: Any) -> None:
        """A session that held a migration lock had its idle timeouts changed: back to every session's bounds."""
        from memstack.core.network import apply_session_settings  # lazy: only in workers
        from memstack.engine.run.lock import LOCK_SESSION  # lazy: only in workers

        if dbapi_connection is not None and record.info.pop(LOCK_SESSION, False):
            try:
                apply_session_settings(dbapi_connection, "postgresql", self.settings.network)
            except Exception:  # unusable: the pool opens another
                record.invalidate()

    def discard(self, url: str) -> None:
        """Drop the engine of ``url`` (its server failed a target: the next one connects afresh)."""
        engine = self._engines.pop(url, None)
        if engine is not None:
            engine.dispose()

    def close(self) -> None:
        for url in list(self._engines):
            self.discard(url)

    def __enter__(self) -> Databases:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _ping(engine: Engine) -> None:
    """Once a target, not at every checkout: a session the server ended while the worker sat idle
    (an idle timeout, a restart) fails here, and SQLAlchemy drops every pooled session with it."""
    from sqlalchemy.exc import DBAPIError  # lazy: only in workers

    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise


def _set_search_path(connection: Connection) -> None:
    """Point the pooled session at the view's schema (or back at the default) when it points elsewhere."""
    schema = connection.get_execution_options().get(SCHEMA_OPTION)
    info: dict[str, Any] = connection.connection.info
    if info.get(_SET) == schema:
        return
    raw: Any = connection.connection.dbapi_connection
    autocommit, raw.autocommit = raw.autocommit, True  # a later rollback of the session must not undo it
    try:
        with raw.cursor() as cursor:
            if schema is None:
                cursor.execute("RESET search_path")
            else:
                cursor.execute("SELECT set_config('search_path', %s, false)", (_quoted(schema),))
    finally:
        raw.autocommit = autocommit
    info[_SET] = schema


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
