"""The project's Alembic configuration: kept in step with the components, and run under.

``[tool.alembic]`` in ``pyproject.toml`` is kept in step with the components.

The plain ``alembic`` command reads its version folders from there (its listing commands never
run ``env.py``), so every component's folder must be listed. Edits keep comments and layout
(tomlkit).

The executor runs every revision inside an Alembic environment built from the same
configuration (:func:`revision_environment`), so revisions written for plain Alembic work.
"""

from __future__ import annotations

import argparse
import io
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import coerce_resource_to_filename

from memstack import alembic_placement
from memstack.core.components import Registry
from memstack.core.errors import MemstackError
from memstack.core.settings import BUNDLED_REVISIONS, bundled_revisions
from memstack.engine.errors import NonAtomicUndeclared
from memstack.engine.run.baseline import with_baseline
from memstack.engine.run.envhooks import EnvHook, HookEnvironment, applied_hook, configure_options, offline_connection
from memstack.engine.run.revision_code import module_from_source

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection

    from memstack.engine.run.baseline import Baseline
    from memstack.engine.tree.graph import Step


def location_of(folder: Path, project_dir: Path) -> str:
    """How ``[tool.alembic]`` names ``folder`` so the project survives a move: ``%(here)s/...``
    inside the project, ``memstack:_revisions/...`` for an installed memstack's own revisions."""

    try:
        return f"%(here)s/{folder.relative_to(project_dir).as_posix()}".rstrip("/")
    except ValueError:
        pass
    bundled = bundled_revisions()
    if bundled is not None and folder.is_relative_to(bundled.resolve()):
        return f"{BUNDLED_REVISIONS}/{folder.relative_to(bundled.resolve()).as_posix()}".rstrip("/")
    return folder.as_posix()


def wanted_script_location(project_dir: Path) -> str:
    """The project's own ``migrations/env.py`` if it has one, else the installed memstack's."""

    if (project_dir / "migrations" / "env.py").is_file() or bundled_revisions() is None:
        return "%(here)s/migrations"
    return BUNDLED_REVISIONS


def wanted_locations(registry: Registry, project_dir: Path) -> list[str]:
    return [location_of(component.migrations_path, project_dir) for component in registry]


def resolve_location(value: str, project_dir: Path) -> Path:
    """A ``[tool.alembic]`` location as Alembic resolves it (``%(here)s``, ``package:path``)."""

    text = value.replace("%(here)s", project_dir.as_posix())
    try:
        return Path(coerce_resource_to_filename(text)).absolute()
    except Exception:  # a package that is not importable: Alembic fails on it too
        return Path(text).absolute()


def in_environment(value: str) -> bool:
    """An absolute path into a virtual environment or site-packages: wrong on any other machine."""
    path = Path(value)
    if not path.is_absolute():
        return False
    return any(part in ("site-packages", "dist-packages") for part in path.parts) or any(
        (parent / "pyvenv.cfg").is_file() for parent in path.parents)


def _script_location_usable(value: object, project_dir: Path) -> bool:
    if value is None:
        return False
    return value != "%(here)s/migrations" or (project_dir / "migrations" / "env.py").is_file()


def sync_alembic_config(registry: Registry, pyproject: Path) -> bool:
    """Rewrite ``[tool.alembic]`` script_location/version_locations when needed; True if changed."""
    text = pyproject.read_text(encoding="utf-8")
    wanted = wanted_locations(registry, pyproject.parent)
    already = tomllib.loads(text).get("tool", {}).get("alembic")
    if already is not None and _script_location_usable(already.get("script_location"), pyproject.parent) and [
            str(v) for v in already.get("version_locations", [])] == wanted:
        return False  # in step (the usual case): no need for tomlkit, which only an edit needs
    import tomlkit  # lazy: only an edit of pyproject.toml needs it (28 ms to import)

    document = tomlkit.parse(text)
    tool = document.setdefault("tool", tomlkit.table())
    alembic = tool.get("alembic")
    if alembic is None:
        alembic = tomlkit.table()
        alembic.add(tomlkit.comment("The plain `alembic` command reads this; memstack keeps it in step."))
        tool["alembic"] = alembic
    current = [str(v) for v in alembic.get("version_locations", [])]
    changed = False
    if not _script_location_usable(alembic.get("script_location"), pyproject.parent):
        alembic["script_location"] = wanted_script_location(pyproject.parent)
        # env.py runs for 'alembic revision' too: it answers with makemigrations before Alembic's
        # "Multiple heads are present" (one head per component is memstack's normal state)
        alembic["revision_environment"] = True
        changed = True
    if current != wanted:
        array = tomlkit.array()
        array.multiline(True)
        for location in wanted:
            array.append(location)
        alembic["version_locations"] = array
        changed = True
    if changed:
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return changed


