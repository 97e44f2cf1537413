"""SQL scripts of whole plans, from the database's real state, for review or for psql.

Unlike ``alembic upgrade --sql``, which renders from a starting revision you name, the plan
here comes from what the database holds; the script also carries the version-table and
bookkeeping statements a real run executes.

A script that cannot be complete is never passed off as one: rendering stops at the first
revision that fails, the script ends with a statement that fails on purpose (so ``psql -v
ON_ERROR_STOP=1``, ``mariadb`` and ``sqlite3 -bail`` stop there and exit non-zero), and
:class:`RevisionNotRenderable` is raised carrying the partial script. Only what truly needs a
live database (a SQLite table rebuild, reading rows or the schema through ``op.get_bind()``)
is called "not renderable offline"; any other exception is reported as the revision's bug.
"""

from __future__ import annotations

import io
import re
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy import String, inspect
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import NoInspectionAvailable
from sqlalchemy.sql import ClauseElement

from memstack.core.urls import missing_sqlite_file
from memstack.engine.errors import RenderFailure, RevisionNotRenderable
from memstack.engine.records.recorder import offline_statements, setup_statements
from memstack.engine.records.status import DatabaseStatus
from memstack.engine.run.alembic_config import (
    AlembicSetup,
    alembic_setup,
    load_revision_module,
    revision_environment,
    revision_function,
)
from memstack.engine.run.steps import VersionRows
from memstack.engine.tree.graph import Step
from memstack.engine.tree.loader import LoadedTree, checksum_file
from memstack.engine.workspace import Workspace

__all__ = ["NOT_RENDERABLE", "RenderFailure", "RevisionNotRenderable", "iter_plan_sql", "render_step"]

NOT_RENDERABLE = "not renderable offline: use --dry-run"
#: methods of a result; offline, ``op.get_bind().execute()`` returns None, so calling one means "reads rows"
_RESULT_METHODS = frozenset({"fetchall", "fetchone", "fetchmany", "first", "one", "one_or_none", "scalar",
                             "scalars", "scalar_one", "scalar_one_or_none", "all", "mappings", "keys", "rowcount",
                             "tuples", "partitions", "columns", "returned_defaults", "inserted_primary_key"})


def explain_render_failure(exc: BaseException, path: Path) -> RenderFailure:
    """Tell apart what needs a live database from a revision's own bug, from the exception alone."""
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    detail = f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (raised without a message)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    line = frames[-1].lineno if frames else None
    if isinstance(exc, CommandError) and "--sql mode" in str(exc):
        return RenderFailure(True, "a batch table rebuild needs to read the live table", line)
    reads_result = isinstance(exc, AttributeError) and getattr(exc, "name", "") in _RESULT_METHODS
    if isinstance(exc, NoInspectionAvailable) or (reads_result and "'NoneType'" in str(exc)):
        return RenderFailure(True, "it reads the database through op.get_bind()", line)
    if isinstance(exc, TypeError) and "'NoneType' object is not iterable" in str(exc) and frames:
        return RenderFailure(True, "it reads rows through op.get_bind()", line)
    return RenderFailure(False, detail, line)


def render_sql(tree: LoadedTree, step: Step, dialect_name: str, alembic: AlembicSetup | None = None) -> str:
    """The SQL of one step for ``dialect_name`` without a database; raises when it cannot render.

    With ``alembic`` (the workspace's), the component's environment hook runs first and its
    baseline is written around a root revision, as a run would execute them.
    """
    buffer = io.StringIO()
    setup = alembic or alembic_setup()
    function = setup.with_baseline(step, revision_function(load_revision_module(tree.path_of(step.revision.id)),
                                                           step.direction))
    with revision_environment(setup, dialect_name=dialect_name, buffer=buffer, component=step.revision.component):
        function()
    return buffer.getvalue()


