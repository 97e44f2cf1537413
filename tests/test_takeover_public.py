"""A plain Alembic project written the way public ones are (tests/support/public_project.py),
taken over and then migrated, rolled back and compared with what the real ``alembic`` builds:
its env.py set-up comes along as the component's environment hook (issue 22), on SQLite,
PostgreSQL and MariaDB.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.inspect import version_rows
from support.projects import MANAGE_PY, add_alembic_config
from support.public_project import create_baseline, plain_alembic_build, schema_of, write_public_project
from support.running import run

from memstack.engine.adopt.envpy import read_env_py


def _manage(project: Path, app: Path, url: str, *args: str) -> tuple[int, str, str]:
    done = run([sys.executable, MANAGE_PY, "--project-dir", project, "--database-url", url, *args], cwd=app,
               PYTHONPATH=str(app))
    return done.returncode, done.stdout, done.stderr


def _taken_over(project: Path, tmp_path: Path, url: str) -> tuple[Path, list[str], str]:
    add_alembic_config(project)
    app = tmp_path / "app"
    ids = write_public_project(app, url)
    code, _, err = _manage(project, app, url, "takeover", "alembic.ini", "--component", "shop", "--package", "shop")
    assert code == 0, err
    return app, ids, err


def test_env_py_is_read_into_a_hook(tmp_path: Path) -> None:
    write_public_project(tmp_path / "app", "sqlite://")
    reading = read_env_py(tmp_path / "app" / "shop" / "migrations" / "env.py")
    assert reading.options == {"render_as_batch": "True", "compare_type": "True", "include_object": "include_object"}
    assert reading.setup == ["database.establish(env.connection)"]
    assert reading.metadata == "Base.metadata"
    assert [(line, text.split(" =")[0]) for line, text, _ in reading.not_carried] == [(22, "engine")]
    assert any(d.startswith("def include_object(") for d in reading.definitions)


def test_taken_over_project_migrates_with_its_environment(project: Path, tmp_path: Path, db_url: str) -> None:
    url = db_url
    app, ids, err = _taken_over(project, tmp_path, url)
    hook = app / "shop" / "memstack_env.py"
    assert hook.is_file() and "database.establish(env.connection)" in hook.read_text()
    assert "env.py:22: not carried: engine = database.get_engine(" in err  # listed by line, before the writes
    assert err.index("not carried") < err.index("Wrote the environment hook")

    create_baseline(url)  # what the project does before its first revision
    code, _, err = _manage(project, app, url, "migrate", "shop")
    assert code == 0, err  # 0002 reads database.connection(), which the hook established
    assert set(ids) & version_rows(url) == {ids[-1]}

    # 0004 has no downgrade(): refused while planning, naming it, with no question and nothing undone
    before = schema_of(url)
    code, _, err = _manage(project, app, url, "rollback", "shop", "--steps", "2")
    assert code == 1 and "shop 0004_seed_products" in err and "downgrade()" in err and "Proceed" not in err
    assert schema_of(url) == before

    with_reference = tmp_path / "reference.db"
    if url.startswith("sqlite"):
        reference = f"sqlite:///{with_reference}"
        plain_alembic_build(app, reference)
        assert schema_of(url) == schema_of(reference)
    else:
        from support.databases import backend_of, temporary_database

        with temporary_database(backend_of(url)) as reference:
            plain_alembic_build(app, reference)
            assert schema_of(url) == schema_of(reference)


def test_without_the_hook_the_revision_fails_as_the_issue_says(project: Path, tmp_path: Path,
                                                              sqlite_url: str) -> None:
    app, _, _ = _taken_over(project, tmp_path, sqlite_url)
    (app / "shop" / "memstack_env.py").unlink()
    create_baseline(sqlite_url)
    code, _, err = _manage(project, app, sqlite_url, "migrate", "shop")
    assert code == 1 and "No sql_connection parameter is established" in err


def test_configured_hook_and_an_unusable_one(project: Path, tmp_path: Path, sqlite_url: str) -> None:
    """``env_hook = "pkg.module:function"`` in the component's entry; one that cannot be imported is named."""
    app, ids, _ = _taken_over(project, tmp_path, sqlite_url)
    (app / "shop" / "memstack_env.py").rename(app / "shop" / "framework_env.py")
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    entry = '{package = "shop", label = "shop"}'
    assert entry in text
    pyproject.write_text(text.replace(entry, '{package = "shop", label = "shop", env_hook = "shop.nowhere:setup"}'))
    create_baseline(sqlite_url)
    code, _, err = _manage(project, app, sqlite_url, "migrate", "shop")
    assert code == 1 and "shop.nowhere:setup" in err and "cannot be imported" in err
    pyproject.write_text(text.replace(entry, '{package = "shop", label = "shop", '
                                             'env_hook = "shop.framework_env:setup"}'))
    code, _, err = _manage(project, app, sqlite_url, "migrate", "shop")
    assert code == 0, err
    assert ids[-1] in version_rows(sqlite_url)


def test_generator_hook_runs_its_cleanup_when_the_environment_closes() -> None:
    from memstack.engine.run.envhooks import HookEnvironment, applied_hook

    def setup(env: HookEnvironment) -> Iterator[None]:
        env.options["render_as_batch"] = True
        yield
        env.options["closed"] = True

    environment = HookEnvironment("shop", None, None, "sqlite")  # type: ignore[arg-type]
    with applied_hook({"shop": setup}, environment) as seen:
        assert seen.options == {"render_as_batch": True}
    assert environment.options["closed"] is True


