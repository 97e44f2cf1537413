"""The project root goes FIRST on ``sys.path``, as Alembic's ``prepend_sys_path`` puts it (issue 22).

Alembic prepends ``prepend_sys_path`` (``.`` in its templates, script/base.py: ``sys.path[:0] = ...``),
so a project's own package wins over an installed one of the same name; memstack does the same
for the project root and its ``src/``. Run in a child process: ``sys.path`` and ``sys.modules``
of the test process stay as they are.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from pathlib import Path
from memstack.core.components import project_on_path

project = Path(sys.argv[1])
project_on_path(project)
size = len(sys.path)
project_on_path(project)  # a second call changes nothing
assert len(sys.path) == size, sys.path
import shop, tools
print(shop.WHERE, tools.WHERE, sys.path.index(str(project.resolve())))
"""


def _package(folder: Path, name: str, where: str) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(f"WHERE = {where!r}\n", encoding="utf-8")


def test_project_packages_win_over_installed_ones_of_the_same_name(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"  # an installed 'shop' and 'tools', ahead of the project as PYTHONPATH is
    _package(site, "shop", "installed")
    _package(site, "tools", "installed")
    project = tmp_path / "project"
    _package(project, "shop", "project")
    _package(project / "src", "tools", "project-src")
    done = subprocess.run([sys.executable, "-c", PROBE, str(project)], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{site}:{CHECKOUT}", "PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["project", "project-src", "0"]
