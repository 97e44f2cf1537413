"""One project's settings, components, revision tree and database, loaded on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from memstack.core.components import Registry, build_registry
from memstack.core.settings import Settings, load_settings
from memstack.engine.graph import MigrationGraph
from memstack.engine.loader import LoadedTree, load_tree

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


@dataclass
class Workspace:
    settings: Settings
    registry: Registry
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def load(cls, project_dir: Any = None, database_url: str | None = None,
             lock_timeout: float | None = None) -> Workspace:
        settings = load_settings(project_dir=project_dir, database_url=database_url, lock_timeout=lock_timeout)
        return cls(settings=settings, registry=build_registry(settings))

    @cached_property
    def tree(self) -> LoadedTree:
        from memstack.core.settings import refuse_missing_own_migrations

        refuse_missing_own_migrations((c.package, c.migrations_path) for c in self.registry)
        return load_tree(self.registry)

    @property
    def graph(self) -> MigrationGraph:
        return self.tree.graph

    def reload(self) -> None:
        self.__dict__.pop("tree", None)

    @property
    def engine(self) -> Engine:
        """The migration engine (transactional DDL on SQLite)."""
        if self._engine is None:
            from memstack.core.db import create_engine
            from memstack.core.urls import require_driver

            require_driver(self.settings.database_url)
            self._engine = create_engine(self.settings.database_url, for_migrations=True)
        return self._engine

    @property
    def dialect_name(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.settings.database_url).get_dialect().name

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
