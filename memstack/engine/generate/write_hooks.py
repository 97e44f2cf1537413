"""Alembic's ``post_write_hooks`` on every revision file memstack writes (ruff, black, ... as configured).

The hooks are read where ``alembic revision`` reads them: ``[post_write_hooks]`` of the project's
``alembic.ini`` when it has that section, else ``[[tool.alembic.post_write_hooks]]`` in
``pyproject.toml``; they are run by Alembic's own runner (``exec``, ``console_scripts``, ``module``
and any type registered with ``alembic.script.write_hooks.register``). What a hook prints goes to
stderr: stdout stays for data (``--json``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from memstack.engine.alembic_compat import run_post_write_hooks
from memstack.engine.errors import PostWriteHookFailed


def configured_hooks(project_dir: Path) -> list[Mapping[str, str]]:
    """The hooks ``alembic revision`` would run for this project (none: an empty list)."""
    from alembic.config import Config  # lazy: only where revisions are written

    ini, pyproject = project_dir / "alembic.ini", project_dir / "pyproject.toml"
    config = Config(file_=str(ini) if ini.is_file() else None,
                    toml_file=str(pyproject) if pyproject.is_file() else None)
    try:
        return list(config.get_hooks_list())
    except Exception as exc:  # a malformed table or section: Alembic's own error, named
        raise PostWriteHookFailed(None, f"{type(exc).__name__}: {exc}") from exc


def run_hooks(project_dir: Path, paths: Sequence[Path]) -> None:
    """Run every configured hook on each of ``paths`` (already written), in order; the first failure raises."""
    hooks = configured_hooks(project_dir) if paths else []
    if not hooks:
        return
    for path in paths:
        try:
            with _stdout_to_stderr():
                run_post_write_hooks(str(path), hooks)
        except Exception as exc:  # Alembic's CommandError, a missing executable (OSError), a hook's own error
            raise PostWriteHookFailed(path, f"{type(exc).__name__}: {exc}") from exc


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Alembic's "Running post write hook ... done" and the hook's own output, on stderr."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 at all: only Python's stdout to move
        with redirect_stdout(sys.stderr):
            yield
        return
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
