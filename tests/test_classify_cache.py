"""The classifier's answers kept between runs (engine/run/classify_cache.py, issue 25).

An answer is served only for the very bytes it was made from, only for a file whose bytes alone
decide it, and a kept answer still makes a destructive step ask: the cache must never hide one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support.projects import write_pyproject
from support.revisions import PLAIN_HEADER
from support.running import manage

from memstack.engine.run.alembic_config import alembic_setup
from memstack.engine.run.classify import Classification, classifier, classify_step
from memstack.engine.run.classify_cache import CACHE_NAME, self_contained
from memstack.engine.tree.graph import Step


def _text(upgrade: str, *, name: str = "n", revision: str = "a", down: str | None = None, extra: str = "",
          labels: tuple[str, ...] | None = None) -> str:
    """A revision as Alembic's template writes it (with its ``typing`` import), ``upgrade`` its one operation."""
    head = PLAIN_HEADER.format(name=name, revision=revision, down=down, labels=labels,
                               extra=f"from typing import Sequence, Union\n{extra}")
    return f"{head}\n\ndef upgrade() -> None:\n    {upgrade}\n\n\ndef downgrade() -> None:\n    pass\n"


DROP = 'op.drop_column("notes", "body")'
ADD = 'op.drop_index("ix_notes_bodyx")'  # as long as DROP: a same-size edit, no data lost
assert len(DROP) == len(ADD)


@pytest.fixture(autouse=True)
def _bytecode_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a developer's machine (CI may set PYTHONDONTWRITEBYTECODE, which turns the cache's writes off)."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)


