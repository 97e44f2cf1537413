"""Errors of runs over many targets (``migrate --targets``, ``--schemas``, ``--shard``): facts in fields."""

from __future__ import annotations

from memstack.engine.errors.base import EngineError


class BadTarget(EngineError):
    """A line of a targets list (or a row of ``--targets-sql``) that names no database."""
    def __init__(self, where: str, line: str, why: str) -> None:
        super().__init__(f"{where}: {line!r} is not a target: {why}")
        self.where = where
        self.line = line
        self.why = why


class BadShard(EngineError):
    """``--shard I/N`` (or JOB_COMPLETION_INDEX / MEMSTACK_SHARD_COUNT) that names no shard."""
    def __init__(self, given: str, why: str) -> None:
        super().__init__(f"shard {given!r}: {why}")
        self.given = given
        self.why = why


class BadWaves(EngineError):
    """``--waves`` that is not a list of growing sizes (``10%,100%`` or ``5,50,100%``)."""
    def __init__(self, given: str, why: str) -> None:
        super().__init__(f"waves {given!r}: {why}")
        self.given = given
        self.why = why


class SharedDependencyMissing(EngineError):
    """A tenant component's revision depends on a shared revision the shared database lacks."""
    def __init__(self, missing: list[tuple[str, str]]) -> None:
        listed = ", ".join(f"{tenant} needs {shared}" for tenant, shared in missing)
        super().__init__(f"tenant revisions depend on shared revisions not applied in the configured database: "
                         f"{listed}")
        self.missing = missing


class UnknownTenantComponent(EngineError):
    """``tenant_components`` names a label that is not a configured component."""
    def __init__(self, label: str, known: list[str]) -> None:
        super().__init__(f"tenant_components names {label!r}, which is not a configured component")
        self.label = label
        self.known = known
