"""Revision checksums that are the same on every supported Python.

The first algorithm hashed ``ast.dump``, whose text changes between Python releases (3.12
added ``type_params`` fields, 3.13 omits empty fields), so upgrading Python made every
applied file look changed. This one hashes a serialisation of the syntax tree that this
module spells out itself: node type names and the non-empty fields, in sorted order, with
docstrings dropped. Comments and formatting never reach the tree.

Checksums recorded by the first algorithm stay acceptable: :func:`verify` also accepts the
old value as Python 3.11, 3.12 or 3.13 would have computed it, emulated here from this
Python's tree, so a changed file is still caught whatever Python recorded it.

Only the standard library is imported: ``tests/test_checksum_stable.py`` runs this module
under every installed Python, without memstack's dependencies.
"""

from __future__ import annotations

import ast
import hashlib
from enum import Enum
from pathlib import Path

from memstack.engine.errors import UndecodableRevision

ALGORITHM = 2
"""1: SHA-256 of ``ast.dump`` (Python-dependent); 2: SHA-256 of :func:`canonical_form`."""

LEGACY_FLAVOURS = ("3.11", "3.12", "3.13")
"""The ``ast.dump`` spellings of algorithm 1 that :func:`legacy_checksums` reproduces."""

_TYPE_PARAMS_NODES = ("FunctionDef", "AsyncFunctionDef", "ClassDef")
_OPTIONAL_FIELDS: dict[str, frozenset[str]] = {
    # fields that are None by default on the node class (``?`` in Python's ASDL); ast.dump
    # leaves them out when they are None, so the emulation needs them on any Python
    "FunctionDef": frozenset({"returns", "type_comment"}),
    "AsyncFunctionDef": frozenset({"returns", "type_comment"}),
    "Return": frozenset({"value"}),
    "Assign": frozenset({"type_comment"}),
    "AnnAssign": frozenset({"value"}),
    "For": frozenset({"type_comment"}),
    "AsyncFor": frozenset({"type_comment"}),
    "With": frozenset({"type_comment"}),
    "AsyncWith": frozenset({"type_comment"}),
    "Raise": frozenset({"exc", "cause"}),
    "Assert": frozenset({"msg"}),
    "ImportFrom": frozenset({"module", "level"}),
    "Yield": frozenset({"value"}),
    "FormattedValue": frozenset({"format_spec"}),
    "Constant": frozenset({"kind"}),
    "Slice": frozenset({"lower", "upper", "step"}),
    "ExceptHandler": frozenset({"type", "name"}),
    "arguments": frozenset({"vararg", "kwarg"}),
    "arg": frozenset({"annotation", "type_comment"}),
    "keyword": frozenset({"arg"}),
    "alias": frozenset({"asname"}),
    "withitem": frozenset({"optional_vars"}),
    "match_case": frozenset({"guard"}),
    "MatchStar": frozenset({"name"}),
    "MatchMapping": frozenset({"rest"}),
    "MatchAs": frozenset({"pattern", "name"}),
}


class Verdict(Enum):
    """How a recorded checksum relates to a file's code."""
    MATCH = "match"
    LEGACY_MATCH = "legacy"  # recorded by algorithm 1 from this very code: re-record it
    CHANGED = "changed"


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _canonical(value: object, out: list[str]) -> None:
    if isinstance(value, ast.AST):
        out.append(type(value).__name__)
        out.append("(")
        for name in sorted(value._fields):
            field = getattr(value, name, None)
            if field is None or (isinstance(field, list) and not field):
                continue  # absent, None and empty are one thing: fields come and go between releases
            out.append(name)
            out.append("=")
            _canonical(field, out)
            out.append(";")
        out.append(")")
    elif isinstance(value, list):
        out.append("[")
        for item in value:
            _canonical(item, out)
            out.append(",")
        out.append("]")
    else:  # constants: str, bytes, int, float, complex, bool, None, Ellipsis
        out.append(type(value).__name__)
        out.append(":")
        out.append(repr(value))