# --------------------------------------------------------------------------- the environment revisions run in
def read_revision_bytes(path: Path) -> bytes:
    """A revision file's bytes, as they are now."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MemstackError(f"cannot read revision file {path}: {exc.strerror}") from exc


def load_revision_module(path: Path, cache: dict[tuple[str, bytes], ModuleType] | None = None, *,
                         data: bytes | None = None) -> ModuleType:
    """Run a revision file's current text (``data``: its bytes, already read) as a module under a private
    name (``cache``: by path and text; run/revision_code.py: never a stale ``__pycache__`` entry)."""
    if data is None:
        data = read_revision_bytes(path)
    key = (str(path), data)
    if cache is not None and key in cache:
        return cache[key]
    try:
        with alembic_placement.loaded_by_memstack():
            module = module_from_source(f"_memstack_revision_{abs(hash(str(path)))}_{path.stem}", path, data)
    except Exception as exc:
        raise MemstackError(f"importing revision file {path} failed: {type(exc).__name__}: {exc}",
                            hint="fix the file (run with --traceback for the stack)") from exc
    if cache is not None:
        cache[key] = module
    return module


def revision_function(module: ModuleType, direction: str) -> Callable[[], None]:
    function = getattr(module, "upgrade" if direction == "up" else "downgrade", None)
    if function is None:
        raise MemstackError(f"revision module {module.__name__} has no {direction}grade() function")
    return function  # type: ignore[no-any-return]


@dataclass(frozen=True)
class AlembicSetup:
    """The project's ``alembic.config.Config`` and script directory, built once per run.

    Every step runs inside an :class:`~alembic.runtime.environment.EnvironmentContext` made
    from it, so ``from alembic import context``, ``context.config``,
    ``context.get_x_argument()`` and ``op.get_context().config`` behave as under ``alembic upgrade``.
    """

    config: Config
    script: ScriptDirectory
    hooks: Mapping[str, EnvHook] = field(default_factory=dict)  # components' environment hooks, by label
    baselines: Mapping[str, Baseline] = field(default_factory=dict)  # run around each component's root

    def with_baseline(self, step: Step, function: Callable[[], None]) -> Callable[[], None]:
        """The step's function, with its component's baseline around the root revision (run/baseline.py)."""
        return with_baseline(dict(self.baselines), step, function)

    @property
    def x_arguments(self) -> list[str]:
        return list(getattr(self.config.cmd_opts, "x", None) or [])


def alembic_setup(project_dir: Path | None = None, x_arguments: Sequence[str] = (),
                  hooks: Mapping[str, EnvHook] | None = None,
                  baselines: Mapping[str, Baseline] | None = None) -> AlembicSetup:
    """The Config the plain ``alembic`` command would build for ``project_dir``, with ``-x`` values."""
    pyproject = project_dir / "pyproject.toml" if project_dir is not None else None
    has_toml = pyproject is not None and pyproject.is_file()
    config = Config(toml_file=str(pyproject) if has_toml else None,
                    cmd_opts=argparse.Namespace(x=list(x_arguments) or None))
    folder = project_dir / "migrations" if project_dir is not None else None
    try:
        script = ScriptDirectory.from_config(config)
    except Exception:  # no [tool.alembic] script_location: the project's migrations folder will do
        script = ScriptDirectory(str(folder if folder is not None and folder.is_dir() else Path.cwd()))
    return AlembicSetup(config, script, dict(hooks or {}), dict(baselines or {}))


@contextmanager
def _refuse_autocommit_block() -> Iterator[None]:
    raise NonAtomicUndeclared()
    yield  # pragma: no cover - makes this a generator


@contextmanager
def revision_environment(setup: AlembicSetup, connection: Connection | None = None, *, atomic: bool = True,
                         dialect_name: str | None = None, buffer: io.StringIO | None = None,
                         component: str | None = None) -> Iterator[MigrationContext]:
    """Alembic's ``context`` and ``op`` bound to ``connection`` (or offline SQL into ``buffer``).

    No ``target_metadata`` is passed: memstack's naming convention must not rename the
    constraints a revision names itself (memstack's own revisions carry explicit names).
    ``atomic=False``: the connection is not in a transaction yet; the caller opens Alembic's
    own per-revision transaction so ``autocommit_block()`` can commit it. ``component``: its
    environment hook (see :mod:`envhooks`) runs first and may add options or wrap the connection.
    """

    environment = EnvironmentContext(setup.config, setup.script, as_sql=connection is None)
    setup.config.attributes["connection"] = connection
    offline = connection is None
    dialect = connection.dialect.name if connection is not None else dialect_name or ""
    hooked = HookEnvironment(component or "", setup.config, offline_connection(dialect) if offline else connection,
                             dialect, offline=offline)
    try:
        with environment, applied_hook(setup.hooks, hooked):
            connection = hooked.connection if connection is not None else None
            options = configure_options(hooked)
            if connection is not None:
                setup.config.attributes["connection"] = connection
                environment.configure(connection=connection, transaction_per_migration=True,
                                      transactional_ddl=True if connection.dialect.name == "sqlite" else None,
                                      **options)
            else:
                # SQLite as memstack runs it has transactional DDL: autocommit_block() emits COMMIT/BEGIN
                environment.configure(dialect_name=dialect_name, output_buffer=buffer, literal_binds=True,
                                      transactional_ddl=True if dialect_name == "sqlite" else None, **options)
            migration_context = environment.get_context()
            if connection is not None and atomic:
                migration_context.autocommit_block = _refuse_autocommit_block  # type: ignore[method-assign]
            with Operations.context(migration_context):
                yield migration_context
    finally:
        setup.config.attributes.pop("connection", None)


def step_environment(setup: AlembicSetup, connection: Connection, step: Step, *,
                     atomic: bool) -> AbstractContextManager[MigrationContext]:
    """:func:`revision_environment` for one step, with its component's environment hook."""
    return revision_environment(setup, connection, atomic=atomic, component=step.revision.component)


class SharedEnvironment:
    """One Alembic environment kept open for consecutive transactional steps on one connection.

    ``alembic upgrade`` runs every revision in one migration context; setting one up per step
    cost as much as a small revision's DDL. Only steps declared atomic run in it
    (``autocommit_block()`` is refused there). Alembic's ``context`` and ``op`` are global
    proxies, so it is closed before any other environment opens, and opened again after.
    """

    def __init__(self, setup: AlembicSetup) -> None:
        self.setup = setup
        self._connection: Connection | None = None
        self._hook: EnvHook | None = None
        self._stack = ExitStack()

    def enter(self, connection: Connection, component: str | None = None) -> None:
        """Kept open while the connection and the component's environment hook stay the same."""
        hook = self.setup.hooks.get(component or "")
        if self._connection is connection and self._hook is hook:
            return
        self.close()
        self._stack.enter_context(revision_environment(self.setup, connection, atomic=True, component=component))
        self._connection, self._hook = connection, hook

    def close(self) -> None:
        self._connection = None
        self._hook = None
        stack, self._stack = self._stack, ExitStack()
        stack.close()
