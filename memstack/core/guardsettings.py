"""How long a step may wait for table locks on the server, and what it does then (contract:
"Waiting and timeouts"). Kept apart from :mod:`memstack.core.settings`, which only chains it.

* ``ddl_lock_timeout`` (1 s): the longest one statement waits for a table lock on any rung of
  the ladder. While it waits, every later query on that table queues behind it, so this is
  also the longest the application waits because of memstack. 0: no lock timeout (the
  server waits as long as it takes, as plain Alembic does).
* ``statement_timeout`` (3600 s): the longest one statement runs. 0: no bound.
* ``lock_retries`` (30): how many times a step that timed out waiting for a lock is tried again.
* ``lock_retry_max_wait`` (60 s): the most time the ladder spends waiting and sleeping in all.
* ``blocker_policy`` (``ladder``): what the pre-flight does when sessions hold locks a step
  needs: ``ladder`` goes ahead under the ladder, ``wait`` waits until they end (at most
  ``lock_retry_max_wait``), ``refuse`` fails at once, naming them.

``MEMSTACK_DISABLE_GUARD=1`` turns all of it off (an explicit ``ddl_lock_timeout`` then applies
once, without retries, as before the guard existed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from memstack.core.errors import ConfigurationError

POLICIES = ("ladder", "wait", "refuse")
GUARD_NAMES = ("ddl_lock_timeout", "statement_timeout", "lock_retries", "lock_retry_max_wait", "blocker_policy")
#: what only a revision's ``guard = {...}`` may set: a data migration that computes for a long time
#: between statements raises the server's idle-in-transaction bound for its own step
REVISION_ONLY = ("idle_in_transaction_timeout",)
_HINTS = {
    "ddl_lock_timeout": "use for example 1 (seconds, the longest rung of the ladder); 0 waits without limit",
    "statement_timeout": "use for example 3600 (seconds); 0 means no bound",
    "lock_retries": "use a whole number, for example 30; 0 means try once",
    "lock_retry_max_wait": "use for example 60 (seconds in all, waits and sleeps of the ladder)",
    "blocker_policy": "use ladder, wait or refuse",
    "idle_in_transaction_timeout": "use for example 600 (seconds this revision may compute between statements)",
}


@dataclass(frozen=True)
class GuardSettings:
    """The guard's knobs (see the module docstring); ``enabled`` False is the kill switch."""
    ddl_lock_timeout: float = 1.0
    statement_timeout: float = 3600.0
    lock_retries: int = 30
    lock_retry_max_wait: float = 60.0
    blocker_policy: str = "ladder"
    idle_in_transaction_timeout: float | None = None  # a revision's own bound (None: the session's)
    enabled: bool = True
    explicit_lock_timeout: bool = False  # ddl_lock_timeout was given (the kill switch still applies it)

    @property
    def explicit_timeout(self) -> float | None:
        """``ddl_lock_timeout`` when it was set (not the default): what applies with the guard off."""
        return self.ddl_lock_timeout if self.explicit_lock_timeout else None

    def overridden(self, values: Mapping[str, Any], source: str, *, revision: bool = False) -> GuardSettings:
        """These settings with ``values`` (a flag set, or a revision's ``guard = {...}``: ``revision``) on top."""
        allowed = (*GUARD_NAMES, *REVISION_ONLY) if revision else GUARD_NAMES
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ConfigurationError(f"{source} has unknown key(s) {', '.join(unknown)}",
                                     hint=f"the guard's settings are {', '.join(allowed)}")
        parsed = {name: parse_guard_value(name, value, source) for name, value in values.items() if value is not None}
        explicit = self.explicit_lock_timeout or "ddl_lock_timeout" in parsed
        return replace(self, **parsed, explicit_lock_timeout=explicit)  # type: ignore[arg-type]


DEFAULT_GUARD = GuardSettings()


def parse_guard_value(name: str, value: Any, source: str) -> float | int | str:
    """One guard setting from any source, checked (ConfigurationError naming the source)."""
    if name == "blocker_policy":
        policy = str(value).strip().lower()
        if policy not in POLICIES:
            raise ConfigurationError(f"blocker_policy from {source} must be ladder, wait or refuse, not {value!r}",
                                     hint=_HINTS[name])
        return policy
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} from {source} must be a number, not {value!r}", hint=_HINTS[name]) from None
    if not math.isfinite(number) or number < 0:
        raise ConfigurationError(f"{name} from {source} must be a finite number, 0 or more, not {value!r}",
                                 hint=_HINTS[name])
    if name == "lock_retries":
        if number != int(number):
            raise ConfigurationError(f"lock_retries from {source} must be a whole number, not {value!r}",
                                     hint=_HINTS[name])
        return int(number)
    return number


def guard_settings(env: Mapping[str, str], config: Mapping[str, Any],
                   sources: dict[str, str] | None = None) -> GuardSettings:
    """``MEMSTACK_<NAME>`` > ``[tool.memstack] <name>`` > defaults; ``MEMSTACK_DISABLE_GUARD`` turns it off."""
    values: dict[str, Any] = {}
    for name in GUARD_NAMES:
        variable = f"MEMSTACK_{name.upper()}"
        chain: list[tuple[str, Any]] = [(variable, env.get(variable) or None),
                                        (f"[tool.memstack] {name}", config.get(name))]
        found = next(((source, value) for source, value in chain if value is not None), None)
        if found is not None:
            values[name] = parse_guard_value(name, found[1], found[0])
        if sources is not None:
            sources[name] = found[0] if found is not None else "default"
    disabled = env.get("MEMSTACK_DISABLE_GUARD", "").strip().lower() not in ("", "0", "false", "no", "off")
    if sources is not None:
        sources["guard"] = "MEMSTACK_DISABLE_GUARD" if disabled else "default"
    return GuardSettings(**values, enabled=not disabled,
                         explicit_lock_timeout="ddl_lock_timeout" in values)
