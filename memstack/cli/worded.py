"""What a wording is, shared by :mod:`memstack.cli.errors` and its wording modules (kept apart so they
import it, not the boundary that imports them)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Worded = tuple[str, str | None]
"""How an error reads at the terminal: the message and the fix (or None)."""

Wording = Callable[[Any], Worded]
"""Words one error type; each wording module ends with ``WORDINGS: dict[type, Wording]``."""


def program() -> str:
    """The command the person ran: ``memstack`` (the console script, ``python -m memstack``) in an
    application that has no ``manage.py``; ``manage.py`` otherwise (the checkout, call_command)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "memstack" if name in ("memstack", "__main__.py") else "manage.py"


def respell(text: str) -> str:
    """``text`` with the ``manage.py`` of the wordings replaced by the command the person ran."""
    ran = program()
    return text if ran == "manage.py" else re.sub(r"(?<![\w/.-])manage\.py(?= |'|$)", ran, text)


def spell_command(command: Sequence[str]) -> str:
    """A command as a person types it."""
    return " ".join((program(), *command))


def run_hint(*command: str) -> str:
    """``run 'manage.py ...'``, the usual fix."""
    return f"run '{spell_command(command)}'"
