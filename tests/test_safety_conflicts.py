"""Refusals before any schema work: several heads, unknown version rows, duplicate ids, dangling
links, cycles, removed components, and two developers' revisions meeting in one tree.

Each refusal exits 1 with one message and its fix, and changes nothing in the database."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.inspect import app_tables, applied_rows, history_rows, insert_version_row, snapshot, version_rows
from support.projects import make_project, set_components, write_package
from support.revisions import REV, new_id, write_revision
from support.running import Result, cli, manage

from memstack.core.settings import DEFAULT_COMPONENTS

MEMORY_1 = REV[("memory", "0001_initial")]
MEMO_1 = REV[("memo", "0001_initial")]


def _refused(result: Result, *needles: str) -> None:
    assert result.code == 1, result
    assert result.err.count("error: ") == 1, result.err
    assert "  fix: " in result.err, result.err
    for needle in needles:
        assert needle in result.err, (needle, result.err)
    assert "Applying" not in result.err and "Unapplying" not in result.err
    assert "Traceback" not in result.err


def _refuses_everywhere(capsys, monkeypatch, project: Path, url: str, *needles: str,
                        commands: tuple[tuple[str, ...], ...] = (("migrate",),)) -> None:
    before = snapshot(url)
    for command in commands:
        _refused(cli(capsys, monkeypatch, project, url, *command), *needles)
        assert snapshot(url) == before, command


def _full(capsys, monkeypatch, project: Path, url: str) -> None:
    result = cli(capsys, monkeypatch, project, url, "migrate")
    assert result.code == 0, result


# --------------------------------------------------------------------------- two heads


def test_two_heads_refused_until_merged(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    sibling = new_id()
    write_revision(project / "migrations" / "memory", "0003_by_hand", sibling, MEMORY_1,
                   upgrade="op.create_table('memory_notes', sa.Column('id', sa.Integer(), primary_key=True))",
                   downgrade="op.drop_table('memory_notes')")
    heads = f"0002_add_task_id ({REV[('memory', '0002_add_task_id')]}), 0003_by_hand ({sibling})"
    _refuses_everywhere(capsys, monkeypatch, project, db_url, "component 'memory' has 2 heads", heads,
                        "makemigrations --merge memory",
                        commands=(("migrate",), ("migrate", "memory")))

    merge = cli(capsys, monkeypatch, project, db_url, "makemigrations", "--merge", "memory")
    assert merge.code == 0, merge
    merge_files = sorted((project / "migrations" / "memory").glob("0004_*.py"))
    assert [p.name for p in merge_files] == ["0004_merge.py"]
    text = merge_files[0].read_text(encoding="utf-8")
    assert REV[("memory", "0002_add_task_id")] in text and sibling in text

    result = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert result.code == 0, result
    steps = [line.split()[1:3] for line in result.err.splitlines() if "Applying" in line]
    assert steps == [["memory", "0003_by_hand"], ["memory", "0004_merge"]]
    assert "memory_notes" in app_tables(db_url)


# --------------------------------------------------------------------------- rows no file provides


def test_unknown_version_row_is_named(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    insert_version_row(db_url, "abcdef123456")
    _refuses_everywhere(capsys, monkeypatch, project, db_url,
                        "the database records revision(s) that no file provides: abcdef123456",
                        commands=(("migrate",), ("migrate", "memo", "zero", "--yes"),
                                  ("stamp", "memo", "zero", "--yes")))
    shown = cli(capsys, monkeypatch, project, db_url, "showmigrations")  # listing shows it, marked
    assert shown.code == 0, shown
    assert "[?] abcdef123456" in shown.out and "no file provides" in shown.err


def test_version_rows_match_ids_exactly_never_by_prefix(project: Path, db_url: str,
                                                        capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Alembic would read "ef6ea33" as auth 0001_initial (ef6ea33ea000); memstack does not
    insert_version_row(db_url, REV[("auth", "0001_initial")][:7])
    _refuses_everywhere(capsys, monkeypatch, project, db_url,
                        f"no file provides: {REV[('auth', '0001_initial')][:7]}")
    assert "users" not in app_tables(db_url)


# --------------------------------------------------------------------------- broken trees


def test_two_files_claiming_one_id(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    folder = project / "migrations" / "memo"
    copy = folder / "0002_copy.py"
    shutil.copy(folder / "0001_initial.py", copy)
    _refuses_everywhere(capsys, monkeypatch, project, db_url, f"two files claim revision id '{MEMO_1}'",
                        str(folder / "0001_initial.py"), str(copy),
                        commands=(("migrate",), ("migrate", "task"), ("showmigrations",)))


@pytest.mark.parametrize("link", ["down_revision", "depends_on"])
def test_link_pointing_nowhere(project: Path, db_url: str, link: str, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    missing = new_id()
    folder = project / "migrations" / "memo"
    if link == "down_revision":
        path = write_revision(folder, "0002_orphan", new_id(), missing)
    else:
        path = write_revision(folder, "0002_orphan", new_id(), MEMO_1, depends_on=missing)
    _refuses_everywhere(capsys, monkeypatch, project, db_url, f"{link} '{missing}' points to no revision",
                        "memo 0002_orphan", str(path))


def test_cycle(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
               monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    memo_2, task_6 = new_id(), new_id()
    write_revision(project / "migrations" / "memo", "0002_needs_task", memo_2, MEMO_1, depends_on=task_6)
    write_revision(project / "migrations" / "task", "0006_needs_memo", task_6,
                   REV[("task", "0005_merge_legacy_task_columns")], depends_on=memo_2)
    _refuses_everywhere(capsys, monkeypatch, project, db_url, "the revisions form a cycle",
                        "memo 0002_needs_task", "task 0006_needs_memo",
                        commands=(("migrate",), ("migrate", "auth")))


# --------------------------------------------------------------------------- removed component


def test_removed_component_is_reported_then_pruned(project: Path, db_url: str, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _full(capsys, monkeypatch, project, db_url)
    set_components(project, base=[c for c in DEFAULT_COMPONENTS if c != "memstack.memo"])
    _refuses_everywhere(capsys, monkeypatch, project, db_url,
                        "component 'memo' is no longer configured, but its revisions are still applied (0001_initial)",
                        "migrate memo zero", "migrate --prune memo",
                        commands=(("migrate",),))
    shown = cli(capsys, monkeypatch, project, db_url, "showmigrations")  # listing shows it, marked
    assert shown.code == 0, shown
    assert "memo (not configured)" in shown.out and "[?] 0001_initial" in shown.out
    assert "component 'memo' was removed" in shown.err and "migrate --prune memo" in shown.err
    # pruning asks first: without a terminal and without --yes it refuses
    _refuses_everywhere(capsys, monkeypatch, project, db_url, "Forget 1 applied revision(s) of 'memo'", "--yes",
                        commands=(("migrate", "--prune", "memo"),))

    # --prune is only for components that are gone
    still_there = cli(capsys, monkeypatch, project, db_url, "migrate", "--prune", "task", "--yes")
    assert still_there.code == 1
    assert "still configured" in still_there.err and "migrate task zero" in still_there.err

    pruned = cli(capsys, monkeypatch, project, db_url, "migrate", "--prune", "memo", "--yes")
    assert pruned.code == 0, pruned
    assert "Forgot 1 revision(s) of memo: 0001_initial" in pruned.err
    assert MEMO_1 not in version_rows(db_url)
    assert MEMO_1 not in applied_rows(db_url)
    event = history_rows(db_url)[-1]
    assert (event["event"], event["component"], event["name"]) == ("repair", "memo", "0001_initial")
    assert "memos" in app_tables(db_url)  # its tables stay as they are

    again = cli(capsys, monkeypatch, project, db_url, "migrate")
    assert again.code == 0, again
    assert "No migrations to apply" in again.err
    shown = json.loads(cli(capsys, monkeypatch, project, db_url, "showmigrations", "--json").out)
    assert all(row["applied"] for row in shown)
    assert "memo" not in {row["component"] for row in shown}


# --------------------------------------------------------------------------- two developers


GIZMO_MODELS = '''
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from memstack.core.db import Base, id_column, string


class Gizmo(Base):
    __tablename__ = "gizmos"

    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(string(100), nullable=True)
{extra}
'''


def _gizmo_package(root: Path, name: str, extra: str = "") -> Path:
    write_package(root, name, {"models.py": GIZMO_MODELS.format(extra=extra)})
    return root


def test_two_developers_end_with_two_reported_heads(tmp_path: Path, sqlite_url: str) -> None:
    package = "gizmo_" + new_id()
    base_pkgs = _gizmo_package(tmp_path / "pkgs_base", package)
    base = make_project(tmp_path / "base", components=[package], copy_folders=False)
    (base / "migrations").mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "migrations" / "env.py", base / "migrations" / "env.py")
    shutil.copytree(Path(__file__).resolve().parents[1] / "templates", base / "templates")
    first = manage(base, None, "makemigrations", pythonpath=[base_pkgs])
    assert first.code == 0, first
    assert [p.name for p in (base / "migrations" / package).glob("*.py")] == ["0001_initial.py"]

    # each developer clones the project and changes the model on a branch of their own
    dev_a, dev_b = shutil.copytree(base, tmp_path / "dev_a"), shutil.copytree(base, tmp_path / "dev_b")
    pkgs_a = _gizmo_package(tmp_path / "pkgs_a", package,
                            "    color: Mapped[str | None] = mapped_column(String(20), nullable=True)")
    pkgs_b = _gizmo_package(tmp_path / "pkgs_b", package,
                            "    weight: Mapped[int | None] = mapped_column(Integer, nullable=True)")
    assert manage(dev_a, None, "makemigrations", pythonpath=[pkgs_a]).code == 0
    assert manage(dev_b, None, "makemigrations", pythonpath=[pkgs_b]).code == 0
    new_a = sorted(p for p in (dev_a / "migrations" / package).glob("0002_*.py"))
    new_b = sorted(p for p in (dev_b / "migrations" / package).glob("0002_*.py"))
    assert len(new_a) == len(new_b) == 1
    assert new_a[0].name != new_b[0].name  # same number, different slug: no file-name collision
    assert "color" in new_a[0].name and "weight" in new_b[0].name

    # git merges the branches: both files land in one tree
    shutil.copy(new_b[0], dev_a / "migrations" / package / new_b[0].name)
    merged_pkgs = _gizmo_package(tmp_path / "pkgs_merged", package,
                                 "    color: Mapped[str | None] = mapped_column(String(20), nullable=True)\n"
                                 "    weight: Mapped[int | None] = mapped_column(Integer, nullable=True)")
    from memstack.engine.tree.loader import parse_revision_file

    id_a, id_b = parse_revision_file(new_a[0]).revision, parse_revision_file(new_b[0]).revision
    assert id_a != id_b  # no id collision
    assert parse_revision_file(new_a[0]).down_revision == parse_revision_file(new_b[0]).down_revision

    refused = manage(dev_a, sqlite_url, "migrate", pythonpath=[merged_pkgs])
    _refused(refused, f"component '{package}' has 2 heads", new_a[0].stem, new_b[0].stem, id_a, id_b,
             f"makemigrations --merge {package}")
    assert version_rows(sqlite_url) == set()
    check = manage(dev_a, sqlite_url, "check", "--json", pythonpath=[merged_pkgs])
    assert check.code == 1
    problems = json.loads(check.out)["problems"]
    assert [p["kind"] for p in problems if p["kind"] == "multiple_heads"] == ["multiple_heads"]

    assert manage(dev_a, None, "makemigrations", "--merge", package, pythonpath=[merged_pkgs]).code == 0
    assert manage(dev_a, sqlite_url, "migrate", pythonpath=[merged_pkgs]).code == 0
    clean = manage(dev_a, sqlite_url, "check", "--database", pythonpath=[merged_pkgs])
    assert clean.code == 0, clean
