"""After a lost connection, which finished steps does the server confirm?

On PostgreSQL every commit of a run but its last is asynchronous (see
:meth:`memstack.engine.run.executor.Executor._run_steps`): a server crash can lose the last
few steps a run printed OK. So when a step fails because the connection was lost, "steps
1..N stayed applied" may be false. :func:`confirm_after` reconnects (for a few seconds: a
server restarting after a crash recovers first) and reads the version table back; the
error then says which of the run's finished steps are confirmed, which were lost, or that
the server could not be asked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from memstack.engine.errors import Confirmation, MigrationFailed
from memstack.engine.records.status import read_version_rows

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from memstack.engine.run.steps import StepResult
    from memstack.engine.tree.graph import MigrationGraph, Step

#: how long to try reaching the server again before saying it could not be asked
CONFIRM_SECONDS = 5.0


def connection_lost(exc: BaseException) -> bool:
    """True when ``exc`` ended the session (a crash, a restart, a terminated backend, a dropped network)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def confirm_after(engine: Engine, graph: MigrationGraph, finished: Sequence[Step], error: BaseException,
                  seconds: float = CONFIRM_SECONDS) -> Confirmation | None:
    """None unless ``error`` lost the connection; else what the server says of the ``finished`` steps."""
    if not connection_lost(error):
        return None
    labels = [step.revision.label for step in finished]
    applied = _applied(engine, graph, seconds)
    if applied is None:
        return Confirmation(confirmed=(), lost=(), unknown=tuple(labels))
    confirmed = [s for s in finished if (s.revision.id in applied) == (s.direction == "up")]
    return Confirmation(confirmed=tuple(s.revision.label for s in confirmed),
                        lost=tuple(s.revision.label for s in finished if s not in confirmed), unknown=())


@contextmanager
def confirming(engine: Engine, graph: MigrationGraph, results: Sequence[StepResult]) -> Iterator[None]:
    """A run's steps: a :class:`MigrationFailed` leaving the block says what the server confirms of
    the steps finished so far (``results``, filled as they finish) when the connection was lost."""
    try:
        yield
    except MigrationFailed as failed:
        failed.confirmation = confirm_after(engine, graph, [r.step for r in results], failed.error)
        raise


def _applied(engine: Engine, graph: MigrationGraph, seconds: float) -> set[str] | None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with engine.connect() as connection:
                rows = [r for r in read_version_rows(connection) if r in graph]
            return graph.applied_from_rows(rows)
        except Exception:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
