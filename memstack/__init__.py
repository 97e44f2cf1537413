"""memstack: MemStack's database layer and its management commands.

The small public API: :func:`call_command`, and (once the engine lands)
:func:`migrate_on_startup` / :func:`amigrate_on_startup`. Imports are lazy so
``import memstack`` costs almost nothing.
"""

from __future__ import annotations

from typing import Any

from memstack.errors import MemstackError

__version__ = "0.1.0"
__all__ = ["MemstackError", "__version__", "call_command"]


def call_command(name: str, /, *args: Any, **options: Any) -> Any:
    """Run a management command from Python; raises :class:`MemstackError` instead of exiting."""
    from memstack.cli import call_command as _call_command

    return _call_command(name, *args, **options)
