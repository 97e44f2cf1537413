"""A run with nothing to do does not wait far past ``--lock-timeout`` (issue 24).

After finding nothing to do, ``migrate`` stores its no-op digest, a cache. With another session
holding ``memstack_meta``'s row, that write waited ``innodb_lock_wait_timeout`` (50 s) on MariaDB
and for ever on PostgreSQL before "No migrations to apply." Now the write waits at most the lock
timeout (1 s at most) and gives up, as a cache may. The deadline below is generous (a hang, not a
speed, is what fails it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from support.databases import connect
from support.running import manage, migrate


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres),
                                     pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_nothing_to_do_while_meta_row_is_locked(backend: str, project: Path, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{backend}_url")
    migrate(project, url)
    quote = "`" if backend == "mariadb" else '"'
    with connect(url) as holder:
        holder.execute(text(f"UPDATE memstack_meta SET value = 'stale' WHERE {quote}key{quote} = 'noop_fingerprint'"))
        holder.commit()
        holder.execute(text("SELECT * FROM memstack_meta FOR UPDATE")).fetchall()  # held until the rollback
        result = manage(project, url, "migrate", "--lock-timeout", "1", timeout=30)
        holder.rollback()
    assert result.code == 0 and "No migrations to apply" in result.err, result
