"""``showmigrations`` (human, --json, -v 2, collapsed and stray version rows) and ``sqlmigrate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.inspect import insert_version_row, table_names, version_rows
from support.projects import LABELS
from support.revisions import REV, shared_prefix
from support.running import call, run_main, shown

from memstack.core.errors import MemstackError

ALL = set(REV)
NO_SERVER = {
    "postgresql": "postgresql://nobody@127.0.0.1:1/x",
    "mysql": "mysql://nobody@127.0.0.1:1/x",
}


# --------------------------------------------------------------------------- showmigrations


def test_showmigrations_human_on_empty_database(project: Path, sqlite_url: str) -> None:
    result = call(project, sqlite_url, "showmigrations")
    lines = result.out.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == LABELS
    assert "  [ ] 0001_initial" in lines
    assert not any("[X]" in line for line in lines)
    task = lines[lines.index("task") + 1: lines.index("task") + 6]
    assert task == ["  [ ] 0001_initial", "  [ ] 0002_add_progress", "  [ ] 0003_add_result",
                    "  [ ] 0004_add_message", "  [ ] 0005_merge_legacy_task_columns"]
    # reading state creates nothing
    assert table_names(sqlite_url) == set()


def test_showmigrations_json_keys_and_values(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate", "memo")
    rows = json.loads(call(project, db_url, "showmigrations", json=True).out)
    assert len(rows) == len(REV)
    for row in rows:
        assert {"component", "revision", "name", "number", "applied"} <= set(row)
        assert REV[(row["component"], row["name"])] == row["revision"]
        assert row["number"] == int(row["name"][:4])
        assert isinstance(row["applied"], bool)
    applied = {(r["component"], r["name"]) for r in rows if r["applied"]}
    assert applied == {("auth", "0001_initial"), ("memo", "0001_initial")}
    # components filter, in configuration order
    only = json.loads(call(project, db_url, "showmigrations", "task", "auth", json=True).out)
    assert [r["component"] for r in only] == ["auth", "auth", "task", "task", "task", "task", "task"]


def test_showmigrations_verbose_shows_dependencies(project: Path, sqlite_url: str) -> None:
    out = call(project, sqlite_url, "showmigrations", verbosity=2).out
    lines = out.splitlines()
    auth2 = next(line for line in lines if "0002_add_user_roles_fk" in line)
    assert REV[("auth", "0002_add_user_roles_fk")] in auth2
    assert "depends on: tenant 0001_initial" in auth2
    memory1 = next(line for line in lines[lines.index("memory"):] if "0001_initial" in line)
    assert "depends on: project 0001_initial" in memory1
    # the default verbosity shows neither ids nor dependencies
    plain = call(project, sqlite_url, "showmigrations").out
    assert "depends on" not in plain
    assert REV[("auth", "0001_initial")] not in plain


def test_collapsed_version_rows_still_show_everything_applied(project: Path, db_url: str) -> None:
    call(project, db_url, "migrate")
    rows = version_rows(db_url)
    # effective heads (tenant, project) are implied by the rows that depend on them
    assert len(rows) < len(LABELS)
    assert rows == {REV[("auth", "0002_add_user_roles_fk")], REV[("memory", "0002_add_task_id")],
                    REV[("ontology", "0001_initial")], REV[("memo", "0001_initial")],
                    REV[("task", "0005_merge_legacy_task_columns")]}
    assert REV[("tenant", "0001_initial")] not in rows
    assert REV[("project", "0001_initial")] not in rows
    state = shown(project, db_url)
    assert state == dict.fromkeys(ALL, True)
    human = call(project, db_url, "showmigrations", "tenant", "project").out
    assert human.splitlines() == ["tenant", "  [X] 0001_initial", "project", "  [X] 0001_initial"]


def test_one_row_can_stand_for_many_branches(project: Path, sqlite_url: str) -> None:
    call(project, sqlite_url, "migrate", "memory")
    # memory 0002 stands for memory 0001, project, tenant and auth 0001
    assert version_rows(sqlite_url) == {REV[("memory", "0002_add_task_id")]}
    applied = {k for k, v in shown(project, sqlite_url).items() if v}
    assert applied == {("auth", "0001_initial"), ("tenant", "0001_initial"), ("project", "0001_initial"),
                       ("memory", "0001_initial"), ("memory", "0002_add_task_id")}


@pytest.mark.parametrize("row", ["001", REV[("auth", "0001_initial")][:5]])
def test_stray_version_row_is_a_clear_error(project: Path, db_url: str, row: str,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that matches no file exactly is an error; a prefix of a real id is not read as that id."""
    insert_version_row(db_url, row)
    base = ("--project-dir", str(project), "--database-url", db_url)
    for args in (("showmigrations",), ("showmigrations", "--json")):  # shown, marked, not refused
        result = run_main(capsys, monkeypatch, *base, *args)
        assert result.code == 0, (args, result.err)
        assert row in result.out and row in result.err
        assert "no file provides" in result.err
    result = run_main(capsys, monkeypatch, *base, "migrate")
    assert result.code == 1, result.err
    assert row in result.err
    assert "no file provides" in result.err or "unknown" in result.err
    assert "Traceback" not in result.err
    assert version_rows(db_url) == {row}
    assert table_names(db_url) == {"alembic_version"}


