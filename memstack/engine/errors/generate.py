"""The facts ``makemigrations`` refuses on when a change would lose data; light to import (the CLI
words them at start-up)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from memstack.engine.errors import EngineError


@dataclass(frozen=True)
class RenameCandidate:
    """A dropped column (or table) and an added one that may be the same thing renamed."""

    kind: str  # "column" | "table"
    table: str  # the table of a column; the old name of a table
    old: str
    new: str

    @property
    def key(self) -> str:
        """How ``--rename`` spells it: ``table.old=new`` for a column, ``old=new`` for a table."""
        return f"{self.table}.{self.old}={self.new}" if self.kind == "column" else f"{self.old}={self.new}"

    @property
    def question(self) -> str:
        if self.kind == "column":
            return f"Was column {self.table}.{self.old} renamed to {self.new}?"
        return f"Was table {self.old} renamed to {self.new}?"


class UndecidedRenames(EngineError):
    """Likely renames were found and neither a terminal nor a flag said what they are."""

    def __init__(self, candidates: Sequence[RenameCandidate]) -> None:
        self.candidates = list(candidates)
        super().__init__("possible rename(s), which a drop + add would lose the data of: "
                         + "; ".join(c.question.removeprefix("Was ").rstrip("?") for c in self.candidates))


class UnknownRename(EngineError):
    """A rename was given that the model changes do not contain."""

    def __init__(self, keys: Sequence[str], candidates: Sequence[RenameCandidate]) -> None:
        self.keys = sorted(keys)
        self.candidates = list(candidates)
        super().__init__("no such rename among the model changes: " + ", ".join(self.keys))


class NotNullWithoutDefault(EngineError):
    """A NOT NULL column without a server default is added to a table that has (or may have) rows."""

    def __init__(self, table: str, column: str, rows: int | None) -> None:
        self.table, self.column, self.rows = table, column, rows
        held = f"holds {rows} row(s)" if rows is not None else "may hold rows (the database could not tell)"
        super().__init__(f"column {table}.{column} is added NOT NULL without a server default, and {table} {held}:"
                         " the revision would fail on it")
