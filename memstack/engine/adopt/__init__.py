"""Bringing existing databases and projects under memstack: adoption of ``create_all`` databases, takeover
of plain Alembic projects, and the refusal to migrate a schema whose revisions were never recorded.

May import: everything below it in the engine (``tree``, ``records``, ``run``, ``generate``).
"""
