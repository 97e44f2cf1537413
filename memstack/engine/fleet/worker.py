"""What runs in a fleet's worker processes: one loaded tree per process, one target at a time.

Alembic's ``op`` is a module-global proxy, so targets run in processes, never threads; the pool
starts them with ``forkserver`` (or ``spawn``), never ``fork``. Each worker loads the tree once
(:func:`start_worker`) and migrates each target it is given through ``Workspace.for_database``
under the target's own migration lock, taken without waiting: a held lock reports ``locked``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memstack.engine.fleet.report import TargetResult
from memstack.engine.fleet.targets import Target

if TYPE_CHECKING:
    from memstack.core.settings import Settings
    from memstack.engine.fleet.sessions import Databases
    from memstack.engine.workspace import Workspace


@dataclass(frozen=True)
class Job:
    """What every target of one run is given (plain values: it crosses to the worker processes)."""
    run_id: str
    confirmed: bool = False  # the fleet-wide question about destructive steps was answered yes
    guard: Mapping[str, Any] = field(default_factory=dict)
    ddl_lock_timeout: float | None = None
    x_arguments: tuple[str, ...] = ()
    shared_schema: str | None = None  # PostgreSQL: the configured database's schema, seen by tenant revisions


_BASE: list[Workspace] = []  # this worker's workspace, its tree loaded once
_DATABASES: list[Databases] = []  # this worker's engines, one per database, kept across its targets
_BUSY = [False]  # a target is running in this worker


def start_worker(settings: Settings, labels: tuple[str, ...] | None, parent: int | None = None) -> None:
    """The pool's initializer: build the registry (``labels``: the tenant components only) and load the tree.

    ``parent``: the run's process; when it dies (``kill -9``) the worker finishes its target and exits,
    instead of waiting for work that never comes."""
    if parent is not None:
        threading.Thread(target=_follow, args=(parent,), daemon=True, name="memstack-parent-watch").start()
    from memstack.core.components import build_registry  # lazy: only in workers
    from memstack.engine.fleet.sessions import Databases  # lazy: only in workers
    from memstack.engine.fleet.tenants import part  # lazy: only in workers
    from memstack.engine.workspace import Workspace  # lazy: only in workers

    ws = Workspace(settings=dataclasses.replace(settings, lock_timeout=0.0), registry=build_registry(settings))
    ws.tree  # noqa: B018 - loaded here, once per worker
    _BASE[:] = [ws if labels is None else part(ws, labels)]
    _BASE[0].keep_alembic_setups()  # built once, for all its targets
    _DATABASES[:] = [Databases(ws.settings)]


def run_target(target: Target, job: Job) -> TargetResult:
    """Migrate one target to its heads; every outcome becomes a result, nothing raises."""
    _BUSY[0] = True
    try:
        return _run(target, job)
    finally:
        _BUSY[0] = False


def _run(target: Target, job: Job) -> TargetResult:
    from memstack.engine.errors import LockTimeout  # lazy: only in workers
    from memstack.engine.migrate import RunOptions, migrate  # lazy: only in workers

    started = time.monotonic()
    options = RunOptions(guard=job.guard, ddl_lock_timeout=job.ddl_lock_timeout, x_arguments=job.x_arguments,
                         fleet_run=job.run_id, confirm_destruction=_accept if job.confirmed else None,
                         plan_under_lock=True)
    try:
        engine = _DATABASES[0].engine_for(target, job.shared_schema)  # the worker's engine of the database: kept
        with _BASE[0].for_database(engine) as ws:
            results = migrate(ws, options=options)
    except LockTimeout as exc:
        return TargetResult(target.label, "locked", error=f"held by {exc.holder}", seconds=time.monotonic() - started)
    except Exception as exc:
        _DATABASES[0].discard(target.url)  # the next target of this database starts on fresh sessions
        return TargetResult(target.label, "failed", error=_first_line(exc), seconds=time.monotonic() - started)
    applied = tuple(r.step.revision.id for r in results if r.success)
    return TargetResult(target.label, "applied" if applied else "up_to_date", applied=applied,
                        seconds=time.monotonic() - started)


def _follow(parent: int) -> None:
    """Exit once the run's process is gone and no target is running here."""
    while True:
        time.sleep(0.5)
        if not _BUSY[0] and not _alive(parent):
            os._exit(0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed parent nobody reaped yet is a zombie
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _accept(_question: str, _destroys: Sequence[Any]) -> None:
    """The fleet's one question was answered for every target: nothing is asked again."""


def _first_line(exc: BaseException) -> str:
    from memstack.core.redaction import redact  # lazy: only in workers

    text = str(exc).strip() or type(exc).__name__
    return redact(text.splitlines()[0])[:500]
