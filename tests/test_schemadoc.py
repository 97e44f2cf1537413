"""schemadoc (issue 15, item 1): documentation read from the live database on SQLite, PostgreSQL and
MariaDB: HTML (every table, column and FK link; opened in headless Chromium), Markdown, a Graphviz ER
diagram (dot parses; svg/png rendered), ownership and creating revision, unowned tables, and --diff.

Layers: call_command / main() on a project copy, a subprocess of manage.py, and chromium / dot.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from support.databases import execute
from support.running import call, cli, manage, migrate, ok

from memstack.core.components import is_bookkeeping_table
from memstack.core.errors import MemstackError

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get "
                                                                   "install graphviz; .ci/run installs it)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _schema(url: str) -> dict[str, tuple[list[str], list[tuple[str, str, str]]]]:
    """{table: ([columns], [(column, referred table, referred column)])} straight from the inspector."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        found = {}
        for table in inspector.get_table_names():
            if is_bookkeeping_table(table):
                continue
            fks = [(c, fk["referred_table"], r) for fk in inspector.get_foreign_keys(table)
                   for c, r in zip(fk["constrained_columns"], fk["referred_columns"], strict=False)]
            found[table] = ([c["name"] for c in inspector.get_columns(table)], fks)
        return found
    finally:
        engine.dispose()


def _anchors_resolve(html: str) -> None:
    ids = set(re.findall(r'id="([^"]+)"', html))
    targets = re.findall(r'href="#([^"]+)"', html)
    assert targets, "the page has no internal links"
    assert not [t for t in targets if t not in ids], "links to nothing"


# --------------------------------------------------------------------------- the full schema, three backends


def test_html_documents_every_table_column_and_foreign_key(project: Path, migrated_db_url: str) -> None:
    html = call(project, migrated_db_url, "schemadoc").out
    schema = _schema(migrated_db_url)
    assert len(schema) >= 16
    for table, (columns, fks) in schema.items():
        assert f'id="table-{table}"' in html
        for column in columns:
            assert f'id="column-{table}-{column}"' in html
        for _column, referred, referred_column in fks:
            assert f'href="#column-{referred}-{referred_column}"' in html
            assert f'href="#table-{referred}"' in html
    _anchors_resolve(html)
    assert "component auth" in html and "Created by: auth 0001_initial" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html  # self-contained


@needs_dot
def test_dot_is_an_er_diagram_graphviz_renders(project: Path, migrated_db_url: str) -> None:
    source = call(project, migrated_db_url, "schemadoc", format="dot").out
    for label in ("auth", "tenant", "project", "memory", "ontology", "memo", "task"):
        assert f'subgraph "cluster_{label}"' in source
    for table, (_columns, fks) in _schema(migrated_db_url).items():
        assert f'"{table}" [label=<' in source
        for column, referred, referred_column in fks:
            assert f'"{table}":"{column}" -> "{referred}":"{referred_column}"' in source or any(
                f'"{table}":"' in line and f'-> "{referred}"' in line for line in source.splitlines())
    done = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout


def test_markdown_lists_tables_with_owner_and_creator(project: Path, migrated_db_url: str) -> None:
    text = call(project, migrated_db_url, "schemadoc", format="markdown").out
    assert "### `task_logs`" in text and "- created by: task 0001_initial" in text
    assert "| `progress` |" in text  # added by task 0002


# --------------------------------------------------------------------------- ownership, filters, images


def test_unowned_tables_are_shown_and_marked(project: Path, migrated_sqlite_url: str) -> None:
    execute(migrated_sqlite_url, "CREATE TABLE legacy_audit (id INTEGER PRIMARY KEY, note TEXT)")
    html = call(project, migrated_sqlite_url, "schemadoc").out
    assert 'id="table-legacy_audit"' in html and "unowned: no component owns this table" in html
    markdown = call(project, migrated_sqlite_url, "schemadoc", format="markdown").out
    assert "## Tables no component owns" in markdown and "none (no component owns this table)" in markdown
    assert "alembic_version" not in html and "memstack_history" not in html


def test_components_limit_the_tables(project: Path, migrated_sqlite_url: str) -> None:
    html = call(project, migrated_sqlite_url, "schemadoc", "task").out
    assert 'id="table-task_logs"' in html and 'id="table-users"' not in html
    _anchors_resolve(html)


