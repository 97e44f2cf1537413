"""Callbacks that turn engine events into output: progress lines, questions, lock waits, plans."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from memstack.cli.context import AppContext
from memstack.core.errors import DeclinedError
from memstack.engine.run.destruction import describe_loss
from memstack.engine.tree.graph import Step

if TYPE_CHECKING:
    from memstack.engine.run.destruction import DestructionCallback, StepDestruction
    from memstack.engine.run.lock import WaitCallback
    from memstack.engine.run.steps import ProgressCallback, StepResult
    from memstack.engine.tree.planner import ConfirmCallback


def report_progress(app: AppContext, *, fake: bool = False) -> ProgressCallback:
    """One line per finished step: component, name, time taken (stderr).

    ``fake`` (``--fake``, ``stamp``): nothing runs, so the line says it is only recorded.
    """

    def progress(event: str, step: Step, result: StepResult | None) -> None:
        rev = step.revision
        if fake:
            if event == "done":
                state = "applied" if step.direction == "up" else "unapplied"
                app.info(f"  Recording {rev.component} {rev.name} as {state} (not run)")
            return
        verb = "Applying" if step.direction == "up" else "Unapplying"
        if event == "done":
            took = f" ({result.duration_ms} ms)" if result is not None else ""
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('OK', fg='green')}{took}")
        elif event == "failed":
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('FAILED', fg='red')}", level=0)
        elif event == "retry" and result is not None:  # the guard: a lock timeout, tried again (run/guard.py)
            app.info(f"  {verb} {rev.component} {rev.name}: lock busy, waited {result.duration_ms} ms, "
                     f"trying again ({result.error})")
        elif event == "restart" and result is not None:  # --atomic / --dry-run: the whole plan rolled back
            app.info(f"  {verb} {rev.component} {rev.name}: lock busy, waited {result.duration_ms} ms; the whole "
                     f"plan rolled back and starts again from its first step ({result.error})")
        elif event == "blocked" and result is not None:
            app.info(f"  {verb} {rev.component} {rev.name}: sessions hold locks it needs, going ahead under "
                     f"the lock timeout: {result.error}")

    return progress


def confirm_steps(app: AppContext, yes: bool) -> ConfirmCallback:
    """Say what a question is about, list its steps, then ask (or refuse without a terminal)."""
    def confirm(question: str, steps: Sequence[Step]) -> None:
        if steps:
            app.info(question, level=0)
            for step in steps:
                why = f" ({step.reason})" if step.reason else ""
                verb = "apply" if step.direction == "up" else "unapply"
                app.info(f"  - {verb} {step.revision.component} {step.revision.name}{why}", level=0)
            question = "Proceed?"
        app.confirm(question, yes=yes)

    return confirm


def destruction_lines(destroys: Sequence[StepDestruction]) -> list[str]:
    """Per step, what it drops (indented), as the question and ``--plan`` show it."""
    lines: list[str] = []
    for item in destroys:
        rev = item.step.revision
        why = f" ({item.step.reason})" if item.step.reason else ""
        verb = "unapply" if item.step.direction == "down" else "apply"
        lines.append(f"  - {verb} {rev.component} {rev.name}{why}")
        if item.declared:
            lines.append(f"      the revision says the destruction is intended: {item.declared}")
        if item.unapplies_only:
            lines.append("      records it as unapplied; drops nothing")
        elif item.unreadable:
            lines.append(f"      cannot tell what it drops without running it ({item.unreadable})")
        elif not item.losses and item.step.direction == "down":
            lines.append("      drops no table, column, index or constraint")
        lines.extend(f"      {describe_loss(loss)}" for loss in item.losses)
        lines.extend(f"      runs code memstack cannot classify: {code}" for code in item.code)
    return lines


def _asked(destroys: Sequence[StepDestruction]) -> tuple[str, str]:
    """("unapplying 2 revision(s)", "Unapply these 2 revision(s)?") for what the question covers."""
    down = sum(d.step.direction == "down" for d in destroys)
    count = len(destroys)
    if down == count:
        return f"unapplying {count} revision(s)", f"Unapply these {count} revision(s)?"
    if down == 0:
        return (f"applying {count} revision(s) that destroy data", f"Apply these {count} revision(s), destroying "
                "the data shown?")
    return f"running {count} step(s) that destroy data", f"Run these {count} step(s), destroying the data shown?"


def confirm_destruction(app: AppContext, yes: bool) -> DestructionCallback:
    """Show what destructive steps destroy, then ask on a terminal (or refuse without one)."""
    def confirm(headline: str, destroys: Sequence[StepDestruction]) -> None:
        app.info(headline, level=0)
        for line in destruction_lines(destroys):
            app.info(line, level=0)
        if yes:
            return
        doing, question = _asked(destroys)
        if not sys.stdin.isatty():
            raise DeclinedError(f"{doing} needs confirmation, and there is no terminal to ask on; nothing was "
                                "changed", hint="pass --yes to confirm non-interactively")
        app.confirm(question, yes=False)

    return confirm


def report_wait(app: AppContext) -> WaitCallback:
    def on_wait(holder: str) -> None:
        timeout = app.settings.lock_timeout
        app.info(f"Waiting up to {timeout:g} s for the migration lock, held by {holder} ...")

    return on_wait


def print_plan(app: AppContext, steps: Sequence[Step], as_json: bool,
               destroys: Sequence[StepDestruction] = ()) -> None:
    """``--plan``: the exact steps, why steps of other components are included, what each destroys."""
    blocked = [s.revision.label for s in steps if s.direction == "down" and s.revision.irreversible]
    if blocked:
        app.warn("this plan needs the downgrade of irreversible revision(s) " + ", ".join(blocked)
                 + "; running it would be refused before the first step")
    by_step = {(d.step.revision.id, d.step.direction): d for d in destroys}
    if as_json:
        app.json([{**s.as_json(), **_destroys_json(by_step.get((s.revision.id, s.direction)))} for s in steps])
        return
    if not steps:
        app.info("Nothing to do.")
    for index, step in enumerate(steps, start=1):
        verb = "apply  " if step.direction == "up" else "unapply"
        why = f"   <- {step.reason}" if step.reason else ""
        app.data(f"{index:>3}. {verb} {step.revision.component} {step.revision.name} ({step.revision.id}){why}")
        item = by_step.get((step.revision.id, step.direction))
        if item is not None:
            for line in destruction_lines([item])[1:]:
                app.data(f"       {line.strip()}")


def _destroys_json(item: StepDestruction | None) -> dict[str, object]:
    if item is None:
        return {"destroys": []}
    return item.as_json()
