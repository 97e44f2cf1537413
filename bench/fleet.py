"""Fleets (issue 23), run by hand, never by the tests:

    .venv/bin/python bench/fleet.py [--schemas 1000] [--databases 100] [--concurrency 8] [--only schemas databases]

On the machine's PostgreSQL, with MemStack's own 7-component tree in a project copy:

* ``schemas``: N schemas of one database. From empty (``migrate --schemas``), then a no-op
  ``migrate --schemas`` (a whole process) against its floor: one ``psql`` session reading every
  schema's ``alembic_version`` (plus a Python process start, reported apart). Then one add-column
  revision on every schema at ``--concurrency`` against its floor: the same DDL and a version-row
  update through ``psql`` in ``--concurrency`` parallel sessions, one transaction per schema. Then the
  baseline: another add-column revision through one plain ``alembic upgrade heads`` process per
  schema (a plain env.py, ``search_path`` in the URL) under ``xargs -P``.
* ``databases``: the same over M databases (``--targets FILE``), floors per database.

Peak memory: VmHWM of the parent and of each worker, sampled from /proc while the run lasts.
Printed as a Markdown table; the machine's load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-X", "-v", "ON_ERROR_STOP=1"]
ENV_PY = '''from alembic import context
from sqlalchemy import create_engine
import os
engine = create_engine(os.environ["BENCH_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
'''
REVISION = '''"""bench: add a column"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("memos", sa.Column("{column}", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("memos", "{column}")
'''


def psql(database: str, sql: str) -> float:
    started = time.perf_counter()
    subprocess.run([*PSQL, "-d", database], input=sql, text=True, check=True, capture_output=True)
    return time.perf_counter() - started


def project(root: Path) -> Path:
    for folder in ("migrations", "templates"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "manage.py", root / "manage.py")
    locations = " ".join(str(p) for p in sorted((root / "migrations").iterdir()) if p.is_dir())
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n\n[tool.memstack]\n')
    plain = root / "plain"
    plain.mkdir()
    (plain / "env.py").write_text(ENV_PY)
    shutil.copy(Path(__import__("alembic").__file__).parent / "templates/generic/script.py.mako", plain)
    (root / "alembic.ini").write_text(f"[alembic]\nscript_location = {plain}\nversion_locations = {locations}\n"
                                      "path_separator = space\n")
    return root


def add_revision(root: Path, rev: str, down: str, column: str) -> None:
    (root / "migrations/memo" / f"{rev[-4:]}_bench_{column}.py").write_text(
        REVISION.format(rev=rev, down=down, column=column))


class Peak:
    """Sample VmHWM (peak RSS) of a process and its descendants while it runs."""
    def __init__(self, pid: int) -> None:
        self.pid, self.peaks, self._stop = pid, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in [self.pid, *_descendants(self.pid)]:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peaks[pid] = max(self.peaks.get(pid, 0), int(line.split()[1]) // 1024)
                except OSError:
                    pass
            time.sleep(0.1)

    def stop(self) -> tuple[int, int]:
        """(parent's peak MiB, the largest worker's peak MiB)."""
        self._stop.set()
        self._thread.join()
        workers = [mb for pid, mb in self.peaks.items() if pid != self.pid]
        return self.peaks.get(self.pid, 0), max(workers, default=0)


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def manage(root: Path, url: str, *args: str) -> tuple[float, int, int, str]:
    """``manage.py ARGS``: (seconds, parent peak MiB, worker peak MiB, stderr's last line)."""
    env = {**os.environ, "MEMSTACK_DATABASE_URL": url, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = subprocess.Popen([PYTHON, "manage.py", *args], cwd=root, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = Peak(proc.pid)
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    parent, worker = peak.stop()
    if proc.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{err}")
    return seconds, parent, worker, (err.strip().splitlines() or [""])[-1]


def parallel_psql(scripts: Sequence[str], database: str) -> float:
    """Run the scripts in as many concurrent psql sessions; wall time."""
    started = time.perf_counter()
    procs = [subprocess.Popen([*PSQL, "-d", database], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
             for _ in scripts]
    for proc, script in zip(procs, scripts, strict=True):
        proc.stdin.write(script)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    for proc in procs:
        if proc.wait():
            raise SystemExit("a floor's psql failed")
    return time.perf_counter() - started


def chunks(items: Sequence[str], n: int) -> list[list[str]]:
    return [list(items[i::n]) for i in range(n)]


def python_start() -> float:
    started = time.perf_counter()
    subprocess.run([PYTHON, "-c", "import sqlalchemy, psycopg"], check=True)
    return time.perf_counter() - started


def baseline(root: Path, urls: Sequence[str], concurrency: int) -> float:
    """One plain ``alembic upgrade heads`` process per target under ``xargs -P``."""
    started = time.perf_counter()
    subprocess.run(["xargs", "-P", str(concurrency), "-I{}", "env", "BENCH_URL={}", PYTHON, "-m", "alembic",
                    "upgrade", "heads"], input="\n".join(urls) + "\n", text=True, cwd=root, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


MEMO_HEAD = "bc9a7cdd598c"


def run_fleet(name: str, root: Path, url: str, select: list[str], urls: list[str], floor_read: float,
              floor_add: Callable[[], float], concurrency: int) -> list[str]:
    rows = []
    noop = manage(root, url, "migrate", *select)
    start = python_start()
    rows.append(f"| {name}: no-op `migrate` | {noop[0]:.2f} s | psql read {floor_read:.2f} s + Python start "
                f"{start:.2f} s | {noop[0] / (floor_read + start):.1f}x | {noop[1]} / {noop[2]} MiB |")
    add_revision(root, "bench0000002", MEMO_HEAD, "bench_a")
    add = manage(root, url, "migrate", *select, "--concurrency", str(concurrency))
    floor = floor_add()
    rows.append(f"| {name}: one add-column revision, --concurrency {concurrency} | {add[0]:.2f} s | "
                f"psql x{concurrency} {floor:.2f} s | {add[0] / floor:.1f}x | {add[1]} / {add[2]} MiB |")
    add_revision(root, "bench0000003", "bench0000002", "bench_b")
    plain = baseline(root, urls, concurrency)
    rows.append(f"| {name}: `alembic upgrade heads` per target, xargs -P {concurrency} | {plain:.1f} s | "
                f"memstack {add[0]:.2f} s | memstack {plain / add[0]:.1f}x faster | |")
    return rows


def bench_schemas(root: Path, n: int, concurrency: int) -> list[str]:
    db = "memstack_bench_fleet"
    psql("postgres", f"DROP DATABASE IF EXISTS {db};\nCREATE DATABASE {db};\n")
    names = [f"t{i:04d}" for i in range(n)]
    psql(db, "".join(f"CREATE SCHEMA {s};\n" for s in names))
    url = PG + db

    def floor_add() -> float:
        return parallel_psql(["".join(
            f"BEGIN; ALTER TABLE {s}.memos ADD COLUMN floor_a integer; UPDATE {s}.alembic_version SET version_num "
            f"= version_num WHERE version_num = 'bench0000002'; COMMIT;\n" for s in part)
            for part in chunks(names, concurrency)], db)

    rows = []
    select = ["--schemas", "t%"]
    urls = [f"{url}?options=-csearch_path%3D{s}" for s in names]
    empty = manage(root, url, "migrate", *select, "--concurrency", str(concurrency))
    rows.append(f"| {n} schemas: from empty (13 revisions each) | {empty[0]:.1f} s | | | {empty[1]} / {empty[2]} MiB |")
    floor_read = psql(db, "".join(f"SELECT version_num FROM {s}.alembic_version;\n" for s in names))
    rows += run_fleet(f"{n} schemas", root, url, select, urls, floor_read, floor_add, concurrency)
    psql("postgres", f"DROP DATABASE {db};\n")
    return rows


def bench_databases(root: Path, m: int, concurrency: int) -> list[str]:
    names = [f"memstack_bench_db_{i:03d}" for i in range(m)]
    psql("postgres", "".join(f"DROP DATABASE IF EXISTS {d};\nCREATE DATABASE {d};\n" for d in names))
    targets = root / "targets.txt"
    targets.write_text("".join(f"{PG}{d}\n" for d in names))
    urls = [PG + d for d in names]

    def floor_add() -> float:
        return parallel_psql(["".join(
            f"\\c {d}\nBEGIN; ALTER TABLE memos ADD COLUMN floor_a integer; UPDATE alembic_version SET version_num "
            f"= version_num WHERE version_num = 'bench0000002'; COMMIT;\n" for d in part)
            for part in chunks(names, concurrency)], "postgres")

    select = ["--targets", str(targets)]
    empty = manage(root, PG + "postgres", "migrate", *select, "--concurrency", str(concurrency))
    rows = [f"| {m} databases: from empty (13 revisions each) | {empty[0]:.1f} s | | | {empty[1]} / {empty[2]} MiB |"]
    floor_read = psql("postgres", "".join(f"\\c {d}\nSELECT version_num FROM alembic_version;\n" for d in names))
    rows += run_fleet(f"{m} databases", root, PG + "postgres", select, urls, floor_read, floor_add, concurrency)
    psql("postgres", "".join(f"DROP DATABASE {d};\n" for d in names))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/fleet.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--schemas", type=int, default=1000)
    parser.add_argument("--databases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", nargs="+", choices=("schemas", "databases"), default=["schemas", "databases"])
    args = parser.parse_args(argv)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    rows = ["| run | memstack | floor / baseline | ratio | peak RSS parent / worker |", "|---|---|---|---|---|"]
    for kind in args.only:
        with tempfile.TemporaryDirectory(prefix="memstack-fleet-") as tmp:
            root = project(Path(tmp))
            rows += (bench_schemas(root, args.schemas, args.concurrency) if kind == "schemas"
                     else bench_databases(root, args.databases, args.concurrency))
    print("\n".join(rows))
    print(f"\nload average before: {load}; after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