def render_step(tree: LoadedTree, step: Step, dialect_name: str, script: str | None = None,
                alembic: AlembicSetup | None = None) -> str:
    """The SQL of one step; raises :class:`RevisionNotRenderable` (with ``script``) when it cannot."""
    try:
        return render_sql(tree, step, dialect_name, alembic)
    except Exception as exc:
        path = tree.path_of(step.revision.id)
        raise RevisionNotRenderable(step.revision, path, explain_render_failure(exc, path), script) from exc


def stop_statement(dialect_name: str, label: str) -> str:
    """A statement that fails on purpose, so a client running the script stops with an error."""
    message = f"memstack: this script is incomplete, {label} could not be rendered; run migrate instead"
    if dialect_name == "postgresql":
        return f"DO $$ BEGIN RAISE EXCEPTION '{message}'; END $$;"
    if dialect_name in ("mysql", "mariadb"):
        return f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = '{message}';"
    return f'SELECT * FROM "{message}";'  # SQLite: "no such table: memstack: this script is incomplete ..."


def _sql(statement: ClauseElement, dialect: Dialect) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})).strip() + ";"


def _bookkeeping_setup(ws: Workspace, dialect: Dialect) -> list[str]:
    """CREATE statements for the version and bookkeeping tables the database lacks."""
    existing: set[str] = set()
    if not missing_sqlite_file(ws.settings.database_url):  # a script must not create the database file

        with ws.engine.connect() as connection:
            existing = set(inspect(connection).get_table_names())
    return [_sql(statement, dialect) for statement in setup_statements(existing)]


@contextmanager
def _plan_renderer(tree: LoadedTree, dialect_name: str, setup: AlembicSetup) -> Iterator[Callable[[Step], str]]:
    """Render steps one after another in one offline Alembic environment, as ``alembic upgrade --sql`` does.

    Setting up an environment per step cost more than rendering most revisions; the output
    buffer is emptied before each step, so each step's SQL is its own. Revision modules are
    not kept once rendered, so memory stays flat however long the plan. A component with an
    environment hook gets an environment of its own (its options, its hook's set-up), kept
    while consecutive steps are its; a root revision gets its component's baseline first.
    """
    buffer = io.StringIO()
    stack = ExitStack()
    opened: list[object] = []  # the hook whose environment is open (None: no hook)

    def render(step: Step) -> str:
        path = tree.path_of(step.revision.id)
        hook = setup.hooks.get(step.revision.component)
        if not opened or opened[0] is not hook:
            stack.close()
            stack.enter_context(revision_environment(setup, dialect_name=dialect_name, buffer=buffer,
                                                     component=step.revision.component))
            opened[:] = [hook]
        buffer.seek(0)
        buffer.truncate()
        try:  # the module is not kept: each is rendered once
            setup.with_baseline(step, revision_function(load_revision_module(path), step.direction))()
        except Exception as exc:
            raise RevisionNotRenderable(step.revision, path, explain_render_failure(exc, path), None) from exc
        return buffer.getvalue()

    with stack:
        yield render


_MARK = re.compile(r"'__memstack_(\w+)__'")


def _mark(name: str) -> str:
    return f"__memstack_{name}__"


