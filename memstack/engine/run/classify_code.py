"""What in a revision function's source the classifier cannot read without running it.

Part of the revision classifier (classify.py): Python between the ``op`` calls, reads through
``op.get_bind()``, ``context.get_x_argument()``, ``autocommit_block``. Assignments (a
``sa.table()`` helper for ``bulk_insert``), imports and ``with op.batch_alter_table(...)``
blocks of ``op`` calls are not code of their own.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

from memstack.engine.run.classify_sql import Fact

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
    found: dict[str, int] = {}
    for node in ast.walk(definition):
        if isinstance(node, ast.Attribute) and node.attr in _READS:
            found.setdefault(_READS[node.attr], node.lineno)
    for statement in definition.body:
        line = _python_between(statement, {"op"})
        if line is not None:
            found.setdefault("runs Python between its operations", line)
    return [Fact("code", "code", why=why, line=line) for why, line in found.items()]


def _definition(function: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """``function``'s definition, line numbers as in its file (the file parsed whole: faster than inspect)."""
    code = getattr(function, "__code__", None)
    try:
        with open(code.co_filename, encoding="utf-8") as handle:  # type: ignore[union-attr]
            module = ast.parse(handle.read())
    except (AttributeError, OSError, SyntaxError, ValueError):
        try:
            lines, first = inspect.getsourcelines(function)
            module = ast.increment_lineno(ast.parse(textwrap.dedent("".join(lines))), first - 1)
        except (OSError, TypeError, SyntaxError):
            return None
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function.__name__ and (
                code is None or node.lineno <= code.co_firstlineno <= (node.end_lineno or node.lineno)):
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
