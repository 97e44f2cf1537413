"""The guard's harness (issue 21), run by hand, never by the tests:

    .venv/bin/python bench/guard.py [--backend postgresql|mariadb] [SECONDS_BLOCKED] [ROWS]

On the local PostgreSQL (or MariaDB, 127.0.0.1:3306 root): 8 client sessions run short queries (~500
a second in all) on a hot table of ROWS rows (100,000); one session holds ACCESS SHARE on it, idle
in a transaction, for SECONDS_BLOCKED (10); half a second in, a revision adds a column, adds a
foreign key NOT VALID then validates it, and sets a column NOT NULL. Scenarios: no migration (the
load alone), plain ``alembic upgrade`` (its generated env.py), ``manage.py migrate`` with the guard
off (``MEMSTACK_DISABLE_GUARD=1``: memstack before issue 21) and with the defaults. Printed per
scenario: the clients' p50/p99/max latency, the session-seconds spent waiting on a lock (from
``pg_stat_activity``, sampled every 20 ms) and when the migration ended relative to the blocker.

On MariaDB the blocker is a transaction that read the table and stays open (it holds the table's
shared metadata lock), the revision adds a column, adds a foreign key (no NOT VALID there) and sets
a column NOT NULL with ``MODIFY``, and the waiting sessions are the process list's ``Waiting for
... lock`` states.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pymysql
from run import REPO, drop_pg, pg_database
from tree import write_projects

DSN = "host=127.0.0.1 user=postgres dbname={}"
REVISION = '''"""the guarded change"""
from alembic import op

revision = "guard0000002"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}


def downgrade() -> None:
    pass
'''


@dataclass(frozen=True)
class Backend:
    """What differs between the servers: connections, the schema, the revision, who waits on a lock."""

    connect: Callable[[str, bool], Any]  # (database, autocommit) -> a DB-API connection
    url: str  # SQLAlchemy URL, {} the database
    setup: tuple[str, ...]  # {rows} the hot table's rows
    revision: tuple[str, ...]
    waiting: str  # the number of sessions of this database waiting on a lock
    create: Callable[[], str]
    drop: Callable[[list[str]], None]


def _mariadb(name: str, autocommit: bool) -> Any:
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", database=name or None, autocommit=autocommit)


def _mariadb_create() -> str:
    name = f"memstack_bench_{os.getpid()}_{random.randrange(10**6)}"
    with _mariadb("", True) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return name


def _mariadb_drop(names: list[str]) -> None:
    with _mariadb("", True) as connection, connection.cursor() as cursor:
        for name in names:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


BACKENDS = {
    "postgresql": Backend(
        lambda name, autocommit: psycopg.connect(DSN.format(name), autocommit=autocommit),
        "postgresql+psycopg://postgres@127.0.0.1:5432/{}",
        ("CREATE TABLE parent (id int PRIMARY KEY)", "INSERT INTO parent SELECT g FROM generate_series(1, 1000) g",
         "CREATE TABLE hot (id int PRIMARY KEY, ref int, v int)",
         "INSERT INTO hot SELECT g, 1 + g % 1000, g FROM generate_series(1, {rows}) g", "ANALYZE hot"),
        ("ALTER TABLE hot ADD COLUMN note integer",
         "ALTER TABLE hot ADD CONSTRAINT hot_ref_fk FOREIGN KEY (ref) REFERENCES parent (id) NOT VALID",
         "ALTER TABLE hot VALIDATE CONSTRAINT hot_ref_fk", "ALTER TABLE hot ALTER COLUMN v SET NOT NULL"),
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        pg_database, drop_pg),
    "mariadb": Backend(
        _mariadb, "mysql+pymysql://root@127.0.0.1:3306/{}",
        ("CREATE TABLE parent (id int PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO parent SELECT seq FROM seq_1_to_1000",
         "CREATE TABLE hot (id int PRIMARY KEY, ref int, v int) ENGINE=InnoDB",
         "INSERT INTO hot SELECT seq, 1 + seq % 1000, seq FROM seq_1_to_{rows}", "ANALYZE TABLE hot"),
        ("ALTER TABLE hot ADD COLUMN note integer",
         "ALTER TABLE hot ADD CONSTRAINT hot_ref_fk FOREIGN KEY (ref) REFERENCES parent (id)",
         "ALTER TABLE hot MODIFY v int NOT NULL"),
        "SELECT count(*) FROM information_schema.processlist WHERE db = database() AND state LIKE 'Waiting for%lock%'",
        _mariadb_create, _mariadb_drop),
}


def _query(connection: Any, sql: str, *args: Any) -> Any:
    cursor = connection.cursor()
    cursor.execute(sql, args or None)
    return cursor.fetchone()


def prepare(backend: Backend, name: str, rows: int) -> None:
    with backend.connect(name, True) as connection:
        for statement in backend.setup:
            connection.cursor().execute(statement.format(rows=rows))


def clients(backend: Backend, name: str, rows: int, stop: threading.Event,
            latencies: list[float]) -> list[threading.Thread]:
    def client() -> None:
        with backend.connect(name, True) as connection:
            while not stop.is_set():
                started = time.perf_counter()
                _query(connection, "SELECT v FROM hot WHERE id = %s", random.randint(1, rows))
                latencies.append(time.perf_counter() - started)
                time.sleep(max(0.0, 0.016 - (time.perf_counter() - started)))  # ~62 a second each

    return [threading.Thread(target=client, daemon=True) for _ in range(8)]


def sampler(backend: Backend, name: str, stop: threading.Event, blocked: list[float]) -> threading.Thread:
    def sample() -> None:
        with backend.connect(name, True) as connection:
            while not stop.is_set():
                row = _query(connection, backend.waiting)
                blocked.append(0.02 * (row[0] if row else 0))
                time.sleep(0.02)

    return threading.Thread(target=sample, daemon=True)


def scenario(backend: Backend, label: str, command: list[str] | None, cwd: Path, env: dict[str, str], name: str,
             rows: int, hold: float) -> str:
    stop, latencies, blocked = threading.Event(), [], []  # type: ignore[var-annotated]
    threads = [*clients(backend, name, rows, stop, latencies), sampler(backend, name, stop, blocked)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    latencies.clear()
    blocker = backend.connect(name, False)
    _query(blocker, "SELECT count(*) FROM hot")  # ACCESS SHARE / a shared metadata lock, then idle in transaction
    released_at = time.perf_counter() + hold
    time.sleep(0.5)
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True) if command else None
    time.sleep(max(0.0, released_at - time.perf_counter()))
    blocker.rollback()
    blocker.close()
    ended = ""
    if process is not None:
        _, err = process.communicate(timeout=600)
        after = time.perf_counter() - released_at
        ended = f"{after:+.2f} s" + ("" if process.returncode == 0 else f" (exit {process.returncode})")
        if process.returncode:
            print(err[-2000:], file=sys.stderr)
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    return (f"| {label} | {statistics.median(ordered) * 1000:.1f} | {p99 * 1000:.1f} | {ordered[-1] * 1000:.0f} | "
            f"{sum(blocked):.1f} | {ended or '-'} | {len(ordered) / (hold + 1.5):.0f} |")


def main(backend_name: str = "postgresql", hold: float = 10.0, rows: int = 100_000) -> None:
    backend = BACKENDS[backend_name]
    body = "\n".join(f"    op.execute({statement!r})" for statement in backend.revision)
    root = Path(tempfile.mkdtemp(prefix="memstack-guard-bench-"))
    ours, plain = write_projects(root, 1, 1)
    first = next((ours / "migrations" / "c000").glob("*.py")).read_text().split("revision = ")[1].split("\n")[0]
    guarded = REVISION.format(down=eval(first), body=body)
    (ours / "migrations" / "c000" / "0002_guarded.py").write_text(guarded)
    (plain / "alembic" / "versions" / "c000" / "0002_guarded.py").write_text(guarded)
    python, manage = sys.executable, str(REPO / "manage.py")
    alembic = str(Path(python).with_name("alembic"))
    rows_out = ["| scenario | p50 ms | p99 ms | max ms | blocked session-s | migration ended vs blocker | qps |",
                "|---|---|---|---|---|---|---|"]
    names: list[str] = []
    try:
        for label, kind, extra in (("no migration", None, {}), ("alembic upgrade", "alembic", {}),
                                   ("migrate, guard off", "memstack", {"MEMSTACK_DISABLE_GUARD": "1"}),
                                   ("migrate, defaults", "memstack", {})):
            name = backend.create()
            names.append(name)
            url = backend.url.format(name)
            env = {**os.environ, "PYTHONPATH": f"{ours}{os.pathsep}{REPO}", "MEMSTACK_DATABASE_URL": url,
                   "BENCH_DATABASE_URL": url, **extra}
            if kind == "alembic":
                subprocess.run([alembic, "upgrade", eval(first)], cwd=plain, env=env, check=True)
                command: list[str] | None = [alembic, "upgrade", "heads"]
                cwd = plain
            else:
                subprocess.run([python, manage, "migrate", "c000", "0001", "-v", "0"], cwd=ours, env=env, check=True)
                # --yes: the classifier reads MariaDB's MODIFY as a type change that may destroy data
                command = [python, manage, "migrate", "-v", "0", "--yes"] if kind else None
                cwd = ours
            prepare(backend, name, rows)
            rows_out.append(scenario(backend, label, command, cwd, env, name, rows, hold))
            print(rows_out[-1], file=sys.stderr)
    finally:
        backend.drop(names)
    print(f"\n{backend_name}, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())} at the end")
    print(f"blocker: a read, then idle in transaction for {hold:g} s; hot table {rows} rows; 8 clients\n")
    print("\n".join(rows_out))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="bench/guard.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=BACKENDS, default="postgresql")
    parser.add_argument("hold", nargs="?", type=float, default=10.0, help="seconds the blocker holds (10)")
    parser.add_argument("rows", nargs="?", type=int, default=100_000, help="rows of the hot table (100,000)")
    arguments = parser.parse_args()
    main(arguments.backend, arguments.hold, arguments.rows)