def canonical_form(tree: ast.AST) -> str:
    """The text algorithm 2 hashes: the same for the same code on every Python 3.11+."""
    out: list[str] = []
    _canonical(tree, out)
    return "".join(out)


def checksum_tree(tree: ast.Module) -> str:
    """Algorithm 2 over an already parsed module (its docstrings are removed in place)."""
    return hashlib.sha256(canonical_form(_without_docstrings(tree)).encode()).hexdigest()


_known: dict[bytes, str] = {}
"""Checksums this process computed, by the SHA-256 of the exact text: a file is parsed once per run
however many readers (the tree's load, the status, the executor) ask, and a changed text misses."""


def checksum_source(source: str, tree: ast.Module | None = None) -> str:
    """SHA-256 of the code with comments, docstrings and formatting ignored (contract: Revisions).
    ``tree``: ``source`` already parsed by the caller (its docstrings are removed in place)."""
    key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
    known = _known.get(key)
    if known is None:
        known = _known[key] = checksum_tree(tree if tree is not None else ast.parse(source))
    return known


def checksum_file(path: Path) -> str:
    return checksum_source(read_source(path))


def read_source(path: Path) -> str:
    """A revision file's text as Python reads it: UTF-8 unless its ``# coding:`` line says otherwise
    (Alembic imports it that way); bytes that are no text in that encoding are refused by name."""
    from importlib.util import decode_source  # lazy: kept off the no-op path and --help

    data = path.read_bytes()
    try:
        return decode_source(data)
    except UnicodeDecodeError as exc:
        raise UndecodableRevision(path, f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not "
                                  f"{exc.encoding}") from exc
    except (SyntaxError, LookupError) as exc:  # an unknown or contradictory coding line
        raise UndecodableRevision(path, str(getattr(exc, "msg", None) or exc)) from exc


def _legacy_fields(node: ast.AST, flavour: str) -> list[str]:
    fields = [f for f in node._fields if f != "type_params"]
    if flavour != "3.11" and type(node).__name__ in _TYPE_PARAMS_NODES:
        fields.append("type_params")
    return fields


def _legacy_dump(value: object, flavour: str) -> str:
    """``ast.dump(value)`` as Python ``flavour`` spells it (no attributes, no indent)."""
    if isinstance(value, ast.AST):
        optional = _OPTIONAL_FIELDS.get(type(value).__name__, frozenset())
        keep_empty = isinstance(value, ast.Constant) or type(value).__name__ == "MatchSingleton"
        args = []
        for name in _legacy_fields(value, flavour):
            field = getattr(value, name, [] if name == "type_params" else None)
            if field is None and name in optional:
                continue
            if flavour == "3.13" and (field is None or field == []) and not keep_empty:
                continue
            args.append(f"{name}={_legacy_dump(field, flavour)}")
        return f"{type(value).__name__}({', '.join(args)})"
    if isinstance(value, list):
        return "[" + ", ".join(_legacy_dump(item, flavour) for item in value) + "]"
    return repr(value)


def legacy_checksums(source: str) -> set[str]:
    """What algorithm 1 gave for this code on Python 3.11, 3.12 and 3.13."""
    tree = _without_docstrings(ast.parse(source))
    return {hashlib.sha256(_legacy_dump(tree, flavour).encode()).hexdigest() for flavour in LEGACY_FLAVOURS}


def verify(recorded: str, source: str, current: str | None = None) -> Verdict:
    """Compare a recorded checksum with the code; ``current``: its algorithm-2 checksum if known.

    A recorded value that matches neither algorithm means the code changed (or was recorded
    by a Python this module does not emulate): the caller refuses, and ``repair`` re-records.
    """
    if recorded == (current if current is not None else checksum_source(source)):
        return Verdict.MATCH
    if recorded in legacy_checksums(source):
        return Verdict.LEGACY_MATCH
    return Verdict.CHANGED
