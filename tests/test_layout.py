"""The code's shape, checked: the README's map lists every module, and the engine keeps its layers.

These guard issue 19's structure: a newcomer finds a module from the map, each engine sub-package
imports only what its docstring allows, and no module or function outgrows the guide.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "memstack"
ENGINE = PACKAGE / "engine"
MODULE = re.compile(r"\b([A-Za-z_][\w]*\.py)\b")

# What each engine sub-package may import from the rest of the engine (besides itself and errors.py).
ALLOWED = {
    "errors": set(),
    "tree": set(),
    "records": {"tree"},
    "run": {"tree", "records", "workspace"},
    "generate": {"tree", "records", "run", "workspace"},
    "adopt": {"tree", "records", "run", "generate", "workspace", "migrate"},
    "review": {"tree", "records", "run", "generate", "adopt", "workspace", "migrate"},
    "fleet": {"tree", "records", "run", "workspace", "migrate"},
}


def _map_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Where a change belongs", 1)[1]
    return section.split("```", 2)[1].splitlines()


def _modules_by_folder(lines: list[str]) -> dict[str, set[str]]:
    """Module names the map mentions, by the folder (relative to the root) whose entry encloses them."""
    mentioned: dict[str, set[str]] = {}
    stack: list[tuple[int, list[str]]] = []
    for line in lines:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else [""]
        words = line.split()
        folders = []
        for word in words:
            if not word.endswith("/"):
                break
            folders.append(word)
        if folders:
            paths = [f"{base}{folder}" for base in parent for folder in folders]
            stack.append((indent, paths))
            owners = paths
        else:
            owners = parent
        for name in MODULE.findall(line):
            for owner in owners:
                mentioned.setdefault(owner, set()).add(name)
    return mentioned


def _package_modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py" or path.parent != PACKAGE)


def test_the_readme_map_lists_every_module() -> None:
    mentioned = _modules_by_folder(_map_block())
    missing = []
    for path in _package_modules():
        if path.name == "__init__.py":
            continue
        folder = path.parent.relative_to(ROOT).as_posix() + "/"
        if path.name not in mentioned.get(folder, set()):
            missing.append(path.relative_to(ROOT).as_posix())
    assert not missing, "add these modules to README.md's 'Where a change belongs' map: " + ", ".join(missing)


def test_the_map_check_finds_a_missing_module() -> None:
    lines = ["memstack/", "  engine/", "    run/", "      executor.py   runs plans"]
    mentioned = _modules_by_folder(lines)
    assert mentioned == {"memstack/engine/run/": {"executor.py"}}
    assert "lock.py" not in mentioned["memstack/engine/run/"]


def test_the_engine_has_few_top_level_modules_and_documented_sub_packages() -> None:
    assert len(list(ENGINE.glob("*.py"))) <= 12
    for package in sorted(path.parent for path in ENGINE.glob("*/__init__.py")):
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
        assert docstring and "May import" in docstring, f"{package.name}/__init__.py says what it may import"
        assert package.name in ALLOWED, f"add {package.name} to ALLOWED in this test"


def _engine_imports(path: Path) -> set[str]:
    """The engine parts ``path`` imports at run time (``TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(inner) for inner in ast.walk(node))
    parts: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.module:
            continue
        if node.module.startswith("memstack.engine."):
            parts.add(node.module.split(".")[2])
        elif node.module == "memstack.engine":
            parts.update(alias.name for alias in node.names)
    return parts


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_engine_part_imports_only_what_its_layer_allows(part: str) -> None:
    wrong = []
    for path in sorted((ENGINE / part).glob("*.py")):
        for imported in _engine_imports(path) - ALLOWED[part] - {part, "errors", "alembic_compat"}:
            wrong.append(f"{part}/{path.name} imports memstack.engine.{imported}")
    assert not wrong, "; ".join(wrong)


def test_no_module_over_400_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in _package_modules():
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if source.count("\n") > 400:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60 + len(node.decorator_list) * 3:
                    too_long.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert not too_long, "; ".join(too_long)
