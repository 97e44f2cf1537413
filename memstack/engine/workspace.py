"""One project's settings, components, revision tree and database, loaded on first use.

The tree is read once; :meth:`Workspace.for_database` points the same loaded tree at another
database (or PostgreSQL schema) without reading a file again: the seam for fleet runs. Run
those in separate processes: Alembic's ``op`` is a module-global proxy, so two migrations in
one process must not overlap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memstack.core.components import Registry, build_registry
from memstack.core.networksettings import NetworkSettings
from memstack.core.settings import Settings, load_settings
from memstack.engine.errors import SchemaUnsupported

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from memstack.engine.run.alembic_config import AlembicSetup
    from memstack.engine.tree.graph import MigrationGraph
    from memstack.engine.tree.loader import LoadedTree


def load_tree(registry: Registry) -> LoadedTree:
    """:func:`memstack.engine.tree.loader.load_tree`, imported on first use (a no-op start never loads the tree)."""
    from memstack.engine.tree.loader import load_tree as load  # lazy: kept off the no-op path and --help

    return load(registry)


@dataclass
class Workspace:
    settings: Settings
    registry: Registry
    _engine: Engine | None = field(default=None, repr=False)
    _owns_engine: bool = field(default=True, repr=False)
    generating: bool = False  # makemigrations writes the first revisions: a missing folder is not an error

    @classmethod
    def load(cls, project_dir: Any = None, database_url: str | None = None,
             lock_timeout: float | None = None) -> Workspace:
        settings = load_settings(project_dir=project_dir, database_url=database_url, lock_timeout=lock_timeout)
        return cls(settings=settings, registry=build_registry(settings))

    @cached_property
    def loaded_tree(self) -> LoadedTree:
        """The tree as files give it (squashes standing in for what they replace)."""
        from memstack.core.settings import refuse_missing_own_migrations  # lazy: kept off the no-op path and --help

        if not self.generating:
            refuse_missing_own_migrations((c.package, c.migrations_path) for c in self.registry)
        # before any revision can run (and import a package): a broken package is named up front
        self.registry.refuse_broken_packages()
        return load_tree(self.registry)

    @cached_property
    def tree(self) -> LoadedTree:
        """The tree as this database sees it: a database part-way through a squashed range keeps
        the replaced revisions (tree/replaces.py); costs one query only when a squash is pending cleanup."""
        loaded = self.loaded_tree
        if not loaded.squashes or self.generating:
            return loaded
        rows = self._version_rows()
        return loaded.view_for(rows) if rows else loaded

    def _version_rows(self) -> list[str]:
        from sqlalchemy.exc import SQLAlchemyError  # lazy: kept off the no-op path and --help

        from memstack.core.urls import missing_sqlite_file  # lazy: as above
        from memstack.engine.records.status import squash_evidence  # lazy: as above

        if missing_sqlite_file(self.settings.database_url):
            return []
        try:
            with self.engine.connect() as connection:
                return squash_evidence(connection, self.loaded_tree)
        except SQLAlchemyError:  # no server (--sql, an unreachable one): the new database's view; the
            return []  # status read names the connection problem

    @property
    def graph(self) -> MigrationGraph:
        return self.tree.graph

    def reload(self) -> None:
        self.__dict__.pop("tree", None)
        self.__dict__.pop("loaded_tree", None)

    def for_database(self, url_or_engine: str | Engine, schema: str | None = None) -> Workspace:
        """The same settings, components and loaded tree against another database.

        ``url_or_engine``: a URL (any form the settings accept; the new workspace owns and
        disposes its engine) or an engine the caller keeps owning. ``schema``: a PostgreSQL
        schema to migrate instead of the default one (set as the connections' ``search_path``).
        The tree is shared, never re-read.
        """
        from sqlalchemy.engine import Engine  # lazy: kept off the no-op path and --help

        engine: Engine | None = None
        if isinstance(url_or_engine, Engine):
            if schema is not None:
                raise SchemaUnsupported("an engine")
            engine = url_or_engine
            url = url_or_engine.url.render_as_string(hide_password=False)
        else:
            url = url_or_engine
        settings = dataclasses.replace(self.settings, database_url_as_given=url,
                                       sources={**self.settings.sources, "database_url": "for_database"})
        other = Workspace(settings=settings, registry=self.registry, _engine=engine, _owns_engine=engine is None)
        other.__dict__["loaded_tree"] = self.loaded_tree  # shared: loading it here once serves every database
        if "_setups" in self.__dict__:
            other.__dict__["_setups"] = self.__dict__["_setups"]
        if schema is not None:
            if other.dialect_name != "postgresql":
                raise SchemaUnsupported(other.dialect_name)
            from memstack.engine.run.fencing import scope_to_schema  # lazy: kept off the no-op path and --help

            other._engine = _create_migration_engine(settings.database_url, search_path=schema,
                                                     network=settings.network)
            scope_to_schema(other._engine, schema)  # its lock covers the schema: schemas run in parallel
        return other

    def alembic_setup(self, x_arguments: Sequence[str] = ()) -> AlembicSetup:
        """The Alembic configuration revisions run under, with ``-x`` values (kept: see :meth:`keep_alembic_setups`)."""
        from memstack.engine.run.alembic_config import alembic_setup  # lazy: kept off the no-op path and --help
        from memstack.engine.run.baseline import load_baselines  # lazy: kept off the no-op path and --help
        from memstack.engine.run.envhooks import load_hooks  # lazy: kept off the no-op path and --help

        kept: dict[tuple[str, ...], AlembicSetup] | None = self.__dict__.get("_setups")
        if kept is not None and tuple(x_arguments) in kept:
            return kept[tuple(x_arguments)]
        setup = alembic_setup(self.settings.project_dir, x_arguments, hooks=load_hooks(self.registry),
                              baselines=load_baselines(self.registry))
        if kept is not None:
            kept[tuple(x_arguments)] = setup
        return setup

    def keep_alembic_setups(self) -> None:
        """Build each Alembic set-up once, here and in every workspace :meth:`for_database` derives from
        this one (a fleet's worker: one target at a time, many in one process)."""
        self.__dict__["_setups"] = {}

    @property
    def engine(self) -> Engine:
        """The migration engine (transactional DDL on SQLite)."""
        if self._engine is None:
            from memstack.core.urls import require_driver  # lazy: kept off the no-op path and --help

            require_driver(self.settings.database_url)
            self._engine = _create_migration_engine(self.settings.database_url, network=self.settings.network)
            self._owns_engine = True
        return self._engine

    @property
    def dialect_name(self) -> str:
        if self._engine is not None:
            return self._engine.dialect.name
        from sqlalchemy.engine import make_url  # lazy: kept off the no-op path and --help

        return make_url(self.settings.database_url).get_dialect().name

    def close(self) -> None:
        if self._engine is not None and self._owns_engine:
            self._engine.dispose()
        self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _create_migration_engine(url: str, search_path: str | None = None,
                             network: NetworkSettings | None = None) -> Engine:
    from memstack.core.db import create_engine  # lazy: kept off the no-op path and --help

    if search_path is None:
        return create_engine(url, for_migrations=True, network=network)
    quoted = '"' + search_path.replace('"', '""') + '"'
    return create_engine(url, for_migrations=True, network=network, connect_args={
        "application_name": "memstack", "options": f"-csearch_path={quoted}"})
