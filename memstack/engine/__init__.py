"""The migration engine: no click, no printing.

graph (pure) <- loader (files + database state) <- executor (plans run, with a progress
callback) -> recorder (the only code touching alembic_version and memstack's own tables).
"""
