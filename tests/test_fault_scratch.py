"""No leftovers: a scratch database left by a killed ``check`` is dropped by the next one
(issue 20, point 6)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from support.databases import backend_of, query
from support.migrators import Migrator, wait_until
from support.revisions import chain_component
from support.running import manage

from memstack.engine.generate.leftovers import LEFTOVER

#: the scratch build of step 1 says it got there, then waits for ever when HOLD_SCRATCH names a file
HOLD = "\n".join([
    "import os, time",
    "if os.environ.get('HOLD_SCRATCH'):",
    "    Path(os.environ['HOLD_SCRATCH']).write_text('reached')",
    "    while True:",
    "        time.sleep(0.05)",
])


def _scratch_databases(url: str) -> list[str]:
    if backend_of(url) == "postgres":
        rows = query(url, "SELECT datname AS name FROM pg_database WHERE datname LIKE 'memstack!_scratch!_%' "
                          "ESCAPE '!'")
    else:
        rows = query(url, "SELECT schema_name AS name FROM information_schema.schemata "
                          "WHERE schema_name LIKE 'memstack!_scratch!_%' ESCAPE '!'")
    return sorted(str(r["name"]) for r in rows)


@pytest.mark.parametrize("server_url", [pytest.param("postgres_url", marks=pytest.mark.postgres, id="postgres"),
                                        pytest.param("mariadb_url", marks=pytest.mark.mariadb, id="mariadb")])
def test_the_next_check_drops_the_scratch_database_a_killed_check_left(
        project: Path, make_component, tmp_path: Path, request: pytest.FixtureRequest, server_url: str) -> None:
    url = request.getfixturevalue(server_url)
    chain = chain_component(make_component, project, 2, prefix="scr", bodies={1: HOLD})
    chain.path(1).write_text("from pathlib import Path\n" + chain.path(1).read_text(encoding="utf-8"),
                             encoding="utf-8")
    before = set(_scratch_databases(url))  # other tests' live builds: never touched
    reached = tmp_path / "reached"
    with Migrator(project, url, "makemigrations", "--check", pythonpath=[chain.packages_dir],
                  HOLD_SCRATCH=str(reached)) as killed:
        wait_until(reached.exists, 120, "the scratch build to reach step 1", detail=lambda: killed.err)
        mine = [n for n in _scratch_databases(url) if n not in before and f"_{killed.process.pid}_" in n]
        assert len(mine) == 1 and LEFTOVER.match(mine[0]), mine
        if backend_of(url) == "postgres":
            comment = query(url, "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database "
                                 "WHERE datname = :n", n=mine[0])[0]["c"]
            assert comment.startswith(f"memstack scratch database built by process {killed.process.pid} on ")
        killed.send(signal.SIGKILL)
        killed.finish()
    assert mine[0] in _scratch_databases(url)  # left behind by kill -9

    again = manage(project, url, "makemigrations", "--check", pythonpath=[chain.packages_dir])
    assert again.code in (0, 1), again
    assert "Traceback" not in again.err
    assert mine[0] not in _scratch_databases(url)
