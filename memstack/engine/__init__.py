"""The migration engine: no click, no printing.

graph (pure structure) <- planner (pure plans) <- loader (files + database state) <- executor
(plans run, with a progress callback) -> recorder (the only code touching alembic_version and
memstack's own tables). migrate, maintenance, tags, makemigrations and show are the command
functions over them.
"""
