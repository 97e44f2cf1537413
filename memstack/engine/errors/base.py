"""The base of every engine error; the one import each topic module of :mod:`memstack.engine.errors` shares."""

from __future__ import annotations

from memstack.core.errors import MemstackError


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""
    def __init__(self, message: str) -> None:
        super().__init__(message)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be: every path that cancels a running statement on
    Ctrl-C (psycopg sends the server a cancel request; the executor records the interruption)
    does the same for it. The CLI exits 143 for it, 130 for Ctrl-C."""
