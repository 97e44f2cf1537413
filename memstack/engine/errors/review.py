"""Errors of the review tools' external programs and templates (lintmigrations, schemadoc)."""

from __future__ import annotations

from pathlib import Path

from memstack.engine.errors.base import EngineError

# --------------------------------------------------------------------------- lintmigrations


class SquawkMissing(EngineError):
    """The squawk binary is neither beside this Python nor on PATH."""
    def __init__(self) -> None:
        super().__init__("linting migrations needs squawk, which is not installed")


class SquawkFailed(EngineError):
    """squawk ran but printed no report we can read."""
    def __init__(self, detail: str) -> None:
        super().__init__(f"squawk failed: {detail}")
        self.detail = detail


# --------------------------------------------------------------------------- schemadoc


class GraphvizMissing(EngineError):
    """svg/png need Graphviz's ``dot`` program, which is not on PATH."""
    def __init__(self, image_format: str) -> None:
        super().__init__(f"rendering {image_format} needs Graphviz's `dot` program, which is not installed")
        self.image_format = image_format


class GraphvizFailed(EngineError):
    """``dot`` ran and refused the diagram (a bug in the template, or a name Graphviz cannot take)."""
    def __init__(self, detail: str) -> None:
        super().__init__(f"Graphviz could not render the diagram: {detail}")
        self.detail = detail


class TemplatesMissing(EngineError):
    """The project's ``templates/schemadoc/`` folder is gone."""
    def __init__(self, folder: Path) -> None:
        super().__init__(f"the schema documentation templates {folder} are missing")
        self.folder = folder
