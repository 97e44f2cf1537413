"""The one user-facing error type.

Library code raises :class:`MemstackError`; the CLI boundary (``memstack.cli.main``) turns it
into a message on stderr and exit status 1. ``call_command`` lets it propagate.
"""

from __future__ import annotations

from collections.abc import Sequence

from memstack.core.redaction import mask_url


class MemstackError(Exception):
    """A problem the user can act on: ``message`` says what went wrong, ``hint`` how to fix it."""
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


class ConfigurationError(MemstackError):
    """The configuration (pyproject.toml, environment, .env) is wrong."""

class DeclinedError(MemstackError):
    """A destructive step was declined or refused without a terminal."""

class DatabaseUnavailable(MemstackError):
    """The database cannot be reached or used (server down, no such database, wrong password).

    ``url`` and ``reason`` (the driver's first line) are masked already: drivers quote the
    URL back, password included, in some of their messages.
    """

    def __init__(self, url: str, reason: str, *, doing: str = "use") -> None:
        super().__init__(f"cannot {doing} the database {url}: {reason}")
        self.url = url
        self.reason = reason
        self.doing = doing


class NoPrivilege(MemstackError):
    """The database refused the user an operation on its tables."""
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            f"the database {mask_url(url)} refused the operation: {reason}",
            hint="connect as a user allowed to read and change the tables (the owner that migrated them), "
            "or have the owner GRANT the privileges; a read-only SQLite file needs write access",
        )
        self.url = mask_url(url)
        self.reason = reason


class SchemaNotMigrated(MemstackError):
    """Seeding needs tables (or columns) the database does not have yet."""
    def __init__(self, message: str, *, tables: Sequence[str] = (), columns: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.tables = list(tables)
        self.columns = list(columns)

