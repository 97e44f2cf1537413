"""The guard's harness (issue 21), run by hand, never by the tests:

    .venv/bin/python bench/guard.py [SECONDS_BLOCKED] [ROWS]

On the local PostgreSQL: 8 client sessions run short queries (~500 a second in all) on a hot
table of ROWS rows (100,000); one session holds ACCESS SHARE on it, idle in a transaction, for
SECONDS_BLOCKED (10); half a second in, a revision adds a column, adds a foreign key NOT VALID then
validates it, and sets a column NOT NULL. Scenarios: no migration (the load alone), plain
``alembic upgrade`` (its generated env.py), ``manage.py migrate`` with the guard off
(``MEMSTACK_DISABLE_GUARD=1``: memstack before issue 21) and with the defaults. Printed per
scenario: the clients' p50/p99/max latency, the session-seconds spent waiting on a lock (from
``pg_stat_activity``, sampled every 20 ms) and when the migration ended relative to the blocker.
"""

from __future__ import annotations

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

import psycopg
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
    op.execute("ALTER TABLE hot ADD COLUMN note integer")
    op.execute("ALTER TABLE hot ADD CONSTRAINT hot_ref_fk FOREIGN KEY (ref) REFERENCES parent (id) NOT VALID")
    op.execute("ALTER TABLE hot VALIDATE CONSTRAINT hot_ref_fk")
    op.execute("ALTER TABLE hot ALTER COLUMN v SET NOT NULL")


def downgrade() -> None:
    pass
'''


def prepare(name: str, rows: int) -> None:
    with psycopg.connect(DSN.format(name), autocommit=True) as connection:
        connection.execute("CREATE TABLE parent (id int PRIMARY KEY)")
        connection.execute("INSERT INTO parent SELECT g FROM generate_series(1, 1000) g")
        connection.execute("CREATE TABLE hot (id int PRIMARY KEY, ref int, v int)")
        connection.execute(f"INSERT INTO hot SELECT g, 1 + g % 1000, g FROM generate_series(1, {rows}) g")
        connection.execute("ANALYZE hot")


def clients(name: str, rows: int, stop: threading.Event, latencies: list[float]) -> list[threading.Thread]:
    def client() -> None:
        with psycopg.connect(DSN.format(name), autocommit=True) as connection:
            while not stop.is_set():
                started = time.perf_counter()
                connection.execute("SELECT v FROM hot WHERE id = %s", (random.randint(1, rows),)).fetchone()
                latencies.append(time.perf_counter() - started)
                time.sleep(max(0.0, 0.016 - (time.perf_counter() - started)))  # ~62 a second each

    return [threading.Thread(target=client, daemon=True) for _ in range(8)]


def sampler(name: str, stop: threading.Event, blocked: list[float]) -> threading.Thread:
    def sample() -> None:
        with psycopg.connect(DSN.format(name), autocommit=True) as connection:
            while not stop.is_set():
                row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                         "AND datname = current_database()").fetchone()
                blocked.append(0.02 * (row[0] if row else 0))
                time.sleep(0.02)

    return threading.Thread(target=sample, daemon=True)


def scenario(label: str, command: list[str] | None, cwd: Path, env: dict[str, str], name: str, rows: int,
             hold: float) -> str:
    stop, latencies, blocked = threading.Event(), [], []  # type: ignore[var-annotated]
    threads = [*clients(name, rows, stop, latencies), sampler(name, stop, blocked)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    latencies.clear()
    blocker = psycopg.connect(DSN.format(name))
    blocker.execute("SELECT count(*) FROM hot").fetchone()  # ACCESS SHARE, then idle in transaction
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


def main(hold: float = 10.0, rows: int = 100_000) -> None:
    root = Path(tempfile.mkdtemp(prefix="memstack-guard-bench-"))
    ours, plain = write_projects(root, 1, 1)
    first = next((ours / "migrations" / "c000").glob("*.py")).read_text().split("revision = ")[1].split("\n")[0]
    (ours / "migrations" / "c000" / "0002_guarded.py").write_text(REVISION.format(down=eval(first)))
    (plain / "alembic" / "versions" / "c000" / "0002_guarded.py").write_text(REVISION.format(down=eval(first)))
    python, manage = sys.executable, str(REPO / "manage.py")
    alembic = str(Path(python).with_name("alembic"))
    rows_out = ["| scenario | p50 ms | p99 ms | max ms | blocked session-s | migration ended vs blocker | qps |",
                "|---|---|---|---|---|---|---|"]
    names: list[str] = []
    try:
        for label, kind, extra in (("no migration", None, {}), ("alembic upgrade", "alembic", {}),
                                   ("migrate, guard off", "memstack", {"MEMSTACK_DISABLE_GUARD": "1"}),
                                   ("migrate, defaults", "memstack", {})):
            name = pg_database()
            names.append(name)
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            env = {**os.environ, "PYTHONPATH": f"{ours}{os.pathsep}{REPO}", "MEMSTACK_DATABASE_URL": url,
                   "BENCH_DATABASE_URL": url, **extra}
            if kind == "alembic":
                subprocess.run([alembic, "upgrade", eval(first)], cwd=plain, env=env, check=True)
                command: list[str] | None = [alembic, "upgrade", "heads"]
                cwd = plain
            else:
                subprocess.run([python, manage, "migrate", "c000", "0001", "-v", "0"], cwd=ours, env=env, check=True)
                command = [python, manage, "migrate", "-v", "0"] if kind else None
                cwd = ours
            prepare(name, rows)
            rows_out.append(scenario(label, command, cwd, env, name, rows, hold))
            print(rows_out[-1], file=sys.stderr)
    finally:
        drop_pg(names)
    print(f"\nblocker: ACCESS SHARE idle in transaction for {hold:g} s; hot table {rows} rows; 8 clients\n")
    print("\n".join(rows_out))


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]), *(int(a) for a in sys.argv[2:3]))
