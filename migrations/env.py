"""The one Alembic environment of every memstack component, for the plain ``alembic`` command.

Kept thin on purpose: the logic (database choice, lock, safety checks, exact bookkeeping,
read-only commands that write nothing) is in :mod:`memstack.alembic_env`.
"""

from alembic import context

from memstack.alembic_env import run_environment

run_environment(context)
