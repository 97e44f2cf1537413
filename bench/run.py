"""Time memstack and plain Alembic side by side on the synthetic tree of issue 13.

    .venv/bin/python bench/run.py                       # 1,000 revisions, every operation
    .venv/bin/python bench/run.py --revisions 1000 5000 --only help history noop startup
    .venv/bin/python bench/run.py --markdown bench/results.md

Each size gets a fresh tree (bench/tree.py) written as a memstack project and as a plain
Alembic project with identical revision files. Every operation runs in fresh processes,
memstack and Alembic alternating, REPEAT times ("from empty" ones too, each on a new database), on
the same PostgreSQL server (a new database per run) or SQLite file. The table gives the
median, min-max, memstack / Alembic ratio, memstack / floor ratio, and each side's peak RSS.
Floors: for a no-op start, a process that imports SQLAlchemy, connects and reads
alembic_version; for a migrate from empty, Alembic's own --sql output run by ``psql -1 -f``
or by ``sqlite3`` in one transaction. Nothing here is asserted: numbers are for reading.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree import write_model_projects, write_projects

REPO = Path(__file__).resolve().parents[1]
OPERATIONS = ("help", "history", "noop", "startup", "empty_pg", "empty_sqlite", "sql", "makemigrations",
              "makemigrations_check")

FLOOR_NOOP = ("import os, sqlalchemy as sa\n"
              "e = sa.create_engine(os.environ['BENCH_DATABASE_URL'])\n"
              "with e.connect() as c: c.execute(sa.text('SELECT version_num FROM alembic_version')).all()\n")
# Both in-process timings start after the imports an application has already done when its lifespan
# hook runs: SQLAlchemy, the database driver (its own engine uses it) and the migration tool itself.
DRIVER_IMPORT = ("import os\nif os.environ['BENCH_DATABASE_URL'].startswith('postgresql'): import psycopg\n"
                 "else: import sqlite3\n")
STARTUP = (DRIVER_IMPORT + "import time, os, sys\n"
           "import sqlalchemy, memstack.engine.migrate, memstack.engine.workspace\n"
           "from memstack.startup import migrate_on_startup\n"
           "t = time.perf_counter(); migrate_on_startup(project_dir=os.getcwd())\n"
           "print(time.perf_counter() - t)\n")
ALEMBIC_STARTUP = (DRIVER_IMPORT + "import time\nfrom alembic import command\nfrom alembic.config import Config\n"
                   "import sqlalchemy\nt = time.perf_counter(); command.upgrade(Config('alembic.ini'), 'heads')\n"
                   "print(time.perf_counter() - t)\n")


@dataclass
class Sample:
    seconds: list[float] = field(default_factory=list)
    peak_kib: int = 0

    def add(self, seconds: float, peak_kib: int) -> None:
        self.seconds.append(seconds)
        self.peak_kib = max(self.peak_kib, peak_kib)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def cell(self) -> str:
        if not self.seconds:
            return "-"
        spread = f" ({min(self.seconds):.3f}-{max(self.seconds):.3f})" if len(self.seconds) > 1 else ""
        return f"{self.median:.3f} s{spread}"


@dataclass
class Row:
    size: int
    operation: str
    ours: Sample
    plain: Sample
    floor: Sample | None = None
    floor_per_revision: Sample | None = None  # the same SQL, one transaction per revision


def run(argv: Sequence[str], cwd: Path, env: dict[str, str], stdin: Path | None = None,
        inner: bool = False) -> tuple[float, int]:
    """(seconds, peak RSS KiB) of one process; ``inner``: the process prints its own seconds."""
    handle = stdin.open("rb") if stdin else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=handle, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    if stdin:
        handle.close()  # type: ignore[union-attr]
    if process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({process.returncode}):\n{err.decode()[-3000:]}")
    peak = _peak_kib(process.pid)
    return (float(out.decode().strip().splitlines()[-1]) if inner else seconds), peak


_peaks: dict[int, int] = {}


def _peak_kib(pid: int) -> int:
    return _peaks.pop(pid, 0)


def _reap_with_rusage() -> None:
    """Make Popen reap children with wait4, so each one's peak RSS is kept."""
    original = subprocess.Popen._try_wait  # type: ignore[attr-defined]

    def try_wait(self: subprocess.Popen[bytes], wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return original(self, wait_flags)  # type: ignore[no-any-return]
        if pid:
            _peaks[pid] = usage.ru_maxrss
        return pid, status

    subprocess.Popen._try_wait = try_wait  # type: ignore[attr-defined]


def _psql_admin(sql: str) -> None:
    """Run ``sql`` on the server's ``postgres`` database through psql.

    The runner itself imports neither SQLAlchemy nor Alembic: on Linux a child's peak RSS
    counts the parent's pages until it execs, so a heavy runner would raise every figure
    to its own size.
    """
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres",
                    "-c", sql], check=True, capture_output=True)


