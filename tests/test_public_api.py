"""The package's public names: each is the function itself (one signature, in its own module),
``import memstack`` imports neither SQLAlchemy, Alembic nor click, and type checkers see the real
signatures (checked with ``mypy --strict`` on a caller)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import memstack
import memstack.cli
import memstack.startup

HEAVY = ("sqlalchemy", "alembic", "click", "memstack.cli", "memstack.startup", "memstack.engine", "asyncio")


def test_import_memstack_imports_nothing_heavy() -> None:
    script = ("import sys, memstack\n"
              f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=180)
    assert done.stdout.strip() == "[]", done.stdout


def test_each_public_name_is_the_function_itself() -> None:
    assert memstack.migrate_on_startup is memstack.startup.migrate_on_startup
    assert memstack.amigrate_on_startup is memstack.startup.amigrate_on_startup
    assert memstack.StartupResult is memstack.startup.StartupResult
    assert memstack.call_command is memstack.cli.call_command
    namespace: dict[str, object] = {}
    exec("from memstack import *", namespace)
    assert set(memstack.__all__) <= set(namespace)
    assert set(memstack.__all__) <= set(dir(memstack))
    with pytest.raises(AttributeError, match="no attribute 'migrate'"):
        memstack.migrate  # noqa: B018


CALLER = '''
import asyncio

import memstack

result: memstack.StartupResult = memstack.migrate_on_startup("sqlite://", project_dir=".", verify_only=True)
later = asyncio.run(memstack.amigrate_on_startup(lock_timeout=5.0))
memstack.call_command("migrate", yes=True)
wrong: int = memstack.migrate_on_startup(verify_only="yes")
'''


def test_mypy_strict_sees_the_real_signatures(tmp_path: Path) -> None:
    caller = tmp_path / "caller.py"
    caller.write_text(CALLER, encoding="utf-8")
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
                              "--no-error-summary", str(caller)], capture_output=True, text=True, timeout=600,
                             check=False)
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, checked.stdout + checked.stderr  # only the last line's two mistakes
    wrong_line = CALLER.splitlines().index(next(line for line in CALLER.splitlines() if line.startswith("wrong"))) + 1
    assert all(f"caller.py:{wrong_line}: " in line for line in errors), errors
    assert any('"verify_only"' in line and '"bool"' in line for line in errors), errors
    assert any('"StartupResult"' in line and '"int"' in line for line in errors), errors
