"""Non-transactional steps are checked, not assumed (issue 20, point 4).

A ``CREATE INDEX CONCURRENTLY`` whose session ends after the index exists leaves an INVALID
index: it is reported with the statement that drops it, never recorded as applied, the failure
keeps its real cause, and ``doctor`` names the index.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from support.databases import execute, query
from support.inspect import version_rows
from support.migrators import Migrator, wait_until
from support.revisions import chain_component
from support.running import manage

CONCURRENT_INDEX = "\n".join([
    "with op.get_context().autocommit_block():",
    '    op.create_index("ix_{label}_t1_id", "{label}_t1", ["id"], postgresql_concurrently=True)',
])
IF_NOT_EXISTS = "\n".join([
    "with op.get_context().autocommit_block():",
    '    op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{label}_t1_id ON {label}_t1 (id)")',
])


@contextmanager
def writer_holding(url: str, table: str) -> Iterator[None]:
    """A transaction holding ROW EXCLUSIVE on ``table``: CIC waits for it after it created its index."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'LOCK TABLE "{table}" IN ROW EXCLUSIVE MODE')
            yield
            connection.rollback()
    finally:
        engine.dispose()


def _cic_waiting(url: str) -> list[int]:
    return [int(r["pid"]) for r in query(url, "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                              "AND query ILIKE 'CREATE INDEX CONCURRENTLY%'")]


def _index_valid(url: str, name: str) -> bool | None:
    found = query(url, "SELECT i.indisvalid AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                       "WHERE c.relname = :n", n=name)
    return bool(found[0]["ok"]) if found else None


def _two_revisions(make_component, project: Path, body: str):  # type: ignore[no-untyped-def]
    chain = chain_component(make_component, project, 2, prefix="cic", bodies={2: body})
    path = chain.path(2)
    path.write_text(path.read_text(encoding="utf-8") + "\natomic = False\n", encoding="utf-8")
    return chain


@pytest.mark.postgres
@pytest.mark.parametrize("how", ["pg_terminate_backend", "pg_cancel_backend"])
def test_an_interrupted_concurrent_index_is_reported_invalid_not_applied(project: Path, postgres_url: str,
                                                                         make_component, how: str) -> None:
    chain = _two_revisions(make_component, project, CONCURRENT_INDEX)
    index = f"ix_{chain.label}_t1_id"
    first = manage(project, postgres_url, "migrate", chain.label, chain.names[0], pythonpath=[chain.packages_dir])
    assert first.code == 0, first
    with writer_holding(postgres_url, chain.table(1)), \
            Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir],
                     MEMSTACK_DISABLE_GUARD="1") as run:  # interrupted by an administrator, not the ladder
        wait_until(lambda: bool(_cic_waiting(postgres_url)), 60, "CREATE INDEX CONCURRENTLY to wait",
                   detail=lambda: run.err)
        assert _index_valid(postgres_url, index) is False  # it exists already, INVALID
        execute(postgres_url, f"SELECT {how}(:p)", params={"p": _cic_waiting(postgres_url)[0]})
        result = run.finish()
    assert result.code == 1, result
    assert _index_valid(postgres_url, index) is False
    assert f"DROP INDEX CONCURRENTLY IF EXISTS public.{index}" in result.err, result.err
    assert "--fake" not in result.err
    assert "Traceback" not in result.err
    assert version_rows(postgres_url) == {chain.ids[0]}  # not recorded as applied
    errors = [r["error"] for r in query(postgres_url, "SELECT error FROM memstack_history WHERE event = 'failure'")]
    assert len(errors) == 1 and "PendingRollbackError" not in errors[0], errors
    expected = "AdminShutdown" if how == "pg_terminate_backend" else "QueryCanceled"
    assert errors[0].startswith(expected), errors

    # the mark blocks the next migrate and names the DROP statement, never --fake
    again = manage(project, postgres_url, "migrate", pythonpath=[chain.packages_dir])
    assert again.code == 1 and f"DROP INDEX CONCURRENTLY IF EXISTS public.{index}" in again.err, again
    assert "--fake" not in again.err
    assert f"undo what is done (table {chain.table(2)} exists)" in again.err
    doctor = manage(project, postgres_url, "doctor", pythonpath=[chain.packages_dir])
    assert f"INVALID index public.{index}" in doctor.out + doctor.err, doctor

    # the advice works: drop it, repair the mark, migrate
    engine = create_engine(postgres_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"DROP INDEX CONCURRENTLY IF EXISTS public.{index}")
            connection.exec_driver_sql(f"DROP TABLE {chain.table(2)}")
    finally:
        engine.dispose()
    assert manage(project, postgres_url, "repair", "--yes", pythonpath=[chain.packages_dir]).code == 0
    final = manage(project, postgres_url, "migrate", pythonpath=[chain.packages_dir])
    assert final.code == 0, final.err
    assert _index_valid(postgres_url, index) is True


@pytest.mark.postgres
def test_if_not_exists_over_an_invalid_index_is_not_applied(project: Path, postgres_url: str,
                                                            make_component) -> None:
    chain = _two_revisions(make_component, project, IF_NOT_EXISTS)
    index = f"ix_{chain.label}_t1_id"
    assert manage(project, postgres_url, "migrate", chain.label, chain.names[0],
                  pythonpath=[chain.packages_dir]).code == 0
    # an INVALID index left by an earlier attempt: CREATE ... IF NOT EXISTS skips it and succeeds
    execute(postgres_url, f"CREATE INDEX {index} ON {chain.table(1)} (id)",
            f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{index}'::regclass")
    result = manage(project, postgres_url, "migrate", "--json", pythonpath=[chain.packages_dir])
    assert result.code == 1, result
    assert f"INVALID index public.{index}" in result.err
    assert f"DROP INDEX CONCURRENTLY IF EXISTS public.{index}" in result.err
    assert version_rows(postgres_url) == {chain.ids[0]}
    doctor = manage(project, postgres_url, "doctor", pythonpath=[chain.packages_dir])
    assert doctor.code == 1 and f"[FAIL] indexes: INVALID index public.{index}" in doctor.out, doctor



VALIDATE = "\n".join([
    "with op.get_context().autocommit_block():",
    '    op.execute("ALTER TABLE {label}_t1 VALIDATE CONSTRAINT ck_{label}_positive")',
])


@pytest.mark.postgres
def test_an_interrupted_validate_constraint_is_reported_not_validated(project: Path, postgres_url: str,
                                                                      make_component) -> None:
    chain = _two_revisions(make_component, project, VALIDATE)
    constraint = f"ck_{chain.label}_positive"
    assert manage(project, postgres_url, "migrate", chain.label, chain.names[0],
                  pythonpath=[chain.packages_dir]).code == 0
    execute(postgres_url, f"ALTER TABLE {chain.table(1)} ADD CONSTRAINT {constraint} CHECK (id > 0) NOT VALID")
    engine = create_engine(postgres_url, poolclass=NullPool)
    try:
        with engine.connect() as holder:
            holder.exec_driver_sql(f"LOCK TABLE {chain.table(1)} IN SHARE UPDATE EXCLUSIVE MODE")
            waiting = ("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND query ILIKE '%VALIDATE CONSTRAINT%'")
            with Migrator(project, postgres_url, "migrate", pythonpath=[chain.packages_dir],
                     MEMSTACK_DISABLE_GUARD="1") as run:  # interrupted by an administrator, not the ladder
                wait_until(lambda: bool(query(postgres_url, waiting)), 60, "VALIDATE CONSTRAINT to wait",
                           detail=lambda: run.err)
                execute(postgres_url, "SELECT pg_cancel_backend(:p)",
                        params={"p": query(postgres_url, waiting)[0]["pid"]})
                result = run.finish()
            holder.rollback()
    finally:
        engine.dispose()
    assert result.code == 1, result
    assert (f"constraint {constraint} on public.{chain.table(1)} not validated (clear it: ALTER TABLE "
            f"public.{chain.table(1)} VALIDATE CONSTRAINT {constraint})") in result.err, result.err
    assert "--fake" not in result.err
    assert version_rows(postgres_url) == {chain.ids[0]}
