"""What a wording is, shared by :mod:`memstack.cli.errors` and its wording modules (kept apart so they
import it, not the boundary that imports them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Worded = tuple[str, str | None]
"""How an error reads at the terminal: the message and the fix (or None)."""

Wording = Callable[[Any], Worded]
"""Words one error type; each wording module ends with ``WORDINGS: dict[type, Wording]``."""


def spell_command(command: Sequence[str]) -> str:
    """A command as a person types it."""
    return " ".join(("manage.py", *command))


def run_hint(*command: str) -> str:
    """``run 'manage.py ...'``, the usual fix."""
    return f"run '{spell_command(command)}'"
