"""Squash benchmark (issue 26), run by hand, never by the tests:

    .venv/bin/python bench/squash.py [REVISIONS_PER_COMPONENT] [COMPONENTS] [--postgres] [--samples N] [--repeat N]

The synthetic tree of bench/tree.py (COMPONENTS x REVISIONS_PER_COMPONENT, default 6 x 100: each
component's first revision creates its table, every later one adds a column, every 10th revision
of component k depends on component k-1's head then). Measured, each as a ``manage.py`` process:

1. a fresh ``migrate`` of the whole tree (SQLite file; with ``--postgres`` also a new PostgreSQL
   database on 127.0.0.1:5432);
2. ``squashmigrations cNNN LAST`` for every component in turn (each generates on scratch
   databases and proves itself on SQLite, and on PostgreSQL with ``--postgres``);
3. a fresh ``migrate`` of the squashed tree, and the speed-up;

every fresh ``migrate`` is the median of ``--repeat`` (3) runs, each on a new database and after a cold
checkout (the migrations' ``__pycache__`` and revision index removed: no bytecode, trusted headers or kept
classifications);
4. ``squashmigrations --cleanup cNNN`` for every component (the replaced files go), and a fresh
   ``migrate`` of the cleaned tree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import REPO, drop_pg, pg_database
from tree import labels_of, write_projects

from memstack.engine.tree.index import INDEX_NAME


def manage(project: Path, *args: str) -> float:
    """Seconds one ``manage.py`` process took (it must succeed)."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MEMSTACK_")},
           "PYTHONPATH": os.pathsep.join([str(REPO), str(project)])}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(REPO / "manage.py"), "--project-dir", str(project), *args],
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def _cold(project: Path) -> None:
    """Forget what earlier runs kept beside the revisions (bytecode, the revision index, kept
    classifications; not the model-change answer, kept per change in ``.memstack-cache``): every
    timed migrate is the first after a checkout, as in CI."""
    for cache in (project / "migrations").rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    for index in (project / "migrations").rglob(INDEX_NAME):
        index.unlink()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def fresh_migrates(project: Path, folder: Path, tag: str, postgres: bool, repeat: int) -> dict[str, float]:
    """Median seconds of ``repeat`` fresh migrates per dialect, each on a new database after a cold
    checkout, and (``<dialect> no-op``) of a second migrate of the same database: what a manage.py
    process costs before it runs any revision."""
    samples: dict[str, list[float]] = {}
    for attempt in range(repeat):
        url = f"sqlite:///{folder / tag}-{attempt}.db"
        _cold(project)
        samples.setdefault("sqlite", []).append(manage(project, "migrate", "--yes", "--database-url", url))
        samples.setdefault("sqlite no-op", []).append(manage(project, "migrate", "--yes", "--database-url", url))
        if postgres:
            name = pg_database()
            try:
                _cold(project)
                samples.setdefault("postgresql", []).append(
                    manage(project, "migrate", "--yes", "--database-url", f"postgresql://postgres@127.0.0.1:5432/{name}"))
            finally:
                drop_pg([name])
    print(f"{tag}: " + "; ".join(f"{d} " + ", ".join(f"{v:.2f}" for v in vs) for d, vs in samples.items()), flush=True)
    return {dialect: _median(values) for dialect, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("per_component", nargs="?", type=int, default=100)
    parser.add_argument("components", nargs="?", type=int, default=6)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="fresh migrates per measurement (the median is shown)")
    parser.add_argument("--keep", action="store_true", help="keep the project folder (its path is printed)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="memstack-bench-squash-"))
    try:
        project, _ = write_projects(folder, options.per_component * options.components, options.components)
        shutil.copytree(REPO / "templates", project / "templates")
        before = fresh_migrates(project, folder, "before", options.postgres, options.repeat)
        proof = ["--proof-url", "postgresql://postgres@127.0.0.1:5432/postgres"] if options.postgres else []
        squash_times = []
        for label in labels_of(options.components):
            squash_times.append(manage(project, "squashmigrations", label, f"{options.per_component:04d}",
                                       "--samples", str(options.samples), *proof))
            print(f"squashmigrations {label}: {squash_times[-1]:.1f} s", flush=True)
        after = fresh_migrates(project, folder, "after", options.postgres, options.repeat)
        past = [arg for tag in ("before", "after") for attempt in range(options.repeat)
                for arg in ("--database-url", f"sqlite:///{folder / tag}-{attempt}.db")]
        for label in labels_of(options.components):
            manage(project, "squashmigrations", "--cleanup", label, *past)
        cleaned = fresh_migrates(project, folder, "cleaned", options.postgres, options.repeat)
        print(f"tree: {options.components} components x {options.per_component} revisions; medians of "
              f"{options.repeat} cold fresh migrates; load average {os.getloadavg()[0]:.2f}")
        for dialect, seconds in before.items():
            if dialect.endswith("no-op"):
                print(f"{dialect} migrate (the process floor): before {seconds:.2f} s, after {after[dialect]:.2f} s, "
                      f"after --cleanup {cleaned[dialect]:.2f} s")
                continue
            print(f"{dialect}: fresh migrate before {seconds:.2f} s, after {after[dialect]:.2f} s: "
                  f"{seconds / after[dialect]:.1f}x faster; after --cleanup {cleaned[dialect]:.2f} s: "
                  f"{seconds / cleaned[dialect]:.1f}x")
            floor = before.get(f"{dialect} no-op", 0.0)
            if floor and after[dialect] > floor:
                print(f"{dialect}: above the no-op floor: {seconds - floor:.2f} s -> {after[dialect] - floor:.2f} s: "
                      f"{(seconds - floor) / (after[dialect] - floor):.1f}x")
        print(f"squashmigrations: {sum(squash_times):.1f} s for {options.components} components "
              f"({', '.join(f'{t:.1f}' for t in squash_times)}; --samples {options.samples})")
    finally:
        if options.keep:
            print(f"kept: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