def test_stray_row_beside_known_rows(project: Path, sqlite_url: str) -> None:
    call(project, sqlite_url, "migrate", "memo")
    insert_version_row(sqlite_url, "001")
    shown = call(project, sqlite_url, "showmigrations")
    assert "[X] 0001_initial" in shown.out and "[?] 001  (001; in the database" in shown.out
    with pytest.raises(MemstackError, match="001"):
        call(project, sqlite_url, "migrate")


# --------------------------------------------------------------------------- sqlmigrate


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_sqlmigrate_exactly_one_revision_without_connecting(project: Path, dialect: str) -> None:
    url = NO_SERVER[dialect]  # nothing listens there: rendering must not connect
    up = call(project, url, "sqlmigrate", "memory", "0002").out
    assert up.strip().splitlines() == [
        "ALTER TABLE memories ADD COLUMN task_id VARCHAR(255);" if dialect == "mysql"
        else "ALTER TABLE memories ADD COLUMN task_id VARCHAR;"
    ]
    down = call(project, url, "sqlmigrate", "memory", "add_task_id", backwards=True).out
    assert down.strip() == "ALTER TABLE memories DROP COLUMN task_id;"

    # a first revision with dependencies: only its own tables, nothing of auth it depends on
    tenant = call(project, url, "sqlmigrate", "tenant", "1").out
    assert "CREATE TABLE tenants" in tenant
    assert "CREATE TABLE user_tenants" in tenant
    assert "CREATE TABLE users" not in tenant
    assert "alembic_version" not in tenant
    assert tenant.count("CREATE TABLE") == 2
    if dialect == "mysql":
        assert "VARCHAR(64) NOT NULL" in tenant
    else:
        assert "TIMESTAMP WITH TIME ZONE DEFAULT now()" in tenant

    # the cycle-closing foreign key renders as a plain ALTER on server dialects
    fk = call(project, url, "sqlmigrate", "auth", "0002_add_user_roles_fk").out
    assert "ALTER TABLE user_roles ADD CONSTRAINT user_roles_tenant_id_fkey FOREIGN KEY(tenant_id) " \
           "REFERENCES tenants (id)" in fk
    back = call(project, url, "sqlmigrate", "tenant", REV[("tenant", "0001_initial")], backwards=True).out
    assert "DROP TABLE user_tenants" in back
    assert "DROP TABLE tenants" in back
    assert back.index("DROP TABLE user_tenants") < back.index("DROP TABLE tenants")


def test_sqlmigrate_sqlite_without_touching_the_file(project: Path, tmp_path: Path) -> None:
    database = tmp_path / "never" / "created.db"
    url = f"sqlite:///{database}"
    sql = call(project, url, "sqlmigrate", "task", "0001").out
    assert "CREATE TABLE task_logs" in sql
    assert sql.count("CREATE TABLE") == 1
    memo = call(project, url, "sqlmigrate", "memo", "initial", backwards=True).out
    assert "DROP TABLE memos" in memo
    merge = call(project, url, "sqlmigrate", "task", "0005").out
    assert merge.strip() == ""
    assert not database.parent.exists()


