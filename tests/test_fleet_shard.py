"""Choosing targets without a database: target lines, shards (disjoint, covering, stable), waves."""

from __future__ import annotations

import random

import pytest

from memstack.engine.errors import BadShard, BadTarget, BadWaves
from memstack.engine.fleet.shard import choose_shard, parse_shard, shard_from_env
from memstack.engine.fleet.targets import Target, parse_targets
from memstack.engine.fleet.waves import wave_ends

TARGETS = [Target("postgresql+psycopg://app:secret@db/tenants", f"tenant_{i:04d}") for i in range(400)]


def test_target_lines_urls_and_schemas() -> None:
    lines = ["# tenants", "", "postgresql://u:pw@h/db#schema=acme", "sqlite:////srv/a.db",
             "postgresql://u:pw@h/db#schema=acme"]
    assert parse_targets(lines) == [Target("postgresql://u:pw@h/db", "acme"), Target("sqlite:////srv/a.db")]
    assert "pw" not in parse_targets(lines)[0].label and parse_targets(lines)[0].label.endswith("#schema=acme")
    for bad in ("acme", "postgresql://h/db#schema=", "sqlite:////a.db#schema=x"):
        with pytest.raises(BadTarget):
            parse_targets([bad])


@pytest.mark.parametrize("count", [1, 2, 4, 7])
def test_shards_are_disjoint_cover_every_target_and_ignore_order(count: int) -> None:
    shares = [parse_shard(f"{i}/{count}").select(TARGETS) for i in range(1, count + 1)]
    assert sorted(t for share in shares for t in share) == sorted(TARGETS)  # covering, no target twice
    shuffled = random.Random(count).sample(TARGETS, len(TARGETS))
    for i, share in enumerate(shares, 1):
        assert set(parse_shard(f"{i}/{count}").select(shuffled)) == set(share)  # stable under reordering
        if count > 1:
            assert share, "every shard gets a share of 400 targets"


def test_the_shard_defaults_from_an_indexed_job() -> None:
    env = {"MEMSTACK_SHARD_COUNT": "4"}
    by_index = [shard_from_env({**env, "JOB_COMPLETION_INDEX": str(i)}) for i in range(4)]
    assert [str(s) for s in by_index] == ["1/4", "2/4", "3/4", "4/4"]  # the index counts from 0
    assert choose_shard(None, {}) is None
    assert str(choose_shard("2/4", {**env, "JOB_COMPLETION_INDEX": "0"})) == "2/4"  # --shard wins
    shares = [s.select(TARGETS) for s in by_index if s is not None]
    assert sorted(t for share in shares for t in share) == sorted(TARGETS)
    assert shares == [parse_shard(f"{i}/4").select(TARGETS) for i in range(1, 5)]
    for index in ("4", "x"):
        with pytest.raises(BadShard):
            shard_from_env({**env, "JOB_COMPLETION_INDEX": index})
    for bad in ({"JOB_COMPLETION_INDEX": "1"}, {"MEMSTACK_SHARD_COUNT": "2"}):
        with pytest.raises(BadShard):
            shard_from_env(bad)
    for given in ("0/4", "5/4", "1/0", "2", "a/b"):
        with pytest.raises(BadShard):
            parse_shard(given)


def test_waves_add_up_and_end_with_everything() -> None:
    assert wave_ends(100) == [100]
    assert wave_ends(100, canary=5) == [5, 100]
    assert wave_ends(100, canary=5, waves="10%,100%") == [5, 10, 100]
    assert wave_ends(20, waves="5,50%") == [5, 10, 20]
    assert wave_ends(3, canary=10) == [3]
    with pytest.raises(BadWaves):
        wave_ends(100, waves="50%,10%")
    with pytest.raises(BadWaves):
        wave_ends(100, waves="0%")
