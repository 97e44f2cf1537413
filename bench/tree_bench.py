"""Side-by-side timing of memstack and plain Alembic on synthetic revision trees.

Run by hand, never in tests:

    .venv/bin/python bench/tree_bench.py --revisions 1000 5000 --components 50

For each size it writes a tree of COMPONENTS branches (a depends_on link on every 10th
revision, to the previous component's current head), then measures in fresh processes:

* ``alembic heads`` (plain Alembic: imports every revision file), and
* memstack's graph load + heads (reads revision files with ``ast``, never executes them),
* a full ``migrate`` of an in-memory-fast SQLite file, memstack vs ``alembic upgrade heads``.

It prints seconds and the ratio memstack / Alembic measured in the same run.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

REVISION = '''"""synthetic"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = {rid!r}
down_revision: str | Sequence[str] | None = {down!r}
branch_labels: str | Sequence[str] | None = {labels!r}
depends_on: str | Sequence[str] | None = {deps!r}


def upgrade() -> None:
    op.create_table({table!r}, sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table({table!r})
'''


def make_tree(root: Path, revisions: int, components: int) -> None:
    (root / "migrations").mkdir(parents=True)
    shutil.copy(REPO / "migrations" / "env.py", root / "migrations" / "env.py")
    labels = [f"c{i:03d}" for i in range(components)]
    heads: dict[str, str | None] = dict.fromkeys(labels)
    counts = dict.fromkeys(labels, 0)
    for n in range(revisions):
        label = labels[n % components]
        counts[label] += 1
        rid = f"a{n:011x}"
        deps = None
        if n % 10 == 9:
            other = labels[(n % components) - 1]
            deps = heads[other]
        folder = root / "migrations" / label
        folder.mkdir(exist_ok=True)
        (folder / f"{counts[label]:04d}_r{n}.py").write_text(REVISION.format(
            rid=rid, down=heads[label], labels=(label,) if heads[label] is None else None, deps=deps,
            table=f"t{n}"))
        heads[label] = rid
    for label in labels:  # each synthetic component is an empty package
        package = root / "synthetic" / label
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    (root / "synthetic" / "__init__.py").write_text("")
    components_toml = ", ".join(f'{{ package = "synthetic.{label}", label = "{label}" }}' for label in labels)
    locations = ", ".join(f'"%(here)s/migrations/{label}"' for label in labels)
    (root / "pyproject.toml").write_text(
        f"[tool.memstack]\ncomponents = [{components_toml}]\n\n"
        f'[tool.alembic]\nscript_location = "%(here)s/migrations"\nversion_locations = [{locations}]\n')


def timed(argv: list[str], cwd: Path, env: dict[str, str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, nargs="+", default=[1000])
    parser.add_argument("--components", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--migrate", action="store_true", help="also time a full migrate (slow on big trees)")
    args = parser.parse_args()
    python = sys.executable
    alembic = str(Path(python).with_name("alembic"))
    heads_code = ("from memstack.engine.workspace import Workspace; ws = Workspace.load(); "
                  "[ws.graph.heads(label) for label in ws.registry.labels]")
    print(f"{'revisions':>9} {'alembic heads':>14} {'memstack heads':>15} {'ratio':>6}"
          + (f" {'alembic upgrade':>16} {'memstack migrate':>17} {'ratio':>6}" if args.migrate else ""))
    for size in args.revisions:
        root = Path(tempfile.mkdtemp(prefix="memstack-bench-"))
        try:
            make_tree(root, size, args.components)
            env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}", "PYTHONDONTWRITEBYTECODE": "1"}
            plain = timed([alembic, "heads"], root, env, args.repeat)
            ours = timed([python, "-c", heads_code], root, env, args.repeat)
            line = f"{size:>9} {plain:>13.2f}s {ours:>14.2f}s {ours / plain:>6.2f}"
            if args.migrate:
                env_a = {**env, "MEMSTACK_DATABASE_URL": f"sqlite:///{root}/a.db"}
                env_m = {**env, "MEMSTACK_DATABASE_URL": f"sqlite:///{root}/m.db"}
                up = timed([alembic, "upgrade", "heads"], root, env_a, 1)
                mig = timed([python, str(REPO / "manage.py"), "migrate", "-v", "0"], root, env_m, 1)
                line += f" {up:>15.2f}s {mig:>16.2f}s {mig / up:>6.2f}"
            print(line, flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
