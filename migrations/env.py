"""The one Alembic environment of every memstack component.

memstack itself runs revisions through its own executor; this file serves the plain
``alembic`` command (``alembic upgrade heads``, ``alembic current``), configured from
memstack's settings so both tools see the same tree and the same database.
"""

from __future__ import annotations

from pathlib import Path

from alembic import context

from memstack.engine.workspace import Workspace


def run_migrations() -> None:
    config = context.config
    toml_file = getattr(config, "toml_file_name", None)
    ws = Workspace.load(project_dir=Path(toml_file).resolve().parent if toml_file else None)
    ws.registry.load_models()
    from memstack.db import metadata

    if context.is_offline_mode():
        context.configure(url=ws.settings.database_url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = ws.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            transactional_ddl=True if connection.dialect.name == "sqlite" else None,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    ws.close()


run_migrations()
