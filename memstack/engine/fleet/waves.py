"""Waves: ``--canary N`` targets first, then ``--waves 10%,100%``; a wave starts only when the ones
before it finished without a failure. Sizes are cumulative: ``10%,100%`` is the first tenth, then the rest."""

from __future__ import annotations

import math
from collections.abc import Sequence

from memstack.engine.errors import BadWaves

T = Sequence[object]


def wave_ends(total: int, canary: int = 0, waves: str | None = None) -> list[int]:
    """Where each wave ends (cumulative counts), the last always ``total``."""
    ends: list[int] = [min(canary, total)] if canary > 0 else []
    for part in (waves or "").split(",") if waves else []:
        size = _size(waves or "", part.strip(), total)
        if ends and size < ends[-1]:
            raise BadWaves(waves or "", "each wave must be at least as large as the one before (sizes add up)")
        ends.append(size)
    if not ends or ends[-1] < total:
        ends.append(total)
    return [end for i, end in enumerate(ends) if end > 0 and (i == 0 or end > ends[i - 1])]


def _size(given: str, part: str, total: int) -> int:
    try:
        if part.endswith("%"):
            share = float(part[:-1])
            if not 0 < share <= 100:
                raise ValueError
            return max(1, math.ceil(total * share / 100)) if total else 0
        count = int(part)
        if count < 1:
            raise ValueError
        return min(count, total)
    except ValueError:
        raise BadWaves(given, f"{part!r} is neither a count (5) nor a share (10%) between 0 and 100%") from None
