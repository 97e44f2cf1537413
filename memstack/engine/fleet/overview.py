"""``showmigrations --targets`` and ``check --targets``: where every target stands, nothing changed.

The same survey as a run (one query per up-to-date target), the tenant split included; targets
not up to date are also asked who holds their migration lock (``locked``: a run is on them now).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memstack.engine.fleet.report import FleetReport, TargetResult
from memstack.engine.fleet.targets import Target

if TYPE_CHECKING:
    from memstack.engine.workspace import Workspace


def fleet_status(ws: Workspace, targets: Sequence[Target]) -> FleetReport:
    """Every target's status: ``up_to_date``, ``behind``, ``ahead``, ``failed`` or ``locked``."""
    from memstack.engine.errors import SharedDependencyMissing  # lazy: kept off --help
    from memstack.engine.fleet.survey import survey  # lazy: kept off --help
    from memstack.engine.fleet.tenants import missing_shared, split  # lazy: kept off --help

    started = time.monotonic()
    shared, tenant = split(ws)
    if shared is not None:
        missing = missing_shared(ws, shared)
        if missing:
            raise SharedDependencyMissing(missing)
    found = survey(tenant, targets)
    results = [found[t] if found[t].status == "up_to_date" else _with_lock(tenant, t, found[t]) for t in targets]
    return FleetReport("", results, seconds=time.monotonic() - started)


def _with_lock(ws: Workspace, target: Target, result: TargetResult) -> TargetResult:
    """``result``, or ``locked`` when a run holds the target's migration lock right now."""
    from memstack.engine.run.lock import lock_holder  # lazy: kept off --help

    try:
        with ws.for_database(target.url, schema=target.schema) as db:
            holder = lock_holder(db.engine)
    except Exception:  # unreadable: the survey's answer stands
        return result
    if holder is None:
        return result
    return TargetResult(result.target, "locked", error=f"held by {holder}", seconds=result.seconds,
                        pending=result.pending, heads=result.heads)
