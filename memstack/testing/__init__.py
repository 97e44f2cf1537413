"""Testing a memstack project's migrations with pytest: the plugin, the runner and the checks.

``plugin`` (registered as the ``memstack`` pytest plugin) gives the fixtures; ``builtin`` the
tests a project turns on with one import; ``checks`` the same checks as functions;
``runner.MigrationRunner`` what a project's own migration tests drive. See docs/testing.md.
"""

from memstack.testing.checks import DataMigration, MigrationCheckFailed
from memstack.testing.runner import MigrationRunner

__all__ = ["DataMigration", "MigrationCheckFailed", "MigrationRunner"]
