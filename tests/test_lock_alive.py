"""Locks that cannot be lost unnoticed, hashed MariaDB lock names, a holder probe that takes
nothing (issue 12, item 3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from support.databases import backend_of, connect, query, require_server
from support.inspect import tables, version_rows
from support.revisions import Chain, chain_component
from support.running import cli, manage
from support.waiting import KEY_IS, PG_LOCKS_HERE, wait_for_migration_lock_free, wait_until

from memstack.cli.errors import for_person
from memstack.core.db import create_engine
from memstack.engine.errors import EngineError, LockLost
from memstack.engine.migrate import RunOptions, migrate
from memstack.engine.run.lock import _advisory_key, lock_holder, migration_lock, mysql_lock_name, sqlite_lock_path
from memstack.engine.tree.graph import Step
from memstack.engine.workspace import Workspace


def end_lock_session(url: str) -> None:
    """From another connection, end the session holding the migration lock (or delete the lock file)."""
    kind = backend_of(url)
    with connect(url) as connection:
        if kind == "postgres":  # the migration lock's key only: a running step holds the step barrier too
            key = _advisory_key(make_url(url).database or "")
            ended = connection.execute(text(f"SELECT pg_terminate_backend(pid, 60000) {PG_LOCKS_HERE} AND "
                                            f"{KEY_IS} = {key}")).all()
            assert ended == [(True,)]
        elif kind == "mariadb":
            holder = connection.execute(text("SELECT IS_USED_LOCK(:n)"),
                                        {"n": mysql_lock_name(make_url(url).database or "")}).scalar()
            assert holder is not None
            connection.exec_driver_sql(f"KILL {int(holder)}")
        else:
            path = sqlite_lock_path(create_engine(url))
            assert path is not None
            path.unlink()
    wait_for_migration_lock_free(url, what="the lock session to end")


def _chain(make_component, project: Path, bodies: dict[int, str] | None = None) -> Chain:
    return chain_component(make_component, project, 3, prefix="alive", bodies=bodies)


@pytest.fixture
def workspace(project: Path, db_url: str) -> Iterator[Workspace]:
    ws = Workspace.load(project, database_url=db_url)
    yield ws
    ws.engine.dispose()


# --------------------------------------------------------------------------- losing the lock between steps


def test_a_lost_lock_stops_the_run_before_the_next_step(project: Path, db_url: str, make_component) -> None:
    chain = _chain(make_component, project)
    ws = Workspace.load(project, database_url=db_url)

    def kill_after_first(event: str, step: Step, _result: object) -> None:
        if event == "done" and step.revision.id == chain.ids[0]:
            end_lock_session(db_url)

    try:
        with pytest.raises(LockLost) as caught:
            migrate(ws, options=RunOptions(progress=kill_after_first))
    finally:
        ws.engine.dispose()
    lost = caught.value
    assert (lost.completed, lost.total, lost.before) == (1, 3, f"{chain.label} {chain.names[1]}")
    assert isinstance(lost, EngineError) and "manage.py" not in lost.message
    assert chain.table(1) in tables(db_url)
    assert not {chain.table(2), chain.table(3)} & tables(db_url)  # no further step started
    assert version_rows(db_url) == {chain.ids[0]}  # the finished step stays recorded

    again = Workspace.load(project, database_url=db_url)  # a later run picks up where it stopped
    try:
        assert [r.step.revision.id for r in migrate(again)] == chain.ids[1:]
    finally:
        again.engine.dispose()


@pytest.mark.postgres
def test_an_atomic_run_that_loses_its_lock_rolls_everything_back(project: Path, postgres_url: str,
                                                                 make_component) -> None:
    chain = _chain(make_component, project)
    ws = Workspace.load(project, database_url=postgres_url)

    def kill_at_second(event: str, step: Step, _result: object) -> None:
        if event == "start" and step.revision.id == chain.ids[1]:
            end_lock_session(postgres_url)

    try:
        with pytest.raises(LockLost) as caught:
            migrate(ws, options=RunOptions(progress=kill_at_second, atomic=True))
    finally:
        ws.engine.dispose()
    assert caught.value.completed == 1 and caught.value.plan_rolled_back  # found by the fence in step 2
    assert not {chain.table(n) for n in (1, 2, 3)} & tables(postgres_url)
    assert version_rows(postgres_url) == set()


#: step 1 ends its own run's lock session (as an administrator would), so a real manage.py loses it;
#: the step ends only once the server has ended that session (pg_terminate_backend waits for the
#: backend to exit; on MariaDB the lock is polled until the killed session has released it)
KILL_OWN_LOCK = {
    "postgres": f'op.execute("SELECT pg_terminate_backend(pid, 60000) {PG_LOCKS_HERE} AND pid <> pg_backend_pid()")',
    "mariadb": "\n".join([
        "from memstack.engine.run.lock import mysql_lock_name",
        "bind = op.get_bind()",
        'used = sa.text("SELECT IS_USED_LOCK(:n)")',
        "name = {'n': mysql_lock_name(bind.engine.url.database)}",
        'bind.exec_driver_sql(f"KILL {int(bind.execute(used, name).scalar())}")',
        "deadline = time.monotonic() + 120",
        "while bind.execute(used, name).scalar() is not None:  # KILL returns before the session has ended",
        "    assert time.monotonic() < deadline, 'the killed lock session still holds the lock'",
        "    time.sleep(0.05)",
    ]),
    "sqlite": "Path(op.get_bind().engine.url.database + '.lock').unlink()",
}


def test_manage_py_says_the_lock_was_lost_and_exits_1(project: Path, db_url: str, make_component) -> None:
    chain = _chain(make_component, project, bodies={1: KILL_OWN_LOCK[backend_of(db_url)]})
    result = manage(project, db_url, "migrate", pythonpath=[chain.packages_dir])
    assert result.code == 1, result
    assert "Traceback" not in result.err and "Exception during reset" not in result.err
    error_lines = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, result.err
    assert f"lost the migration lock on {'SQLite file' if backend_of(db_url) == 'sqlite' else ''}" in error_lines[0]
    if backend_of(db_url) == "mariadb":  # its DDL commits itself: the check before the next step finds it
        assert f"before step 2 of 3 ({chain.label} {chain.names[1]})" in error_lines[0]
        assert "steps 1..1 of 3 finished and stay applied; no further step started" in result.err
    else:  # the fence before step 1's commit finds it: step 1 rolls back
        assert f"during step 1 of 3 ({chain.label} {chain.names[0]})" in error_lines[0]
        assert ("step 1 (" + f"{chain.label} {chain.names[0]}) was rolled back before its commit and is not "
                "recorded; no earlier step of this run was applied") in result.err
        assert chain.table(1) not in tables(db_url)
    assert "manage.py migrate" in result.err  # the fix
    assert chain.table(2) not in tables(db_url)


def test_lock_lost_wording() -> None:
    worded = for_person(LockLost("PostgreSQL", "its database session is gone (terminated)", before="memo 0002_x",
                                 completed=1, total=3))
    assert worded.exit_code == 1
    assert worded.message == ("lost the migration lock on PostgreSQL before step 2 of 3 (memo 0002_x): "
                              "its database session is gone (terminated)")
    assert worded.hint and worded.hint.startswith("steps 1..1 of 3 finished")
    assert for_person(LockLost("MariaDB", "gone")).hint.startswith("no step started")  # type: ignore[union-attr]


# --------------------------------------------------------------------------- MariaDB lock names


def test_mariadb_lock_names_are_hashed_within_64_characters() -> None:
    common = "tenant_" + "x" * 50
    names = {mysql_lock_name(common + suffix) for suffix in ("_a", "_b", "")}
    assert len(names) == 3
    assert all(len(name) <= 64 and name.startswith("memstack:") for name in names)
    assert mysql_lock_name("db") == mysql_lock_name("db")


@pytest.mark.mariadb
def test_two_long_prefixed_mariadb_databases_lock_independently() -> None:
    server = require_server("mariadb")
    stem = "memstack_t_" + "long_common_prefix_" * 2 + "0123456789ab"  # 61 characters
    names = [stem + "_a1", stem + "_b2"]
    admin = create_engine(server.url.render_as_string(hide_password=False))
    engines = []
    try:
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f"CREATE DATABASE `{name}`")
        engines = [create_engine(server.url.set(database=name).render_as_string(hide_password=False))
                   for name in names]
        with migration_lock(engines[0], 0), migration_lock(engines[1], 0):
            assert lock_holder(engines[0]) and lock_holder(engines[1])
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as connection:
            for name in names:
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


# --------------------------------------------------------------------------- the holder probe takes nothing


def test_lock_holder_names_the_holder_and_none_when_free(project: Path, db_url: str) -> None:
    engine = create_engine(db_url, for_migrations=True)
    try:
        assert lock_holder(engine) is None
        with migration_lock(engine, 0):
            holder = lock_holder(engine)
        assert lock_holder(engine) is None
    finally:
        engine.dispose()
    expected = {"postgres": "PostgreSQL backend pid", "mariadb": "MariaDB connection", "sqlite": "process "}
    assert holder is not None and holder.startswith(expected[backend_of(db_url)]), holder


def test_a_stale_sqlite_holder_file_is_not_a_holder(sqlite_url: str) -> None:
    """A process killed with the lock leaves its holder line behind; the kernel lock is gone."""
    engine = create_engine(sqlite_url, for_migrations=True)
    path = sqlite_lock_path(engine)
    assert path is not None
    path.write_text('{"pid": 4242, "host": "elsewhere", "since": "2026-01-01T00:00:00Z"}', encoding="utf-8")
    assert lock_holder(engine) is None


class _Prober(threading.Thread):
    """Asks for the lock holder in a tight loop, as many ``doctor`` runs would."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url, for_migrations=True)
        self.stop = threading.Event()
        self.probes = 0

    def run(self) -> None:
        while not self.stop.is_set():
            lock_holder(self.engine)
            self.probes += 1

    def __enter__(self) -> _Prober:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.join(120)  # one probe's time; the deadline only matters if a probe hangs
        assert not self.is_alive(), "the prober did not stop"
        self.engine.dispose()


