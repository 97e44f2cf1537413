"""Errors about what a database records: rows no file provides, changed files, failure marks, tags, pruning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memstack.engine.errors.base import EngineError

if TYPE_CHECKING:
    from memstack.engine.records.status import Drift, Mark
    from memstack.engine.run.halfway import MarkProgress


# --------------------------------------------------------------------------- the database's status (safety, start-up)


class CorruptRecords(EngineError):
    """A row of memstack's own tables holds a value memstack never writes (a hand edit, a bad restore)."""
    def __init__(self, table: str, reason: str) -> None:
        super().__init__(f"{table} holds a value memstack cannot read ({reason})")
        self.table = table
        self.reason = reason


class UnknownRows(EngineError):
    """Version rows that no revision file provides (newer code migrated the database, or another tool)."""
    def __init__(self, rows: list[str], message: str | None = None) -> None:
        super().__init__(message or f"the database records revision(s) that no file provides: {', '.join(rows)}")
        self.rows = rows


class RemovedComponent(UnknownRows):
    """The unknown rows belong to a component that was taken out of the configuration."""
    def __init__(self, rows: list[str], component: str, applied_names: list[str]) -> None:
        super().__init__(rows, f"component {component!r} is no longer configured, but its revisions are "
                         f"still applied ({', '.join(applied_names)})")
        self.component = component
        self.applied_names = applied_names


class ChecksumDrift(EngineError):
    """Applied revisions whose file changed since they were applied."""
    def __init__(self, drifts: list[Drift]) -> None:
        first = drifts[0]
        more = f" (and {len(drifts) - 1} more)" if len(drifts) > 1 else ""
        super().__init__(
            f"applied revision {first.component} {first.name} was changed after it was applied{more}: "
            f"{first.path} has checksum {first.current[:12]}..., recorded {first.recorded[:12]}...")
        self.drifts = drifts


class FailureMark(EngineError):
    """A revision failed or was interrupted half-way on a database without transactional DDL.

    ``progress`` (a :class:`memstack.engine.run.halfway.MarkProgress`, when known): which of the
    revision's objects exist, so the user knows what to fix before ``repair`` or ``--fake``.
    """

    def __init__(self, mark: Mark, progress: MarkProgress | None = None) -> None:
        what = "failed" if mark.state == "failed" else "was interrupted"
        super().__init__(
            f"revision {mark.component} {mark.name} ({mark.direction}) {what} on a database without "
            f"transactional DDL and may be half-applied{': ' + mark.error if mark.error else ''}"
            f"{'. Of its objects, ' + progress.describe() if progress is not None else ''}")
        self.mark = mark
        self.progress = progress


class NotUpToDate(EngineError):
    """``verify_only`` found pending revisions."""
    def __init__(self, url: str, pending: list[str]) -> None:
        super().__init__(f"the database {url} is not up to date: {len(pending)} pending revision(s): "
                         f"{', '.join(pending)}")
        self.url = url
        self.pending = pending


class AheadAndBehind(EngineError):
    """The database has revisions this code does not know and lacks some it does: neither side is newer."""
    def __init__(self, url: str, ahead: list[str], pending: list[str]) -> None:
        super().__init__(f"the database {url} records revisions this code does not know ({', '.join(ahead)}) "
                         f"and lacks some it does ({', '.join(pending)})")
        self.url = url
        self.ahead = ahead
        self.pending = pending


# --------------------------------------------------------------------------- connecting (workspace)


class SchemaUnsupported(EngineError):
    """``for_database(schema=...)`` on a backend, or with an engine, where memstack cannot set it."""
    def __init__(self, dialect: str) -> None:
        super().__init__(f"a schema can be chosen only with a PostgreSQL URL (got {dialect}); "
                         "configure an engine's search_path yourself")
        self.dialect = dialect


# --------------------------------------------------------------------------- maintenance (prune, repair)


class ComponentStillConfigured(EngineError):
    """Pruning is for components removed from the configuration."""
    def __init__(self, component: str) -> None:
        super().__init__(f"component {component!r} is still configured; pruning is for removed components")
        self.component = component


class NothingRecorded(EngineError):
    """The database records no applied revision of the component to prune."""
    def __init__(self, component: str) -> None:
        super().__init__(f"the database records no applied revision of component {component!r}")
        self.component = component


# --------------------------------------------------------------------------- tags


class InvalidTagName(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"invalid tag name {name!r}")
        self.name = name


class TagExists(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"tag {name!r} exists already")
        self.name = name


class UnknownTag(EngineError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no tag named {name!r}")
        self.name = name


class TagRevisionsMissing(EngineError):
    """A tag records revisions of a component that no file of this checkout provides."""
    def __init__(self, name: str, component: str, missing: list[str]) -> None:
        super().__init__(f"tag {name!r} records {component} revision(s) no file provides: {', '.join(missing)}")
        self.name, self.component, self.missing = name, component, missing
