"""Callbacks that turn engine events into output: progress lines, questions, lock waits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memstack.cli.context import AppContext
from memstack.engine.graph import Step

if TYPE_CHECKING:
    from memstack.engine.executor import ProgressCallback, StepResult
    from memstack.engine.lock import WaitCallback
    from memstack.engine.planner import ConfirmCallback


def report_progress(app: AppContext) -> ProgressCallback:
    """One line per finished step: component, name, time taken (stderr)."""

    def progress(event: str, step: Step, result: StepResult | None) -> None:
        rev = step.revision
        verb = "Applying" if step.direction == "up" else "Unapplying"
        if event == "done":
            took = f" ({result.duration_ms} ms)" if result is not None else ""
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('OK', fg='green')}{took}")
        elif event == "failed":
            app.info(f"  {verb} {rev.component} {rev.name} ... {app.style('FAILED', fg='red')}", level=0)

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


def report_wait(app: AppContext) -> WaitCallback:
    def on_wait(holder: str) -> None:
        timeout = app.settings.lock_timeout
        app.info(f"Waiting up to {timeout:g} s for the migration lock, held by {holder} ...")

    return on_wait


def print_plan(app: AppContext, steps: Sequence[Step], as_json: bool) -> None:
    """``--plan``: the exact steps, with why steps of other components are included."""
    blocked = [s.revision.label for s in steps if s.direction == "down" and s.revision.irreversible]
    if blocked:
        app.warn("this plan needs the downgrade of irreversible revision(s) " + ", ".join(blocked)
                 + "; running it would be refused before the first step")
    if as_json:
        app.json([s.as_json() for s in steps])
        return
    if not steps:
        app.info("Nothing to do.")
    for index, step in enumerate(steps, start=1):
        verb = "apply  " if step.direction == "up" else "unapply"
        why = f"   <- {step.reason}" if step.reason else ""
        app.data(f"{index:>3}. {verb} {step.revision.component} {step.revision.name} ({step.revision.id}){why}")
