"""memstack's own records: the bookkeeping tables, their schema upgrades and every row written to them.

Owns: the tables (``alembic_version`` and the ``memstack_*`` tables), the only statements that write
them, and the reading of a database's status.
May import: ``memstack.core``, ``memstack.engine.errors`` and ``memstack.engine.tree``.
"""