def test_hook_options_and_connection_reach_the_step_environment() -> None:
    from sqlalchemy import create_engine

    from memstack.engine.run.alembic_config import alembic_setup, revision_environment
    from memstack.engine.run.envhooks import HookEnvironment

    engine = create_engine("sqlite://")
    seen: list[object] = []
    with engine.connect() as connection, engine.connect() as wrapper:
        def setup(env: HookEnvironment) -> None:
            seen.append(env.connection)
            env.connection = wrapper  # a framework's own handle
            env.options.update(render_as_batch=True, user_module_prefix="app.types.", connection="ignored")

        hooked = alembic_setup(None, hooks={"shop": setup})
        with revision_environment(hooked, connection, component="shop") as context:
            assert context.opts["render_as_batch"] is True and context.opts["user_module_prefix"] == "app.types."
            assert context.connection is wrapper
        with revision_environment(hooked, connection, component="other") as context:
            assert not context.opts.get("render_as_batch") and context.connection is connection
    assert seen == [connection]
    engine.dispose()


@pytest.mark.parametrize("baseline", ["shop.baseline:metadata", "baseline.sql"])
def test_baseline_runs_before_the_first_revision(project: Path, tmp_path: Path, db_url: str, baseline: str) -> None:
    """No create_all by hand: new databases and the scratch build of ``check`` run the baseline first."""
    url = db_url
    app, ids, _ = _taken_over(project, tmp_path, url)
    (project / "baseline.sql").write_text("CREATE TABLE customers (\n    id INTEGER NOT NULL PRIMARY KEY,\n"
                                          "    name VARCHAR(80) NOT NULL\n);\n")
    pyproject = project / "pyproject.toml"
    entry = '{package = "shop", label = "shop"}'
    pyproject.write_text(pyproject.read_text().replace(
        entry, f'{{package = "shop", label = "shop", baseline = "{baseline}"}}'))
    code, _, err = _manage(project, app, url, "check")
    assert code == 0, err
    code, _, err = _manage(project, app, url, "migrate", "shop")
    assert code == 0, err
    assert ids[-1] in version_rows(url)
    assert schema_of(url)["customers"] is not None


def test_baseline_without_it_check_fails(project: Path, tmp_path: Path, sqlite_url: str) -> None:
    app, _, _ = _taken_over(project, tmp_path, sqlite_url)
    code, out, err = _manage(project, app, sqlite_url, "check")
    said = out + err
    assert code == 1 and "failed at step 14 of 17, shop 0001_products (up): no such table: customers" in said
    # a scratch database is thrown away: nothing "stayed applied"; the fix names the baseline
    assert "stayed applied" not in said and "scratch database" in said and "was discarded" in said
    assert "fix shop 0001_products" in said.lower() and "baseline" in said and "docs/adopting.md" in said
    code, out, err = _manage(project, app, sqlite_url, "makemigrations", "shop")
    assert code == 1 and "stayed applied" not in err and "was discarded" in err and "baseline" in err, err


def test_metadata_baseline_is_dropped_below_the_root(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from memstack.engine.run.baseline import Baseline, BaselineUnusable

    write_public_project(tmp_path / "app", "sqlite://")
    sys.path.insert(0, str(tmp_path / "app"))
    try:
        engine = sa.create_engine("sqlite://")
        with engine.begin() as connection:
            made = Baseline("shop", "shop", "shop.baseline:metadata", tmp_path)
            made.create(connection)
            made.create(connection)  # tables that exist are left as they are
            assert sa.inspect(connection).get_table_names() == ["customers"]
            made.drop(connection)
            assert sa.inspect(connection).get_table_names() == []
        with pytest.raises(BaselineUnusable, match="cannot be imported"):
            Baseline("shop", "shop", "shop.nowhere:metadata", tmp_path).tables()
        with pytest.raises(BaselineUnusable, match="cannot be read"), engine.begin() as connection:
            Baseline("shop", "shop", "missing.sql", tmp_path).create(connection)
    finally:
        sys.path.remove(str(tmp_path / "app"))
        for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
            del sys.modules[name]


def test_schemadoc_knows_every_owner(project: Path, tmp_path: Path, sqlite_url: str) -> None:
    """Tables created as ``op.create_table(Product.__tablename__, ...)`` and baseline tables have their
    owner; ``schemadoc COMPONENT`` names the unowned tables it leaves out."""
    from support.databases import execute

    from memstack.engine.review.schemadoc import created_tables_in

    app, _, _ = _taken_over(project, tmp_path, sqlite_url)
    first = next((project / "migrations" / "shop").glob("0001_*.py"))
    sys.path.insert(0, str(app))
    try:
        assert created_tables_in(first) == ["products"]
    finally:
        sys.path.remove(str(app))
        for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
            del sys.modules[name]
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        '{package = "shop", label = "shop"}',
        '{package = "shop", label = "shop", baseline = "shop.baseline:metadata"}'))
    code, _, err = _manage(project, app, sqlite_url, "migrate", "shop")
    assert code == 0, err
    execute(sqlite_url, "CREATE TABLE stray_cache (id INTEGER PRIMARY KEY)")

    code, out, err = _manage(project, app, sqlite_url, "schemadoc", "shop", "--format", "markdown")
    assert code == 0, err
    for table in ("customers", "products", "orders"):
        assert table in out, table
    assert "stray_cache" not in out and "1 table(s) no component owns are not shown: stray_cache" in err
    code, out, err = _manage(project, app, sqlite_url, "schemadoc", "--format", "markdown")
    assert code == 0 and "stray_cache" in out and "not shown" not in err
