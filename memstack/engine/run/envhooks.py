"""Component environment hooks: what a project's ``env.py`` did, run where ``env.py`` would.

memstack runs revisions in its own Alembic environment, so the set-up a project's ``env.py``
did (a framework's connection established, ``context.configure()`` options) would be lost. A
component names a hook in its configuration entry (``env_hook = "pkg.module:function"``), or
its package holds a module ``memstack_env`` with a function ``setup`` (never a file in the
version folder: Alembic imports every ``.py`` there as a revision). The hook is called with a
:class:`HookEnvironment` before each of the component's steps is configured, and before its
models are compared in ``makemigrations``/``check``. It may:

* set up modules the revisions import (``database.establish(env.connection)``);
* add ``context.configure()`` options to ``env.options`` (``render_as_batch``, ``compare_type``,
  ``compare_server_default``, ``include_object``, ``include_name``,
  ``process_revision_directives``, ``user_module_prefix``, ``version_table_schema``...);
* replace ``env.connection`` (a framework's wrapper of the same connection, whose exceptions
  the revisions catch: it must share the step's transaction, in which memstack records it);
* be a generator: the code after its one ``yield`` runs when the step's environment closes.

Offline (``migrate --sql``, ``sqlmigrate``, ``alembic upgrade --sql``) there is no database:
``env.offline`` is True and ``env.connection`` is a mock connection that writes what is executed
on it into the script (as Alembic's own ``op.get_bind()`` does under ``--sql``), so a framework
established on it lets revisions render their DDL; reading rows or the schema through it cannot
work (nothing is there), and a replaced connection is not used (the script goes to Alembic's
output, not through a connection). The options apply offline as online.

Plain ``alembic upgrade``/``downgrade`` run every revision in one Alembic migration context,
configured once: :func:`hook_alembic_steps` enters each step's component hook before the step
(kept open while consecutive steps are the same component's), puts its options in the context's
``opts`` for those steps (what revisions read through ``op.get_context().opts``; options Alembic
reads once at configure time, such as ``version_table_schema`` and ``transactional_ddl``, are
memstack's own there: one version table for every component), has ``op`` execute on its
replaced connection, and runs the component's baseline around its root revision.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alembic import op
from alembic.runtime.migration import RevisionStep
from sqlalchemy import create_mock_engine

from memstack.engine.alembic_compat import StepsFunction, wrap_steps
from memstack.engine.errors import EnvHookUnusable
from memstack.engine.run.baseline import Baseline, with_baseline
from memstack.engine.tree.graph import MigrationGraph, Step

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from memstack.core.components import Registry

#: the module a component's package may hold, and the function in it
HOOK_MODULE = "memstack_env"
HOOK_FUNCTION = "setup"
#: options memstack sets itself for a run: a hook's value for them is not used
RUN_OWNED = frozenset({"connection", "transaction_per_migration", "transactional_ddl", "as_sql", "url",
                       "dialect_name", "output_buffer", "literal_binds", "fn"})


@dataclass
class HookEnvironment:
    """What a hook sees and changes; offline (``--sql``), ``connection`` writes into the script."""
    component: str
    config: Config
    connection: Connection | None
    dialect_name: str
    autogenerate: bool = False  # True when models are being compared (makemigrations, check)
    options: dict[str, Any] = field(default_factory=dict)
    offline: bool = False  # True when SQL is written, not run (env.connection is then a mock)


def offline_connection(dialect_name: str) -> Connection:
    """A mock connection whose executed statements go into the script being rendered (through
    ``op.get_bind()`` of the Alembic context current when they are executed); results are None."""

    def execute(statement: Any, *_: Any, **__: Any) -> None:
        op.get_bind().execute(statement)

    return create_mock_engine(f"{dialect_name}://", execute)  # type: ignore[return-value]


EnvHook = Callable[[HookEnvironment], Any]


def _import_hook(component: str, spec: str) -> EnvHook:
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        module_name, _, attribute = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise EnvHookUnusable(component, spec, f"cannot be imported: {type(exc).__name__}: {exc}") from exc
    hook = getattr(module, attribute, None)
    if not callable(hook):
        raise EnvHookUnusable(component, spec, f"is not a function ({module_name} has no callable {attribute!r})")
    return hook  # type: ignore[no-any-return]


def find_hook(component: str, package: str, spec: str | None) -> EnvHook | None:
    """The configured hook, else ``PACKAGE.memstack_env:setup`` when that module exists."""
    if spec:
        return _import_hook(component, spec)
    name = f"{package}.{HOOK_MODULE}"
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return _import_hook(component, f"{name}:{HOOK_FUNCTION}") if found is not None else None


def load_hooks(registry: Registry) -> dict[str, EnvHook]:
    """Every component's hook, by label (components without one are left out)."""
    hooks = {}
    for component in registry:
        hook = find_hook(component.label, component.package, getattr(component, "env_hook", None))
        if hook is not None:
            hooks[component.label] = hook
    return hooks


