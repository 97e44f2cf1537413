"""Errors in one place per layer (issue 19, item 4), and no import cycle among memstack's modules.

The engine's domain errors all live in memstack.engine.errors (one module per job, re-exported by the
package); the CLI words them through one table composed in memstack.cli.errors from the wording
modules, none of which imports the boundary back; both stay light to import.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import memstack
import memstack.engine
from memstack.cli.errors import WORDINGS, compose
from memstack.core.errors import MemstackError
from memstack.engine import errors as engine_errors
from memstack.engine.errors import EngineError

PACKAGE = Path(memstack.__file__).parent
#: exceptions the engine keeps beside their only user: internal signals that never leave a module
INTERNAL = {"memstack.engine.run.steps.StepFailed"}


def engine_modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(memstack.engine.__path__, "memstack.engine.")]


def test_every_engine_exception_is_defined_in_engine_errors() -> None:
    stray = []
    for name in engine_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == name:
                qualified = f"{name}.{value.__name__}"
                if not name.startswith("memstack.engine.errors") and qualified not in INTERNAL:
                    stray.append(qualified)
    assert stray == []


def test_every_engine_error_is_exported_by_the_package() -> None:
    defined = {cls for name in engine_modules() if name.startswith("memstack.engine.errors.")
               for cls in vars(importlib.import_module(name)).values()
               if inspect.isclass(cls) and issubclass(cls, EngineError)}
    exported = {getattr(engine_errors, name) for name in engine_errors.__all__}
    assert defined - exported == set()


def test_the_wording_table_keys_only_errors_of_the_two_error_modules() -> None:
    assert WORDINGS, "the table is empty"
    for error_type in WORDINGS:
        assert error_type.__module__.startswith(("memstack.engine.errors.", "memstack.core.errors")), error_type


def test_an_error_type_worded_twice_is_refused() -> None:
    def one(error: MemstackError) -> tuple[str, str | None]:
        return "one", None

    try:
        compose({EngineError: one}, {EngineError: one})
    except RuntimeError as error:
        assert "EngineError" in str(error)
    else:
        raise AssertionError("a type worded twice was accepted")


def test_wording_modules_do_not_import_the_boundary() -> None:
    """cli/errors.py imports the wording modules; the other way round would be a cycle."""
    for path in sorted((PACKAGE / "cli").glob("*_wordings.py")):
        tree = ast.parse(path.read_text())
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert "memstack.cli.errors" not in imported, path.name
        assert "WORDINGS" in {t.id for n in tree.body if isinstance(n, ast.AnnAssign) for t in [n.target]
                              if isinstance(t, ast.Name)}, path.name


def test_error_modules_import_neither_sqlalchemy_nor_alembic() -> None:
    script = ("import sys, memstack.engine.errors, memstack.cli.errors\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'alembic'}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout


def import_graph() -> dict[str, set[str]]:
    """module -> the memstack modules it imports, at module level or in a function; not under TYPE_CHECKING."""
    files = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in PACKAGE.rglob("*.py")}

    def imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
        found: list[ast.Import | ast.ImportFrom] = []
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            found += imports(child)
        return found

    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in imports(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif node.module:
                subs = {f"{node.module}.{alias.name}" for alias in node.names}
                targets |= subs if subs <= files.keys() else subs | {node.module}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def test_no_import_cycle_among_memstack_modules() -> None:
    graph = import_graph()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target):], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "\n".join(" -> ".join(cycle) for cycle in cycles)
