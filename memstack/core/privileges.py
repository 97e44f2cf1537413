"""Permission errors from the database, told apart from bugs: a user without privileges on the
tables (or a read-only SQLite file) gets one line naming the user and the database."""

from __future__ import annotations

from memstack.core.errors import MemstackError
from memstack.core.redaction import mask_url, redact

#: PostgreSQL SQLSTATE insufficient_privilege; MySQL/MariaDB table/db/command access denied
_PG_INSUFFICIENT_PRIVILEGE = "42501"
_MYSQL_ACCESS_DENIED = {1044, 1142, 1143, 1227}


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


def privilege_error(exc: BaseException, url: str) -> NoPrivilege | None:
    """``NoPrivilege`` when ``exc`` (a SQLAlchemy DBAPIError) is a permission refusal, else None."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return None
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    code = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    text = str(orig).strip()
    readonly_sqlite = "readonly database" in text or "read-only" in text.lower() and "sqlite" in type(orig).__module__
    if sqlstate == _PG_INSUFFICIENT_PRIVILEGE or code in _MYSQL_ACCESS_DENIED or readonly_sqlite:
        first = (text.splitlines() or [type(orig).__name__])[0]
        return NoPrivilege(url, redact(mask_url(first)))
    return None
