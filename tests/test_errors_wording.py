"""Domain errors carry facts and no ``manage.py``; the CLI boundary words them once; the
start-up API words them for application code; connection errors are masked in one place.
Pure: no database, no files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from memstack.cli.errors import fix_text, for_person, spell_fix
from memstack.core.db import database_unavailable
from memstack.core.errors import DatabaseUnavailable, MemstackError, SchemaNotMigrated
from memstack.engine.errors import (
    AheadAndBehind,
    AlreadyManaged,
    ChecksumDrift,
    EngineError,
    FailureMark,
    ForeignBranchLabel,
    InvalidSyntax,
    MissingRevisionId,
    NewRevisionCycle,
    NoMatchingState,
    NonLiteralField,
    NothingToAdopt,
    NotUpToDate,
    RemovedComponent,
    UncreatedReference,
    UnknownRows,
)
from memstack.engine.records.status import Drift, Mark
from memstack.engine.review.checks import Fix, Problem, run
from memstack.startup import for_application

DRIFT = Drift("memory", "0001_initial", "abc123def456", "migrations/memory/0001_initial.py", "a" * 64, "b" * 64)
MARK = Mark("abc123def456", "task", "0002_add_progress", "up", "failed", dt.datetime.now(dt.UTC), "boom", None, None,
            None)

ERRORS: list[MemstackError] = [
    UnknownRows(["abcdef123456"]),
    RemovedComponent(["abcdef123456"], "memo", ["0001_initial"]),
    ChecksumDrift([DRIFT, DRIFT]),
    FailureMark(MARK),
    AlreadyManaged(["abcdef123456"]),
    NothingToAdopt(),
    NoMatchingState(["tasks lacks column x"]),
    InvalidSyntax(Path("m/0001_x.py"), "invalid syntax", 3),
    NonLiteralField(Path("m/0001_x.py"), "depends_on"),
    MissingRevisionId(Path("m/0001_x.py")),
    ForeignBranchLabel(Path("m/0001_x.py"), "other", "memo"),
    UncreatedReference("memory", "users", "auth"),
    NewRevisionCycle(["a", "b", "a"]),
    DatabaseUnavailable("postgresql+psycopg://app:***@db/x", "connection refused"),
    SchemaNotMigrated("the database has no table users: its schema is not migrated", tables=["users"]),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_domain_errors_have_no_front_end_wording_and_the_cli_gives_each_a_fix(error: MemstackError) -> None:
    assert "manage.py" not in str(error)
    assert error.hint is None
    worded = for_person(error)
    assert worded is not error and worded.message == error.message
    assert worded.hint


def test_engine_errors_carry_their_facts() -> None:
    removed = RemovedComponent(["r1"], "memo", ["0001_initial"])
    assert isinstance(removed, UnknownRows) and isinstance(removed, EngineError)
    assert removed.rows == ["r1"] and removed.component == "memo"
    assert "component 'memo' is no longer configured" in removed.message
    assert "(and 1 more)" in ChecksumDrift([DRIFT, DRIFT]).message
    assert ChecksumDrift([DRIFT]).drifts == [DRIFT]
    assert FailureMark(MARK).mark is MARK and "failed on a database without transactional DDL" in str(FailureMark(MARK))
    assert "'manage.py migrate --fake task 0002_add_progress'" in (for_person(FailureMark(MARK)).hint or "")


def test_the_cli_wording_names_the_command_with_the_facts() -> None:
    assert "'manage.py migrate --prune memo'" in (for_person(RemovedComponent(["r"], "memo", [])).hint or "")
    uncreated = UncreatedReference("memory", "users", "auth")
    assert for_person(uncreated).hint == "run 'manage.py makemigrations auth memory'"
    assert for_person(SchemaNotMigrated("x")).hint == "run 'manage.py migrate' first"
    assert "set branch_labels = ('memo',)" in (for_person(ForeignBranchLabel(Path("f"), "x", "memo")).hint or "")


def test_unknown_error_types_pass_through_unchanged() -> None:
    plain = MemstackError("something", hint="do this")
    assert for_person(plain) is plain


def test_a_structured_fix_is_spelled_by_the_cli() -> None:
    assert spell_fix(run("makemigrations", "--merge", "memory")) == "manage.py makemigrations --merge memory"
    fix = Fix("fix the schema, then '{0}' or '{1}'", (("repair",), ("migrate", "--fake")))
    assert spell_fix(fix) == "fix the schema, then 'manage.py repair' or 'manage.py migrate --fake'"
    assert fix.spelled(lambda command: "<" + " ".join(command) + ">") == "fix the schema, then '<repair>' or " \
        "'<migrate --fake>'"


def test_a_problem_with_a_cause_takes_the_cause_wording() -> None:
    error = UnknownRows(["r"])
    problem = Problem("unknown_revisions", error.message, Fix(""), cause=error)
    assert "'manage.py adopt'" in (fix_text(problem.fix, problem.cause) or "")
    assert fix_text(run("migrate")) == "manage.py migrate"
    assert fix_text(None) is None


class _DriverError(Exception):
    """What a driver raises: its message may quote the URL, password included."""


class _Wrapped(Exception):
    def __init__(self, orig: Exception) -> None:
        super().__init__("wrapped")
        self.orig = orig


def test_connection_errors_are_translated_in_one_place_always_masked() -> None:
    orig = _DriverError("could not connect to postgresql://app:s3cret@db:5432/x\nDETAIL: more")
    error = database_unavailable(_Wrapped(orig), "postgresql+psycopg://app:s3cret@db:5432/x", doing="seed")
    assert isinstance(error, DatabaseUnavailable)
    assert "s3cret" not in str(error) and error.message.count("***") == 2
    assert error.message.startswith("cannot seed the database postgresql+psycopg://app:***@db:5432/x: ")
    assert "DETAIL" not in error.message  # the first line only


def test_the_start_up_api_words_errors_for_application_code_and_keeps_their_type() -> None:
    drift = ChecksumDrift([DRIFT])
    assert for_application(drift) is drift and "repair command" in (drift.hint or "")
    pending = for_application(NotUpToDate("sqlite:///x.db", ["auth 0001_initial"]))
    assert "manage.py migrate" in (pending.hint or "") and "verify_only" in (pending.hint or "")
    mixed = for_application(AheadAndBehind("sqlite:///x.db", ["r"], ["auth 0001_initial"]))
    assert "deploy the code" in (mixed.hint or "")
    given = MemstackError("x", hint="keep me")
    assert for_application(given).hint == "keep me"
