"""Running a plan: the executor and its strategies, each step inside a real Alembic environment.

Owns: the executor and what a step produces, the Alembic configuration and environment, the
migration lock, refusals before a run, what a plan destroys, half-applied detection, offline SQL.
May import: ``memstack.core``, ``memstack.engine.errors``, ``memstack.engine.workspace``,
``memstack.engine.tree`` and ``memstack.engine.records``.
"""
