"""kill -9 during a fleet run (of the parent, of one worker), then a rerun converges: every target at its
heads, no revision applied twice (each target's history read back)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.fleets import alive, applied_once, children_of, make_schemas, version_rows, workspace
from support.projects import REPO_ROOT
from support.running import spawn_manage
from support.waiting import wait_until

from memstack.engine.fleet.runner import FleetOptions, migrate_fleet_of
from memstack.engine.fleet.targets import Target
from memstack.engine.fleet.worker import Job

pytestmark = [pytest.mark.postgres, pytest.mark.slow_faults]


def _family(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in children_of(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _converges(project: Path, url: str, targets: list[Target]) -> None:
    ws = workspace(project, url)
    first = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("rerun")))
    assert {r.status for r in first.results} <= {"applied", "up_to_date"}, first.as_json()
    second = migrate_fleet_of(ws, targets, FleetOptions(concurrency=2, job=Job("rerun-2")))
    assert {r.status for r in second.results} == {"up_to_date"}
    assert all(applied_once(t) for t in targets)
    heads = {frozenset(version_rows(t)) for t in targets}
    assert len(heads) == 1


def test_kill_9_of_the_parent_mid_run_then_a_rerun_converges(project: Path, postgres_url: str) -> None:
    targets = make_schemas(postgres_url, [f"kp_{i:02d}" for i in range(12)])
    proc = spawn_manage(project, postgres_url, "migrate", "--schemas", "kp_%", "--concurrency", "2",
                        pythonpath=[REPO_ROOT])
    wait_until(lambda: any(version_rows(t) for t in targets), proc=proc, what="a first target migrating")
    family = _family(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    wait_until(lambda: not any(alive(p) for p in family), what="the orphaned workers to end")
    _converges(project, postgres_url, targets)


def test_kill_9_of_one_worker_then_a_rerun_converges(project: Path, postgres_url: str) -> None:
    targets = make_schemas(postgres_url, [f"kw_{i:02d}" for i in range(12)])
    proc = spawn_manage(project, postgres_url, "migrate", "--schemas", "kw_%", "--concurrency", "2",
                        pythonpath=[REPO_ROOT])
    wait_until(lambda: any(version_rows(t) for t in targets), proc=proc, what="a first target migrating")
    workers = wait_until(lambda: [p for child in children_of(proc.pid) for p in children_of(child)], proc=proc,
                         what="the worker processes")
    os.kill(workers[0], signal.SIGKILL)
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1), err  # the run went on without the worker (its targets: failed)
    _converges(project, postgres_url, targets)
