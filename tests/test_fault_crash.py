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
from support.revisions import chain_component
from test_fault_fencing import GATE, gate_closed

WAIT_AT_GATE = f'op.execute("SELECT pg_advisory_xact_lock({GATE})")'


def _at_gate(url: str) -> list[int]:
    return [int(r["pid"]) for r in query(url, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND NOT granted AND objid = :k", k=GATE)]


@pytest.mark.postgres
def test_a_lost_session_reports_the_steps_the_server_confirms(project: Path, postgres_url: str,
                                                              make_component) -> None:
    chain = chain_component(make_component, project, 3, prefix="lost", bodies={2: WAIT_AT_GATE})
    with gate_closed(postgres_url), Migrator(project, postgres_url, "migrate",
                                             pythonpath=[chain.packages_dir]) as run:
        wait_until(lambda: bool(_at_gate(postgres_url)), 60, "step 2 to wait at the gate", detail=lambda: run.err)
        execute(postgres_url, "SELECT pg_terminate_backend(:p, 5000)", params={"p": _at_gate(postgres_url)[0]})
        result = run.finish()
    assert result.code == 1, result
    assert "stayed applied" not in result.err
    assert ("the connection to the server was lost; read back from the server: this step was not committed; "
            f"1 earlier step(s) are applied (up to {chain.label} {chain.names[0]})") in result.err, result.err
    assert version_rows(postgres_url) == {chain.ids[0]}


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