def test_probing_never_makes_a_zero_timeout_lock_fail(db_url: str) -> None:
    engine = create_engine(db_url, for_migrations=True)
    try:
        with _Prober(db_url) as prober:
            taken = [0]

            def both_went_round_enough() -> bool:  # counted, not timed: a loaded machine only takes longer
                with migration_lock(engine, 0):  # a LockTimeout here fails the test
                    taken[0] += 1
                return taken[0] >= 20 and prober.probes >= 20

            wait_until(both_went_round_enough, interval=0, what="20 locks taken while 20 probes ran")
    finally:
        engine.dispose()


def test_migrate_with_lock_timeout_0_succeeds_while_doctor_probes(project: Path, db_url: str,
                                                                    make_component) -> None:
    chain = _chain(make_component, project, bodies={n: "time.sleep(0.2)" for n in (1, 2, 3)})
    with _Prober(db_url):
        result = manage(project, db_url, "migrate", "--lock-timeout", "0", pythonpath=[chain.packages_dir])
    assert result.code == 0, result
    assert version_rows(db_url) == {chain.ids[2]}


@pytest.mark.postgres
def test_check_database_reports_the_holder_without_taking_the_lock(project: Path, postgres_url: str,
                                                                   make_component,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    _chain(make_component, project)
    engine = create_engine(postgres_url, for_migrations=True)
    try:
        with migration_lock(engine, 0):
            checked = cli(capsys, monkeypatch, project, postgres_url, "check", "--database", "--json")
            still_mine = query(postgres_url, f"SELECT count(*) AS n {PG_LOCKS_HERE}")[0]["n"]
    finally:
        engine.dispose()
    held = [p for p in json.loads(checked.out)["problems"] if p["kind"] == "lock_held"]
    assert len(held) == 1 and "PostgreSQL backend pid" in held[0]["message"]
    assert still_mine == 1
