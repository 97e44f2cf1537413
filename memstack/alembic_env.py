"""What ``migrations/env.py`` does for the plain ``alembic`` command.

Plain ``alembic upgrade``/``downgrade``/``stamp`` must leave a database exactly as
``manage.py`` would: the same safety checks first, the same lock, ``memstack_applied`` and
``memstack_history`` kept exact, failures recorded, "running" marks on MariaDB. Read-only
commands (``current``, ``history -i``, ``check``, ``--sql``) create nothing and take no lock.
A connection handed over in ``config.attributes["connection"]`` (pytest-alembic, an app's own
runner) and an explicit ``-x sqlalchemy.url=...`` come before memstack's settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.util import CommandError
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from memstack.alembic_guard import guard_destruction, guard_lock_waits
from memstack.alembic_squash import present_for_database
from memstack.cli.errors import for_person
from memstack.cli.worded import command, ran_as
from memstack.core.components import _has_models, is_bookkeeping_table
from memstack.core.db import metadata
from memstack.core.errors import MemstackError
from memstack.engine.alembic_compat import StepsFunction, environment_behind, wrap_steps
from memstack.engine.generate.comparison import models_of_their_own
from memstack.engine.records.recorder import Recorder, utcnow
from memstack.engine.records.status import read_status_on
from memstack.engine.review.schemadoc import ownership
from memstack.engine.run.envhooks import hook_alembic_steps
from memstack.engine.run.halfway import mark_progress
from memstack.engine.run.lock import migration_lock
from memstack.engine.run.safety import ensure_safe, record_unverified
from memstack.engine.run.steps import transactional_ddl
from memstack.engine.tree.loader import checksum_file
from memstack.engine.workspace import Workspace

MUTATING_COMMANDS = {"upgrade", "downgrade", "do_stamp", "do_ensure_version"}
"""Names of the work functions ``alembic.command`` hands to env.py for commands that write."""

URL_ARGUMENTS = ("sqlalchemy.url", "url", "database_url", "database-url")
PROJECT_ARGUMENTS = ("project_dir", "project-dir")


def makemigrations_hint() -> str:
    return ("memstack writes revisions itself (numbered file names, ids, depends_on between components): run "
            f"'{command('makemigrations', 'LABEL', '-m', 'MESSAGE')}' (add --empty for a hand-written data migration)")


def is_memstack_table(name: str | None) -> bool:
    return bool(name) and str(name).startswith("memstack_")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Autogenerate filter: memstack's bookkeeping tables belong to no component."""
    return not (type_ == "table" and is_memstack_table(name))


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """For a project's own env.py: memstack's bookkeeping tables and ``alembic_version`` are never
    compared (``context.configure(include_object=memstack.alembic_env.include_object)``)."""

    return not (type_ == "table" and is_bookkeeping_table(str(name or "")))


