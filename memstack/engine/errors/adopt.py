"""Errors of adopting a database built without memstack and of taking over an Alembic project."""

from __future__ import annotations

from collections.abc import Sequence

from memstack.engine.errors.base import EngineError

# --------------------------------------------------------------------------- adopt


class AlreadyManaged(EngineError):
    """The version table names known revisions: memstack (or Alembic) already manages the database."""
    def __init__(self, rows: list[str]) -> None:
        super().__init__("this database is already managed by memstack/Alembic (its version table names known "
                         "revisions); there is nothing to adopt")
        self.rows = rows


class NothingToAdopt(EngineError):
    """None of the tables the revisions create exists: an empty database is migrated, not adopted."""
    def __init__(self) -> None:
        super().__init__("the database holds none of MemStack's tables; there is nothing to adopt")


class NoMatchingState(EngineError):
    """The schema matches no state of the graph; ``differences`` says where it departs."""
    def __init__(self, differences: list[str]) -> None:
        super().__init__("the database matches no state of the migration graph; nothing was changed:\n  - "
                         + "\n  - ".join(differences))
        self.differences = differences


class UnrecordedSchema(EngineError):
    """Component tables exist, yet no revision is recorded: the schema was built outside memstack."""
    def __init__(self, tables: Sequence[str]) -> None:
        self.tables = sorted(tables)
        shown = ", ".join(self.tables[:5]) + (f" and {len(self.tables) - 5} more" if len(self.tables) > 5 else "")
        super().__init__(f"tables exist but no revision is recorded ({shown})")


# --------------------------------------------------------------------------- takeover


class TakeoverError(EngineError):
    """The folder is not a usable Alembic project, or the component cannot take it."""
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint  # a fix in the project's own terms (no command spelling)


class AlembicPathError(EngineError):
    """The takeover argument or a location in the project's configuration does not resolve."""
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