class _StepStatements:
    """The bookkeeping statements of a step, compiled once per script and filled in per step.

    Compiling a Core statement with literal binds took longer than rendering a revision; the
    templates are compiled by SQLAlchemy from marked values and filled with the same literal
    quoting it applies, so the text is what compiling each statement would give.
    """

    def __init__(self, dialect: Dialect) -> None:
        self._quote: Callable[[str], str] | None = String().literal_processor(dialect)  # type: ignore[no-untyped-call]
        templates = {name: _sql(statement, dialect) for name, statement in offline_statements(_mark).items()}
        self.delete_rows, self.add_row = templates["delete_rows"], templates["add_row"]
        self.record_applied, self.forget_applied = templates["record_applied"], templates["forget_applied"]
        self.history = templates["history"]

    def literal(self, value: str | None) -> str:
        if value is None:
            return "NULL"
        return self._quote(value) if self._quote is not None else "'" + value.replace("'", "''") + "'"

    def fill(self, template: str, **values: str | None) -> str:
        literals = {name: self.literal(value) for name, value in values.items()}
        if "rows" in values:  # a list of rows, already quoted one by one
            literals["rows"] = values["rows"] or ""
        return _MARK.sub(lambda match: literals[match.group(1)], template)

    def for_step(self, step: Step, gone: Sequence[str], added: Sequence[str], checksum: str | None) -> list[str]:
        rev = step.revision
        statements = []
        if gone:
            statements.append(self.fill(self.delete_rows, rows=", ".join(self.literal(r) for r in gone)))
        statements += [self.fill(self.add_row, row=row) for row in added]
        names = {"revision": rev.id, "component": rev.component, "name": rev.name, "checksum": checksum}
        if step.direction == "up":
            statements.append(self.fill(self.record_applied, **names))
        else:
            statements.append(self.fill(self.forget_applied, revision=rev.id))
        statements.append(self.fill(self.history, event="apply" if step.direction == "up" else "unapply",
                                    direction=step.direction, **names))
        return statements


def iter_plan_sql(ws: Workspace, steps: Sequence[Step], state: DatabaseStatus) -> Iterator[str]:
    """The script of ``steps`` block by block (the header, the bookkeeping set-up, one block a step).

    Joined with newlines the blocks are the script; a caller that writes them as they come never
    holds a 10,000-step script whole. A step that cannot render yields the hint and a statement
    that stops a client, then raises :class:`RevisionNotRenderable` (its ``script`` empty: the
    blocks before it are the script).
    """

    dialect = make_url(ws.settings.database_url).get_dialect()()
    yield (f"-- memstack plan for {ws.settings.masked_database_url} ({dialect.name}), "
           f"{len(steps)} step(s), from the database's current state")
    begin, commit = ("START TRANSACTION;", "COMMIT;") if dialect.name in ("mysql", "mariadb") else ("BEGIN;", "COMMIT;")
    setup = _bookkeeping_setup(ws, dialect)
    if setup:
        yield "\n".join(["", "-- memstack's bookkeeping tables", begin, *setup, commit])
    bookkeeping = _StepStatements(dialect)
    rows = VersionRows(ws.graph, state.applied)  # kept step by step: recomputing them made --sql cubic
    with _plan_renderer(ws.tree, dialect.name, ws.alembic_setup()) as render:
        for index, step in enumerate(steps, start=1):
            rev = step.revision
            reason = f" ({step.reason})" if step.reason else ""
            heading = (f"\n-- [{index}/{len(steps)}] {'apply' if step.direction == 'up' else 'unapply'} "
                       f"{rev.component} {rev.name} ({rev.id}){reason}")
            try:
                body = render(step).strip()
            except RevisionNotRenderable as exc:
                hint = NOT_RENDERABLE if exc.failure.needs_database else "fix the revision, then render again"
                yield "\n".join([heading, f"-- {hint} ({exc.failure.detail})",
                                 "-- the statements below are left out, since the script cannot run past this step",
                                 stop_statement(dialect.name, rev.label)])
                raise RevisionNotRenderable(rev, exc.path, exc.failure, "") from exc.__cause__
            try:
                moved_out, moved_in = rows.move(rev.id, step.direction)
                checksum = checksum_file(ws.tree.path_of(rev.id)) if step.direction == "up" else None
                statements = [body] if body else []
                statements += bookkeeping.for_step(step, sorted(moved_out), sorted(moved_in), checksum)
            except Exception:  # what was written so far must not read as a whole script
                yield "\n".join([heading, stop_statement(dialect.name, rev.label)])
                raise
            yield "\n".join([heading, begin, *statements, commit])

