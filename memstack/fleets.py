"""The fleet call: ``memstack.migrate_fleet(targets, ...)``, a recipe above the engine (memstack.engine.fleet).

Loads the project once, picks this shard's targets, migrates them in worker processes and
returns the typed report; the start-up call stays per database. A failed target is a result,
not an exception: read ``report.ok`` / ``report.failed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from memstack.engine.fleet.report import FleetReport, TargetResult
from memstack.engine.fleet.runner import FleetOptions, Progress, migrate_fleet_of, new_run_id
from memstack.engine.fleet.shard import choose_shard
from memstack.engine.fleet.targets import Target, parse_target
from memstack.engine.fleet.worker import Job

__all__ = ["FleetReport", "Target", "TargetResult", "migrate_fleet"]


def migrate_fleet(targets: Iterable[str | Target], *, project_dir: str | os.PathLike[str] | None = None,
                  database_url: str | None = None, concurrency: int | None = None, shard: str | None = None,
                  canary: int = 0, waves: str | None = None, max_failed: int | None = None, yes: bool = False,
                  on_result: Callable[[TargetResult, Progress], None] | None = None,
                  guard: dict[str, Any] | None = None) -> FleetReport:
    """Migrate every target (a URL, ``URL#schema=NAME`` or a :class:`Target`) to its heads.

    ``database_url``: the configured database (shared components, ``tenant_components``).
    ``shard``: ``"I/N"``; None takes ``JOB_COMPLETION_INDEX``/``MEMSTACK_SHARD_COUNT`` when set.
    ``yes``: confirm plans that destroy data (otherwise they are refused before anything runs).
    """
    from memstack.engine.workspace import Workspace  # lazy: kept off ``import memstack``

    chosen = [t if isinstance(t, Target) else parse_target(t, "migrate_fleet") for t in targets]
    picked = choose_shard(shard, os.environ)
    selected: Sequence[Target] = picked.select(chosen) if picked else chosen
    options = FleetOptions(concurrency=concurrency, canary=canary, waves=waves, max_failed=max_failed,
                           job=Job(run_id=new_run_id(), guard=dict(guard or {})), on_result=on_result)
    with Workspace.load(project_dir=project_dir, database_url=database_url) as ws:
        report = migrate_fleet_of(ws, selected, options, confirm=_yes if yes else None)
    report.shard = str(picked) if picked else None
    return report


def _yes(_question: str, _destroys: Sequence[Any]) -> None:
    """``yes=True``: the fleet's one question is answered yes."""
