"""Domain errors of the engine: facts in fields, no front end's wording.

The graph, loader, planner and executor raise these. Each front end words them for its
reader: the CLI boundary (:mod:`memstack.cli.errors`) adds the ``manage.py`` command that
fixes it, the start-up API and the pytest plugin their own. Untranslated, an engine error
still reads as a plain statement of what is wrong (it is a :class:`MemstackError`).
"""

from __future__ import annotations

from typing import Any

from memstack.core.errors import MemstackError


class EngineError(MemstackError):
    """Base of every domain error; ``hint`` stays empty, a front end supplies the fix."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


# --------------------------------------------------------------------------- migrate, rollback, preview
# (graph and planner errors live in memstack.engine.graph and memstack.engine.planner)


class TagTakesNoTarget(EngineError):
    """Moving to a tag moves every component it records; a COMPONENT or TARGET would contradict it."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"moving to tag {tag!r} moves every component it records; it takes no component or target")
        self.tag = tag


class PlanChangedWhileAsked(EngineError):
    """The plan under the lock undoes more than the person confirmed."""

    def __init__(self) -> None:
        super().__init__("the database changed while you were asked; nothing was done")


class RehearsalFailed(EngineError):
    """A dry run's step failed; everything was rolled back. ``results`` are the steps run."""

    def __init__(self, results: list[Any], error: str) -> None:
        super().__init__(f"dry run: step {len(results)} failed: {error}")
        self.results, self.error = results, error


class NotOneRevision(EngineError):
    """The SQL of one revision was asked for with the target ``zero``."""

    def __init__(self, component: str) -> None:
        super().__init__(f"the SQL of one revision needs a revision of {component}, not 'zero'")
        self.component = component


# --------------------------------------------------------------------------- maintenance (prune, repair)


class ComponentStillConfigured(EngineError):
    """Pruning is for components removed from the configuration."""

    def __init__(self, component: str) -> None:
        super().__init__(f"component {component!r} is still configured; pruning is for removed components")
        self.component = component


class NothingRecorded(EngineError):
    """The database records no applied revision of the component to prune."""

    def __init__(self, component: str) -> None:
        super().__init__(f"the database records no applied revision of component {component!r}")
        self.component = component


# --------------------------------------------------------------------------- tags


class InvalidTagName(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"invalid tag name {name!r}")
        self.name = name


class TagExists(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"tag {name!r} exists already")
        self.name = name


class UnknownTag(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no tag named {name!r}")
        self.name = name


class TagRevisionsMissing(EngineError):
    """A tag records revisions of a component that no file of this checkout provides."""

    def __init__(self, name: str, component: str, missing: list[str]) -> None:
        super().__init__(f"tag {name!r} records {component} revision(s) no file provides: {', '.join(missing)}")
        self.name, self.component, self.missing = name, component, missing


# --------------------------------------------------------------------------- makemigrations


class NothingToMerge(EngineError):
    def __init__(self, component: str, heads: int) -> None:
        super().__init__(f"component {component!r} has {heads} head(s); there is nothing to merge")
        self.component, self.heads = component, heads
