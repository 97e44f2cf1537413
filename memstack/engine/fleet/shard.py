"""``--shard I/N``: a deterministic, disjoint share of the targets, for array jobs on other machines.

A target belongs to shard ``1 + H(target) mod N`` where H is SHA-256 of the target's masked label:
the same on every machine and Python, independent of the list's order, and unchanged by a
rotated password. Kubernetes Indexed Jobs set ``JOB_COMPLETION_INDEX`` (from 0); with
``MEMSTACK_SHARD_COUNT`` (the manifest copies the Job's completions) it is shard index + 1 of
the count. A replaced pod keeps its index, so it resumes its share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from memstack.engine.errors import BadShard
from memstack.engine.fleet.targets import Target


@dataclass(frozen=True)
class Shard:
    index: int  # from 1
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, target: Target) -> bool:
        return shard_of(target, self.count) == self.index

    def select(self, targets: Sequence[Target]) -> list[Target]:
        return [t for t in targets if self.holds(t)]


def shard_of(target: Target, count: int) -> int:
    """The shard (from 1) of ``count`` that ``target`` belongs to."""
    digest = hashlib.sha256(target.label.encode()).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


def parse_shard(given: str) -> Shard:
    """``I/N`` with 1 <= I <= N."""
    index, slash, count = given.partition("/")
    if not slash or not index.strip().isdigit() or not count.strip().isdigit():
        raise BadShard(given, "write it as I/N, e.g. 2/4")
    return _checked(given, int(index), int(count))


def _checked(given: str, index: int, count: int) -> Shard:
    if count < 1:
        raise BadShard(given, "the number of shards must be at least 1")
    if not 1 <= index <= count:
        raise BadShard(given, f"the shard must be between 1 and {count} (counted from 1)")
    return Shard(index, count)


def shard_from_env(environ: Mapping[str, str]) -> Shard | None:
    """``JOB_COMPLETION_INDEX`` (0-based) + 1 of ``MEMSTACK_SHARD_COUNT``, when both are set."""
    index, count = environ.get("JOB_COMPLETION_INDEX"), environ.get("MEMSTACK_SHARD_COUNT")
    if index is None and count is None:
        return None
    given = f"JOB_COMPLETION_INDEX={index!s} MEMSTACK_SHARD_COUNT={count!s}"
    if index is None or count is None:
        raise BadShard(given, "JOB_COMPLETION_INDEX and MEMSTACK_SHARD_COUNT go together")
    if not index.strip().isdigit() or not count.strip().isdigit():
        raise BadShard(given, "both must be whole numbers")
    return _checked(given, int(index) + 1, int(count))


def choose_shard(given: str | None, environ: Mapping[str, str]) -> Shard | None:
    """``--shard`` when given, else the environment's, else None (every target)."""
    return parse_shard(given) if given else shard_from_env(environ)
