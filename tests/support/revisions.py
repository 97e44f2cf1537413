"""Revision ids of the committed tree, read from ``migrations/``, and revisions written by hand.

Tests never spell a committed revision id: ``REV[("memory", "0002_add_task_id")]`` or
``revision_id("memory", "0002")`` reads it from the file, so a regenerated tree cannot leave
the suite asserting stale ids.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memstack.engine.tree.loader import RevisionFile, load_tree, parse_revision_file
from memstack.engine.workspace import Workspace
from support.projects import LABELS, REPO_ROOT, package_dir, write_pyproject


def revision_files(project: Path, label: str) -> list[Path]:
    """The numbered revision files of ``migrations/<label>/``, in name order."""
    folder = project / "migrations" / label
    return sorted(folder.glob("[0-9]*.py")) if folder.is_dir() else []


def parsed(path: Path) -> RevisionFile:
    """What a revision file declares (revision, down_revision, depends_on, ...), without running it."""
    return parse_revision_file(path)


def _committed_revisions() -> dict[tuple[str, str], str]:
    return {(label, path.stem): parsed(path).revision
            for label in LABELS for path in revision_files(REPO_ROOT, label)}


#: the committed tree: (component, file stem) -> revision id, read from the repository's files
REV: dict[tuple[str, str], str] = _committed_revisions()


def revision_id(label: str, number: str) -> str:
    """The id of the committed revision ``<label>/<number>_*.py`` (``number`` may be the whole stem)."""
    found = [rid for (component, stem), rid in REV.items()
             if component == label and (stem == number or stem.startswith(number + "_"))]
    if len(found) != 1:
        raise LookupError(f"no single revision {number!r} in migrations/{label}/ (found {len(found)})")
    return found[0]


def new_id() -> str:
    """A revision id in memstack's form: 12 lowercase hex characters starting with a letter."""
    return secrets.choice("abcdef") + secrets.token_hex(6)[:11]


REVISION_TEMPLATE = '''"""{message}"""

import os
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {branch_labels!r}
depends_on = {depends_on!r}
{module}

def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


PLAIN_HEADER = '''"""{name}"""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = None
{extra}
'''
"""A revision's head as ``alembic revision`` writes it (no other imports); the functions follow it."""


def indent(body: str) -> str:
    """``body`` as a function body (``pass`` when empty)."""
    lines = body.strip("\n").splitlines() or ["pass"]
    return "\n".join("    " + line if line.strip() else "" for line in lines)


def write_revision(folder: Path, name: str, revision: str, down: str | tuple[str, ...] | None, *,
                   upgrade: str = "pass", downgrade: str = "pass", depends_on: str | tuple[str, ...] | None = None,
                   branch_labels: tuple[str, ...] | None = None, message: str | None = None,
                   module: str = "") -> Path:
    """Write ``folder/<name>.py`` by hand (the way a developer would); ``module`` adds module-level lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(REVISION_TEMPLATE.format(
        message=message or name, revision=revision, down=down, branch_labels=branch_labels, depends_on=depends_on,
        module=module, upgrade=indent(upgrade), downgrade=indent(downgrade)), encoding="utf-8")
    return path


def create_table(name: str) -> str:
    """The ``op.create_table`` line of a one-column table."""
    return f'op.create_table({name!r}, sa.Column("id", sa.Integer(), primary_key=True))'


@dataclass
class Chain:
    """A component of the test's own with a linear chain of hand-written revisions."""

    package: str
    label: str
    folder: Path
    ids: list[str]
    names: list[str]
    packages_dir: Path

    def path(self, number: int) -> Path:
        return self.folder / f"{self.names[number - 1]}.py"

    def table(self, number: int) -> str:
        return f"{self.label}_t{number}"


def chain_component(make_component: Callable[..., str], project: Path, count: int, *,
                    bodies: dict[int, str] | None = None, prefix: str = "chain",
                    components: Sequence[str] = ()) -> Chain:
    """A component with ``count`` revisions; revision N creates table ``<label>_tN`` (then runs
    ``bodies[N]`` if given, with ``{label}`` replaced). The project is configured with ``components``
    plus this one."""
    package = make_component({}, prefix=prefix)
    label = package
    folder = project / "migrations" / label
    ids = [new_id() for _ in range(count)]
    names = [f"{n:04d}_step{n}" for n in range(1, count + 1)]
    for index in range(count):
        number = index + 1
        table = f"{label}_t{number}"
        upgrade = create_table(table) + "\n" + ((bodies or {}).get(number) or "").replace("{label}", label)
        write_revision(folder, names[index], ids[index], ids[index - 1] if index else None,
                       upgrade=upgrade, downgrade=f"op.drop_table({table!r})",
                       branch_labels=(label,) if index == 0 else None)
    write_pyproject(project, [*components, package])
    return Chain(package, label, folder, ids, names, package_dir(package))


def load_graph(project: Path) -> Any:
    """The project's migration graph, as the engine builds it."""
    ws = Workspace.load(project_dir=project, database_url="sqlite://")
    return load_tree(ws.registry).graph


def assert_minimal_links(graph: Any) -> None:
    """No depends_on entry is implied by the revision's down_revision or by another entry."""
    for rev in graph.revisions.values():
        for dep in rev.depends_on:
            others = [*rev.down_revisions, *(d for d in rev.depends_on if d != dep)]
            implied_by = [o for o in others if dep in graph.ancestors(o)]
            assert not implied_by, f"{rev.label}: depends_on {dep} is implied by {implied_by}"


def ruff_check(paths: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """``ruff check`` with the repository's configuration (generated files must pass it)."""
    ruff = Path(sys.executable).parent / "ruff"
    return subprocess.run([str(ruff), "check", "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml"),
                           *map(str, paths)], capture_output=True, text=True, check=False, timeout=180)


def shared_prefix(*ids: str) -> str:
    """The longest prefix the ids share (for tests of ambiguous targets); fails when they share none."""
    prefix = ""
    for letters in zip(*ids, strict=False):
        if len(set(letters)) != 1:
            break
        prefix += letters[0]
    assert prefix, f"revision ids {ids} share no prefix"
    return prefix


CHAIN_TEMPLATE = '''"""r{n}"""
import sqlalchemy as sa
from alembic import op

revision = "{rid}"
down_revision = {down!r}
branch_labels = {labels!r}


def upgrade() -> None:
    op.create_table("t{n}", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("t{n}")
'''


def write_chain(folder: Path, count: int = 3) -> list[Path]:
    """``count`` revisions in one folder, each creating a table ``t<n>`` on the one before (label ``c``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, down = [], None
    for n in range(1, count + 1):
        rid = f"r{n:011d}"
        path = folder / f"{n:04d}_r{n}.py"
        path.write_text(CHAIN_TEMPLATE.format(n=n, rid=rid, down=down, labels=("c",) if down is None else None))
        paths.append(path)
        down = rid
    return paths


def same_size_same_mtime_edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` (same length) and put the mtime back: only ctime and content tell."""
    assert len(old) == len(new)
    stat = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
