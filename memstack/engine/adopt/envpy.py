"""Read a plain Alembic project's ``env.py`` into a component environment hook.

``takeover`` reads (never runs) ``env.py`` with ``ast`` and carries into the hook module
(:mod:`memstack.engine.run.envhooks`) what it can: the module-level imports, the online
``context.configure()`` options (literals, and the module-level functions or names they refer
to, copied with their source), and set-up calls that hand the connection to the application
(``database.establish(connection)``). Everything else that does work is listed by line, so the
person knows what memstack does not do; Alembic's boilerplate (``fileConfig``, the offline
branch, opening the connection, ``begin_transaction``/``run_migrations``) is memstack's own job
and is not listed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

#: configure() keywords memstack sets itself (or refuses elsewhere: version_table)
RUN_OWNED = {"connection", "url", "literal_binds", "dialect_opts", "transaction_per_migration",
             "transactional_ddl", "as_sql", "dialect_name", "output_buffer", "version_table"}
#: module-level names of Alembic's template that memstack replaces
BOILERPLATE_NAMES = {"config", "target_metadata", "run_migrations_offline", "run_migrations_online",
                     "logger", "log"}


@dataclass
class EnvReading:
    """What ``env.py`` gives the hook, and what it could not (``(line, source, why)``)."""
    path: Path
    imports: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)  # keyword -> expression source
    setup: list[str] = field(default_factory=list)  # statements, ``connection`` renamed ``env.connection``
    not_carried: list[tuple[int, str, str]] = field(default_factory=list)
    metadata: str | None = None  # target_metadata's expression (the component's models)

    @property
    def carries_anything(self) -> bool:
        return bool(self.options or self.setup)


def _is_alembic_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.module in ("alembic", "logging.config", "logging") or (node.module or "").startswith("alembic.")
    return isinstance(node, ast.Import) and all(a.name in ("logging", "alembic") for a in node.names)


def _calls(node: ast.AST, attribute: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attribute
               for n in ast.walk(node))


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def read_env_py(path: Path) -> EnvReading:
    """Classify every statement of ``env.py``; nothing is run."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    reading = EnvReading(path)
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    defined[target.id] = node
    online = next((n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and any(_has_connection_configure(c) for c in ast.walk(n))), None)
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if not _is_alembic_import(node):
                reading.imports.append(ast.get_source_segment(source, node) or "")
        elif node is online:
            _read_online(node, source, reading)
        elif isinstance(node, ast.Assign) and _target_name(node) == "target_metadata":
            reading.metadata = ast.get_source_segment(source, node.value)
        elif _boilerplate(node):
            continue
        elif not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Assign)):
            _skip(reading, source, node, "runs at import in env.py; memstack does not run env.py")
    used = _names(ast.parse("\n".join([*reading.options.values(), *reading.setup]) or "pass"))
    _copy_definitions(used, defined, source, reading)
    return reading


def _target_name(node: ast.Assign) -> str | None:
    target = node.targets[0]
    return target.id if isinstance(target, ast.Name) else None


def _boilerplate(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assign) and _target_name(node) in BOILERPLATE_NAMES:
        return True
    if isinstance(node, ast.FunctionDef) and node.name in BOILERPLATE_NAMES:
        return True
    if isinstance(node, ast.If) and (_calls(node.test, "is_offline_mode") or "config_file_name" in ast.dump(node.test)):
        return True
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and "fileConfig" in ast.dump(node.value)


def _has_connection_configure(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "configure" \
        and any(k.arg == "connection" for k in node.keywords)


def _skip(reading: EnvReading, source: str, node: ast.stmt, why: str) -> None:
    text = (ast.get_source_segment(source, node) or "").splitlines()[0]
    reading.not_carried.append((node.lineno, text.strip(), why))


def _read_online(function: ast.FunctionDef, source: str, reading: EnvReading) -> None:
    """The online runner: its configure() options, its set-up calls, the rest listed."""
    for node in _flatten(function.body):
        if isinstance(node, ast.Expr) and _has_connection_configure(node.value):
            assert isinstance(node.value, ast.Call)
            for keyword in node.value.keywords:
                value = ast.get_source_segment(source, keyword.value) or ""
                if keyword.arg is None:
                    reading.not_carried.append((keyword.value.lineno, f"**{value}", "options passed as a mapping"))
                elif keyword.arg == "target_metadata":
                    reading.metadata = reading.metadata or value
                elif keyword.arg not in RUN_OWNED:
                    reading.options[keyword.arg] = value
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and (
                _calls(node, "run_migrations") or _calls(node, "begin_transaction")):
            continue
        elif isinstance(node, ast.Expr) and "connection" in _names(node):
            statement = ast.get_source_segment(source, node) or ""
            reading.setup.append(_rename_connection(statement))
        elif isinstance(node, ast.Assign) and ("engine_from_config" in ast.dump(node) or _target_name(node) in (
                "connectable", "engine")):
            _skip(reading, source, node, "memstack opens the connection from its own database URL; the hook may "
                                         "replace env.connection with the framework's wrapper of it")
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a docstring
        else:
            _skip(reading, source, node, "not recognised as set-up; add it to the hook by hand if it matters")


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements in order, ``with`` blocks opened (``with engine.connect() as connection:``)."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.With):
            out.extend(_flatten(node.body))
        else:
            out.append(node)
    return out


def _rename_connection(statement: str) -> str:
    tree = ast.parse(statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "connection":
            node.id = "env.connection"
    return ast.unparse(tree)


def _copy_definitions(used: set[str], defined: dict[str, ast.stmt], source: str, reading: EnvReading) -> None:
    """Module-level functions/names the carried options refer to, with what they refer to in turn."""
    seen: set[str] = set()
    pending = sorted(used & set(defined))
    while pending:
        name = pending.pop(0)
        if name in seen or name in BOILERPLATE_NAMES:
            continue
        seen.add(name)
        node = defined[name]
        pending.extend(sorted((_names(node) & set(defined)) - seen))
    for name, node in defined.items():  # in file order
        if name in seen:
            text = ast.get_source_segment(source, node, padded=True) or ""
            decorators = "".join(f"@{ast.get_source_segment(source, d)}\n"
                                 for d in getattr(node, "decorator_list", []))
            reading.definitions.append(decorators + text)


def hook_source(reading: EnvReading, label: str) -> str:
    """The hook module ``takeover`` writes into the component's package."""
    lines = [f'"""The environment hook of component {label!r}, carried by memstack takeover from {reading.path.name}.',
             "", "memstack calls setup(env) where env.py ran: before each of the component's steps and",
             "before its models are compared. See the usage guide (docs/adopting.md).", '"""', "",
             *reading.imports, ""]
    for definition in reading.definitions:
        lines += ["", definition, ""]
    lines += ["", "def setup(env):"]
    body = [*reading.setup]
    if reading.options:
        options = ", ".join(f"{key}={value}" for key, value in reading.options.items())
        body.append(f"env.options.update({options})")
    lines += [f"    {line}" for statement in body or ["pass"] for line in statement.splitlines()]
    return "\n".join(lines).rstrip() + "\n"
