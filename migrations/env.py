"""The one Alembic environment of every memstack component.

memstack runs revisions through its own executor; this file serves the plain ``alembic``
command (``alembic upgrade heads``, ``alembic downgrade``), configured from memstack's
settings so both tools see the same tree and database. Online runs take memstack's
migration lock and record every step in memstack's history, like ``manage.py migrate``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from alembic import context

from memstack.engine.loader import checksum_file
from memstack.engine.lock import migration_lock
from memstack.engine.recorder import Recorder, utcnow
from memstack.engine.workspace import Workspace


def _project_dir() -> Path | None:
    toml_file = getattr(context.config, "toml_file_name", None)
    return Path(toml_file).resolve().parent if toml_file else None


def run_migrations() -> None:
    ws = Workspace.load(project_dir=_project_dir())
    ws.registry.load_models()
    from memstack.core.db import metadata

    if context.is_offline_mode():
        context.configure(url=ws.settings.database_url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    labels = {}
    for component in ws.registry:
        for rev in ws.graph.of_component(component.label):
            labels[rev.id] = rev
    started = {"at": utcnow(), "clock": time.perf_counter()}

    def record(ctx: Any, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic calls this inside each step's transaction: write memstack's history there too."""
        recorder = Recorder(ctx.connection)
        revision_id = step.up_revision_id
        rev = labels.get(revision_id)
        component, name = (rev.component, rev.name) if rev else ("?", revision_id)
        duration = int((time.perf_counter() - started["clock"]) * 1000)
        event = "stamp" if step.is_stamp else ("apply" if step.is_upgrade else "unapply")
        checksum = checksum_file(ws.tree.paths[revision_id]) if rev and step.is_upgrade else None
        if step.is_upgrade:
            recorder.record_applied(revision_id, component, name, checksum, verified=not step.is_stamp)
        else:
            recorder.forget_applied([revision_id])
        recorder.add_history(event=event, component=component, revision=revision_id, name=name,
                             direction="up" if step.is_upgrade else "down", started_at=started["at"],
                             duration_ms=duration, success=True, checksum=checksum, source="alembic")
        started["at"], started["clock"] = utcnow(), time.perf_counter()

    engine = ws.engine
    with migration_lock(engine, ws.settings.lock_timeout):
        with engine.connect() as connection, connection.begin():
            Recorder(connection).ensure_bookkeeping()
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=True,
                transactional_ddl=True if connection.dialect.name == "sqlite" else None,
                transaction_per_migration=True,
                on_version_apply=record,
            )
            with context.begin_transaction():
                context.run_migrations()
            if connection.in_transaction():
                connection.commit()
    ws.close()


run_migrations()
