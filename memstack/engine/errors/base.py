"""The base of every engine error; the one import each topic module of :mod:`memstack.engine.errors` shares."""

from __future__ import annotations

from memstack.core.errors import MemstackError


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
