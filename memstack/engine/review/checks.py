"""``check``: everything that should stop a merge or a deploy, each with its fix.

Without a database: graph problems, several heads, models that differ from migrations,
``[tool.alembic]`` out of step with the components. With one: pending revisions, changed
files, unverified checksums, unknown revisions and failure marks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memstack.core.errors import MemstackError
from memstack.engine.errors import GraphError, RevisionFileError, ScratchBuildFailed, ScratchError
from memstack.engine.generate.autodetect import detect
from memstack.engine.records.status import read_status
from memstack.engine.run.alembic_config import in_environment, resolve_location
from memstack.engine.run.destruction import describe_loss, read_destruction
from memstack.engine.run.halfway import mark_progress
from memstack.engine.run.lock import lock_holder
from memstack.engine.run.safety import unknown_rows_error, unverified
from memstack.engine.tree import replaces
from memstack.engine.tree.graph import Step
from memstack.engine.tree.loader import LoadedTree, load_tree
from memstack.engine.workspace import Workspace

Command = tuple[str, ...]


@dataclass(frozen=True)
class Fix:
    """How to fix a problem, with the commands kept apart from the words around them.

    ``advice`` holds ``{0}``, ``{1}``, ... where ``commands`` go; each front end spells a
    command its own way (the CLI as its own program name followed by the arguments).
    """

    advice: str
    commands: tuple[Command, ...] = ()

    def spelled(self, spell: Callable[[Command], str]) -> str:
        return self.advice.format(*(spell(command) for command in self.commands))


def run(*command: str) -> Fix:
    """The fix that is exactly one command."""
    return Fix("{0}", (command,))


@dataclass(frozen=True)
class Problem:
    """One finding of ``check``; ``cause``, when set, is the domain error behind it (its wording wins)."""
    kind: str
    message: str
    fix: Fix
    component: str | None = None
    severity: str = "error"  # error | warning
    cause: MemstackError | None = None


REVISION_FILES_FIX = Fix("fix the revision files")


def describe_diff(diff: Any) -> str:
    """One autogenerate difference in plain words."""
    if isinstance(diff, list):  # alembic groups column modifications
        return "; ".join(describe_diff(d) for d in diff)
    kind = diff[0]
    if kind == "add_table":
        return f"table {diff[1].name} is in the models but no migration creates it"
    if kind == "remove_table":
        return f"table {diff[1].name} exists in the migrations but no model declares it"
    if kind == "add_column":
        return f"column {diff[2]}.{diff[3].name} is in the models but not in the migrations"
    if kind == "remove_column":
        return f"column {diff[2]}.{diff[3].name} is in the migrations but not in the models"
    if kind == "modify_type":
        return f"column {diff[2]}.{diff[3]} has type {diff[5]} in the migrations, {diff[6]} in the models"
    if kind == "modify_nullable":
        state = {True: "nullable", False: "NOT NULL"}
        return f"column {diff[2]}.{diff[3]} is {state[diff[5]]} in the migrations, {state[diff[6]]} in the models"
    if kind == "modify_default":
        return f"column {diff[2]}.{diff[3]} has another server default in the models"
    if kind in ("add_index", "remove_index"):
        index = diff[1]
        where = "models" if kind == "add_index" else "migrations"
        columns = ", ".join(c.name for c in index.columns)
        return f"index {index.name} on {index.table.name} ({columns}) is only in the {where}"
    if kind in ("add_fk", "remove_fk", "add_constraint", "remove_constraint"):
        constraint = diff[1]
        where = "models" if kind.startswith("add") else "migrations"
        return f"constraint {constraint.name} on {constraint.table.name} is only in the {where}"
    return f"{kind}: {diff[1:]}"


def squash_heads_problems(ws: Workspace, tree: LoadedTree) -> list[Problem]:
    """Plain ``alembic heads`` (no env.py) must see one head per component while a squash still
    replaces files: a squash written by hand or by an older memstack, its ``down_revision`` a literal,
    is a second head beside the revisions that followed its range (docs/squashing.md)."""
    from memstack.alembic_placement import plain_heads  # lazy: only when a squash replaces files

    live = replaces.live_squashes(tree.every_revision, tree.squashes)
    problems = []
    for label in sorted({tree.every_revision[sid].component for sid in live}):
        heads = plain_heads(ws.registry.get(label).migrations_path)
        if len(heads) > 1:
            names = ", ".join(tree.every_revision[h].label if h in tree.every_revision else h for h in heads)
            problems.append(Problem(
                "alembic_heads", f"plain 'alembic heads' (without env.py) shows {len(heads)} heads of {label}: "
                f"{names}; 'alembic upgrade' is not affected", Fix(
                    "in the squash file, import alembic_down_revision from memstack.alembic_placement and write "
                    "down_revision = alembic_down_revision(__file__), or run '{0}' once every database is past it",
                    (("squashmigrations", "--cleanup", label),)), label, severity="warning"))
    return problems


def alembic_config_problems(ws: Workspace) -> list[Problem]:
    """Plain ``alembic`` must work: an env.py at script_location, version_locations listing exactly
    the components' folders, each existing, none an absolute path into a virtual environment."""

    path = ws.settings.pyproject_path
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    table = data.get("tool", {}).get("alembic")
    fix = Fix("run '{0}' (it rewrites [tool.alembic] version_locations)", (("makemigrations",),))
    if not isinstance(table, dict):
        return [Problem("alembic_config", f"{path.name} has no [tool.alembic] table: the plain alembic command "
                        "cannot see the components", fix)]
    here = path.parent
    problems = []
    script = str(table.get("script_location", ""))
    if not script or not (resolve_location(script, here) / "env.py").is_file():
        problems.append(Problem("alembic_config", f"[tool.alembic] script_location {script or '(unset)'} has no "
                                "env.py: the plain alembic command fails", Fix(
                                    "run '{0}' (it points script_location at memstack's env.py)",
                                    (("makemigrations",),))))
    listed: dict[str, str] = {}
    wanted = {str(c.migrations_path).rstrip("/") for c in ws.registry}
    for raw in map(str, table.get("version_locations", [])):
        resolved = str(resolve_location(raw, here)).rstrip("/")
        listed[resolved] = raw
        if in_environment(raw):
            problems.append(Problem("alembic_config", f"[tool.alembic] version_locations names {raw}, a path into "
                                    "a virtual environment: it breaks on every other machine", fix))
        elif resolved in wanted and not Path(resolved).is_dir():
            problems.append(Problem("alembic_config", f"[tool.alembic] version_locations names {raw}, which does "
                                    "not exist", fix))
    for missing in sorted(wanted - listed.keys()):
        problems.append(Problem("alembic_config", f"[tool.alembic] version_locations lacks {missing}", fix))
    for extra in sorted(listed.keys() - wanted):
        problems.append(Problem("alembic_config", f"[tool.alembic] version_locations lists {extra}, "
                                "which is no component's folder", fix))
    return problems


