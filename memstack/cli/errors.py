"""The one boundary where engine errors become what a person at a terminal reads.

:data:`WORDINGS` is the one table from a domain error type to its wording, a function returning the
message and the ``manage.py`` command that fixes it. It is composed here, explicitly, from the
wording modules (one per topic, each ending with its own ``WORDINGS`` dict); none of them registers
itself anywhere. ``main`` and ``call_command`` pass every :class:`MemstackError` through
:func:`for_person`; nothing else in the engine spells commands. Structured fixes
(:class:`memstack.engine.review.checks.Fix`, used by ``check`` and ``doctor``) are spelled here too,
by :func:`spell_fix`.

Imported only when an error is to be worded (the CLI's ``--help`` and no-op paths never load it);
the wording modules import the error types from :mod:`memstack.engine.errors` and
:mod:`memstack.core.errors`, which are light.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from memstack.cli import (
    adopt_wordings,
    fleet_wordings,
    generate_wordings,
    input_wordings,
    records_wordings,
    run_wordings,
    tool_wordings,
    tree_wordings,
)
from memstack.cli.worded import Wording, spell_command
from memstack.core.errors import MemstackError

if TYPE_CHECKING:
    from memstack.engine.review.checks import Fix


def compose(*tables: Mapping[type[MemstackError], Wording]) -> dict[type[MemstackError], Wording]:
    """One table from the topic modules' tables; an error type worded twice is a bug, caught at import."""
    table: dict[type[MemstackError], Wording] = {}
    for part in tables:
        twice = table.keys() & part.keys()
        if twice:
            raise RuntimeError(f"worded twice: {', '.join(sorted(t.__name__ for t in twice))}")
        table.update(part)
    return table


WORDINGS = compose(
    tree_wordings.WORDINGS,
    records_wordings.WORDINGS,
    run_wordings.WORDINGS,
    generate_wordings.WORDINGS,
    adopt_wordings.WORDINGS,
    input_wordings.WORDINGS,
    tool_wordings.WORDINGS,
    fleet_wordings.WORDINGS,
)


def for_person(error: MemstackError) -> MemstackError:
    """``error`` with the CLI's message and fix, keeping its exit status; unknown types unchanged."""
    for cls in type(error).__mro__:
        function = WORDINGS.get(cls)
        if function is not None:
            message, hint = function(error)
            worded = MemstackError(message, hint=hint)
            worded.exit_code = error.exit_code
            return worded
    return error


def spell_fix(fix: Fix) -> str:
    return fix.spelled(spell_command)


def fix_text(fix: Fix | None, cause: MemstackError | None = None) -> str | None:
    """The fix of a ``check`` problem or ``doctor`` item: the cause's wording wins when it has a fix."""
    if cause is not None:
        hint = for_person(cause).hint
        if hint:
            return hint
    return spell_fix(fix) if fix is not None else None
