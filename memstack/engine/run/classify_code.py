"""What in a revision function's source the classifier cannot read without running it.

Part of the revision classifier (classify.py): Python between the ``op`` calls, reads through
``op.get_bind()``, ``context.get_x_argument()``, ``autocommit_block``. Assignments (a
``sa.table()`` helper for ``bulk_insert``), imports and ``with op.batch_alter_table(...)``
blocks of ``op`` calls are not code of their own.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from memstack.engine.run.classify_sql import Fact, classify_sql

__all__ = ["code_facts"]

_READS = {"get_bind": "reads the database through op.get_bind()",
          "get_x_argument": "reads -x arguments (context.get_x_argument())",
          "autocommit_block": "commits half-way (autocommit_block)",
          "run_async": "runs an async function (op.run_async)"}


def code_facts(function: Callable[..., Any]) -> list[Fact]:
    """What in ``function``'s source is more than ``op`` calls: one fact per reason, first line."""
    definition = _definition(function)
    if definition is None:
        return [Fact("code", "code", why="its source cannot be read")]
    return list(_facts_of(definition))


@functools.lru_cache(maxsize=1024)
def _facts_of(definition: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[Fact, ...]:
    """:func:`code_facts` of a parsed definition (cached: a definition is parsed once per file text)."""
    found: dict[str, int] = {}
    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and node.attr in _READS:
            found.setdefault(_READS[node.attr], node.lineno)
    for statement in definition.body:
        line = _python_between(statement, {"op"})
        if line is not None:
            found.setdefault("runs Python between its operations", line)
    return tuple(Fact("code", "code", why=why, line=line) for why, line in found.items())


def _definition(function: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """``function``'s definition, line numbers as in its file (the file parsed whole: faster than inspect)."""
    code = getattr(function, "__code__", None)
    try:
        with open(code.co_filename, encoding="utf-8") as handle:  # type: ignore[union-attr]
            return _definition_in(code.co_filename, handle.read(), function.__name__,  # type: ignore[union-attr]
                                  code.co_firstlineno)  # type: ignore[union-attr]
    except (AttributeError, OSError, SyntaxError, ValueError):
        try:
            lines, first = inspect.getsourcelines(function)
            module = ast.increment_lineno(ast.parse(textwrap.dedent("".join(lines))), first - 1)
        except (OSError, TypeError, SyntaxError):
            return None
    return _find(module, function.__name__, code.co_firstlineno if code is not None else None)


@functools.lru_cache(maxsize=1024)
def _definition_in(filename: str, text: str, name: str,
                   first_line: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The definition of ``name`` in a file's ``text``, parsed once per text: a plan classifies
    each step more than once, and the tests and a fleet classify the same files again."""
    return _find(ast.parse(text, filename), name, first_line)


def _find(module: ast.Module, name: str, first_line: int | None) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name and (
                first_line is None or node.lineno <= first_line <= (node.end_lineno or node.lineno)):
            return node
    return None


def _python_between(statement: ast.stmt, ops: set[str]) -> int | None:
    """The line where ``statement`` does more than call ``op`` (or a batch), None if it does not."""
    if isinstance(statement, ast.Pass | ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign):
        return None  # a table() helper for bulk_insert, a value: no effect of its own
    if isinstance(statement, ast.Expr):
        value = statement.value
        if isinstance(value, ast.Constant):
            return None  # a docstring
        if isinstance(value, ast.Call) and _receiver(value.func) in ops:
            return None
        return statement.lineno
    if isinstance(statement, ast.With):
        inner = set(ops)
        for item in statement.items:
            call = item.context_expr
            if not (isinstance(call, ast.Call) and _receiver(call.func) in ops):
                return statement.lineno
            if isinstance(item.optional_vars, ast.Name):
                inner.add(item.optional_vars.id)
        for child in statement.body:
            line = _python_between(child, inner)
            if line is not None:
                return line
        return None
    return statement.lineno


def _receiver(func: ast.expr) -> str | None:
    """``op`` for ``op.add_column`` and for ``op.get_context().autocommit_block``."""
    while isinstance(func, ast.Attribute | ast.Call):
        func = func.value if isinstance(func, ast.Attribute) else func.func
    return func.id if isinstance(func, ast.Name) else None


# --------------------------------------------------------------------------- without running it

_SAFE_HELPERS = frozenset({"table", "column", "Table", "Column", "MetaData", "text", "literal_column"})
#: code facts that recording runs harmlessly: the -x arguments are read from the configuration,
#: and an autocommit block only records what it holds
_RECORDABLE = frozenset({_READS["get_x_argument"], _READS["autocommit_block"]})


def safe_to_record(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` with a recording ``op`` can do nothing but record operations.

    Only ``op`` calls (batches included), imports, docstrings and assignments of constants or of
    ``sa.table()``-style helpers qualify: anything else (a file written, a sleep, a request, a read
    through ``op.get_bind()``) would run before the lock and again in the step, so such a function
    is read from its source instead (:func:`static_facts`).
    """
    definition = _definition(function)
    return definition is not None and _recordable(definition)


@functools.lru_cache(maxsize=1024)
def _recordable(definition: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    if any(fact.why not in _RECORDABLE for fact in _facts_of(definition)):
        return False
    for node in ast.walk(definition):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and not _harmless(node.value):
            return False
    return True


def _harmless(value: ast.expr) -> bool:
    if isinstance(value, ast.Constant | ast.Name):
        return True
    if isinstance(value, ast.Tuple | ast.List):
        return all(_harmless(item) for item in value.elts)
    if isinstance(value, ast.Call):
        if _receiver(value.func) in ("op", "context"):  # context.get_x_argument(...).get(...), op.f(...)
            return all(_harmless(arg) for arg in value.args) and all(_harmless(k.value) for k in value.keywords)
        name = value.func.attr if isinstance(value.func, ast.Attribute) else getattr(value.func, "id", None)
        return name in _SAFE_HELPERS
    return False


def static_facts(function: Callable[..., Any]) -> list[Fact]:
    """What a function that is not safe to record destroys, read from literal ``op`` calls in its source.

    ``op.drop_table("t")``, ``op.drop_column("t", "c")``, ``batch.drop_column("c")`` inside
    ``with op.batch_alter_table("t") as batch`` and ``op.execute("literal SQL")``; a name computed
    at run time cannot be read and is left to the code facts.
    """

    definition = _definition(function)
    if definition is None:
        return []
    batches: dict[str, str] = {}
    for node in ast.walk(definition):
        if isinstance(node, ast.With):
            for item in node.items:
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "batch_alter_table" and isinstance(item.optional_vars, ast.Name)
                        and _literal(call.args[:1])):
                    batches[item.optional_vars.id] = _literal(call.args[:1])[0]
    facts: list[Fact] = []
    for node in ast.walk(definition):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
        args = _literal(node.args)
        if node.func.attr == "drop_table" and owner == "op" and args:
            facts.append(Fact("destructive", "drop_table", args[0], why="drops the table", line=node.lineno))
        elif node.func.attr == "drop_column" and owner == "op" and len(args) >= 2:
            facts.append(Fact("destructive", "drop_column", args[0], args[1], why="drops the column",
                              line=node.lineno))
        elif node.func.attr == "drop_column" and owner in batches and args:
            facts.append(Fact("destructive", "drop_column", batches[owner], args[0], why="drops the column",
                              line=node.lineno))
        elif node.func.attr == "execute" and owner == "op" and args:
            facts.extend(fact if fact.line else replace(fact, line=node.lineno) for fact in classify_sql(args[0]))
    return sorted(facts, key=lambda fact: fact.line or 0)


def _literal(args: list[ast.expr]) -> list[str]:
    """The leading string literals of ``args``."""
    found: list[str] = []
    for arg in args:
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            break
        found.append(arg.value)
    return found