def pg_database() -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    _psql_admin(f'CREATE DATABASE "{name}"')
    return name


def drop_pg(names: Sequence[str]) -> None:
    for name in names:
        _psql_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Bench:
    """One size: the two projects, their environments and the databases made for them."""

    def __init__(self, root: Path, size: int, components: int, repeat: int) -> None:
        self.root, self.size, self.repeat = root, size, repeat
        self.ours, self.plain = write_projects(root, size, components)
        self.python = sys.executable
        self.alembic = str(Path(self.python).with_name("alembic"))
        self.manage = str(REPO / "manage.py")
        self.databases: list[str] = []
        self.cold = False

    def env(self, project: Path, url: str) -> dict[str, str]:
        # bytecode cached as on a user's machine: pip compiles installed packages (Alembic's), so
        # a PYTHONDONTWRITEBYTECODE left in the environment would only tax an editable memstack
        inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        return {**inherited, "PYTHONPATH": f"{project}{os.pathsep}{REPO}", "MEMSTACK_DATABASE_URL": url,
                "BENCH_DATABASE_URL": url}

    def pg_url(self) -> str:
        name = pg_database()
        self.databases.append(name)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

    def pair(self, operation: str, ours: Callable[[], tuple[float, int]], plain: Callable[[], tuple[float, int]],
             floor: Callable[[], tuple[float, int]] | None = None, repeat: int | None = None,
             floor_per_revision: Callable[[], tuple[float, int]] | None = None) -> Row:
        row = Row(self.size, operation, Sample(), Sample(), Sample() if floor else None,
                  Sample() if floor_per_revision else None)
        for _ in range(repeat or self.repeat):  # alternate, so load on the machine hits both alike
            if self.cold:
                for index in self.ours.glob("migrations/*/.memstack-index.json"):
                    index.unlink()
            row.ours.add(*ours())
            row.plain.add(*plain())
            if floor and row.floor is not None:
                row.floor.add(*floor())
            if floor_per_revision and row.floor_per_revision is not None:
                row.floor_per_revision.add(*floor_per_revision())
        return row

    def offline_sql(self, url: str) -> Path:
        """Alembic's --sql of the whole tree for ``url``'s dialect: the floor's input."""
        out = self.root / f"floor-{url.split(':')[0]}.sql"
        result = subprocess.run([self.alembic, "upgrade", "heads", "--sql"], cwd=self.plain,
                                env=self.env(self.plain, url), capture_output=True, check=True)
        out.write_bytes(result.stdout)
        return out

    def migrated_pg(self) -> str:
        """A database at the tree's heads, with memstack's checksums recorded (setup, not timed)."""
        url = self.pg_url()
        script = self.offline_sql(url)
        subprocess.run(["psql", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d",
                        url.rsplit("/", 1)[1], "-f", str(script)], check=True, capture_output=True)
        subprocess.run([self.python, self.manage, "repair", "--yes"], cwd=self.ours,
                       env=self.env(self.ours, url), check=True, capture_output=True)
        # one no-op migrate, as the deploy that migrated it would have run: it stores the no-op digest
        subprocess.run([self.python, self.manage, "migrate", "-v", "0"], cwd=self.ours,
                       env=self.env(self.ours, url), check=True, capture_output=True)
        return url


