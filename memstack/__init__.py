"""memstack: MemStack's database layer and its management commands.

The small public API: :func:`call_command`, :func:`migrate_on_startup` and
:func:`amigrate_on_startup`. Imports are lazy so ``import memstack`` costs almost nothing.
"""

from __future__ import annotations

import os
from typing import IO, TYPE_CHECKING, Any

from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.startup import StartupResult

__version__ = "0.1.0"
__all__ = ["MemstackError", "StartupResult", "__version__", "amigrate_on_startup", "call_command",
           "migrate_on_startup"]


def call_command(name: str, /, *args: object, stdout: IO[str] | None = None, stderr: IO[str] | None = None,
                 **options: Any) -> Any:
    """Run a management command from Python; raises :class:`MemstackError` instead of exiting.

    ``options`` use the command's Python names (``yes=True``); the result is what the
    command returns (most return ``None`` and write to ``stdout``/``stderr``).
    """
    from memstack.cli import call_command as _call_command

    return _call_command(name, *args, stdout=stdout, stderr=stderr, **options)


def migrate_on_startup(
    database_url: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    verify_only: bool = False,
    lock_timeout: float | None = None,
) -> StartupResult:
    """Apply pending revisions (or only verify) from an application's start-up; raises on problems.

    See :func:`memstack.startup.migrate_on_startup`.
    """
    from memstack.startup import migrate_on_startup as _migrate_on_startup

    return _migrate_on_startup(database_url, project_dir=project_dir, verify_only=verify_only,
                               lock_timeout=lock_timeout)


async def amigrate_on_startup(
    database_url: str | None = None,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    verify_only: bool = False,
    lock_timeout: float | None = None,
) -> StartupResult:
    """The async form of :func:`migrate_on_startup` (runs in a worker thread)."""
    from memstack.startup import amigrate_on_startup as _amigrate_on_startup

    return await _amigrate_on_startup(database_url, project_dir=project_dir, verify_only=verify_only,
                                      lock_timeout=lock_timeout)


def __getattr__(name: str) -> Any:
    """``memstack.StartupResult`` without importing the start-up module up front."""
    if name == "StartupResult":
        from memstack.startup import StartupResult

        return StartupResult
    raise AttributeError(f"module 'memstack' has no attribute {name!r}")
