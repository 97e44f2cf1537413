"""memstack installed from its wheel into another application's venv, outside this checkout.

The wheel is built from the checkout and installed (``--no-deps``) into a fresh venv whose
dependencies come from the test's own site-packages through a ``.pth`` file, so it stays offline
and fast. The application's project root has a ``pyproject.toml`` and nothing else: memstack's
own revisions and templates come from the installed package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from support.running import cli

from memstack.core import settings as settings_module

CHECKOUT = Path(__file__).resolve().parent.parent


def run(*argv: str | Path, cwd: Path, timeout: float = 300,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not (k.startswith(("MEMSTACK_", "POSTGRES_")) or k in ("DATABASE_URL", "PYTHONPATH"))}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with memstack installed from a freshly built wheel; returns its bin folder."""
    root = tmp_path_factory.mktemp("installed")
    built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", CHECKOUT, cwd=root)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("memstack-*.whl"))
    target = root / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    site_packages = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                             cwd=root).stdout.strip())
    (site_packages / "_test_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    done = run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, cwd=root)
    assert done.returncode == 0, done.stderr
    return target / "bin"


def app_project(folder: Path) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "someapp"\nversion = "1"\n\n[tool.memstack]\n'
                                           'database_url = "sqlite:///app.db"\n')
    return folder


def test_installed_memstack_migrates_an_application_project(installed: Path, tmp_path: Path) -> None:
    project = app_project(tmp_path / "app")
    where = run(installed / "python", "-c", "import memstack; print(memstack.__file__)", cwd=project)
    assert where.returncode == 0 and str(installed.parent) in where.stdout, where  # not the checkout
    migrated = run(installed / "memstack", "migrate", cwd=project)
    assert migrated.returncode == 0, migrated.stderr
    shown = run(installed / "memstack", "showmigrations", "--json", cwd=project)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    rows = [r for rows in data.values() for r in rows] if isinstance(data, dict) else data
    assert len(rows) == 13 and all(r["applied"] for r in rows)
    assert (project / "app.db").is_file() and not (project / "migrations").exists()
    sql = run(installed / "memstack", "sqlmigrate", "memo", "0001", cwd=project)
    assert sql.returncode == 0 and "CREATE TABLE memos" in sql.stdout, sql.stderr
    # a second run has nothing to do; the templates ship too (memstack's own templates folder is used)
    again = run(installed / "memstack", "migrate", cwd=project)
    assert again.returncode == 0 and "No migrations to apply" in again.stderr
    templates = run(installed / "python", "-c", "from memstack.core.settings import load_settings; "
                    "print(load_settings().templates_dir)", cwd=project)
    assert templates.stdout.strip().endswith("share/memstack/templates"), templates
    assert (Path(templates.stdout.strip()) / "revision.py.j2").is_file()


def test_missing_revisions_are_refused_not_reported_as_success(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation without the revisions (and no migrations/ folder): one clear line, exit 1."""
    project = app_project(tmp_path / "bare")
    monkeypatch.setattr(settings_module, "bundled_revisions", lambda: None)
    for args in (("migrate",), ("showmigrations",)):
        result = cli(capsys, monkeypatch, project, f"sqlite:///{tmp_path / 'x.db'}", *args)
        assert result.code == 1
        assert "no migrations found for memstack.auth" in result.err
        assert "Traceback" not in result.err
    assert not (tmp_path / "x.db").exists()
