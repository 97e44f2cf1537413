"""How long memstack waits on the network, and what it asks the server to bound for it (contract:
"Waiting and timeouts"): the settings, their defaults and why, and how they are read from the chain.
Kept apart from :mod:`memstack.core.settings`, which only chains them; used by :mod:`.network`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memstack.core.errors import ConfigurationError


@dataclass(frozen=True)
class NetworkSettings:
    """How long memstack waits on the network, and what it asks the server to bound for it.

    Defaults are what a server team would pick for an administrative session that may hold
    ACCESS EXCLUSIVE on a busy table:

    * ``connect_timeout`` 10 s: a server that accepts and never answers (a hung proxy, a
      black-holed port) is given up on quickly; a healthy server answers in milliseconds, a
      failing-over one within a few seconds.
    * ``tcp_keepalives`` idle 10 s, interval 5 s, count 3: a peer that vanished is noticed
      within 25 s, on the client and (per session) on the server, instead of after the
      kernel's two hours. memstack also asks the server itself on a second session at this
      pace while a statement runs longer than ``idle`` (an answering proxy keeps TCP happy).
    * ``tcp_user_timeout`` 30 s: data sent and not acknowledged for this long ends the
      connection (client and server side); a little longer than the keepalive bound, so the
      two do not race.
    * ``idle_in_transaction_timeout`` 60 s: a migration step never sits idle inside its
      transaction (it runs statement after statement), so a session idle in a transaction for
      a minute has lost its client; the server ends it and releases its table locks. A data
      migration that computes for longer between statements raises it for its revision.

    0 turns a bound off (``tcp_keepalives = "off"`` for keepalives).
    """

    connect_timeout: float = 10.0
    keepalives: bool = True
    keepalives_idle: float = 10.0
    keepalives_interval: float = 5.0
    keepalives_count: int = 3
    tcp_user_timeout: float = 30.0
    idle_in_transaction_timeout: float = 60.0

    @property
    def silence_bound(self) -> float:
        """How long a statement may run before the server is asked, plus how long the asking may
        go unanswered: the longest a silent server or network can hold a client (0: no bound)."""
        if not self.keepalives:
            return 0.0
        return self.keepalives_idle + self.keepalives_interval * self.keepalives_count


DEFAULT_NETWORK = NetworkSettings()


def parse_seconds(value: Any, source: str, name: str = "lock_timeout",
                   hint: str = "use for example 60 (seconds); 0 means do not wait") -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        timeout = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} from {source} must be a number of seconds, not {value!r}",
                                 hint=hint) from None
    if not math.isfinite(timeout) or timeout < 0:
        raise ConfigurationError(
            f"{name} from {source} must be a finite number of seconds, 0 or more, not {value!r}", hint=hint)
    return timeout


_KEEPALIVES_HINT = ('use "idle,interval,count" in seconds, for example "10,5,3" '
                    '(or [10, 5, 3] in pyproject.toml), or "off"')


def _parse_keepalives(value: Any, source: str) -> tuple[bool, float, float, int]:
    """``tcp_keepalives``: "idle,interval,count" (a list in TOML) or off/false."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "false", "no", "0")):
        return False, 0.0, 0.0, 0
    parts: list[Any] = ([p.strip() for p in value.split(",")] if isinstance(value, str)
                        else list(value) if isinstance(value, (list, tuple)) else [])
    if len(parts) != 3:
        raise ConfigurationError(f"tcp_keepalives from {source} must be idle,interval,count, not {value!r}",
                                 hint=_KEEPALIVES_HINT)
    idle = parse_seconds(parts[0], source, "tcp_keepalives idle", _KEEPALIVES_HINT)
    interval = parse_seconds(parts[1], source, "tcp_keepalives interval", _KEEPALIVES_HINT)
    count = parse_seconds(parts[2], source, "tcp_keepalives count", _KEEPALIVES_HINT)
    if idle < 1 or interval < 1 or count < 1 or count != int(count):
        raise ConfigurationError(
            f"tcp_keepalives from {source} needs idle and interval of 1 s or more and a whole count of "
            f"1 or more, not {value!r}", hint=_KEEPALIVES_HINT)
    return True, idle, interval, int(count)


_NETWORK_HINTS = {
    "connect_timeout": "use for example 10 (seconds); 0 waits as long as the operating system does",
    "tcp_user_timeout": "use for example 30 (seconds); 0 leaves it to the operating system",
    "idle_in_transaction_timeout": "use for example 60 (seconds); 0 lets the server wait forever",
}


def network_settings(env: Mapping[str, str], config: Mapping[str, Any],
                     sources: dict[str, str] | None = None) -> NetworkSettings:
    """The network bounds from ``MEMSTACK_<NAME>`` (``env``, the ``.env`` file merged in) >
    ``[tool.memstack]`` > :class:`NetworkSettings` defaults; ``sources`` gets where each came from."""
    values: dict[str, Any] = {}
    for name in ("connect_timeout", "tcp_keepalives", "tcp_user_timeout", "idle_in_transaction_timeout"):
        variable = f"MEMSTACK_{name.upper()}"
        chain: list[tuple[str, Any]] = [(variable, env.get(variable) or None),
                                        (f"[tool.memstack] {name}", config.get(name))]
        for source, value in chain:
            if value is None:
                continue
            if name == "tcp_keepalives":
                keepalives = _parse_keepalives(value, source)
                values.update(zip(("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"),
                                  keepalives, strict=True))
            else:
                values[name] = parse_seconds(value, source, name, _NETWORK_HINTS[name])
            if sources is not None:
                sources[name] = source
            break
        else:
            if sources is not None:
                sources[name] = "default"
    return NetworkSettings(**values)
