"""The pytest plugin tested with pytester: each built-in test passes on a sound tree and fails on one built to break it.

Every run is a subprocess (``runpytest_subprocess``): memstack's component registry and the
models' MetaData are process-global, and each tree here declares its own models.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.databases import SERVERS
from support.revisions import write_revision

pytest_plugins = ["pytester"]

PYPROJECT = """\
[tool.memstack]
components = [{ package = "shop.catalog", label = "catalog" }, { package = "shop.orders", label = "orders" }]

[tool.pytest.ini_options]
pythonpath = ["."]
"""

CATALOG_0001 = dict(
    rid="aaaa00000001", down=None, labels=("catalog",), deps=None,
    upgrade='op.create_table("items", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("name", sa.String(50), nullable=False))',
    downgrade='op.drop_table("items")')
CATALOG_0002 = dict(
    rid="aaaa00000002", down="aaaa00000001", labels=(), deps=None,
    upgrade='op.add_column("items", sa.Column("price", sa.Integer, nullable=True))\n'
            'op.execute("UPDATE items SET price = 0")',  # (bodies are indented by write_revision)
    downgrade='op.drop_column("items", "price")')
ORDERS_0001 = dict(
    rid="bbbb00000001", down=None, labels=("orders",), deps=("aaaa00000001",),
    upgrade='op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id", name="orders_item_id_fkey"), nullable=False))',
    downgrade='op.drop_table("orders")')

CATALOG_MODELS = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from memstack.core.db import Base


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    price: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
'''
ORDERS_MODELS = '''
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from memstack.core.db import Base


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("items.id"))
'''
TESTS = "from memstack.testing.builtin import *  # noqa: F403\n"
DATA_CASE = '''
import pytest
from memstack.testing import DataMigration


@pytest.fixture
def memstack_data_migrations():
    rows = [{"id": 1, "name": "apple"}, {"id": 2, "name": "banana"}]
    return [DataMigration("catalog", "0002", rows={"items": rows},
                          expect={"items": [{**r, "price": 0} for r in rows]})]
'''


def write_tree(root: Path, revisions: dict[str, dict[str, object]] | None = None,
               catalog_models: str = CATALOG_MODELS) -> None:
    """The sound two-component shop; ``revisions`` replaces or adds files ("catalog/0002_add_price": fields)."""
    files = {"catalog/0001_initial": CATALOG_0001, "catalog/0002_add_price": CATALOG_0002,
             "orders/0001_initial": ORDERS_0001, **(revisions or {})}
    (root / "pyproject.toml").write_text(PYPROJECT)
    for package, models in (("shop", ""), ("shop/catalog", catalog_models), ("shop/orders", ORDERS_MODELS)):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
        if models:
            (root / package / "models.py").write_text(models)
    for path, fields in files.items():
        folder, name = path.split("/")
        write_revision(root / "migrations" / folder, name, str(fields["rid"]), fields["down"],
                       upgrade=str(fields["upgrade"]), downgrade=str(fields["downgrade"]),
                       depends_on=fields["deps"], branch_labels=fields["labels"] or None,
                       message=path)
    (root / "test_migrations.py").write_text(TESTS)
    (root / "conftest.py").write_text(DATA_CASE)


def run(pytester: pytest.Pytester, *urls: str) -> pytest.RunResult:
    options = [f"--memstack-db-url={u}" for u in urls]
    return pytester.runpytest_subprocess("-p", "no:pytest_alembic", "-p", "no:cacheprovider", "-rA", *options)


def test_a_sound_tree_passes_every_built_in_test(pytester: pytest.Pytester) -> None:
    write_tree(pytester.path)
    result = run(pytester)
    result.assert_outcomes(passed=7)  # single head, 2 upgrades alone, models, up/down/up, no trace, data


def test_two_heads_fail_the_single_head_test_naming_both(pytester: pytest.Pytester) -> None:
    second = {**CATALOG_0002, "rid": "aaaa00000003", "upgrade": 'op.add_column("items", sa.Column("x", sa.Integer))',
              "downgrade": 'op.drop_column("items", "x")'}
    write_tree(pytester.path, {"catalog/0003_other": second})
    result = run(pytester)
    result.stdout.fnmatch_lines(["*catalog has 2 heads: 0002_add_price (aaaa00000002), 0003_other (aaaa00000003)*"])
    assert "FAILED test_migrations.py::test_memstack_single_head_per_component" in result.stdout.str()


def test_a_downgrade_leaving_a_column_fails_naming_the_revision(pytester: pytest.Pytester) -> None:
    write_tree(pytester.path, {"catalog/0002_add_price": {**CATALOG_0002, "downgrade": "pass"}})
    result = run(pytester)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "*catalog 0002_add_price (aaaa00000002): the downgrade does not restore the schema before it:*",
        "*column items.price is left over*"])
    assert "FAILED test_migrations.py::test_memstack_up_down_up[sqlite]" in out
    assert "FAILED test_migrations.py::test_memstack_downgrades_leave_no_trace[sqlite]" in out
    assert "FAILED test_migrations.py::test_memstack_single_head_per_component" not in out


def test_a_model_not_migrated_fails_the_models_test_naming_the_component(pytester: pytest.Pytester) -> None:
    models = CATALOG_MODELS + "    stock: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)\n"
    write_tree(pytester.path, catalog_models=models)
    result = run(pytester)
    result.stdout.fnmatch_lines(["*catalog: column items.stock is in the models but not in the migrations*"])
    result.assert_outcomes(passed=6, failed=1)
    assert "FAILED test_migrations.py::test_memstack_models_match_migrations[sqlite]" in result.stdout.str()


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_url")  # skips (or fails under MEMSTACK_REQUIRE_SERVERS) without the server
def test_a_postgresql_only_revision_fails_on_sqlite_only(pytester: pytest.Pytester) -> None:
    pg_only = {**CATALOG_0002, "upgrade": CATALOG_0002["upgrade"].replace(
        "UPDATE items SET price = 0", "UPDATE items SET price = 0 WHERE name ILIKE 'a%'")}  # ILIKE: PostgreSQL's
    write_tree(pytester.path, {"catalog/0002_add_price": pg_only})
    (pytester.path / "conftest.py").write_text("")
    server = SERVERS["postgres"].url.render_as_string(hide_password=False)
    result = run(pytester, "sqlite://", server)
    out = result.stdout.str()
    assert "catalog 0002_add_price (aaaa00000002) failed (up) on sqlite" in out
    for test in ("up_down_up", "downgrades_leave_no_trace", "models_match_migrations"):
        assert f"FAILED test_migrations.py::test_memstack_{test}[sqlite]" in out
        assert f"FAILED test_migrations.py::test_memstack_{test}[postgresql]" not in out
    assert "PASSED test_migrations.py::test_memstack_up_down_up[postgresql]" in out


def test_a_data_migration_losing_rows_fails_naming_the_revision(pytester: pytest.Pytester) -> None:
    delete = "\nop.execute(\"DELETE FROM items WHERE name = 'banana'\")"
    lossy = {**CATALOG_0002, "upgrade": CATALOG_0002["upgrade"] + delete}
    write_tree(pytester.path, {"catalog/0002_add_price": lossy})
    result = run(pytester)
    result.stdout.fnmatch_lines([
        "*catalog 0002_add_price (aaaa00000002): table items after the data migration on sqlite:*",
        "*expected [[]{'id': 1, 'name': 'apple', 'price': 0}, {'id': 2, 'name': 'banana', 'price': 0}[]]*",
        "*found    [[]{'id': 1, 'name': 'apple', 'price': 0}[]]*"])
    result.assert_outcomes(passed=6, failed=1)


def test_the_plugin_is_inert_without_the_import(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_nothing():\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_the_runner_fixture_migrates_rolls_back_and_reads_rows(pytester: pytest.Pytester) -> None:
    write_tree(pytester.path)
    (pytester.path / "test_migrations.py").write_text('''
import pytest
from memstack.engine.errors import UnknownTarget


def test_runner(memstack_migrations):
    runner = memstack_migrations
    runner.migrate("orders")  # pulls in catalog 0001 only
    assert sorted(runner.snapshot()) == ["items", "orders"]
    assert "price" not in runner.snapshot()["items"]["columns"]
    runner.insert("items", [{"id": 1, "name": "apple"}])
    runner.migrate("catalog")
    assert runner.rows("items") == [{"id": 1, "name": "apple", "price": 0}]
    runner.rollback("catalog")
    assert runner.rows("items", "name") == [{"name": "apple"}]
    runner.migrate("catalog", "zero")  # cascades into orders, confirmed by the runner
    assert runner.snapshot() == {}
    with pytest.raises(UnknownTarget, match="no revision of component 'catalog' matches target '0009'"):
        runner.migrate_before("catalog", "0009")
''')
    result = run(pytester)
    result.assert_outcomes(passed=1)


def test_an_unreachable_server_fails_unless_skipping_is_asked(pytester: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMSTACK_REQUIRE_SERVERS", raising=False)
    write_tree(pytester.path)
    dead = "postgresql://postgres@127.0.0.1:1/postgres"
    failing = run(pytester, dead)
    failing.stdout.fnmatch_lines(["*cannot create a scratch database on postgresql*127.0.0.1:1*"])
    assert failing.ret == 1
    (pytester.path / "pyproject.toml").write_text(PYPROJECT + "memstack_skip_unreachable = true\n")
    skipping = run(pytester, dead)
    skipping.assert_outcomes(passed=1, skipped=6)  # the single-head test needs no database
    monkeypatch.setenv("MEMSTACK_REQUIRE_SERVERS", "1")
    assert run(pytester, dead).ret == 1
