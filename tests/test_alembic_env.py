"""``migrations/env.py`` under the real ``alembic`` command (subprocesses), on all three backends.

Plain ``alembic`` must leave a database as ``manage.py`` would: exact ``memstack_applied``,
history rows, safety refusals; read-only commands create nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from support.databases import connect, execute
from support.inspect import table_names, version_rows
from support.projects import TABLES, add_alembic_config
from support.revisions import REV
from support.running import alembic, manage

BOOKKEEPING = {"memstack_history", "memstack_applied", "memstack_marks", "memstack_tags", "memstack_meta"}


@pytest.fixture
def alembic_project(project: Path) -> Path:
    add_alembic_config(project)
    return project


def _applied_rows(url: str) -> set[str]:
    with connect(url) as connection:
        return {row[0] for row in connection.execute(text("SELECT revision FROM memstack_applied"))}


def _history(url: str) -> list[tuple[str, str, bool]]:
    with connect(url) as connection:
        rows = connection.execute(text("SELECT event, direction, success FROM memstack_history ORDER BY id"))
        return [(r[0], r[1], bool(r[2])) for r in rows]


def test_read_only_commands_create_nothing(alembic_project: Path, db_url: str) -> None:
    for args in (("current",), ("history", "-i"), ("check",)):
        result = alembic(alembic_project, db_url, *args)
        assert result.code in (0, 1, 255), result.err
    assert table_names(db_url, bookkeeping=True) == set()
    offline = alembic(alembic_project, db_url, "upgrade", "memo@head", "--sql")
    assert offline.code == 0, offline.err
    assert "CREATE TABLE memos" in offline.out
    assert table_names(db_url, bookkeeping=True) == set()


def test_upgrade_stamp_downgrade_keep_applied_exact(alembic_project: Path, db_url: str) -> None:
    upgraded = alembic(alembic_project, db_url, "upgrade", "heads")
    assert upgraded.code == 0, upgraded.err
    assert _applied_rows(db_url) == set(REV.values())
    assert [e for e in _history(db_url) if e[0] == "apply"] == [("apply", "up", True)] * len(REV)

    checked = alembic(alembic_project, db_url, "check")  # memstack_* tables are not "removed tables"
    assert checked.code == 0, checked.out + checked.err
    assert "No new upgrade operations detected" in checked.out

    refused = alembic(alembic_project, db_url, "downgrade", "task@base")  # a downgrade destroys: it asks
    assert refused.code != 0 and "pass -x yes=1" in refused.out, refused.out + refused.err
    down = alembic(alembic_project, db_url, "-x", "yes=1", "downgrade", "task@base")
    assert down.code == 0, down.err
    task = {v for (label, _), v in REV.items() if label == "task"}
    assert _applied_rows(db_url) == set(REV.values()) - task

    stamped = alembic(alembic_project, db_url, "stamp", "base")
    assert stamped.code == 0, stamped.err
    assert _applied_rows(db_url) == set() and version_rows(db_url) == set()
    assert ("stamp", "down", True) in _history(db_url)

    again = alembic(alembic_project, db_url, "stamp", "heads")
    assert again.code == 0, again.err
    assert _applied_rows(db_url) == set(REV.values())
    shown = manage(alembic_project, None, "showmigrations", env_url=db_url, find_project=True)
    assert shown.out.count("[X]") == len(REV), shown.err


def test_upgrade_refuses_unknown_rows_and_changed_files(alembic_project: Path, sqlite_url: str) -> None:
    assert alembic(alembic_project, sqlite_url, "upgrade", "auth@head").code == 0
    execute(sqlite_url, "INSERT INTO alembic_version (version_num) VALUES ('f00000000000')")
    refused = alembic(alembic_project, sqlite_url, "upgrade", "heads")
    assert refused.code != 0
    assert "f00000000000" in refused.out + refused.err and "Traceback" not in refused.err
    execute(sqlite_url, "DELETE FROM alembic_version WHERE version_num = 'f00000000000'")

    initial = alembic_project / "migrations" / "auth" / "0001_initial.py"
    initial.write_text(initial.read_text() + "\nEXTRA = 1\n")
    changed = alembic(alembic_project, sqlite_url, "upgrade", "heads")
    assert changed.code != 0
    assert "changed after it was applied" in changed.out + changed.err and "repair" in changed.out
    assert "memories" not in table_names(sqlite_url)


def _break_memo(project: Path) -> None:
    path = project / "migrations" / "memo" / "0001_initial.py"
    source = path.read_text()
    failing = "def upgrade() -> None:\n    op.execute('SELECT * FROM no_such_table')\n"
    path.write_text(source.replace("def upgrade() -> None:\n", failing, 1))


def test_failed_upgrade_is_recorded(alembic_project: Path, db_url: str) -> None:
    _break_memo(alembic_project)
    failed = alembic(alembic_project, db_url, "upgrade", "memo@head")
    assert failed.code != 0
    assert ("failure", "up", False) in _history(db_url)
    assert "memos" not in table_names(db_url)


@pytest.mark.mariadb
def test_mariadb_failure_keeps_mark(alembic_project: Path, mariadb_url: str) -> None:
    path = alembic_project / "migrations" / "memo" / "0001_initial.py"
    source = path.read_text()
    failing_last = "    op.execute('SELECT * FROM no_such_table')\n\n\ndef downgrade"  # after the CREATE TABLE
    path.write_text(source.replace("\ndef downgrade", failing_last, 1))
    failed = alembic(alembic_project, mariadb_url, "upgrade", "memo@head")
    assert failed.code != 0
    with connect(mariadb_url) as connection:
        marks = connection.execute(text("SELECT state FROM memstack_marks")).fetchall()
    assert [m[0] for m in marks] == ["failed"]
    refused = alembic(alembic_project, mariadb_url, "upgrade", "heads")
    assert refused.code != 0 and "half-applied" in refused.out + refused.err


def test_explicit_url_and_project_dir_win(alembic_project: Path, tmp_path: Path) -> None:
    settings_db, explicit_db = tmp_path / "settings.db", tmp_path / "explicit.db"
    upgraded = alembic(alembic_project, f"sqlite:///{settings_db}", "-x", f"sqlalchemy.url=sqlite:///{explicit_db}",
                       "upgrade", "auth@head")
    assert upgraded.code == 0, upgraded.err
    assert explicit_db.exists() and "users" in table_names(f"sqlite:///{explicit_db}")
    assert not settings_db.exists()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    by_env = alembic(alembic_project, f"sqlite:///{explicit_db}", "current", use_config_option=True, cwd=elsewhere,
                     MEMSTACK_PROJECT_DIR=str(alembic_project))
    assert by_env.code == 0, by_env.err
    assert REV[("auth", "0002_add_user_roles_fk")] in by_env.out
    by_option = alembic(alembic_project, f"sqlite:///{explicit_db}", "-x", f"project_dir={alembic_project}",
                        "current", use_config_option=True, cwd=elsewhere)
    assert by_option.code == 0, by_option.err
    assert REV[("auth", "0002_add_user_roles_fk")] in by_option.out


def test_plain_alembic_revision_is_refused(alembic_project: Path, sqlite_url: str) -> None:
    # the revision files only: the revision index may appear beside them
    before = sorted((alembic_project / "migrations" / "auth").glob("*.py"))
    plain = alembic(alembic_project, sqlite_url, "revision", "-m", "x", "--head", "auth@head")
    assert plain.code != 0
    # the hint names the project's own command: no manage.py in the project, so the memstack command
    assert "'memstack makemigrations LABEL -m MESSAGE'" in plain.out + plain.err
    assert alembic(alembic_project, sqlite_url, "upgrade", "heads").code == 0
    (alembic_project / "manage.py").write_text("from memstack.cli import main\n\nmain()\n")
    auto = alembic(alembic_project, sqlite_url, "revision", "--autogenerate", "-m", "x", "--head", "auth@head")
    assert auto.code != 0
    assert "'manage.py makemigrations LABEL -m MESSAGE'" in auto.out + auto.err
    several = alembic(alembic_project, sqlite_url, "revision", "-m", "x")  # no --head: one head per component
    assert several.code != 0
    assert "manage.py makemigrations" in several.out + several.err and "Multiple heads" not in several.out
    assert sorted((alembic_project / "migrations" / "auth").glob("*.py")) == before
    assert table_names(sqlite_url) == TABLES | {"alembic_version"}


def test_passed_connection_comes_first(alembic_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``config.attributes["connection"]`` (the Alembic cookbook way) beats every configured URL."""
    import alembic.command
    import alembic.config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    monkeypatch.setenv("MEMSTACK_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    engine = create_engine(f"sqlite:///{tmp_path / 'passed.db'}", poolclass=NullPool)
    config = alembic.config.Config(toml_file=str(alembic_project / "pyproject.toml"))
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            alembic.command.upgrade(config, "auth@head")
            connection.commit()
    finally:
        engine.dispose()
    passed_url = f"sqlite:///{tmp_path / 'passed.db'}"
    assert {"users", "alembic_version", "memstack_applied"} <= table_names(passed_url, bookkeeping=True)
    assert _applied_rows(passed_url) == {REV[("auth", "0001_initial")], REV[("tenant", "0001_initial")],
                                         REV[("auth", "0002_add_user_roles_fk")]}  # its depends_on pulled tenant
    assert not (tmp_path / "configured.db").exists()
