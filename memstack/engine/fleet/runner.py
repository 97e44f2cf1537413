"""A fleet run: every target's status first, then the targets behind in worker processes, wave by wave.

Targets already up to date cost one query each (:mod:`.survey`) and never reach a worker. The rest
run in ``concurrency`` processes (:mod:`.worker`), a wave at a time (``--canary``, ``--waves``): a
wave starts only when every earlier one finished without a failure, and after ``max_failed``
failures no new target starts (those running finish). A worker that dies (killed, out of memory)
breaks the pool: its targets and those running beside it are reported failed, the pool is started
again for the rest. Resuming is running again: finished targets cost one query.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from memstack.engine.fleet.report import FleetReport, TargetResult
from memstack.engine.fleet.targets import Target
from memstack.engine.fleet.waves import wave_ends
from memstack.engine.fleet.worker import Job, run_target, start_worker

if TYPE_CHECKING:
    from memstack.engine.run.destruction import DestructionCallback
    from memstack.engine.workspace import Workspace


#: what every worker imports, loaded once by the fork server (a server that started earlier keeps its own)
#: (the drivers too: a worker's first target otherwise imports one, eight workers at once on a few CPUs;
#: one not installed is skipped)
PRELOAD = ["memstack.engine.fleet.worker", "memstack.engine.migrate", "memstack.engine.run.executor",
           "memstack.engine.tree.loader", "alembic.runtime.environment", "alembic.operations",
           "memstack.engine.fleet.sessions", "memstack.engine.fleet.tenants", "memstack.core.urloptions",
           "memstack.engine.run.destruction", "memstack.engine.run.guard", "memstack.engine.records.status",
           "sqlalchemy.dialects.postgresql.psycopg", "psycopg", "sqlalchemy.dialects.mysql.pymysql", "pymysql"]


@dataclass(frozen=True)
class Progress:
    """Where a run stands, after each finished target (for a progress line)."""
    done: int
    failed: int
    left: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        return self.left / self.rate if self.rate > 0 else None


@dataclass
class FleetOptions:
    concurrency: int | None = None  # None: os.cpu_count()
    canary: int = 0
    waves: str | None = None
    max_failed: int | None = None
    job: Job = field(default_factory=lambda: Job(run_id=new_run_id()))
    on_result: Callable[[TargetResult, Progress], None] | None = None


def new_run_id() -> str:
    return str(uuid.uuid4())


def pool_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where the platform has it, else ``spawn``: never ``fork`` from a threaded parent."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # imported once in the server, not once a worker
    return context


def run_targets(ws: Workspace, behind: Sequence[Target], options: FleetOptions,
                labels: tuple[str, ...] | None = None) -> list[TargetResult]:
    """Run ``behind`` in worker processes, wave by wave; one result a target (``skipped``: never started)."""
    workers = max(1, options.concurrency or os.cpu_count() or 1)
    state = _Run(ws, min(workers, max(1, len(behind))), labels, options)
    try:
        start = 0
        for end in wave_ends(len(behind), options.canary, options.waves):
            state.run_wave(list(behind[start:end]))
            start = end
            if state.failures:
                break  # a wave starts only after the earlier ones finished without a failure
    finally:
        state.close()
    return [state.results.get(t) or TargetResult(t.label, "skipped", error=state.skip_reason()) for t in behind]


class _Run:
    def __init__(self, ws: Workspace, workers: int, labels: tuple[str, ...] | None, options: FleetOptions) -> None:
        self.ws, self.workers, self.labels, self.options = ws, workers, labels, options
        self.results: dict[Target, TargetResult] = {}
        self.failures = 0
        self.started = time.monotonic()
        self.total = 0
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=pool_context(), initializer=start_worker,
                                             initargs=(self.ws.settings, self.labels, os.getpid()))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def stopped(self) -> bool:
        limit = self.options.max_failed
        return limit is not None and self.failures >= limit

    def skip_reason(self) -> str:
        if self.stopped():
            return f"not started: --max-failed {self.options.max_failed} reached"
        return "not started: an earlier wave failed"

    def run_wave(self, wave: list[Target]) -> None:
        self.total += len(wave)
        waiting = list(reversed(wave))
        running: dict[Future[TargetResult], Target] = {}
        while waiting or running:
            while waiting and len(running) < self.workers and not self.stopped():
                target = waiting.pop()
                running[self.pool.submit(run_target, target, self.options.job)] = target
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                self._finish(running.pop(future), future)

    def _finish(self, target: Target, future: Future[TargetResult]) -> None:
        try:
            result = future.result()
        except BrokenProcessPool:
            if self._pool is not None:  # started again for the targets left
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
            result = TargetResult(target.label, "failed", error="its worker process ended (killed?) while it ran; "
                                  "run again: finished steps stay recorded, the rest is picked up")
        self.results[target] = result
        self.failures += result.status == "failed"
        if self.options.on_result is not None:
            done = len(self.results)
            self.options.on_result(result, Progress(done, self.failures, self.total - done,
                                                    time.monotonic() - self.started))


def migrate_fleet_of(ws: Workspace, targets: Sequence[Target], options: FleetOptions,
                  confirm: DestructionCallback | None = None) -> FleetReport:
    """Shared components first (configured database), then every target: surveyed here, those behind in workers.

    ``confirm``: asked once for the whole fleet when the plans destroy data (see :mod:`.confirm`);
    None refuses such plans before anything runs.
    """
    from memstack.engine.errors import SharedDependencyMissing  # lazy: kept off --help
    from memstack.engine.fleet.confirm import confirm_fleet  # lazy: kept off --help
    from memstack.engine.fleet.survey import survey  # lazy: kept off --help
    from memstack.engine.fleet.tenants import (  # lazy: kept off --help
        missing_shared,
        shared_schema,
        split,
        tenant_labels,
    )

    started = time.monotonic()
    shared, tenant = split(ws)
    if shared is not None:
        from memstack.engine.migrate import RunOptions, migrate  # lazy: off the no-op path without shared components

        migrate(shared, options=RunOptions(fleet_run=options.job.run_id, confirm_destruction=confirm,
                                           guard=options.job.guard, ddl_lock_timeout=options.job.ddl_lock_timeout))
        missing = missing_shared(ws, shared)
        if missing:
            raise SharedDependencyMissing(missing)
        job = dataclasses.replace(options.job, shared_schema=shared_schema(shared))  # seen by tenant revisions
        options = dataclasses.replace(options, job=job)
    found = survey(tenant, targets)
    behind = [t for t in targets if found[t].status == "behind"]
    if confirm_fleet(tenant, behind, found, confirm):
        options = dataclasses.replace(options, job=dataclasses.replace(options.job, confirmed=True))
    ran = dict(zip(behind, run_targets(tenant, behind, options, tenant_labels(ws)), strict=True))
    results = [ran.get(t) or found[t] for t in targets]
    return FleetReport(options.job.run_id, results, seconds=time.monotonic() - started)
