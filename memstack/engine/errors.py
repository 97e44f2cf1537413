"""Domain errors of the engine: facts in fields, no front end's wording.

The graph, loader, planner and executor raise these. Each front end words them for its
reader: the CLI boundary (:mod:`memstack.cli.errors`) adds the ``manage.py`` command that
fixes it, the start-up API and the pytest plugin their own. Untranslated, an engine error
still reads as a plain statement of what is wrong (it is a :class:`MemstackError`).
"""

from __future__ import annotations

from memstack.core.errors import MemstackError


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