def no_models_fix(ws: Workspace, label: str) -> Fix:
    package = ws.registry.get(label).package
    return Fix(f"declare the tables in {package}/models.py (on memstack.core.db.Base), then "
               "'{0}' shows what differs", (("makemigrations", "--check"),))


def static_problems(ws: Workspace, *, models: bool = True) -> list[Problem]:
    problems: list[Problem] = []
    tree = load_tree(ws.registry, validate=False)
    graph_problems = tree.graph.problems()
    for error in graph_problems:
        problems.append(Problem("graph", error.message, REVISION_FILES_FIX, cause=error))
    for label in ws.registry.labels:
        heads = tree.graph.heads(label)
        if len(heads) > 1:
            problems.append(Problem(
                "multiple_heads", f"{label} has {len(heads)} heads: " + ", ".join(h.name for h in heads),
                run("makemigrations", "--merge", label), label))
    problems += alembic_config_problems(ws)
    problems += squash_heads_problems(ws, tree)
    if models and not problems:

        try:
            detection = detect(ws)
        except ScratchError as exc:  # not a revision's fault: e.g. the user may not create databases
            return [*problems, Problem("scratch_unavailable", exc.message, Fix(""), cause=exc)]
        except MemstackError as exc:  # a revision failed on the scratch database: report it, do not crash
            built = "" if isinstance(exc, ScratchBuildFailed) else (
                "building a scratch database from the revisions failed: ")
            return [*problems, Problem(
                "revision_fails", f"models could not be compared with the migrations: {built}{exc.message}",
                Fix("fix the failing revision ({0} on an empty database shows the error)", (("migrate",),)),
                cause=exc)]
        for label in detection.without_models:
            problems.append(Problem("no_models", f"{label} has no models module (or it declares its tables on a "
                                    "metadata of its own): its tables are not compared with its migrations",
                                    no_models_fix(ws, label), label, severity="warning"))
        for rev in detection.revisions:
            for diff in rev.upgrade_ops.as_diffs():
                problems.append(Problem("model_changes", f"{rev.component}: {describe_diff(diff)}",
                                        run("makemigrations", rev.component), rev.component))
    return problems


