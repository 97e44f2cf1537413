"""What a wording is, shared by :mod:`memstack.cli.errors` and its wording modules (kept apart so they
import it, not the boundary that imports them), and how wordings spell a command.

The command a person ran (``manage.py`` in the checkout, ``memstack`` in an application that
installed memstack) is known once, at the CLI boundary (:func:`ran_as`, from ``sys.argv[0]``);
wordings build every command they suggest with :func:`command`, so a hint is spelled right
where it is written and no finished text is ever rewritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

Worded = tuple[str, str | None]
"""How an error reads at the terminal: the message and the fix (or None)."""

Wording = Callable[[Any], Worded]
"""Words one error type; each wording module ends with ``WORDINGS: dict[type, Wording]``."""

#: the program hints name: ``manage.py`` unless the CLI boundary says otherwise (call_command, the library)
_PROGRAM: ContextVar[str] = ContextVar("memstack_program", default="manage.py")


def program_of(argv0: str) -> str:
    """The command a person typed, from ``sys.argv[0]``: ``memstack`` for the console script and
    ``python -m memstack``, ``manage.py`` otherwise (the checkout's script)."""
    name = Path(argv0).name if argv0 else ""
    return "memstack" if name in ("memstack", "__main__.py") else "manage.py"


@contextmanager
def ran_as(name: str) -> Iterator[None]:
    """Within the block, wordings spell commands as ``name ...`` (set by the CLI boundary)."""
    token = _PROGRAM.set(name)
    try:
        yield
    finally:
        _PROGRAM.reset(token)


def program() -> str:
    """The program the person ran, as the CLI boundary set it."""
    return _PROGRAM.get()


def command(*words: str) -> str:
    """A command as the person types it: ``command("migrate", "memo")`` is ``memstack migrate memo``."""
    return " ".join((program(), *words))


def spell_command(words: Sequence[str]) -> str:
    """:func:`command` of a sequence (structured fixes of ``check`` and ``doctor``)."""
    return command(*words)


def run_hint(*words: str) -> str:
    """``run 'manage.py ...'``, the usual fix."""
    return f"run '{command(*words)}'"
