"""A linter for revisions that are dangerous on a live PostgreSQL database.

Each revision's upgrade is rendered offline for PostgreSQL and handed to squawk (the
``squawk-cli`` package), which knows the locking rules; memstack adds what squawk cannot see
because it needs the models or the revision file itself: dropping what a model still maps,
renames that running code does not know, data migrations that import the application's models.

A finding is acknowledged by a marker comment in the revision file, with a reason::

    # memstack: lint-ok require-concurrent-index-creation -- task_logs is small, locked for ms

A marker without a reason acknowledges nothing.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from memstack.core.db import metadata
from memstack.core.errors import MemstackError
from memstack.engine.errors import RevisionNotRenderable, SquawkFailed, SquawkMissing
from memstack.engine.run.classify import classify_step, describe_fact
from memstack.engine.run.offline import render_step
from memstack.engine.tree.graph import Revision, Step
from memstack.engine.workspace import Workspace

#: squawk rules left out, each for a reason that holds for every memstack revision
EXCLUDED_SQUAWK_RULES: dict[str, str] = {
    "prefer-robust-stmts": "memstack runs each revision in a transaction (or resumes an atomic=False one)",
    "prefer-bigint-over-int": "a modelling preference, not a migration danger",
    "prefer-bigint-over-smallint": "a modelling preference, not a migration danger",
    "prefer-text-field": "a modelling preference: the danger is changing a varchar's size later, which "
                         "changing-column-type reports",
    "prefer-identity": "a modelling preference, not a migration danger",
}
#: squawk's timeout rules, left out for a revision only when memstack's guard really sets that timeout for it
#: (the guard on, the timeout not 0 in the settings or the revision's ``guard = {...}``)
TIMEOUT_RULES = {"require-lock-timeout": "ddl_lock_timeout", "require-statement-timeout": "statement_timeout"}
#: what to do instead, in memstack's terms, added to squawk's message
HOW_IN_MEMSTACK = {
    "require-concurrent-index-creation": (
        "in memstack: declare `atomic = False` at module level and create it inside `with "
        "op.get_context().autocommit_block():` with `op.create_index(..., postgresql_concurrently=True)`; "
        "the guard retries it on a lock timeout and drops the INVALID index a timed-out try leaves"),
    "require-concurrent-index-deletion": (
        "in memstack: declare `atomic = False` and drop it inside `with op.get_context().autocommit_block():` "
        "with `op.drop_index(..., postgresql_concurrently=True)`"),
    "require-lock-timeout": (
        "memstack sets it for every step unless the guard is off (MEMSTACK_DISABLE_GUARD) or ddl_lock_timeout "
        "is 0 for this revision: remove that, or give the revision `guard = {\"ddl_lock_timeout\": 2}`"),
    "require-statement-timeout": (
        "memstack sets it for every step unless the guard is off or statement_timeout is 0 for this revision"),
}
MARKER = re.compile(r"#\s*memstack:\s*lint-ok\s+(?P<rule>[\w-]+)\s*(?:--\s*(?P<reason>.*\S))?")


@dataclass(frozen=True)
class Finding:
    revision: Revision
    rule: str
    message: str
    source: str  # "squawk" | "memstack"
    line: int | None = None  # in the rendered SQL (squawk) or the revision file (memstack)
    acknowledged: str | None = None  # the marker's reason

    def as_json(self) -> dict[str, object]:
        return {"component": self.revision.component, "revision": self.revision.name, "id": self.revision.id,
                "rule": self.rule, "message": self.message, "source": self.source, "line": self.line,
                "acknowledged": self.acknowledged is not None, "reason": self.acknowledged}


# --------------------------------------------------------------------------- markers


def markers(source: str) -> tuple[dict[str, str], list[int]]:
    """({rule: reason}, lines of markers without a reason) of a revision file."""
    found: dict[str, str] = {}
    unexplained = []
    for number, line in enumerate(source.splitlines(), 1):
        match = MARKER.search(line)
        if match is None:
            continue
        if match["reason"]:
            found[match["rule"]] = match["reason"]
        else:
            unexplained.append(number)
    return found, unexplained


# --------------------------------------------------------------------------- squawk


def squawk_program() -> str:
    """The squawk binary: next to this Python (the venv's scripts), else on PATH."""
    beside = Path(sys.executable).parent / "squawk"
    program = str(beside) if beside.is_file() else shutil.which("squawk")
    if program is None:
        raise SquawkMissing()
    return program


def run_squawk(sql_by_name: dict[str, str]) -> dict[str, list[tuple[str, str, int]]]:
    """{name: [(rule, message, line)]} for each SQL text, from one squawk run (files in a temp folder)."""
    if not sql_by_name:
        return {}
    with tempfile.TemporaryDirectory(prefix="memstack-lint-") as folder:
        paths = {}
        for index, (name, sql) in enumerate(sql_by_name.items()):
            path = Path(folder) / f"{index:04d}.sql"
            path.write_text(sql or "-- empty\n", encoding="utf-8")
            paths[str(path)] = name
        command = [squawk_program(), "--reporter", "json", "--assume-in-transaction",
                   "--exclude", ",".join(EXCLUDED_SQUAWK_RULES), *paths]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    try:
        reports = json.loads(done.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise SquawkFailed((done.stderr or done.stdout).strip()[:500]) from exc
    results: dict[str, list[tuple[str, str, int]]] = {name: [] for name in sql_by_name}
    for report in reports:
        owner = paths.get(report.get("file", ""))
        if owner is not None:
            message = report.get("message", "")
            if report.get("help"):
                message += f" ({report['help']})"
            results[owner].append((report.get("rule_name", "squawk"), message, int(report.get("line", 0)) + 1))
    return results


# --------------------------------------------------------------------------- memstack's own checks


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str) -> str | None:
    return next((_string(k.value) for k in call.keywords if k.arg == name), None)


def _batch_tables(tree: ast.AST) -> dict[str, str]:
    """{batch_op variable: table} of ``with op.batch_alter_table('t') as batch_op``."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "batch_alter_table" and isinstance(item.optional_vars, ast.Name)):
                    table: str | None = _string(call.args[0]) if call.args else _keyword(call, "table_name")
                    if table:
                        found[item.optional_vars.id] = table
    return found


def _upgrade_calls(tree: ast.Module) -> list[ast.Call]:
    upgrade = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "upgrade"), None)
    return [n for n in ast.walk(upgrade) if isinstance(n, ast.Call)] if upgrade else []


@dataclass(frozen=True)
class _Operation:
    name: str
    table: str | None
    args: list[str | None]  # the positional string arguments after the table
    call: ast.Call


def _operations(tree: ast.Module) -> list[_Operation]:
    """``op.X(table, ...)`` and ``batch_op.X(...)`` calls of ``upgrade()``, with their table resolved."""
    batches = _batch_tables(tree)
    found = []
    for call in _upgrade_calls(tree):
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
            continue
        strings = [_string(a) for a in call.args]
        if func.value.id == "op":
            found.append(_Operation(func.attr, strings[0] if strings else _keyword(call, "table_name"),
                                    strings[1:], call))
        elif func.value.id in batches:
            found.append(_Operation(func.attr, batches[func.value.id], strings, call))
    return found


def _model_checks(op: _Operation, mapped: dict[str, set[str]]) -> tuple[str, str] | None:
    """(rule, message) for one operation against the tables and columns the models map."""
    table = op.table or "?"
    if op.name == "drop_table" and table in mapped:
        return "drop-mapped-table", f"drops table {table}, which a model still maps: running code breaks"
    if op.name == "drop_column" and op.args and op.args[0] in mapped.get(table, set()):
        return "drop-mapped-column", (f"drops column {table}.{op.args[0]}, which a model still maps: "
                                      "running code breaks; stop mapping it in a release before dropping it")
    if op.name == "rename_table":
        new = op.args[0] if op.args else "?"
        return "rename-unknown-to-code", (f"renames table {table} to {new}: code deployed before it knows only "
                                          f"{table}, code after only {new}, so one of them breaks during the deploy")
    new_name = _keyword(op.call, "new_column_name") if op.name == "alter_column" else None
    if new_name:
        old = op.args[0] if op.args else "?"
        return "rename-unknown-to-code", (f"renames column {table}.{old} to {new_name}: code deployed before it "
                                          f"knows only {old}, code after only {new_name}; add, copy, then drop")
    return None


def _imports_models(tree: ast.Module, packages: Sequence[str]) -> list[tuple[int, str]]:
    """(line, module) of imports of the application's models (a component's models, or memstack.core.db)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        for name in names:
            own = any(name == f"{p}.models" or name.startswith(f"{p}.models.") for p in packages)
            if own or name == "memstack.core.db":
                found.append((node.lineno, name))
    return found


