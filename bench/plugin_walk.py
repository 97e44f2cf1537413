"""Time the pytest plugin's up/down/up check on the synthetic tree (``bench/tree.py``).

    .venv/bin/python bench/plugin_walk.py [URL] [REVISIONS] [COMPONENTS]
    .venv/bin/python bench/plugin_walk.py sqlite:// 1000 50

Prints the time to load the tree, the time of the walk and how many revision modules were
imported (once each: the walk is one executor run).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tree import write_projects

import memstack.engine.run.executor as executor_module
from memstack.engine.workspace import Workspace
from memstack.testing.checks import check_up_down_up
from memstack.testing.scratch import scratch_workspace


def main(url: str = "sqlite://", revisions: int = 1000, components: int = 50) -> None:
    imported: list[str] = []
    load = executor_module.load_revision_module

    def counting(path: Path, cache: Any = None) -> Any:
        if cache is None or (str(path), path.stat().st_mtime) not in cache:
            imported.append(str(path))
        return load(path, cache)

    executor_module.load_revision_module = counting  # type: ignore[assignment]
    project, _ = write_projects(Path(tempfile.mkdtemp(prefix="memstack-walk-")), revisions, components)
    sys.path.insert(0, str(project))
    started = time.perf_counter()
    ws = Workspace.load(project)
    ws.tree  # noqa: B018
    loaded = time.perf_counter()
    with scratch_workspace(ws, url) as db:
        walk_started = time.perf_counter()
        check_up_down_up(db)
        done = time.perf_counter()
    print(f"{url}: {len(ws.graph)} revisions, tree loaded in {loaded - started:.2f}s, up/down/up in "
          f"{done - walk_started:.1f}s, revision modules imported: {len(imported)}")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["sqlite://"]), *(int(a) for a in sys.argv[2:4]))
