"""Wordings of the documentation and review tools' errors (schemadoc, lintmigrations).

Registered with :func:`memstack.cli.errors.wording` when :mod:`memstack.cli.errors` is imported.
"""

from __future__ import annotations

from memstack.cli.errors import Worded, wording
from memstack.engine.review.lint import SquawkMissing
from memstack.engine.review.schemadoc import GraphvizMissing, TemplatesMissing


@wording(GraphvizMissing)
def _graphviz_missing(error: GraphvizMissing) -> Worded:
    return error.message, ("install the graphviz package (apt-get install graphviz, brew install graphviz), "
                           "or write the source with 'manage.py schemadoc --format dot'")


@wording(TemplatesMissing)
def _schemadoc_templates_missing(error: TemplatesMissing) -> Worded:
    return error.message, "restore templates/schemadoc/ from the memstack checkout"


@wording(SquawkMissing)
def _squawk_missing(error: SquawkMissing) -> Worded:
    return error.message, "pip install squawk-cli (it ships the squawk binary), then run 'manage.py lintmigrations'"
