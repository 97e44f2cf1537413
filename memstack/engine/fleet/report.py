"""What a fleet run reports: one :class:`TargetResult` per target, gathered in a :class:`FleetReport`.

Statuses (the contract's vocabulary): ``up_to_date`` (nothing to do), ``applied`` (revisions ran),
``failed``, ``locked`` (another run held the target's lock; a rerun picks it up), ``ahead`` (the
database has revisions this code lacks), ``skipped`` (not started: ``--max-failed`` reached or an
earlier wave failed); ``showmigrations``/``check --targets`` add ``behind``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["up_to_date", "applied", "failed", "locked", "ahead", "skipped", "behind"]
STATUSES: tuple[Status, ...] = ("up_to_date", "applied", "behind", "ahead", "locked", "failed", "skipped")


@dataclass(frozen=True)
class TargetResult:
    target: str  # masked: never a password
    status: Status
    applied: tuple[str, ...] = ()  # revision ids run in this target, in order
    error: str | None = None
    seconds: float = 0.0
    pending: tuple[str, ...] = ()  # status reads: revisions the target lacks
    heads: tuple[str, ...] = ()  # status reads: the target's version rows

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "status": self.status, "applied": list(self.applied), "error": self.error,
                "seconds": round(self.seconds, 3)}


@dataclass
class FleetReport:
    """A whole run: its id (in every target's history rows), the shard it covered, one result a target."""
    run_id: str
    results: list[TargetResult] = field(default_factory=list)
    shard: str | None = None
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.status for r in self.results)
        return {status: found[status] for status in STATUSES if found[status]}

    @property
    def failed(self) -> list[TargetResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_json(self) -> dict[str, Any]:
        return {"fleet_run": self.run_id, "shard": self.shard, "seconds": round(self.seconds, 3),
                "counts": self.counts, "targets": [r.as_json() for r in self.results]}