def _strip_transaction(script: Path) -> Path:
    """The floor runs the script as one transaction itself: drop the script's own BEGIN/COMMIT."""
    lines = [line for line in script.read_text().splitlines() if line.strip().upper() not in ("BEGIN;", "COMMIT;")]
    out = script.with_suffix(".one.sql")
    out.write_text("BEGIN;\n" + "\n".join(lines) + "\nCOMMIT;\n")
    return out


def _per_revision_transactions(script: Path) -> Path:
    """The floor of a tool that commits each revision: Alembic's --sql with BEGIN/COMMIT around each one."""
    body = [line for line in script.read_text().splitlines() if line.strip().upper() not in ("BEGIN;", "COMMIT;")]
    text = "\n".join(body)
    first, *steps = text.split("-- Running upgrade")
    out = script.with_suffix(".each.sql")
    out.write_text(first + "".join(f"BEGIN;\n-- Running upgrade{step}\nCOMMIT;\n" for step in steps))
    return out


def op_help(b: Bench) -> list[Row]:
    env = b.env(b.ours, "sqlite://")
    return [b.pair("`--help`", lambda: run([b.python, b.manage, "--help"], b.ours, env),
                   lambda: run([b.alembic, "--help"], b.plain, b.env(b.plain, "sqlite://")))]


def op_history(b: Bench, url: str) -> list[Row]:
    return [b.pair("showmigrations vs `alembic history`",
                   lambda: run([b.python, b.manage, "showmigrations"], b.ours, b.env(b.ours, url)),
                   lambda: run([b.alembic, "history"], b.plain, b.env(b.plain, url)))]


def op_noop(b: Bench, url: str) -> list[Row]:
    return [b.pair("no-op migrate vs `alembic upgrade heads` (process)",
                   lambda: run([b.python, b.manage, "migrate"], b.ours, b.env(b.ours, url)),
                   lambda: run([b.alembic, "upgrade", "heads"], b.plain, b.env(b.plain, url)),
                   floor=lambda: run([b.python, "-c", FLOOR_NOOP], b.plain, b.env(b.plain, url)))]


def op_startup(b: Bench, url: str) -> list[Row]:
    return [b.pair("no-op `migrate_on_startup()` vs `command.upgrade` (in-process, after import)",
                   lambda: run([b.python, "-c", STARTUP], b.ours, b.env(b.ours, url), inner=True),
                   lambda: run([b.python, "-c", ALEMBIC_STARTUP], b.plain, b.env(b.plain, url), inner=True))]


