"""memstack installed from its wheel into another application's venv, outside this checkout.

The wheel is built from the checkout and installed (``--no-deps``) into a fresh venv whose
dependencies come from the test's own site-packages through a ``.pth`` file, so it stays offline
and fast. The application's project root has a ``pyproject.toml`` and nothing else: memstack's
own revisions and templates come from the installed package.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
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


def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """memstack's wheel, built from the checkout once a run: under xdist the workers share it.

    The lock also keeps two workers from building in the checkout's ``build/`` folder at once (two
    concurrent builds failed there with "File exists: build/bdist.../memstack-0.1.0.dist-info").
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's popen-gwN
    dist = shared / "memstack-wheel"
    with open(shared / "memstack-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not any(dist.glob("memstack-*.whl")):
            built = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, CHECKOUT, cwd=shared)
            assert built.returncode == 0, built.stderr
    return next(dist.glob("memstack-*.whl"))


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (one per worker) with memstack installed from the run's wheel; returns its bin folder."""
    root = tmp_path_factory.mktemp("installed")
    wheel = built_wheel(tmp_path_factory)
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


STARTUP = """import memstack

print("applied", len(memstack.migrate_on_startup().applied))
"""


def test_an_application_with_its_own_component_under_plain_alembic(installed: Path, tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    """startcomponent in a package not installed yet; plain alembic, check, the start-up call from
    elsewhere and the pytest plugin work, and keep working once the project folder moves, even with
    another package of the application's name installed (the project root goes first on sys.path,
    as Alembic's prepend_sys_path puts it)."""
    first = app_project(tmp_path / "app")
    started = run(installed / "memstack", "startcomponent", "billing", "--package-dir", "someapp", cwd=first)
    assert started.returncode == 0, started.stderr
    assert "memstack makemigrations billing" in started.stdout + started.stderr
    made = run(installed / "memstack", "makemigrations", "billing", cwd=first)
    assert made.returncode == 0, made.stderr
    config = (first / "pyproject.toml").read_text(encoding="utf-8")
    assert str(installed.parent) not in config and str(tmp_path) not in config, config  # no absolute path
    assert 'script_location = "memstack:_revisions"' in config and '"memstack:_revisions/auth"' in config
    assert '"%(here)s/migrations/billing"' in config
    project = first.rename(tmp_path / "moved")  # a teammate's checkout, CI, a container
    site = Path(run(installed / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=project).stdout.strip())
    (site / "someapp").mkdir()  # an installed 'someapp' without billing: the project's own must win
    (site / "someapp" / "__init__.py").write_text("", encoding="utf-8")
    request.addfinalizer(lambda: shutil.rmtree(site / "someapp", ignore_errors=True))
    alembic = (installed / "python", "-m", "alembic")
    for argv in (("upgrade", "heads"), ("current",), ("check",)):
        done = run(*alembic, *argv, cwd=project)
        assert done.returncode == 0, (argv, done.stderr)
        assert "Traceback" not in done.stderr
    assert run(*alembic, "current", cwd=project).stdout.count("head") == 8  # memstack's 7 components and billing
    checked = run(installed / "memstack", "check", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    (project / "someapp" / "main.py").write_text(STARTUP, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    booted = run(installed / "python", project / "someapp" / "main.py", cwd=elsewhere)  # as a service manager
    assert booted.returncode == 0 and "applied 0" in booted.stdout, booted.stderr
    (project / "tests").mkdir()
    (project / "tests" / "test_migrations.py").write_text("from memstack.testing.builtin import *  # noqa\n")
    tested = run(installed / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:pytest_alembic",
                 "tests", cwd=project)
    assert tested.returncode == 0 and " passed" in tested.stdout, tested.stdout + tested.stderr


def test_check_fails_when_plain_alembic_would_not_work(installed: Path, tmp_path: Path) -> None:
    project = app_project(tmp_path / "app")
    assert run(installed / "memstack", "startcomponent", "billing", "--package-dir", ".", cwd=project).returncode == 0
    assert (project / "billing" / "__init__.py").is_file()
    assert run(installed / "memstack", "migrate", cwd=project).returncode == 0  # (doctor needs the database)
    good = (project / "pyproject.toml").read_text(encoding="utf-8")
    site = run(installed / "python", "-c", "import memstack._revisions as r; print(r.__path__[0])", cwd=project)
    broken = {
        "has no env.py": good.replace('script_location = "memstack:_revisions"',
                                      'script_location = "%(here)s/migrations"'),
        "a path into a virtual environment": good.replace('"memstack:_revisions/auth"',
                                                          f'"{site.stdout.strip()}/auth"'),
        "which is no component's folder": good.replace('"%(here)s/migrations/billing"', '"%(here)s/migrations/billig"'),
    }
    for words, text in broken.items():
        (project / "pyproject.toml").write_text(text, encoding="utf-8")
        checked = run(installed / "memstack", "check", cwd=project)
        assert checked.returncode == 1 and words in checked.stdout, (words, checked.stdout, checked.stderr)
        assert "fix: run 'memstack makemigrations'" in checked.stdout and "manage.py" not in checked.stdout
        doctor = run(installed / "memstack", "doctor", cwd=project)
        assert doctor.returncode == 1 and words in doctor.stdout, (words, doctor.stdout, doctor.stderr)
    assert run(installed / "memstack", "makemigrations", cwd=project).returncode == 0  # the fix repairs it
    assert run(installed / "memstack", "check", cwd=project).returncode == 0
    assert run(installed / "python", "-m", "alembic", "current", cwd=project).returncode == 0


def test_startup_call_from_elsewhere_names_its_parameter(installed: Path, tmp_path: Path) -> None:
    lost = run(installed / "python", "-c", "import memstack; memstack.migrate_on_startup()", cwd=tmp_path)
    assert lost.returncode == 1
    assert "project_dir=" in lost.stderr and "MEMSTACK_PROJECT_DIR" in lost.stderr, lost.stderr
    assert "--project-dir" not in lost.stderr and "checkout" not in lost.stderr


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
