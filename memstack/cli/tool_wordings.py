"""Wordings of the documentation and review tools' errors (schemadoc, lintmigrations).
"""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, program
from memstack.core.errors import MemstackError
from memstack.engine.errors import GraphvizMissing, SquawkMissing, TemplatesMissing


def _graphviz_missing(error: GraphvizMissing) -> Worded:
    return error.message, ("install the graphviz package (apt-get install graphviz, brew install graphviz), "
                           f"or write the source with '{program()} schemadoc --format dot'")


def _schemadoc_templates_missing(error: TemplatesMissing) -> Worded:
    return error.message, "restore templates/schemadoc/ from the memstack checkout"


def _squawk_missing(error: SquawkMissing) -> Worded:
    return error.message, f"pip install squawk-cli (it ships the squawk binary), then run '{program()} lintmigrations'"


WORDINGS: dict[type[MemstackError], Wording] = {
    GraphvizMissing: _graphviz_missing,
    TemplatesMissing: _schemadoc_templates_missing,
    SquawkMissing: _squawk_missing,
}
