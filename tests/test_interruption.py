"""A Ctrl-C that a driver's error replaced is still the Ctrl-C (psycopg cancels the interrupted
statement; the lock timeout that fired as the cancel went out may come back instead)."""

from __future__ import annotations

import pytest

from memstack.core.db import create_engine
from memstack.engine.errors import Terminated
from memstack.engine.run.ladder import is_lock_timeout
from memstack.engine.run.steps import error_text, interruption


def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 - the implicit context is what a driver leaves
    except BaseException as exc:
        return exc


def test_an_error_raised_while_handling_a_ctrl_c_is_the_ctrl_c() -> None:
    ctrl_c = KeyboardInterrupt()
    replaced = _raised_while_handling(ctrl_c, RuntimeError("canceling statement due to lock timeout"))
    assert interruption(replaced) is ctrl_c
    assert error_text(interruption(replaced) or replaced) == "interrupted (Ctrl-C / SIGINT)"


def test_sigterm_behind_a_cause_is_found_and_worded_as_sigterm() -> None:
    term = Terminated()
    error = RuntimeError("wrapped")
    error.__cause__ = _raised_while_handling(term, ValueError("driver"))
    assert interruption(error) is term
    assert error_text(term) == "terminated (SIGTERM)"


def test_plain_errors_are_not_interruptions_and_a_looping_chain_ends() -> None:
    assert interruption(ValueError("no")) is None
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert interruption(first) is None


@pytest.mark.postgres
def test_a_real_lock_timeout_raised_while_handling_a_ctrl_c(postgres_url: str) -> None:
    """The server's own 55P03, raised while a KeyboardInterrupt is handled: not retried as a timeout."""
    holder, waiter = create_engine(postgres_url), create_engine(postgres_url)
    try:
        with holder.begin() as creating:
            creating.exec_driver_sql("CREATE TABLE held (id int)")
        with holder.connect() as holding, waiter.connect() as waiting:
            holding.exec_driver_sql("BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
            ctrl_c = KeyboardInterrupt()
            try:
                try:
                    raise ctrl_c
                except KeyboardInterrupt:
                    waiting.exec_driver_sql("SET lock_timeout = '50ms'")
                    waiting.exec_driver_sql("SELECT * FROM held")
            except Exception as exc:
                assert is_lock_timeout(exc)
                assert interruption(exc) is ctrl_c
            else:
                pytest.fail("the locked table was read")
            holding.rollback()
    finally:
        holder.dispose()
        waiter.dispose()
