"""memstack: MemStack's database layer and its management commands.

The small public API: :func:`call_command`, :func:`migrate_on_startup` and
:func:`amigrate_on_startup`. Imports are lazy so
``import memstack`` costs almost nothing.
"""

from __future__ import annotations

from typing import Any

from memstack.core.errors import MemstackError

__version__ = "0.1.0"
__all__ = ["MemstackError", "__version__", "amigrate_on_startup", "call_command", "migrate_on_startup"]


def call_command(name: str, /, *args: Any, **options: Any) -> Any:
    """Run a management command from Python; raises :class:`MemstackError` instead of exiting."""
    from memstack.cli import call_command as _call_command

    return _call_command(name, *args, **options)


def migrate_on_startup(database_url: str | None = None, **kwargs: Any) -> Any:
    """Apply pending revisions (or only verify) from an application's start-up; raises on problems.

    See :func:`memstack.startup.migrate_on_startup`.
    """
    from memstack.startup import migrate_on_startup as _migrate_on_startup

    return _migrate_on_startup(database_url, **kwargs)


async def amigrate_on_startup(database_url: str | None = None, **kwargs: Any) -> Any:
    """The async form of :func:`migrate_on_startup` (runs in a worker thread)."""
    from memstack.startup import amigrate_on_startup as _amigrate_on_startup

    return await _amigrate_on_startup(database_url, **kwargs)