def _write(folder: Path, name: str, revision: str, down: str | None, upgrade: str, *, extra: str = "",
           labels: tuple[str, ...] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(_text(upgrade, name=name, revision=revision, down=down, extra=extra, labels=labels),
                    encoding="utf-8")
    return path


def _classified(path: Path, dialect: str = "sqlite") -> Classification:
    """``path``'s upgrade classified the way a plan does (its shared classifier, whose answers are kept)."""
    tree: Any = SimpleNamespace(path_of=lambda _revision: path)
    step: Any = Step(SimpleNamespace(id="r"), "up")  # type: ignore[arg-type]
    setup = alembic_setup()
    with classifier(setup, dialect) as classify:
        return classify_step(tree, setup, step, dialect, classify)


def _kept(folder: Path) -> dict[str, Any]:
    path = folder / "__pycache__" / CACHE_NAME
    return json.loads(path.read_text())["entries"] if path.exists() else {}  # type: ignore[no-any-return]


def test_what_a_plain_revision_is_made_of_is_self_contained() -> None:
    plain = _text(DROP).encode()
    assert self_contained(plain)
    for reaching_out in ("from myapp.models import NAME", "import os", "from . import helpers",
                         "BODY = open('body.sql').read()", "X = __file__", "import sqlalchemy, myapp",
                         "T = getattr(sa, 'Text')"):
        text = _text(DROP, extra=reaching_out)
        assert not self_contained(text.encode()), reaching_out
    environ = _text('op.execute(typing.environ["X"])', extra="import typing")
    assert not self_contained(environ.encode())
    assert not self_contained(b"def broken(:\n")


def test_an_answer_is_kept_and_served_for_the_same_bytes_only(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", DROP)
    first = _classified(path)
    assert [f.kind for f in first.destroys] == ["drop_column"]
    kept = _kept(path.parent)
    assert len(kept) == 1 and next(iter(kept)).endswith("/sqlite/up")
    assert _classified(path) == first  # served from the cache
    # the same size and mtime, other bytes: never the old answer
    stat = path.stat()
    path.write_text(path.read_text().replace(DROP, ADD))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    edited = _classified(path)
    assert not edited.destructive and [f.kind for f in edited.facts] == ["dropindex"]
    assert len(_kept(path.parent)) == 2
    assert _classified(path, "postgresql").facts == edited.facts  # another dialect: its own entry
    assert len(_kept(path.parent)) == 3


def test_a_kept_answer_is_what_is_served(tmp_path: Path) -> None:
    """Proof the cache is read (and why it lives beside the bytecode: who can write there can change code)."""
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", DROP)
    _classified(path)
    cache = path.parent / "__pycache__" / CACHE_NAME
    raw = json.loads(cache.read_text())
    (key,) = raw["entries"]
    raw["entries"][key] = [[{"effect": "ddl", "kind": "served", "why": "from the cache"}], "reviewed"]
    cache.write_text(json.dumps(raw))
    served = _classified(path)
    assert [f.kind for f in served.facts] == ["served"] and served.declared == "reviewed"


@pytest.mark.parametrize("content", [
    "not json", "[]", '{"context": "another version", "entries": {}}',
    None,  # a forged entry: the right context, a fact of the wrong shape
])
def test_an_unreadable_or_foreign_cache_is_ignored_whole(tmp_path: Path, content: str | None) -> None:
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", DROP)
    _classified(path)
    cache = path.parent / "__pycache__" / CACHE_NAME
    if content is None:
        raw = json.loads(cache.read_text())
        (key,) = raw["entries"]
        raw["entries"][key] = [[{"effect": "ddl", "kind": "forged", "line": "three"}], None]
        content = json.dumps(raw)
    cache.write_text(content)
    again = _classified(path)
    assert [f.kind for f in again.destroys] == ["drop_column"]
    assert len(_kept(path.parent)) == 1  # rebuilt


def test_a_revision_reaching_outside_its_file_is_never_kept(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", 'op.drop_column("notes", COLUMN)',
                  extra='import os\nCOLUMN = os.environ.get("DROPPED", "body")')
    assert [f.kind for f in _classified(path).destroys] == ["drop_column"]
    assert _kept(path.parent) == {}


def test_a_folder_it_cannot_write_goes_without(tmp_path: Path) -> None:
    """``__pycache__`` a file, not a folder: nothing can be written there, even by root; the answer is right."""
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", DROP)
    (path.parent / "__pycache__").write_text("in the way")
    assert [f.kind for f in _classified(path).destroys] == ["drop_column"]
    assert [f.kind for f in _classified(path).destroys] == ["drop_column"]
    assert (path.parent / "__pycache__").read_text() == "in the way"
    assert not list(path.parent.glob("__pycache__*.tmp"))


def test_pythondontwritebytecode_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    path = _write(tmp_path / "notes", "0002_drop", "b", "a", DROP)
    assert [f.kind for f in _classified(path).destroys] == ["drop_column"]
    assert not (path.parent / "__pycache__").exists()


def test_a_destructive_step_still_asks_when_its_answer_is_kept(project: Path, tmp_path: Path,
                                                                make_component: Any) -> None:
    """End to end, two fresh SQLite databases: the second run is served from the cache and still refuses."""
    label = make_component({}, prefix="notes")
    folder = project / "migrations" / label
    _write(folder, "0001_notes", "a1", None, 'op.create_table("notes", sa.Column("id", sa.Integer(), '
           'primary_key=True), sa.Column("body", sa.Text()))', labels=(label,))
    _write(folder, "0002_drop", "b2", "a1", DROP)
    write_pyproject(project, [label])
    packages = [tmp_path / "packages"]
    for run in ("one", "two"):
        url = f"sqlite:///{tmp_path / run}.db"
        first = manage(project, url, "migrate", label, "0001", pythonpath=packages, PYTHONDONTWRITEBYTECODE="")
        assert first.code == 0, first
        refused = manage(project, url, "migrate", pythonpath=packages, PYTHONDONTWRITEBYTECODE="")
        assert refused.code == 1, refused
        assert "notes.body" in refused.err, refused.err
        assert len(_kept(folder)) == 2
        done = manage(project, url, "migrate", "--yes", pythonpath=packages, PYTHONDONTWRITEBYTECODE="")
        assert done.code == 0, done
