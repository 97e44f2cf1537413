"""Permission errors from the database, told apart from bugs: a user without privileges on the
tables (or a read-only SQLite file) gets one line naming the user and the database."""

from __future__ import annotations

from memstack.core.errors import NoPrivilege
from memstack.core.redaction import mask_url, redact

#: PostgreSQL SQLSTATE insufficient_privilege; MySQL/MariaDB table/db/command access denied
_PG_INSUFFICIENT_PRIVILEGE = "42501"
_MYSQL_ACCESS_DENIED = {1044, 1142, 1143, 1227}


def is_refusal(exc: BaseException) -> bool:
    """Whether ``exc`` (a SQLAlchemy DBAPIError) is the database refusing a permission."""
    orig = getattr(exc, "orig", None)
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    args = getattr(orig, "args", None) or ()
    code = args[0] if args and isinstance(args[0], int) else None
    readonly_sqlite = "sqlite" in type(orig).__module__ and "readonly database" in str(orig)
    return sqlstate == _PG_INSUFFICIENT_PRIVILEGE or code in _MYSQL_ACCESS_DENIED or readonly_sqlite


def privilege_error(exc: BaseException, url: str) -> NoPrivilege | None:
    """``NoPrivilege`` when ``exc`` is a permission refusal (see :func:`is_refusal`), else None."""
    if not is_refusal(exc):
        return None
    text = str(getattr(exc, "orig", exc)).strip()
    first = (text.splitlines() or [type(exc).__name__])[0]
    return NoPrivilege(url, redact(mask_url(first)))
