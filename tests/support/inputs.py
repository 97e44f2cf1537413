"""The input property's harness (issue 24): run ``manage.py`` in-process through the real error
boundary, and check what every input must end in.

The property: exit 0 with the right effect, or exit 1/2 with one error line naming the input and
one fix line; no traceback, no catch-all "unexpected"; the database and the project's files as
they were. Runs are in-process (``main()``), so Hypothesis can try many inputs in little time;
the streams are captured and the environment is set for the run only, without pytest fixtures
(Hypothesis runs many examples inside one test).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from memstack.cli import main
from support.running import Result

#: files a run may write in the project without changing it (caches, the lock file)
_VOLATILE = (".memstack-index.json", "__pycache__", ".lock", ".pyc", ".memstack-cache")


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set (memstack's own variables cleared first), restored afterwards."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if (name.startswith("MEMSTACK_") and not name.startswith(("MEMSTACK_TEST_", "MEMSTACK_REQUIRE_SERVERS"))) \
                or name in ("DATABASE_URL", "NO_COLOR") or name.startswith("POSTGRES_"):
            del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_inprocess(project: Path, argv: Iterable[str], env: Mapping[str, str] | None = None) -> Result:
    """``manage.py --project-dir PROJECT ARGV`` through ``main()``, stdin not a terminal."""
    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    stdin = sys.stdin
    sys.stdin = io.StringIO("")
    try:
        with environment(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--project-dir", str(project), *argv])
            except SystemExit as exc:
                code = exc.code
    finally:
        sys.stdin = stdin
    status = code if isinstance(code, int) else (0 if code is None else 1)
    return Result(status, out.getvalue(), err.getvalue())


def assert_clean_outcome(result: Result, names: Iterable[str] = (), *, codes: Iterable[int] = (0, 1, 2)) -> None:
    """Exit 0, or 1/2 with one error line (naming one of ``names``, case-insensitive, when given)
    and, for 1, a fix line right after it; never a traceback or the catch-all."""
    assert result.code in set(codes), result
    assert "Traceback" not in result.err and "error: unexpected" not in result.err, result
    if result.code == 0:
        return
    lines = [line for line in result.err.splitlines() if line.strip()]
    prefix = "Error:" if result.code == 2 else "error:"
    errors = [i for i, line in enumerate(lines) if line.startswith(prefix)]
    assert len(errors) == 1, result
    message = lines[errors[0]]
    wanted = [n for n in names if n]
    assert not wanted or any(n.lower() in message.lower() for n in wanted), (wanted, result)
    if result.code == 1:
        rest = lines[errors[0] + 1:]
        assert rest and rest[0].strip().startswith("fix:") and rest[0].strip().removeprefix("fix:").strip(), result


def files_digest(folder: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file under ``folder`` but caches and lock files."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not any(mark in str(path) for mark in _VOLATILE):
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def scaled(factor: float) -> int:
    """``factor`` times the loaded profile's examples (at least 1): more for cheap pure-function
    properties, fewer for expensive ones."""
    from hypothesis import settings

    return max(1, int(settings.default.max_examples * factor))