def test_sqlmigrate_unrenderable_on_sqlite(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", url,
                      "sqlmigrate", "auth", "0002")
    assert result.code == 1
    assert "auth 0002_add_user_roles_fk" in result.err
    assert "not renderable offline" in result.err
    assert "Traceback" not in result.err
    assert result.out == ""
    # also backwards, and also through call_command
    with pytest.raises(MemstackError, match="not renderable offline"):
        call(project, url, "sqlmigrate", "auth", "0002", backwards=True)
    assert not (tmp_path / "nothing.db").exists()


def test_sqlmigrate_target_errors(project: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    base = ("--project-dir", str(project), "--database-url", NO_SERVER["postgresql"])
    zero = run_main(capsys, monkeypatch, *base, "sqlmigrate", "memory", "zero")
    assert zero.code == 1
    assert "one revision" in zero.err
    result_id, message_id = REV[("task", "0003_add_result")], REV[("task", "0004_add_message")]
    ambiguous = run_main(capsys, monkeypatch, *base, "sqlmigrate", "task", shared_prefix(result_id, message_id))
    assert ambiguous.code == 1
    assert f"0003_add_result ({result_id})" in ambiguous.err
    assert f"0004_add_message ({message_id})" in ambiguous.err
    missing = run_main(capsys, monkeypatch, *base, "sqlmigrate", "memory")
    assert missing.code == 2


# --------------------------------------------------------------------------- honest exit codes (issue 12)


def _memo_revision(project: Path, upgrade: str) -> str:
    from support.revisions import new_id, write_revision

    rid = new_id()
    write_revision(project / "migrations" / "memo", "0002_extra", rid, REV[("memo", "0001_initial")],
                   upgrade=upgrade)
    return rid


@pytest.mark.parametrize(("upgrade", "expected"), [
    ("raise RuntimeError()", "a bug in 0002_extra.py (line 17): RuntimeError (raised without a message)"),
    ("raise KeyError('tenant_id')", "a bug in 0002_extra.py (line 17): KeyError: 'tenant_id'"),
    ("op.get_bind().execute(sa.text('SELECT 1')).fetchall()", "is not renderable offline: it reads the database"),
    ("[r for r in op.get_bind().execute(sa.text('SELECT 1'))]", "is not renderable offline: it reads rows"),
])
def test_sql_tells_a_revision_bug_from_what_needs_a_database(project: Path, tmp_path: Path, upgrade: str,
                                                             expected: str, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No IndexError on an empty message; a bug is reported as the revision's bug, with its line."""
    rid = _memo_revision(project, upgrade)
    url = f"sqlite:///{tmp_path / 'never.db'}"
    one = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", url,
                   "sqlmigrate", "memo", "0002")
    assert one.code == 1 and one.out == ""
    assert f"memo 0002_extra ({rid}) " in one.err and expected in one.err and "Traceback" not in one.err
    assert not (tmp_path / "never.db").exists()
    with pytest.raises(MemstackError, match="0002_extra"):
        call(project, url, "sqlmigrate", "memo", "0002")


@pytest.mark.postgres
def test_incomplete_script_exits_1_and_stops_psql(project: Path, postgres_url: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import subprocess

    from sqlalchemy.engine import make_url

    _memo_revision(project, "raise RuntimeError()")
    result = run_main(capsys, monkeypatch, "--project-dir", str(project), "--database-url", postgres_url,
                      "migrate", "memo", "--sql")
    assert result.code == 1
    assert "a bug in 0002_extra.py" in result.err and "the script stops before it" in result.err
    last = result.out.rstrip().splitlines()[-1]
    assert last.startswith("DO $$ BEGIN RAISE EXCEPTION 'memstack: this script is incomplete")
    assert "CREATE TABLE memos" in result.out  # the steps before it are whole
    if shutil.which("psql") is None:
        pytest.skip("no psql")
    u = make_url(postgres_url)
    proc = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-h", str(u.host), "-p", str(u.port), "-U",
                           str(u.username), "-d", str(u.database), "-q"], input=result.out, capture_output=True,
                          text=True, timeout=180, check=False)
    assert proc.returncode != 0
    assert "memstack: this script is incomplete" in proc.stderr
