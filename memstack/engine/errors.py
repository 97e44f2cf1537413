"""Domain errors of the engine: facts in fields, no front end's wording.

The graph, loader, planner and executor raise these. Each front end words them for its
reader: the CLI boundary (:mod:`memstack.cli.errors`) adds the ``manage.py`` command that
fixes it, the start-up API and the pytest plugin their own. Untranslated, an engine error
still reads as a plain statement of what is wrong (it is a :class:`MemstackError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.engine.graph import Revision


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class RenderFailure:
    """Why one revision produced no SQL: ``needs_database`` (truly offline-only) or a bug in it."""

    needs_database: bool
    detail: str  # the exception, one line, never empty
    line: int | None = None  # where in the revision file, when the exception came from it


class RevisionNotRenderable(EngineError):
    """A revision's SQL could not be rendered; ``script`` is the plan's SQL up to it (or None)."""

    def __init__(self, revision: Revision, path: Path, failure: RenderFailure, script: str | None = None) -> None:
        self.revision, self.path, self.failure, self.script = revision, path, failure, script
        where = f" (line {failure.line})" if failure.line else ""
        what = ("is not renderable offline" if failure.needs_database
                else f"fails while its SQL is rendered, a bug in {path.name}{where}")
        tail = "; the script stops before it" if script is not None else ""
        super().__init__(f"{revision.label} ({revision.id}) {what}: {failure.detail}{tail}")