def comparison_filters(ws: Workspace) -> dict[str, Any]:
    """``include_name``/``include_object`` for ``alembic check`` and autogenerate through memstack's env.py.

    A table is compared only when its owner (the component whose revision creates it, else whose
    models declare it) has models: each component against its own models, a component without
    models (taken over from plain Alembic) never, tables nobody owns and bookkeeping never.
    """

    owners, _ = ownership(ws)
    with_models = {c.label for c in ws.registry if _has_models(c) and not models_of_their_own(c.package)}

    def compared(name: str | None) -> bool:
        table = str(name or "")
        return not is_bookkeeping_table(table) and owners.get(table) in with_models

    def name_filter(name: str | None, type_: str, parent_names: Any) -> bool:
        return type_ != "table" or compared(name)

    def object_filter(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or compared(name)

    return {"include_name": name_filter, "include_object": object_filter}


def command_name(context: Any) -> str:
    """The name of the work function the running ``alembic`` command passed (``upgrade``, ...)."""
    function = environment_opts(context).get("fn")
    return str(getattr(function, "__qualname__", "")) if function is not None else ""


def environment_opts(context: Any) -> dict[str, Any]:
    """What the running command gave its EnvironmentContext (``alembic.context`` is a proxy module)."""
    return dict(getattr(environment_behind(context), "context_opts", {}) or {})


def is_mutating(context: Any) -> bool:
    return command_name(context).split(".")[-1] in MUTATING_COMMANDS


def project_dir_for(config: Any, x_arguments: dict[str, str]) -> Path | None:
    """``-x project_dir=`` > MEMSTACK_PROJECT_DIR > attributes > the folder of the config file."""
    for key in PROJECT_ARGUMENTS:
        if x_arguments.get(key):
            return Path(x_arguments[key])
    if os.environ.get("MEMSTACK_PROJECT_DIR"):
        return None  # load_settings reads it
    given = config.attributes.get("project_dir")
    if given:
        return Path(given)
    for name in (getattr(config, "toml_file_name", None), getattr(config, "config_file_name", None)):
        if name and Path(name).is_file():
            return Path(name).resolve().parent
    return None


def explicit_url(config: Any, x_arguments: dict[str, str]) -> str | None:
    """``-x sqlalchemy.url=`` (or ``url=``) > ``sqlalchemy.url`` in the Alembic configuration."""
    for key in URL_ARGUMENTS:
        if x_arguments.get(key):
            return x_arguments[key]
    name = getattr(config, "config_file_name", None)
    if not (name and Path(name).is_file()) and "sqlalchemy.url" not in getattr(config, "toml_args", {}):
        return None  # pyproject-only configuration: Alembic has no ini file to read the option from
    try:
        configured = config.get_main_option("sqlalchemy.url")
    except Exception:  # alembic.util.CommandError: no [alembic] section
        return None
    return str(configured) if configured else None


def _fail(error: MemstackError) -> Exception:
    """A memstack refusal as Alembic's own error: ``FAILED: ...`` and exit 1, no traceback."""

    worded = for_person(error)
    text = str(worded)  # the message, and "  fix: ..." when it has one
    return CommandError(text)


@dataclass
class StepTracker:
    """Follows Alembic's steps: marks before each (MariaDB), exact records after, failures."""
    workspace: Workspace
    connection: Connection
    applied: set[str]
    stamping: bool
    marked: bool
    current: Any = None
    started_at: Any = None
    clock: float = field(default_factory=time.perf_counter)

    def wrap(self, migration_context: Any) -> None:
        """Alembic has no "before step" hook: wrap its step iterator to see each step start."""
        def wrapped(original: StepsFunction) -> StepsFunction:
            return lambda heads, ctx: steps(original, heads, ctx)

        def steps(original: StepsFunction, heads: Any, ctx: Any) -> Iterator[Any]:
            for step in original(heads, ctx):
                info = step.info
                self.current, self.started_at, self.clock = info, utcnow(), time.perf_counter()
                if self.marked and not info.is_stamp and info.up_revision_id in self.workspace.graph:
                    rev = self.workspace.graph.get(info.up_revision_id)
                    with self._transaction():
                        Recorder(self.connection).set_mark(rev.id, rev.component, rev.name,
                                                           "up" if info.is_upgrade else "down")
                yield step

        wrap_steps(migration_context, wrapped)

    def _transaction(self) -> Any:
        return nullcontext() if self.connection.in_transaction() else self.connection.begin()

    def on_apply(self, ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        """Inside each step's transaction: memstack_applied follows the version rows exactly."""
        graph = self.workspace.graph
        after = graph.applied_from_rows([h for h in heads if h in graph])
        recorder = Recorder(ctx.connection)
        duration = int((time.perf_counter() - self.clock) * 1000)
        for rid in graph.toposort(after - self.applied):
            rev = graph.get(rid)
            checksum = checksum_file(self.workspace.tree.paths[rid])
            recorder.record_applied(rid, rev.component, rev.name, checksum, verified=not step.is_stamp)
            recorder.add_history(event="stamp" if step.is_stamp else "apply", component=rev.component,
                                 revision=rid, name=rev.name, direction="up", started_at=self.started_at or utcnow(),
                                 duration_ms=duration, success=True, checksum=checksum, source="alembic")
        gone = self.applied - after
        recorder.forget_applied(gone)
        for rid in reversed(graph.toposort(gone)):
            rev = graph.get(rid)
            recorder.add_history(event="stamp" if step.is_stamp else "unapply", component=rev.component,
                                 revision=rid, name=rev.name, direction="down", started_at=self.started_at or utcnow(),
                                 duration_ms=duration, success=True, source="alembic")
        if self.marked and step.up_revision_id:
            recorder.clear_marks([step.up_revision_id])
        self.applied, self.current = after, None

    def record_failure(self, error: BaseException) -> None:
        step = self.current
        if step is None or step.up_revision_id not in self.workspace.graph:
            return
        rev = self.workspace.graph.get(step.up_revision_id)
        text = f"{type(getattr(error, 'orig', None) or error).__name__}: {getattr(error, 'orig', None) or error}"
        try:
            if self.connection.in_transaction() and self.connection.get_transaction() is not None:
                self.connection.rollback()
            with self._transaction():
                recorder = Recorder(self.connection)
                recorder.add_history(event="failure", component=rev.component, revision=rev.id, name=rev.name,
                                     direction="up" if step.is_upgrade else "down",
                                     started_at=self.started_at or utcnow(),
                                     duration_ms=int((time.perf_counter() - self.clock) * 1000), success=False,
                                     error=text, source="alembic")
                if self.marked:
                    recorder.fail_mark(rev.id, text)
        except Exception:  # the database may be gone; Alembic's own error matters more
            pass


def run_environment(context: Any) -> None:
    """The whole of ``migrations/env.py``: pick the database, then run the command's way."""
    config = context.config
    x_arguments = context.get_x_argument(as_dictionary=True)
    ws = Workspace.load(project_dir=project_dir_for(config, x_arguments),
                        database_url=explicit_url(config, x_arguments))
    # the person ran alembic: memstack's hints name the project's manage.py, else the memstack command
    with ran_as("manage.py" if (ws.settings.project_dir / "manage.py").is_file() else "memstack"):
        _run_environment(context, ws)


def _run_environment(context: Any, ws: Workspace) -> None:
    config = context.config
    ws.registry.load_models()
    # no target_metadata where revisions run (upgrade, downgrade, --sql): its naming convention would
    # rename the constraints a revision names itself; only comparing (check, autogenerate) needs it
    options: dict[str, Any] = {"render_as_batch": True, "include_name": include_name,
                               "process_revision_directives": _refuse_plain_revision(context)}
    try:
        if context.is_offline_mode():
            present_for_database(context, ws, None)
            context.configure(url=ws.settings.database_url, literal_binds=True, **options)
            _hooked(context, ws)
            with context.begin_transaction():
                context.run_migrations()
            return
        with _connection(config, ws, read_only=not is_mutating(context)) as (connection, ours):
            present_for_database(context, ws, connection)
            if is_mutating(context):
                _run_mutating(context, ws, connection, ours, options)
            else:
                context.configure(connection=connection, dont_mutate=True, target_metadata=metadata,
                                  **{**options, **comparison_filters(ws)})
                with context.begin_transaction():
                    context.run_migrations()
    except MemstackError as error:
        raise _fail(error) from error
    finally:
        ws.close()


def _hooked(context: Any, ws: Workspace) -> None:
    """The components' environment hooks and baselines around their steps, as ``manage.py`` runs them."""
    setup = ws.alembic_setup()
    hook_alembic_steps(context.get_context(), setup.hooks, setup.baselines, context.config, ws.graph)


def _refuse_plain_revision(context: Any) -> Callable[..., None]:
    def process_revision_directives(migration_context: Any, revision: Any, directives: list[Any]) -> None:
        if command_name(context).startswith("check."):
            return  # alembic check reads the diff and writes nothing
        revision_context = environment_opts(context).get("revision_context")
        if getattr(revision_context, "process_revision_directives", None) is not None:
            return  # a caller in Python (pytest-alembic) passed its own hook and decides what is written

        raise CommandError(f"'alembic revision' is not how memstack revisions are made. {makemigrations_hint()}")

    return process_revision_directives


def missing_sqlite_file(engine: Engine) -> Path | None:
    """The file of a file-backed SQLite URL when it does not exist (connecting would create it)."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or url.query.get("uri"):
        return None
    path = Path(database)
    return None if path.exists() else path


@contextmanager
def _connection(config: Any, ws: Workspace, *, read_only: bool) -> Iterator[tuple[Connection, bool]]:
    """(connection, owned): a handed-over connection is not ours to commit or close.

    ``attributes["connection"]`` may also hold an Engine (pytest-alembic passes one): we connect it.
    A read-only command on a SQLite file that does not exist reads an empty in-memory database
    instead: what the file would hold, without creating it.
    """
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        yield given, False
        return
    engine: Engine = given if isinstance(given, Engine) else ws.engine
    if read_only and missing_sqlite_file(engine) is not None:

        engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            yield connection, True
            if connection.in_transaction():
                connection.commit()
    finally:
        if engine is not given and engine is not ws.engine:
            engine.dispose()


def _run_mutating(context: Any, ws: Workspace, connection: Connection, ours: bool, options: dict[str, Any]) -> None:
    engine: Engine = connection.engine
    stamping = "purge" in environment_opts(context)
    with migration_lock(engine, ws.settings.lock_timeout):
        state = read_status_on(connection, ws.tree, mark_progress)
        if ours and connection.in_transaction():
            connection.commit()  # the reads autobegan one; bookkeeping must outlive a failing step
        if not stamping:
            ensure_safe(state, ws.registry.labels)
        with nullcontext() if connection.in_transaction() else connection.begin():
            Recorder(connection).ensure_bookkeeping()
            if state.applied:
                record_unverified(connection, ws.tree, state)
        tracker = StepTracker(ws, connection, set(state.applied), stamping,
                              marked=not transactional_ddl(connection.dialect.name))
        context.configure(
            connection=connection,
            # memstack's own SQLite engine makes DDL transactional (memstack.core.db.create_engine)
            transactional_ddl=True if connection.engine is ws._engine and ws.dialect_name == "sqlite" else None,
            transaction_per_migration=True,
            on_version_apply=tracker.on_apply,
            **options,
        )
        guard_destruction(context, ws, connection)  # before the tracker's wrap: refused before any mark
        tracker.wrap(context.get_context())
        _hooked(context, ws)
        guard_lock_waits(context, ws, connection)  # each revision under lock timeouts, retried on the ladder
        try:
            with context.begin_transaction():
                context.run_migrations()
        except Exception as error:
            tracker.record_failure(error)
            raise
