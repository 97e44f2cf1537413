"""Opening the workspace for a command, from the global options."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from memstack.cli.context import AppContext
from memstack.engine.workspace import Workspace
from memstack.errors import MemstackError


@contextmanager
def open_workspace(app: AppContext) -> Iterator[Workspace]:
    """The workspace of the command's project; a database that cannot be used becomes one clear error."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    ws = Workspace(settings=app.settings, registry=app.registry)
    try:
        yield ws
    except (OperationalError, InterfaceError) as exc:
        first_line = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        raise MemstackError(
            f"cannot use the database {ws.settings.masked_database_url}: {first_line}",
            hint="check that the server is running and the URL (host, port, user, database) is right; "
            "'manage.py doctor' tells more",
        ) from exc
    finally:
        ws.close()