def op_empty_pg(b: Bench) -> list[Row]:
    offline = b.offline_sql("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    script, each = _strip_transaction(offline), _per_revision_transactions(offline)

    _warm(b, b.pg_url)

    def psql(path: Path, *single: str) -> tuple[float, int]:
        name = b.pg_url().rsplit("/", 1)[1]
        return run(["psql", "-q", *single, "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", name,
                    "-f", str(path)], b.root, dict(os.environ))

    return [b.pair("migrate from empty, PostgreSQL", lambda: _migrate_new(b, b.ours, b.pg_url()),
                   lambda: _upgrade_new(b, b.pg_url()), floor=lambda: psql(script, "-1"),
                   floor_per_revision=lambda: psql(each)),
            b.pair("`migrate --atomic` from empty (one transaction, as Alembic's default env.py), PostgreSQL",
                   lambda: _migrate_new(b, b.ours, b.pg_url(), "--atomic"), lambda: _upgrade_new(b, b.pg_url()),
                   floor=lambda: psql(script, "-1"))]


def _warm(b: Bench, new_url: Callable[[], str]) -> None:
    """One untimed run a side first, as on a machine that migrated before: Python's bytecode of the
    revision files (both sides) and memstack's kept classifications (``__pycache__``) are written."""
    _migrate_new(b, b.ours, new_url(), "--yes")
    _upgrade_new(b, new_url())


def _migrate_new(b: Bench, project: Path, url: str, *options: str) -> tuple[float, int]:
    return run([b.python, b.manage, "migrate", "-v", "0", *options], project, b.env(project, url))


def _upgrade_new(b: Bench, url: str) -> tuple[float, int]:
    return run([b.alembic, "upgrade", "heads"], b.plain, b.env(b.plain, url))


def op_empty_sqlite(b: Bench) -> list[Row]:
    offline = b.offline_sql(f"sqlite:///{b.root}/offline.db")
    script, each = _strip_transaction(offline), _per_revision_transactions(offline)
    counter = iter(range(10**6))

    def new_file() -> str:
        return f"sqlite:///{b.root}/empty-{next(counter)}.db"

    _warm(b, new_file)

    return [b.pair("migrate from empty, SQLite", lambda: _migrate_new(b, b.ours, new_file()),
                   lambda: _upgrade_new(b, new_file()),
                   floor=lambda: run(["sqlite3", new_file().removeprefix("sqlite:///")], b.root, dict(os.environ),
                                     stdin=script),
                   floor_per_revision=lambda: run(["sqlite3", new_file().removeprefix("sqlite:///")], b.root,
                                                  dict(os.environ), stdin=each)),
            b.pair("`migrate --atomic` from empty (one transaction, as Alembic's default env.py), SQLite",
                   lambda: _migrate_new(b, b.ours, new_file(), "--atomic"), lambda: _upgrade_new(b, new_file()),
                   floor=lambda: run(["sqlite3", new_file().removeprefix("sqlite:///")], b.root, dict(os.environ),
                                     stdin=script))]


def op_sql(b: Bench) -> list[Row]:
    url = b.pg_url()
    return [b.pair("`migrate --sql` vs `alembic upgrade heads --sql` (PostgreSQL, from empty)",
                   lambda: run([b.python, b.manage, "migrate", "--sql"], b.ours, b.env(b.ours, url)),
                   lambda: run([b.alembic, "upgrade", "heads", "--sql"], b.plain, b.env(b.plain, url)))]


def op_makemigrations(b: Bench) -> list[Row]:
    ours, plain = write_model_projects(b.root / "model")
    url = f"sqlite:///{b.root}/model.db"

    def clean(folder: Path) -> None:
        for path in folder.glob("*.py"):
            path.unlink()

    def memstack_run() -> tuple[float, int]:
        clean(ours / "migrations" / "m")
        return run([b.python, b.manage, "makemigrations", "-m", "init"], ours, b.env(ours, url))

    def alembic_run() -> tuple[float, int]:
        clean(plain / "alembic" / "versions" / "m")
        return run([b.alembic, "revision", "--autogenerate", "-m", "init", "--head", "base", "--branch-label", "m",
                    "--version-path", str(plain / "alembic" / "versions" / "m")], plain, b.env(plain, url))

    return [b.pair("makemigrations vs `alembic revision --autogenerate` (200-table model)",
                   memstack_run, alembic_run)]


def op_makemigrations_check(b: Bench) -> list[Row]:
    """No model change: ``makemigrations --check`` vs ``alembic check`` on a database at its heads."""
    ours, plain = write_model_projects(b.root / "model-check")
    ours_url, plain_url = f"sqlite:///{b.root}/check-ours.db", f"sqlite:///{b.root}/check-plain.db"
    subprocess.run([b.python, b.manage, "makemigrations", "-m", "init"], cwd=ours, env=b.env(ours, ours_url),
                   check=True, capture_output=True)
    subprocess.run([b.alembic, "revision", "--autogenerate", "-m", "init", "--head", "base", "--branch-label", "m",
                    "--version-path", str(plain / "alembic" / "versions" / "m")], cwd=plain,
                   env=b.env(plain, plain_url), check=True, capture_output=True)
    subprocess.run([b.alembic, "upgrade", "heads"], cwd=plain, env=b.env(plain, plain_url), check=True,
                   capture_output=True)
    return [b.pair("makemigrations --check vs `alembic check`, no change (200-table model)",
                   lambda: run([b.python, b.manage, "makemigrations", "--check"], ours, b.env(ours, ours_url)),
                   lambda: run([b.alembic, "check"], plain, b.env(plain, plain_url)))]


def measure(b: Bench, only: Sequence[str]) -> list[Row]:
    rows: list[Row] = []
    if "help" in only:
        rows += op_help(b)
    if {"history", "noop", "startup"} & set(only):
        url = b.migrated_pg()
        for name, operation in (("history", op_history), ("noop", op_noop), ("startup", op_startup)):
            if name in only:
                rows += operation(b, url)
    for name, simple in (("sql", op_sql), ("empty_pg", op_empty_pg), ("empty_sqlite", op_empty_sqlite),
                         ("makemigrations", op_makemigrations), ("makemigrations_check", op_makemigrations_check)):
        if name in only:
            rows += simple(b)
    return rows


def table(rows: Sequence[Row]) -> str:
    lines = ["| revisions | operation | memstack | plain Alembic | ratio | floor | memstack / floor "
             "| floor, a transaction per revision | memstack / that | peak MiB (ours / Alembic) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def versus(floor: Sample | None, ours: Sample) -> tuple[str, str]:
        if floor is None or not floor.seconds:
            return "", ""
        return floor.cell(), f"{ours.median / floor.median:.2f}"

    for r in rows:
        floor, vs_floor = versus(r.floor, r.ours)
        each, vs_each = versus(r.floor_per_revision, r.ours)
        lines.append(f"| {r.size:,} | {r.operation} | {r.ours.cell()} | {r.plain.cell()} | "
                     f"{r.ours.median / r.plain.median:.2f} | {floor} | {vs_floor} | {each} | {vs_each} | "
                     f"{r.ours.peak_kib / 1024:.0f} / {r.plain.peak_kib / 1024:.0f} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    global REPO
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, nargs="+", default=[1000], metavar="N",
                        help="tree sizes to measure (default: 1000; the issue's sizes: 1000 5000 10000)")
    parser.add_argument("--components", type=int, default=50, help="components in the tree (default: 50)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per fast operation (default: 3; median)")
    parser.add_argument("--only", nargs="+", choices=OPERATIONS, default=list(OPERATIONS), metavar="OP",
                        help=f"operations to run (default: all): {', '.join(OPERATIONS)}")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--memstack-repo", type=Path, default=REPO,
                        help="time another memstack checkout (e.g. a `git archive` of an older commit)")
    parser.add_argument("--cold", action="store_true",
                        help="delete memstack's revision index before each memstack run (parse every file)")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees (path printed on stderr)")
    args = parser.parse_args(argv)
    REPO = args.memstack_repo.resolve()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "memstack")], check=True)
    _reap_with_rusage()
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    rows: list[Row] = []
    for size in args.revisions:
        root = Path(tempfile.mkdtemp(prefix=f"memstack-bench-{size}-"))
        print(f"bench: {size} revisions in {root}", file=sys.stderr)
        bench = Bench(root, size, args.components, args.repeat)
        bench.cold = args.cold
        try:
            new = measure(bench, args.only)
            rows += new
            print(table(new), file=sys.stderr, flush=True)
        finally:
            drop_pg(bench.databases)
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result = table(rows) + f"\n\nload average (1, 5, 15 min) before: {load_before}; after: {load_after}"
    print(result)
    if args.markdown:
        args.markdown.write_text(f"{result}\n\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
                                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
