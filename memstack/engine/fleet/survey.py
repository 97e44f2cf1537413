"""The status of every target, read before anything runs: cheap for targets already up to date.

An up-to-date target costs one query: its stored no-op digest and the state it vouches for
(:func:`memstack.engine.records.status.read_digest_facts`). Schemas of one PostgreSQL database
share one session, and their digests are read together, a few hundred schemas a query
(:mod:`.batch`); a schema whose digest does not match is read in full with its ``search_path``
set on the same session. Other targets get a workspace of their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from typing import TYPE_CHECKING

from memstack.engine.fleet.report import TargetResult
from memstack.engine.fleet.targets import Target

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from memstack.engine.fleet.batch import DigestFacts
    from memstack.engine.records.status import DatabaseStatus
    from memstack.engine.workspace import Workspace

Found = Callable[[Target, TargetResult], None]


def survey(ws: Workspace, targets: Sequence[Target], found: Found | None = None) -> dict[Target, TargetResult]:
    """{target: its status} (``up_to_date``, ``behind``, ``ahead`` or ``failed``), in the list's order."""
    from memstack.engine.records.status import tree_digest  # lazy: kept off --help

    digest = tree_digest(ws)
    results: dict[Target, TargetResult] = {}
    for url, group in groupby(sorted(targets), key=lambda t: t.url):
        for target, result in _survey_database(ws, url, list(group), digest):
            results[target] = result
            if found is not None:
                found(target, result)
    return {t: results[t] for t in targets}


def _survey_database(ws: Workspace, url: str, targets: list[Target], digest: str) -> list[tuple[Target, TargetResult]]:
    from memstack.engine.fleet.batch import read_digests  # lazy: kept off --help

    started = time.monotonic()
    try:
        with ws.for_database(url) as db:
            if db.dialect_name != "postgresql":
                return [(t, _read_alone(db, t, digest)) for t in targets]
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                known = read_digests(connection, [t.schema for t in targets if t.schema is not None])
                return [(t, _read_on(db, connection, t, digest, known)) for t in targets]
    except Exception as exc:  # the server or file is unusable: each of its targets failed
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return [(t, TargetResult(t.label, "failed", error=error, seconds=time.monotonic() - started))
                for t in targets]


def _read_alone(db: Workspace, target: Target, digest: str) -> TargetResult:
    """One database of its own (SQLite file, MariaDB database): the digest first, then the full read."""
    from memstack.engine.records.status import read_status  # lazy: kept off --help

    started = time.monotonic()
    status = read_status(db, trust_digest=True)
    return classify(target, status, time.monotonic() - started)


def _read_on(db: Workspace, connection: Connection, target: Target, digest: str,
             known: Mapping[str, DigestFacts]) -> TargetResult:
    """A PostgreSQL database or one schema of it, on the database's shared session.

    ``known``: the digests read together (:mod:`.batch`); a schema missing there lacks memstack's
    tables, and is read in full at once."""
    from sqlalchemy.exc import SQLAlchemyError  # lazy: kept off --help

    from memstack.engine.records.status import digest_matches, read_digest_facts, read_status_on  # lazy

    started = time.monotonic()
    try:
        found = known.get(target.schema) if target.schema is not None else read_digest_facts(connection)
        if found is not None and digest_matches(digest, *found):
            heads = tuple(sorted(f[4:] for f in found[1] if f.startswith("row ")))
            return TargetResult(target.label, "up_to_date", seconds=time.monotonic() - started, heads=heads)
    except SQLAlchemyError:  # no bookkeeping tables yet: the full read says what there is
        pass
    if target.schema is not None:
        connection.exec_driver_sql("SELECT set_config('search_path', %(s)s, false)",
                                   {"s": _quoted(target.schema)})
    try:
        status = read_status_on(connection, db.tree)
    finally:
        if target.schema is not None:
            connection.exec_driver_sql("RESET search_path")
    return classify(target, status, time.monotonic() - started)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def classify(target: Target, status: DatabaseStatus, seconds: float) -> TargetResult:
    """One status as a fleet status: ahead (rows no file provides), failed (a mark or a changed file), behind."""
    if status.digest_current:
        return TargetResult(target.label, "up_to_date", seconds=seconds)
    rows = tuple(status.rows)
    if status.unknown:
        return TargetResult(target.label, "ahead", error=f"revisions this code lacks: {', '.join(status.unknown)}",
                            seconds=seconds, heads=rows)
    if status.marks:
        mark = status.marks[0]
        return TargetResult(target.label, "failed", error=f"{mark.component} {mark.name} {mark.state} "
                            f"({mark.error or 'interrupted'}); see 'repair'", seconds=seconds, heads=rows)
    if status.pending:
        return TargetResult(target.label, "behind", seconds=seconds, pending=tuple(status.pending), heads=rows)
    if status.drift:
        names = ", ".join(f"{d.component} {d.name}" for d in status.drift)
        return TargetResult(target.label, "failed", error=f"applied files changed: {names}", seconds=seconds,
                            heads=rows)
    return TargetResult(target.label, "up_to_date", seconds=seconds, heads=rows)