@needs_dot
@pytest.mark.parametrize(("image_format", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_images_through_graphviz(project: Path, migrated_sqlite_url: str, tmp_path: Path, image_format: str,
                                 magic: bytes) -> None:
    target = tmp_path / f"schema.{image_format}"
    result = ok(manage(project, migrated_sqlite_url, "schemadoc", "--format", image_format, "-o", str(target)))
    assert target.read_bytes().startswith(magic)
    assert "Documented" in result.err and result.out == ""


def test_without_graphviz_png_names_the_package(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                project: Path, migrated_sqlite_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "schemadoc", "--format", "png",
                 "-o", str(tmp_path / "x.png"))
    assert result.code == 1 and "graphviz" in result.err and "--format dot" in result.err
    assert not (tmp_path / "x.png").exists()


def test_missing_templates_are_one_clear_error(project: Path, migrated_sqlite_url: str) -> None:
    shutil.rmtree(project / "templates" / "schemadoc")
    with pytest.raises(MemstackError, match="templates"):
        call(project, migrated_sqlite_url, "schemadoc")


def test_unknown_component_is_refused(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                      project: Path, migrated_sqlite_url: str) -> None:
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "schemadoc", "memroy")
    assert result.code == 1 and "memory" in result.err


# --------------------------------------------------------------------------- drift


def test_diff_of_identical_databases_is_empty(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              project: Path, migrated_sqlite_url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(project, other)
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "schemadoc", "--diff", other)
    assert result.code == 0 and result.out == "" and "No differences" in result.err


def test_diff_lists_drift(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path,
                          migrated_sqlite_url: str, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    migrate(project, other)
    execute(other, "ALTER TABLE task_logs ADD COLUMN hotfix TEXT", "CREATE TABLE scratch_copy (id INTEGER)",
            "DROP INDEX idx_task_logs_progress")
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "schemadoc", "--diff", other)
    assert result.code == 1
    assert "task_logs.hotfix: only in the other database" in result.out
    assert "scratch_copy: table only in the other database" in result.out
    assert "task_logs: index (('progress',), False) only in this database" in result.out


def test_diff_between_two_postgresql_databases(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                               project: Path, migrated_postgres_url: str) -> None:
    from support.databases import temporary_database
    with temporary_database("postgres") as other:
        migrate(project, other)
        execute(other, "ALTER TABLE memos ALTER COLUMN content SET NOT NULL")
        result = cli(capsys, monkeypatch, project, migrated_postgres_url, "schemadoc", "--diff", other)
    assert result.code == 1 and "memos.content: nullable True here, False there" in result.out


def test_diff_with_an_unreachable_database(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           project: Path, migrated_sqlite_url: str) -> None:
    other = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "schemadoc", "--diff", other)
    assert result.code == 1 and "secret" not in result.text


# --------------------------------------------------------------------------- in a browser


def _chromium(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False)


def _console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_the_page_renders_in_chromium_without_console_errors(project: Path, migrated_sqlite_url: str,
                                                             tmp_path: Path) -> None:
    page = tmp_path / "schema.html"
    call(project, migrated_sqlite_url, "schemadoc", output=str(page))
    done = _chromium(tmp_path, page.as_uri() + "#table-task_logs")
    assert done.returncode == 0, done.stderr[-2000:]
    assert _console_errors(done.stderr) == []
    dom = done.stdout
    assert 'data-ready="yes"' in dom, "the page's script did not run"
    _anchors_resolve(dom)
    assert 'id="table-task_logs"' in dom and "hidden" not in re.findall(r'<section class="([^"]+)"', dom)[0]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_the_search_box_filters_tables_in_chromium(project: Path, migrated_sqlite_url: str, tmp_path: Path) -> None:
    page = tmp_path / "schema.html"
    call(project, migrated_sqlite_url, "schemadoc", output=str(page))
    done = _chromium(tmp_path, page.as_uri() + "?q=progress")  # a column only task_logs has
    assert _console_errors(done.stderr) == []
    sections = re.findall(r'<section class="([^"]+)" id="table-([^"]+)"', done.stdout)
    shown = {table for classes, table in sections if "hidden" not in classes.split()}
    assert len(sections) >= 16 and shown == {"task_logs"}


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_chromium_check_sees_a_script_error(tmp_path: Path) -> None:
    """The console check above is not blind: a page with a broken script is caught."""
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>", encoding="utf-8")
    done = _chromium(tmp_path, page.as_uri())
    assert _console_errors(done.stderr)
