"""The seed hook: a component's start-up data, found the way its commands are.

A component may ship ``<package>/seed.py`` defining

* ``seed(run: SeedRun) -> None``: create whatever of its data is missing, through
  ``run.session`` (one transaction for all components), calling ``run.note`` for each row it
  looked for; it must be idempotent (rows found by natural key), and never print;
* optionally ``REQUIRED_TABLES``: the tables it writes, checked before any hook runs.

Hooks run in component order (``[tool.memstack] components``), so a later component can
read what an earlier one created (the tenant component looks up the auth component's admin).
Nothing here imports SQLAlchemy at module level or knows the engine.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect

from memstack.core.db import metadata
from memstack.core.errors import MemstackError, SchemaNotMigrated

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from memstack.core.components import Registry

#: the module a component's hook lives in, and the function it defines
SEED_MODULE = "seed"
SEED_FUNCTION = "seed"


@dataclass(frozen=True)
class SeedItem:
    """One row (or link) seeding looked for; ``key`` is its natural key in words."""
    kind: str  # permission, role, role_permission, user, user_role, api_key, tenant, user_tenant
    key: str
    created: bool

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key}


@dataclass
class SeedResult:
    """What seeding found and did. ``passwords`` and ``api_key`` are secrets, shown once."""
    items: list[SeedItem] = field(default_factory=list)
    #: email -> generated password (only for users created now without a password variable)
    passwords: dict[str, str] = field(default_factory=dict)
    #: email -> where a created user's password came from (variable name or "generated")
    password_sources: dict[str, str] = field(default_factory=dict)
    #: the admin's plain API key, when one was created now
    api_key: str | None = None

    @property
    def created(self) -> list[SeedItem]:
        return [item for item in self.items if item.created]

    @property
    def present(self) -> list[SeedItem]:
        return [item for item in self.items if not item.created]

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def as_json(self) -> dict[str, Any]:
        return {
            "created": [item.as_json() for item in self.created],
            "present": [item.as_json() for item in self.present],
            "password_sources": dict(self.password_sources),
            "passwords": dict(self.passwords),
            "api_key": self.api_key,
        }


@dataclass
class SeedRun:
    """What a hook gets: the open session, the environment chain, one timestamp, the result."""
    session: Session
    env: Mapping[str, str]
    now: datetime
    result: SeedResult

    def note(self, kind: str, key: str, created: bool) -> None:
        self.result.items.append(SeedItem(kind, key, created))


SeedHook = Callable[[SeedRun], None]


@dataclass(frozen=True)
class ComponentSeed:
    """One component's hook, as :func:`seed_hooks` found it."""
    label: str
    module: ModuleType

    @property
    def hook(self) -> SeedHook:
        function: SeedHook = getattr(self.module, SEED_FUNCTION)
        return function

    @property
    def required_tables(self) -> tuple[str, ...]:
        return tuple(getattr(self.module, "REQUIRED_TABLES", ()))


def seed_hooks(registry: Registry) -> list[ComponentSeed]:
    """Every component's seed hook, in component order; components without ``seed.py`` are skipped."""
    hooks: list[ComponentSeed] = []
    for component in registry:
        name = f"{component.package}.{SEED_MODULE}"
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            continue
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # a broken hook must name itself
            raise MemstackError(f"importing {name} failed: {type(exc).__name__}: {exc}",
                                hint="fix the component's seed module (run with --traceback for the stack)") from exc
        if not callable(getattr(module, SEED_FUNCTION, None)):
            raise MemstackError(f"{name} defines no {SEED_FUNCTION}(run) function",
                                hint=f"define {SEED_FUNCTION}(run: memstack.core.seeding.SeedRun) -> None in it")
        hooks.append(ComponentSeed(component.label, module))
    return hooks


def check_schema(engine: Engine, tables: Sequence[str]) -> None:
    """Raise :class:`SchemaNotMigrated` unless every table (and each model column) exists."""

    inspector = inspect(engine)
    existing = set(inspector.get_table_names())
    missing = [name for name in tables if name not in existing]
    if missing:
        raise SchemaNotMigrated(
            f"the database has no table{'s' if len(missing) > 1 else ''} {', '.join(missing)}: "
            "its schema is not migrated", tables=missing)
    for name in tables:
        have = {column["name"] for column in inspector.get_columns(name)}
        lacking = [column.name for column in metadata.tables[name].columns if column.name not in have]
        if lacking:
            raise SchemaNotMigrated(
                f"table {name} lacks column{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}: "
                "its schema is not up to date", tables=[name], columns=lacking)
