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
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from memstack.engine.errors import EnvHookUnusable

if TYPE_CHECKING:
    from alembic.config import Config
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
    """What a hook sees and changes; ``connection`` is None offline (``--sql``)."""
    component: str
    config: Config
    connection: Connection | None
    dialect_name: str
    autogenerate: bool = False  # True when models are being compared (makemigrations, check)
    options: dict[str, Any] = field(default_factory=dict)


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
