"""Wordings of runs over many targets: a bad targets list, shard, waves, tenant components."""

from __future__ import annotations

from memstack.cli.worded import Worded, Wording, run_hint
from memstack.core.errors import MemstackError
from memstack.engine.errors import BadShard, BadTarget, BadWaves, SharedDependencyMissing, UnknownTenantComponent


def _bad_target(error: BadTarget) -> Worded:
    return error.message, ("write one target a line: a database URL, or URL#schema=NAME for a PostgreSQL schema "
                           "(blank lines and lines starting with # are skipped)")


def _bad_shard(error: BadShard) -> Worded:
    return error.message, ("pass --shard I/N with 1 <= I <= N, or set JOB_COMPLETION_INDEX (from 0) and "
                           "MEMSTACK_SHARD_COUNT together")


def _bad_waves(error: BadWaves) -> Worded:
    return error.message, "pass growing sizes, counts or percentages, e.g. --waves 10%,100% or --waves 5,50,100%"


def _shared_missing(error: SharedDependencyMissing) -> Worded:
    return error.message, run_hint("migrate") + " on the configured database first (shared components), then the fleet"


def _unknown_tenant(error: UnknownTenantComponent) -> Worded:
    return error.message, f"use labels of [tool.memstack] components: {', '.join(error.known) or '(none)'}"


WORDINGS: dict[type[MemstackError], Wording] = {
    BadTarget: _bad_target,
    BadShard: _bad_shard,
    BadWaves: _bad_waves,
    SharedDependencyMissing: _shared_missing,
    UnknownTenantComponent: _unknown_tenant,
}