@contextmanager
def applied_hook(hooks: Mapping[str, EnvHook], environment: HookEnvironment) -> Iterator[HookEnvironment]:
    """Run the component's hook on ``environment`` (a generator hook stays open until exit)."""
    hook = hooks.get(environment.component)
    if hook is None:
        yield environment
        return
    managed: AbstractContextManager[Any] = nullcontext()
    if inspect.isgeneratorfunction(hook):
        managed = contextmanager(hook)(environment)
    else:
        hook(environment)
    with managed:
        yield environment


def configure_options(environment: HookEnvironment) -> dict[str, Any]:
    """The hook's ``context.configure()`` options memstack passes on (its own run options win)."""
    return {key: value for key, value in environment.options.items() if key not in RUN_OWNED}


def compare_options(hooks: Mapping[str, EnvHook], config: Config, connection: Connection) -> dict[str, dict[str, Any]]:
    """Each hooked component's options for comparing its models (``makemigrations``, ``check``)."""
    found = {}
    for label in hooks:
        environment = HookEnvironment(label, config, connection, connection.dialect.name, autogenerate=True)
        with applied_hook(hooks, environment):
            found[label] = configure_options(environment)
    return found


# --------------------------------------------------------------------------- plain alembic upgrade/downgrade


class _WithBaseline:
    """An Alembic step whose ``migration_fn`` runs its component's baseline around it (a root revision)."""

    def __init__(self, step: Any, function: Callable[..., None]) -> None:
        self._step, self._function = step, function

    def __getattr__(self, name: str) -> Any:
        return getattr(self._step, name)

    def __str__(self) -> str:
        return str(self._step)

    @property
    def migration_fn(self) -> Callable[..., None]:
        return self._function


@dataclass
class _OpenHook:
    """The component hook open around consecutive steps of plain ``alembic upgrade``, and what it changed."""
    context: MigrationContext
    hook: EnvHook | None = None
    stack: ExitStack = field(default_factory=ExitStack)
    restore: dict[str, Any] = field(default_factory=dict)

    def enter(self, hooks: Mapping[str, EnvHook], environment: HookEnvironment) -> None:
        self.close()
        self.hook = hooks.get(environment.component)
        self.stack.enter_context(applied_hook(hooks, environment))
        options = configure_options(environment)
        self.restore = {key: self.context.opts.get(key, _ABSENT) for key in options}
        self.restore["@connection"] = self.context.impl.connection
        self.context.opts.update(options)
        if not environment.offline and environment.connection is not None:
            self.context.impl.connection = environment.connection  # what op.execute/op.get_bind use

    def close(self) -> None:
        stack, self.stack = self.stack, ExitStack()
        stack.close()
        if "@connection" in self.restore:
            self.context.impl.connection = self.restore.pop("@connection")
        for key, value in self.restore.items():
            if value is _ABSENT:
                self.context.opts.pop(key, None)
            else:
                self.context.opts[key] = value
        self.restore = {}


_ABSENT = object()


def hook_alembic_steps(migration_context: MigrationContext, hooks: Mapping[str, EnvHook],
                       baselines: Mapping[str, Baseline], config: Config, graph: MigrationGraph) -> None:
    """Plain ``alembic``'s steps with their components' hooks and baselines (see the module's docstring)."""
    if not hooks and not baselines:
        return
    offline = migration_context.as_sql
    dialect_name = migration_context.dialect.name

    def steps(original: StepsFunction, heads: Any, ctx: Any) -> Iterator[Any]:
        opened = _OpenHook(migration_context)
        try:
            for step in original(heads, ctx):
                if not isinstance(step, RevisionStep) or step.revision.revision not in graph:
                    yield step
                    continue
                ours = Step(graph.get(step.revision.revision), "up" if step.is_upgrade else "down")
                if hooks.get(ours.revision.component) is not opened.hook or not opened.restore:
                    connection = offline_connection(dialect_name) if offline else opened.restore.get(
                        "@connection", migration_context.impl.connection)
                    opened.enter(hooks, HookEnvironment(ours.revision.component, config, connection, dialect_name,
                                                        offline=offline))
                yield _with_baseline(step, ours, baselines)
        finally:
            opened.close()

    wrap_steps(migration_context, lambda original: lambda heads, ctx: steps(original, heads, ctx))


def _with_baseline(step: RevisionStep, ours: Step, baselines: Mapping[str, Baseline]) -> Any:
    if ours.revision.component not in baselines or ours.revision.down_revisions:
        return step
    original = step.migration_fn

    def run(**kw: Any) -> None:
        with_baseline(dict(baselines), ours, lambda: original(**kw))()

    return _WithBaseline(step, run)