def database_problems(ws: Workspace) -> list[Problem]:
    problems: list[Problem] = []
    state = read_status(ws, mark_progress=mark_progress)
    if state.unknown:
        error = unknown_rows_error(state, ws.registry.labels)
        problems.append(Problem("unknown_revisions", error.message, Fix(""), cause=error))
    for mark in state.marks:
        progress = state.progress.get(mark.revision)
        problems.append(Problem("failure_mark", f"{mark.component} {mark.name} ({mark.direction}) is marked "
                                f"{mark.state}: {mark.error or 'interrupted'}"
                                + (f"; of its objects, {progress.describe()}" if progress else ""),
                                Fix("fix the schema, then '{0}' or '{1}'", (("repair",), ("migrate", "--fake"))),
                                mark.component))
    for drift in state.drift:
        problems.append(Problem("checksum_drift", f"{drift.component} {drift.name} changed after it was applied "
                                f"(recorded {drift.recorded[:12]}..., now {drift.current[:12]}...)",
                                Fix("restore the file, or '{0}'", (("repair",),)), drift.component))
    for rid in unverified(state):
        if rid in ws.graph:
            rev = ws.graph.get(rid)
            problems.append(Problem("unverified_checksum", f"{rev.label} was applied without a recorded checksum",
                                    Fix("nothing to do; '{0}' records it as verified", (("repair",),)),
                                    rev.component,
                                    severity="warning"))
    for label in ws.registry.labels:
        pending = [r for r in ws.graph.of_component(label) if r.id not in state.applied]
        if pending:
            problems.append(Problem("pending", f"{label}: {len(pending)} pending revision(s): "
                                    + ", ".join(r.name for r in pending), run("migrate"), label))
    problems += destructive_pending(ws, state)
    holder = lock_holder(ws.engine)
    if holder:
        problems.append(Problem("lock_held", f"the migration lock is held by {holder}",
                                Fix("wait for that migration to finish"), severity="warning"))
    return problems


def destructive_pending(ws: Workspace, state: Any) -> list[Problem]:
    """A warning per unapplied revision whose upgrade destroys data, with the figures read now."""
    pending = [ws.graph.get(r) for r in ws.graph.toposort(set(ws.graph.revisions) - state.applied)]
    problems = []
    for item in read_destruction(ws, [Step(rev, "up") for rev in pending]):
        if not item.losses:
            continue
        rev = item.step.revision
        declared = f" (the revision says: {item.declared})" if item.declared else ""
        problems.append(Problem("destructive_pending", f"{rev.label} destroys data when applied{declared}: "
                                + "; ".join(describe_loss(loss) for loss in item.losses),
                                Fix("review it; '{0}' shows these figures and asks before running it", (("migrate",),)),
                                rev.component, severity="warning"))
    return problems


def run_checks(ws: Workspace, *, database: bool = False, models: bool = True) -> list[Problem]:
    try:
        problems = static_problems(ws, models=models)
    except (GraphError, RevisionFileError) as exc:  # the tree cannot even be read
        problems = [Problem("graph", exc.message, REVISION_FILES_FIX, cause=exc)]
    if database:
        try:
            problems += database_problems(ws)
        except MemstackError as exc:
            problems.append(Problem("database", exc.message, Fix(""), cause=exc))
    return problems
