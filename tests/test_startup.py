"""The start-up API: ``memstack.migrate_on_startup`` / ``amigrate_on_startup``.

It applies what is pending (once, however many processes start together), verifies only when
asked, accepts a database ahead of the code with a warning, raises on every problem and takes
no lock when nothing is pending. Real databases and real processes; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.inspect import history_rows, snapshot, tables, version_rows
from support.revisions import REV, new_id, write_revision
from support.running import subprocess_env

import memstack
from memstack.core.db import create_engine
from memstack.core.errors import MemstackError
from memstack.engine.errors import LockTimeout, MigrationFailed
from memstack.engine.run.lock import migration_lock

ALL_LABELS = {f"{component} {name}" for component, name in REV}
HEADS = {REV[("auth", "0002_add_user_roles_fk")], REV[("memory", "0002_add_task_id")],
         REV[("ontology", "0001_initial")], REV[("memo", "0001_initial")],
         REV[("task", "0005_merge_legacy_task_columns")]}
MEMO_0001 = REV[("memo", "0001_initial")]


def copy_project(project: Path, destination: Path) -> Path:
    """A second copy of the project root (another release of the code)."""
    shutil.copytree(project, destination)
    return destination


def add_memo_revision(project: Path, name: str = "0002_extra", *, upgrade: str | None = None) -> str:
    """A new memo revision after memo 0001 in ``project``; returns its id."""
    rid = new_id()
    table = f"memo_{rid}"
    write_revision(project / "migrations" / "memo", name, rid, MEMO_0001,
                   upgrade=upgrade or f'op.create_table({table!r}, sa.Column("id", sa.Integer(), primary_key=True))',
                   downgrade="pass" if upgrade else f"op.drop_table({table!r})")
    return rid


def apply_counts(url: str) -> collections.Counter[tuple[str, str]]:
    return collections.Counter((r["component"], r["name"]) for r in history_rows(url) if r["event"] == "apply")


# --------------------------------------------------------------------------- applying and summarising


def test_applies_everything_then_nothing(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb

    first = memstack.migrate_on_startup(url, project_dir=project)

    assert set(first.applied) == ALL_LABELS and len(first.applied) == len(ALL_LABELS)
    assert first.applied.index("auth 0001_initial") < first.applied.index("tenant 0001_initial")
    assert set(first.pending) == ALL_LABELS
    assert first.changed and first.ahead == []
    assert first.duration_ms >= 0
    assert version_rows(url) == HEADS
    assert apply_counts(url) == collections.Counter(set(REV))

    second = memstack.migrate_on_startup(url, project_dir=project)

    assert second.applied == [] and second.pending == [] and not second.changed
    assert apply_counts(url) == collections.Counter(set(REV))  # nothing ran again


def test_summary_masks_the_password(project: Path, sqlite_url: str) -> None:
    result = memstack.migrate_on_startup(sqlite_url, project_dir=project)
    assert result.database_url == sqlite_url  # nothing to mask in a file URL


def test_async_form_does_not_block_the_event_loop(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb

    async def main() -> tuple[object, list[float], float, float]:
        ticks: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                ticks.append(time.monotonic())
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)  # let the ticker start
        started = time.monotonic()
        result = await memstack.amigrate_on_startup(url, project_dir=project)
        finished = time.monotonic()
        done.set()
        await task
        return result, ticks, started, finished

    result, ticks, started, finished = asyncio.run(main())

    assert set(result.applied) == ALL_LABELS  # type: ignore[attr-defined]
    during = [t for t in ticks if started < t < finished]
    # a blocked loop would not tick at all while the migration runs
    assert len(during) >= 5, (len(during), finished - started)
    assert apply_counts(url) == collections.Counter(set(REV))
    # and the async form returns at once with nothing pending
    again = asyncio.run(memstack.amigrate_on_startup(url, project_dir=project))
    assert again.applied == []


STARTUP_SCRIPT = """
import json, sys
import memstack
result = memstack.migrate_on_startup(sys.argv[1], project_dir=sys.argv[2], lock_timeout=float(sys.argv[3]))
print(json.dumps(result.applied))
"""


def test_eight_processes_at_once_apply_each_revision_exactly_once(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    # they queue for the lock as long as a loaded machine needs (the default 60 s is not the subject)
    procs = [subprocess.Popen([sys.executable, "-c", STARTUP_SCRIPT, url, str(project), "200"], cwd=project,
                              env=subprocess_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    outputs = [proc.communicate(timeout=600) for proc in procs]

    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out}\n{err}"
    applied = [label for out, _ in outputs for label in json.loads(out.strip().splitlines()[-1])]
    assert collections.Counter(applied) == collections.Counter(ALL_LABELS)  # over all processes, once each
    assert apply_counts(url) == collections.Counter(set(REV))
    assert {r["event"] for r in history_rows(url)} == {"apply"}
    assert version_rows(url) == HEADS


# --------------------------------------------------------------------------- verify only


def test_verify_only_raises_when_pending_and_returns_when_not(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    with pytest.raises(MemstackError) as excinfo:
        memstack.migrate_on_startup(url, project_dir=project, verify_only=True)
    assert f"{len(REV)} pending revision(s)" in excinfo.value.message
    assert "auth 0001_initial" in excinfo.value.message
    assert "manage.py migrate" in (excinfo.value.hint or "")
    assert not {t for t in tables(url) if t != "alembic_version" and not t.startswith("memstack_")}
    assert history_rows(url) == []

    memstack.migrate_on_startup(url, project_dir=project)
    result = memstack.migrate_on_startup(url, project_dir=project, verify_only=True)
    assert result.applied == [] and result.pending == [] and result.ahead == []

    # one new revision in the code: pending again, verify raises naming it and changes nothing
    add_memo_revision(project)
    before = snapshot(url)
    with pytest.raises(MemstackError, match=r"1 pending revision\(s\): memo 0002_extra"):
        memstack.migrate_on_startup(url, project_dir=project, verify_only=True)
    assert snapshot(url) == before


# --------------------------------------------------------------------------- a database ahead of the code


def test_database_ahead_of_the_code_warns_and_returns(project: Path, db_url_no_mariadb: str, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    url = db_url_no_mariadb
    newer = copy_project(project, tmp_path / "newer")  # the next release, with one more revision
    extra = add_memo_revision(newer)
    memstack.migrate_on_startup(url, project_dir=newer)
    assert extra in version_rows(url)

    for verify_only in (True, False):
        caplog.clear()
        before = snapshot(url)
        with caplog.at_level(logging.WARNING, logger="memstack.startup"):
            result = memstack.migrate_on_startup(url, project_dir=project, verify_only=verify_only)
        assert result.ahead == [extra]
        assert result.applied == [] and result.pending == []
        warnings = [r for r in caplog.records if r.name == "memstack.startup" and r.levelno == logging.WARNING]
        assert len(warnings) == 1, caplog.records
        assert "ahead of this code" in warnings[0].getMessage()
        assert extra in warnings[0].getMessage()
        assert snapshot(url) == before


def test_database_ahead_and_missing_a_known_revision_raises(project: Path, db_url_no_mariadb: str,
                                                            tmp_path: Path) -> None:
    url = db_url_no_mariadb
    newer = copy_project(project, tmp_path / "newer")
    extra = add_memo_revision(newer)
    memstack.migrate_on_startup(url, project_dir=newer)
    mine = add_memo_revision(project, "0002_other")  # this code knows a revision the database lacks
    before = snapshot(url)

    for verify_only in (True, False):
        with pytest.raises(MemstackError) as excinfo:
            memstack.migrate_on_startup(url, project_dir=project, verify_only=verify_only)
        assert extra in excinfo.value.message
        assert "memo 0002_other" in excinfo.value.message
        assert snapshot(url) == before
    assert mine not in version_rows(url)


# --------------------------------------------------------------------------- failures are raised


def test_broken_revision_raises_and_is_not_recorded(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    broken = add_memo_revision(project, "0002_broken", upgrade='op.execute("SELECT * FROM no_such_table")')

    with pytest.raises(MigrationFailed) as excinfo:
        memstack.migrate_on_startup(url, project_dir=project)
    assert "memo 0002_broken" in str(excinfo.value)
    assert "no_such_table" in str(excinfo.value)
    assert broken not in version_rows(url)
    failures = [(r["component"], r["name"]) for r in history_rows(url) if r["event"] == "failure"]
    assert failures == [("memo", "0002_broken")]
    applied_before = apply_counts(url)  # what ran before the failure stays applied, once each
    assert set(applied_before.values()) == {1} and ("memo", "0002_broken") not in applied_before

    # the next start-up raises again rather than booting on the broken schema
    with pytest.raises(MigrationFailed, match="no_such_table"):
        memstack.migrate_on_startup(url, project_dir=project)
    with pytest.raises(MemstackError, match="memo 0002_broken"):
        memstack.migrate_on_startup(url, project_dir=project, verify_only=True)


@pytest.mark.parametrize("url", ["postgresql://app:s3cret@127.0.0.1:1/db", "mysql://app:s3cret@127.0.0.1:1/db"],
                         ids=["postgres", "mariadb"])
def test_unreachable_database_raises_a_memstack_error(project: Path, url: str) -> None:
    for verify_only in (False, True):
        with pytest.raises(MemstackError) as excinfo:
            memstack.migrate_on_startup(url, project_dir=project, verify_only=verify_only)
        assert "127.0.0.1:1" in excinfo.value.message
        assert "s3cret" not in excinfo.value.message and "***" in excinfo.value.message
        assert excinfo.value.hint


def test_missing_postgres_database_raises_a_memstack_error(project: Path, postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    missing = make_url(postgres_url).set(database=make_url(postgres_url).database + "_absent")
    with pytest.raises(MemstackError, match="does not exist"):
        memstack.migrate_on_startup(missing.render_as_string(hide_password=False), project_dir=project)


# --------------------------------------------------------------------------- the lock


def test_nothing_pending_takes_no_lock(project: Path, db_url_no_mariadb: str) -> None:
    url = db_url_no_mariadb
    memstack.migrate_on_startup(url, project_dir=project)
    engine = create_engine(url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            result = memstack.migrate_on_startup(url, project_dir=project, lock_timeout=0)
            assert result.applied == []
            memstack.migrate_on_startup(url, project_dir=project, lock_timeout=0, verify_only=True)
            # with something pending the same call needs the lock, and fails at once without it
            add_memo_revision(project)
            with pytest.raises(LockTimeout, match=r"could not take the migration lock .* within 0 s"):
                memstack.migrate_on_startup(url, project_dir=project, lock_timeout=0)
    finally:
        engine.dispose()
    result = memstack.migrate_on_startup(url, project_dir=project, lock_timeout=0)
    assert result.applied == ["memo 0002_extra"]
