"""The guard's cost per step (issue 21), run by hand, never by the tests:

    .venv/bin/python bench/guard_overhead.py [--revisions 1000] [--repeat 7] [--only pg sqlite]

``manage.py migrate`` from an empty database on the synthetic tree of ``tree.py``, with the
defaults (the guard on: lock and statement timeouts on every step, the ladder, the pre-flight)
and with ``MEMSTACK_DISABLE_GUARD=1``, alternating runs, each on a new database. Printed: medians
(min-max), the ratio on / off, the difference per step, and the load average before and after;
and the same for the migrate process's own CPU time (user + system, from ``wait4``), which a
loaded machine disturbs far less than the wall clock (it leaves out the server's work and the
waits for it, so it shows the guard's Python per step; its round trips show in the wall clock).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as runner
from run import Bench, Sample, _migrate_new, _reap_with_rusage, drop_pg


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


_CPU: list[float] = []  # CPU seconds (user + system) of each child reaped, in order


def _note_cpu() -> None:
    """Keep each child's CPU time too (run.py's reaper keeps its peak RSS); installed after it."""
    before = subprocess.Popen._try_wait  # type: ignore[attr-defined]

    def try_wait(self: subprocess.Popen[bytes], wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return before(self, wait_flags)  # type: ignore[no-any-return]
        if pid:
            runner._peaks[pid] = usage.ru_maxrss
            _CPU.append(usage.ru_utime + usage.ru_stime)
        return pid, status

    subprocess.Popen._try_wait = try_wait  # type: ignore[attr-defined]


def _timed(b: Bench, url: str, cpu: Sample) -> tuple[float, int]:
    taken = _migrate_new(b, b.ours, url)
    cpu.add(_CPU[-1], 0)
    return taken


def measure(b: Bench, url: Callable[[], str], repeat: int) -> tuple[Sample, Sample, Sample, Sample]:
    on, off, on_cpu, off_cpu = Sample(), Sample(), Sample(), Sample()
    for _ in range(repeat):  # alternate, so load on the machine hits both alike
        on.add(*_timed(b, url(), on_cpu))
        os.environ["MEMSTACK_DISABLE_GUARD"] = "1"  # Bench.env copies os.environ
        try:
            off.add(*_timed(b, url(), off_cpu))
        finally:
            del os.environ["MEMSTACK_DISABLE_GUARD"]
    return on, off, on_cpu, off_cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/guard_overhead.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=1000)
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7, help="runs each way, alternating (default: 7)")
    parser.add_argument("--only", nargs="+", choices=("pg", "sqlite"), default=["pg", "sqlite"])
    args = parser.parse_args(argv)
    os.environ.pop("MEMSTACK_DISABLE_GUARD", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(runner.REPO / "memstack")], check=True)
    _reap_with_rusage()
    _note_cpu()
    root = Path(tempfile.mkdtemp(prefix="memstack-guard-overhead-"))
    b = Bench(root, args.revisions, args.components, args.repeat)
    counter = iter(range(10**6))
    urls = {"pg": ("PostgreSQL", b.pg_url),
            "sqlite": ("SQLite", lambda: f"sqlite:///{root}/empty-{next(counter)}.db")}
    lines = ["| database | guard on (defaults) | guard off (`MEMSTACK_DISABLE_GUARD=1`) | on / off "
             "| per step | load average before / after |", "|---|---:|---:|---:|---:|---|"]
    try:
        _migrate_new(b, b.ours, urls[args.only[0]][1]())  # warm the index and bytecode, untimed
        for key in args.only:
            label, url = urls[key]
            before = _load()
            on, off, on_cpu, off_cpu = measure(b, url, args.repeat)
            for what, yes, no in (("wall", on, off), ("client CPU", on_cpu, off_cpu)):
                per_step = (yes.median - no.median) / args.revisions * 1000
                lines.append(f"| {label}, {what} | {yes.cell()} | {no.cell()} | {yes.median / no.median:.3f} | "
                             f"{per_step:+.2f} ms | {before} / {_load()} |")
                print(lines[-1], file=sys.stderr, flush=True)
    finally:
        drop_pg(b.databases)
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.revisions:,} revisions from empty, medians of {args.repeat} alternating runs each "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