def file_findings(path: Path, packages: Sequence[str], mapped: dict[str, set[str]]) -> list[tuple[str, str, int]]:
    """memstack's own findings for one revision file: (rule, message, line)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for op in _operations(tree):
        result = _model_checks(op, mapped)
        if result:
            found.append((*result, op.call.lineno))
    for line, module in _imports_models(tree, packages):
        found.append(("data-migration-imports-models",
                      f"imports {module}: the models change with the code, so this revision will break (or do "
                      "something else) when they do; use sa.table()/op.get_bind() with the columns it needs", line))
    return found


# --------------------------------------------------------------------------- the whole lint


def _mapped_columns(ws: Workspace) -> dict[str, set[str]]:
    ws.registry.load_models()
    return {name: {c.name for c in table.columns} for name, table in metadata.tables.items()}


def _render(ws: Workspace, revision: Revision) -> tuple[str | None, Finding | None]:
    try:
        return render_step(ws.tree, Step(revision, "up"), "postgresql"), None
    except RevisionNotRenderable as exc:
        return None, Finding(revision, "not-renderable", f"squawk cannot review it: {exc.failure.detail}",
                             "memstack", exc.failure.line)


def _destroys_data(ws: Workspace, revision: Revision, acknowledged: dict[str, str]) -> list[Finding]:
    """``destroys-data``: its upgrade destroys data (the classifier); ``destroys_data = "why"`` acknowledges it."""
    try:
        classified = classify_step(ws.tree, ws.alembic_setup(), Step(revision, "up"), "postgresql")
    except MemstackError:  # cannot be imported: the other findings say so
        return []
    if not classified.destructive:
        return []
    if classified.declared:
        acknowledged.setdefault("destroys-data", classified.declared)
    message = ("destroys data when applied: " + "; ".join(describe_fact(f) for f in classified.destroys)
               + " (once reviewed, say why at module level: destroys_data = \"why\"; migrate still asks)")
    return [Finding(revision, "destroys-data", message, "memstack")]


def lint(ws: Workspace, components: Sequence[str] = ()) -> list[Finding]:
    """Every finding of the selected components' revisions (all when none named), in graph order."""
    selected = {c.label for c in ws.registry.select(components)}
    graph = ws.graph
    revisions = [graph.get(rid) for rid in graph.toposort(set(graph.revisions))]
    revisions = [r for r in revisions if r.component in selected]
    mapped = _mapped_columns(ws)
    packages = [c.package for c in ws.registry]
    raw: list[Finding] = []
    sql: dict[str, str] = {}
    for revision in revisions:
        rendered, problem = _render(ws, revision)
        if problem:
            raw.append(problem)
        elif rendered is not None:
            sql[revision.id] = rendered
    squawked = run_squawk(sql)
    findings = []
    for revision in revisions:
        covered = _timeouts_set(ws, revision)
        squawked[revision.id] = [(rule, f"{message}; {HOW_IN_MEMSTACK[rule]}" if rule in HOW_IN_MEMSTACK else message,
                                  line) for rule, message, line in squawked.get(revision.id, [])
                                 if TIMEOUT_RULES.get(rule) not in covered]
        path = ws.tree.path_of(revision.id)
        acknowledged, unexplained = markers(path.read_text(encoding="utf-8"))
        own = [f for f in raw if f.revision.id == revision.id]
        own += [Finding(revision, rule, message, "squawk", line)
                for rule, message, line in squawked.get(revision.id, [])]
        own += [Finding(revision, rule, message, "memstack", line)
                for rule, message, line in file_findings(path, packages, mapped)]
        own += [Finding(revision, "lint-ok-without-reason", "a lint-ok marker must give a reason after `--`",
                        "memstack", line) for line in unexplained]
        own += _destroys_data(ws, revision, acknowledged)
        findings += [Finding(f.revision, f.rule, f.message, f.source, f.line, acknowledged.get(f.rule))
                     for f in own]
    return findings


def _timeouts_set(ws: Workspace, revision: Revision) -> set[str]:
    """The guard's timeouts memstack really sets when it applies ``revision`` (settings + its ``guard``)."""
    settings = ws.settings.guard
    override = ws.tree.guards.get(revision.id)
    if override:
        settings = settings.overridden(override, f"{revision.label}'s guard", revision=True)
    if not settings.enabled:
        return set()
    return {name for name in TIMEOUT_RULES.values() if getattr(settings, name) > 0}
