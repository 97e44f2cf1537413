"""The bad-input corpus's harness: run the real ``manage.py``, read its one-line message, and
compare the database before and after.

Every case asserts: the exit status (1, 2, or 130 for Ctrl-C), no traceback and no catch-all
"unexpected" error, exactly one ``error:`` line naming the problem followed by a non-empty
``fix:`` line (click's ``Error:`` line for usage errors), and a database left as it was.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from support.inspect import snapshot
from support.projects import MANAGE_PY
from support.running import Result, subprocess_env


def run_manage(project: Path, argv: list[str], env: Mapping[str, str] | None = None) -> Result:
    """``manage.py --project-dir PROJECT ARGV`` in a subprocess, stdin closed, memstack's variables cleared."""
    proc = subprocess.run([sys.executable, str(MANAGE_PY), "--project-dir", str(project), *argv], cwd=project,
                          env=subprocess_env(None, **dict(env or {})), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clear_message(result: Result, code: int, says: str, *, listed: bool = False) -> None:
    """Exit ``code``; one message line holding ``says`` (case-insensitive) and, unless a usage
    error, a non-empty fix line; no traceback, nothing "unexpected".

    ``listed``: a ``check`` case, whose problems are listed on stdout (each with a fix) and whose
    error line is the summary: ``says`` is looked for in the list.
    """
    assert result.code == code, result
    assert "Traceback" not in result.err and "error: unexpected" not in result.err, result
    lines = [line for line in result.err.splitlines() if line.strip()]
    if code == 2:
        assert any(line.startswith("Error:") for line in lines), result
        message = next(line for line in lines if line.startswith("Error:"))
    else:
        errors = [i for i, line in enumerate(lines) if line.startswith("error:")]
        assert len(errors) == 1, result
        message = lines[errors[0]]
        assert message.removeprefix("error:").strip(), result
        fixes = [line.strip() for line in lines[errors[0] + 1:] if line.strip().startswith("fix:")]
        assert fixes and all(f.removeprefix("fix:").strip() for f in fixes), result  # and how to fix it
    if listed:
        problems = [line for line in result.out.splitlines() if line.startswith("ERROR [")]
        assert any(says.lower() in line.lower() for line in problems), result
        assert all(line.strip().removeprefix("fix:").strip() for line in result.out.splitlines()
                   if line.strip().startswith("fix:")), result
        return
    assert says.lower() in message.lower(), result


def assert_unchanged(before: dict[str, Any], after: dict[str, Any], *, failure_recorded: bool = False) -> None:
    """Schema, version rows, applied records and marks as they were; history too, except that a
    revision that failed (or was interrupted) while running adds its failure rows, as it must."""
    if not failure_recorded:
        assert after == before
        return
    assert {k: v for k, v in after.items() if k != "history"} == {k: v for k, v in before.items() if k != "history"}
    assert after["history"][: len(before["history"])] == before["history"]
    added = after["history"][len(before["history"]):]
    assert added and all(event == "failure" and not success for _id, event, _rev, success in added), added


__all__ = ["assert_clear_message", "assert_unchanged", "run_manage", "snapshot"]
