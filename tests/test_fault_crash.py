"""Honest words after a lost connection or a crashed server (issue 20, point 5).

memstack commits all but a run's last step asynchronously on PostgreSQL, so after a crash the
steps printed OK are not necessarily applied: the error says what the server confirms when it
can be asked again, and that it could not be asked otherwise, never "steps 1..N stayed applied".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.databases import execute, query
from support.faults import private_postgres
from support.inspect import version_rows
from support.migrators import Migrator, wait_until
from support.revisions import Chain, chain_component
from support.running import Result
from test_fault_fencing import GATE, gate_closed

WAIT_AT_GATE = f'op.execute("SELECT pg_advisory_xact_lock({GATE})")'


def _at_gate(url: str) -> list[int]:
    return [int(r["pid"]) for r in query(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND NOT granted AND objid = :k", k=GATE)]


SLEEPING = 'op.execute("SELECT pg_sleep(600)")'  # a statement, not a lock wait: the guard leaves it running


def _sleeping(url: str) -> list[int]:
    return [int(r["pid"]) for r in query(url, "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)' "
                                              "AND datname = current_database()")]


def _assert_read_back(result: Result, chain: Chain, url: str) -> None:
    assert result.code == 1, result
    assert "stayed applied" not in result.err
    assert ("the connection to the server was lost; read back from the server: this step was not committed; "
            f"1 earlier step(s) are applied (up to {chain.label} {chain.names[0]})") in result.err, result.err
    assert version_rows(url) == {chain.ids[0]}


@pytest.mark.postgres
def test_a_lost_session_reports_the_steps_the_server_confirms(project: Path, postgres_url: str,
                                                              make_component) -> None:
    chain = chain_component(make_component, project, 3, prefix="lost", bodies={2: SLEEPING})
    with Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir]) as run:
        wait_until(lambda: bool(_sleeping(postgres_url)), 60, "step 2 to run", detail=lambda: run.err)
        execute(postgres_url, "SELECT pg_terminate_backend(:p, 5000)", params={"p": _sleeping(postgres_url)[0]})
        result = run.finish()
    _assert_read_back(result, chain, postgres_url)


@pytest.mark.postgres
def test_a_session_lost_between_the_guards_tries_is_read_back_too(project: Path, postgres_url: str,
                                                                  make_component) -> None:
    """Step 2 waits on a lock the test holds, so the guard rolls it back and tries again; the session is
    terminated while it sleeps between tries (or, by a narrow race, in a try): the next BEGIN fails, and
    that is the step's failure, read back from the server like any lost connection."""
    chain = chain_component(make_component, project, 3, prefix="between", bodies={2: WAIT_AT_GATE})
    with gate_closed(postgres_url), Migrator(project, postgres_url, "migrate",
                                             pythonpath=[chain.packages_dir]) as run:
        pids: list[int] = []  # read once: between tries the session leaves the gate
        wait_until(lambda: bool(pids.extend(_at_gate(postgres_url)) or pids), 60, "step 2 to wait at the gate",
                   detail=lambda: run.err)
        idle = "SELECT 1 FROM pg_stat_activity WHERE pid = :p AND state = 'idle'"
        wait_until(lambda: bool(query(postgres_url, idle, p=pids[0])), 60, "a pause between the guard's tries",
                   detail=lambda: run.err)
        execute(postgres_url, "SELECT pg_terminate_backend(:p, 5000)", params={"p": pids[0]})
        result = run.finish()
    _assert_read_back(result, chain, postgres_url)


@pytest.mark.slow_faults
def test_a_crashed_server_is_not_said_to_keep_the_printed_steps(project: Path, tmp_path: Path,
                                                                make_component) -> None:
    chain = chain_component(make_component, project, 3, prefix="crash", bodies={2: WAIT_AT_GATE})
    with private_postgres(tmp_path) as server:
        with gate_closed(server.url), Migrator(project, server.url, "migrate",
                                               pythonpath=[chain.packages_dir]) as run:
            wait_until(lambda: bool(_at_gate(server.url)), 60, "step 2 to wait at the gate", detail=lambda: run.err)
            server.kill9()
            result = run.finish()
    assert result.code == 1, result
    assert f"Applying {chain.label} {chain.names[0]} ... OK" in result.err  # printed OK ...
    assert "stayed applied" not in result.err  # ... but not claimed to be durable
    assert "the server could not be reached again" in result.err, result.err
    assert "of the 1 step(s) printed OK before it the last ones may be lost" in result.err
    assert "'manage.py showmigrations'" in result.err
    assert "Traceback" not in result.err
