"""memstack: MemStack's database layer and its management commands.

The small public API: :func:`call_command`, :func:`migrate_on_startup`,
:func:`amigrate_on_startup` and :func:`migrate_fleet` (many databases). ``import memstack``
costs almost nothing: each name is the function itself (one signature, in its own module),
imported on first use (PEP 562).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from memstack.core.errors import MemstackError

if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports them
    from memstack.cli import call_command
    from memstack.fleets import FleetReport, TargetResult, migrate_fleet
    from memstack.startup import StartupResult, amigrate_on_startup, migrate_on_startup

__version__ = "0.1.0"
__all__ = ["FleetReport", "MemstackError", "StartupResult", "TargetResult", "__version__", "amigrate_on_startup",
           "call_command", "migrate_fleet", "migrate_on_startup"]

_LAZY = {
    "call_command": "memstack.cli",
    "migrate_on_startup": "memstack.startup",
    "amigrate_on_startup": "memstack.startup",
    "StartupResult": "memstack.startup",
    "migrate_fleet": "memstack.fleets",
    "FleetReport": "memstack.fleets",
    "TargetResult": "memstack.fleets",
}


def __getattr__(name: str) -> Any:
    """The public names, imported from their modules on first use and then kept here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memstack' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
