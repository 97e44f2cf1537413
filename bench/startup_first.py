"""The first no-op ``migrate_on_startup()`` after import against the second (issue 25, part 4).

    .venv/bin/python bench/startup_first.py                          # 1,000 5,000 10,000 revisions, PostgreSQL
    .venv/bin/python bench/startup_first.py --revisions 10000 --repeat 7 --installed-tree
    .venv/bin/python bench/startup_first.py --revisions 5000 --importtime   # what the first call imports

Per size: the synthetic tree (bench/tree.py) migrated on PostgreSQL as bench/run.py prepares its
no-op database; then ``--repeat`` fresh processes, each importing what an application has imported
when its lifespan hook runs (SQLAlchemy, the driver, memstack; as bench/run.py's ``startup``) and
timing three calls in a row. Printed: the medians of the first, second and third call (min-max),
the first minus the second, and the load average before and after. With ``--installed-tree`` the
processes also set ``MEMSTACK_INSTALLED_TREE=1`` (docs/applying.md#an-installed-tree). Bytecode is
cached, as on a user's machine. Nothing is asserted: numbers are for reading.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Bench, drop_pg

CALLS = 3
PROCESS = ("import os\nimport psycopg\nimport time\n"
           "import sqlalchemy, memstack.engine.migrate, memstack.engine.workspace\n"
           "from memstack.startup import migrate_on_startup\n"
           "for _ in range({calls}):\n"
           "    t = time.perf_counter(); migrate_on_startup(project_dir=os.getcwd())\n"
           "    print(time.perf_counter() - t)\n")


def cell(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{statistics.median(ms):.1f} ms ({min(ms):.1f}-{max(ms):.1f})"


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def measure(b: Bench, url: str, repeat: int, installed: bool, importtime: bool) -> list[list[float]]:
    env = b.env(b.ours, url)
    if installed:
        env["MEMSTACK_INSTALLED_TREE"] = "1"
    argv = [b.python, *(["-X", "importtime"] if importtime else []), "-c", PROCESS.format(calls=CALLS)]
    calls: list[list[float]] = [[] for _ in range(CALLS)]
    for _ in range(repeat):
        done = subprocess.run(argv, cwd=b.ours, env=env, capture_output=True, text=True, check=True)
        for index, line in enumerate(done.stdout.split()):
            calls[index].append(float(line))
        if importtime:  # the modules imported during the calls: after memstack.startup's own import
            lines = done.stderr.splitlines()
            after = next(i for i, line in enumerate(lines) if line.rstrip().endswith("memstack.startup"))
            print("\n".join(lines[after + 1:]), file=sys.stderr)
            return calls
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/startup_first.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, nargs="+", default=[1000, 5000, 10000], metavar="N")
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5, help="processes per size (default: 5; medians)")
    parser.add_argument("--installed-tree", action="store_true", help="also time with MEMSTACK_INSTALLED_TREE=1")
    parser.add_argument("--importtime", action="store_true", help="print what the calls import (-X importtime)")
    args = parser.parse_args(argv)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(__file__).resolve().parents[1] / "memstack")],
                   check=True)
    print("| revisions | setting | first call | second | third | first - second | load before / after |")
    print("|---:|---|---:|---:|---:|---:|---|")
    for size in args.revisions:
        root = Path(tempfile.mkdtemp(prefix=f"memstack-startup-{size}-"))
        bench = Bench(root, size, args.components, args.repeat)
        try:
            url = bench.migrated_pg()
            for installed in ([False, True] if args.installed_tree else [False]):
                before = load()
                first, second, third = measure(bench, url, args.repeat, installed, args.importtime)
                gap = statistics.median(first) - statistics.median(second)
                print(f"| {size:,} | {'installed tree' if installed else 'default'} | {cell(first)} | "
                      f"{cell(second)} | {cell(third)} | {gap * 1000:+.1f} ms | {before} / {load()} |", flush=True)
        finally:
            drop_pg(bench.databases)
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
