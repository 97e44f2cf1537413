"""Many targets: tenant schemas and databases migrated from one loaded tree, in worker processes.

Owns: targets.py (which targets), shard.py (a share of them for array jobs), survey.py (every
target's status, cheaply), tenants.py (shared and tenant components), confirm.py (one question
for the fleet), worker.py (what runs in the processes), runner.py (waves, concurrency,
--max-failed), report.py (the typed results), waves.py (--canary, --waves).
May import: ``memstack.core``, ``memstack.engine.errors``, ``memstack.engine.workspace``,
``memstack.engine.tree``, ``memstack.engine.records``, ``memstack.engine.run`` and
``memstack.engine.migrate`` (a fleet runs the one migrate per target).
"""
