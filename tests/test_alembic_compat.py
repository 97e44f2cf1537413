"""The plain ``alembic`` command and ``manage.py`` see one tree and one database.

``alembic`` reads ``[tool.alembic]`` from ``./pyproject.toml`` when run from the project root (or
the file named by ``-c .../pyproject.toml``); ``migrations/env.py`` takes the database from
memstack's settings (``MEMSTACK_DATABASE_URL`` here). The second half pins each function of
:mod:`memstack.engine.alembic_compat`, the one module that touches Alembic's and SQLAlchemy's private names.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.operations import Operations
from alembic.operations import ops as alembic_ops
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine.default import DefaultDialect
from support.inspect import table_names, version_rows
from support.projects import LABELS, MEMORY_LINKS_MODELS, TABLES, add_alembic_config, set_components
from support.revisions import REV, load_graph, parsed, revision_files
from support.running import alembic, call, manage, shown

from memstack.engine import alembic_compat

ALL = set(REV)
HEAD_LINE = re.compile(r"^(?P<id>[0-9a-f]{12}) \((?P<label>\w+)\) \((?P<kind>head|effective head)\)")


@pytest.fixture
def alembic_project(project: Path) -> Path:
    add_alembic_config(project)
    return project


def _heads(output: str) -> dict[str, str]:
    """``alembic heads`` output: {label: id}."""
    found = {}
    for line in output.splitlines():
        match = HEAD_LINE.match(line.strip())
        if match:
            found[match["label"]] = match["id"]
    return found


def _current(output: str) -> set[str]:
    return {line.split()[0] for line in output.splitlines() if re.match(r"^[0-9a-f]{12}\b", line.strip())}


def test_alembic_heads_match_memstack(alembic_project: Path, tmp_path: Path) -> None:
    graph = load_graph(alembic_project)
    memstack_heads = {label: graph.head(label).id for label in LABELS}

    from_root = alembic(alembic_project, None, "heads")
    assert from_root.code == 0, from_root.err
    assert _heads(from_root.out) == memstack_heads

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with_option = alembic(alembic_project, None, "heads", use_config_option=True, cwd=elsewhere)
    assert with_option.code == 0, with_option.err
    assert _heads(with_option.out) == memstack_heads
    # tenant and project are heads that other branches depend on
    kinds = {m["label"]: m["kind"] for m in map(HEAD_LINE.match, from_root.out.splitlines()) if m}
    assert kinds["tenant"] == kinds["project"] == "effective head"


def test_alembic_upgrade_then_manage_py(alembic_project: Path, db_url: str) -> None:
    upgraded = alembic(alembic_project, db_url, "upgrade", "heads")
    assert upgraded.code == 0, upgraded.err
    assert table_names(db_url) == TABLES | {"alembic_version"}
    rows = version_rows(db_url)
    assert len(rows) < len(LABELS)  # collapsed: effective heads are not stored
    assert REV[("tenant", "0001_initial")] not in rows and REV[("project", "0001_initial")] not in rows

    shown_by_manage = manage(alembic_project, None, "showmigrations", env_url=db_url, find_project=True)
    assert shown_by_manage.code == 0, shown_by_manage.err
    assert "[ ]" not in shown_by_manage.out
    assert shown_by_manage.out.count("[X]") == len(REV)
    assert shown(alembic_project, db_url) == dict.fromkeys(ALL, True)

    migrated = manage(alembic_project, None, "migrate", env_url=db_url, find_project=True)
    assert migrated.code == 0, migrated.err
    assert "No migrations to apply" in migrated.err
    assert "Applying" not in migrated.err
    assert version_rows(db_url) == rows

    check = manage(alembic_project, None, "makemigrations", "--check", env_url=db_url, find_project=True)
    assert check.code == 0, check.err


def test_manage_py_migrate_then_alembic_current(alembic_project: Path, db_url: str) -> None:
    migrated = manage(alembic_project, None, "migrate", env_url=db_url, find_project=True)
    assert migrated.code == 0, migrated.err
    rows = version_rows(db_url)
    assert len(rows) < len(LABELS)
    current = alembic(alembic_project, db_url, "current")
    assert current.code == 0, current.err
    # alembic reports every branch's current revision, effective heads included
    graph = load_graph(alembic_project)
    assert _current(current.out) == {graph.head(label).id for label in LABELS}
    assert rows < _current(current.out)

    # plain alembic agrees that there is nothing left to do
    upgraded = alembic(alembic_project, db_url, "upgrade", "heads")
    assert upgraded.code == 0, upgraded.err
    assert "Running upgrade" not in upgraded.err + upgraded.out
    assert version_rows(db_url) == rows


def test_partial_states_agree(alembic_project: Path, sqlite_url: str) -> None:
    """``alembic upgrade memory@head`` pulls memory's dependencies, as ``migrate memory`` does."""
    upgraded = alembic(alembic_project, sqlite_url, "upgrade", "memory@head")
    assert upgraded.code == 0, upgraded.err
    applied = {k for k, v in shown(alembic_project, sqlite_url).items() if v}
    assert applied == {("auth", "0001_initial"), ("tenant", "0001_initial"), ("project", "0001_initial"),
                       ("memory", "0001_initial"), ("memory", "0002_add_task_id")}

    # manage.py continues where alembic stopped, and alembic sees the result
    migrated = manage(alembic_project, None, "migrate", "task", "0003", env_url=sqlite_url, find_project=True)
    assert migrated.code == 0, migrated.err
    assert [line.split()[1:3] for line in migrated.err.splitlines() if "Applying" in line] == [
        ["task", "0001_initial"], ["task", "0003_add_result"]]
    assert version_rows(sqlite_url) == {REV[("memory", "0002_add_task_id")], REV[("task", "0003_add_result")]}
    current = alembic(alembic_project, sqlite_url, "current")
    assert _current(current.out) == {REV[("auth", "0001_initial")], REV[("tenant", "0001_initial")],
                                        REV[("project", "0001_initial")], REV[("memory", "0002_add_task_id")],
                                        REV[("task", "0003_add_result")]}

    # a downgrade by alembic is seen by manage.py
    down = alembic(alembic_project, sqlite_url, "-x", "yes=1", "downgrade", "memory@" + REV[("memory", "0001_initial")])
    assert down.code == 0, down.err
    assert shown(alembic_project, sqlite_url, "memory") == {("memory", "0001_initial"): True,
                                                           ("memory", "0002_add_task_id"): False}


def test_generated_component_runs_under_plain_alembic(project: Path, make_component: Callable[..., str],
                                                      tmp_path: Path, db_url: str) -> None:
    """A revision makemigrations wrote for a new component is an ordinary Alembic branch."""
    label = make_component({"models.py": MEMORY_LINKS_MODELS}, prefix="links")
    set_components(project, label)
    add_alembic_config(project, [*LABELS, label])
    call(project, db_url, "makemigrations")
    new_id = parsed(revision_files(project, label)[0]).revision

    packages = str(tmp_path / "packages")  # where make_component writes, for the subprocesses
    heads = alembic(project, db_url, "heads", PYTHONPATH=packages)
    assert heads.code == 0, heads.err
    assert _heads(heads.out)[label] == new_id

    upgraded = alembic(project, db_url, "upgrade", f"{label}@head", PYTHONPATH=packages)
    assert upgraded.code == 0, upgraded.err
    assert "memory_links" in table_names(db_url)
    applied = {k for k, v in shown(project, db_url).items() if v}
    # the new revision depends on memory 0001, which created memories (not on memory's head)
    assert applied == {("auth", "0001_initial"), ("tenant", "0001_initial"), ("project", "0001_initial"),
                       ("memory", "0001_initial"), (label, "0001_initial")}
    assert version_rows(db_url) == {new_id}  # one row stands for all five revisions


# --------------------------------------------------------------------------- memstack.engine.alembic_compat
# One test per private Alembic/SQLAlchemy name memstack relies on: when an Alembic or SQLAlchemy release
# moves one, the test of its adapter function fails here, not a migration in production. CI runs this
# file against the oldest versions pyproject.toml allows as well as the newest (.ci/run).


def _offline_operations(buffer: io.StringIO) -> Operations:
    context = MigrationContext.configure(dialect_name="sqlite", opts={"as_sql": True, "output_buffer": buffer})
    return Operations(context)


def _autogen_context() -> AutogenContext:
    context = MigrationContext.configure(dialect=DefaultDialect())
    return AutogenContext(context, opts={"sqlalchemy_module_prefix": "sa.", "alembic_module_prefix": "op.",
                                         "render_as_batch": True, "user_module_prefix": None})


def _orders(metadata: sa.MetaData) -> sa.Table:
    sa.Table("customers", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return sa.Table("orders", metadata, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id", name="fk_customer")),
                    sa.Column("note", sa.String(20), nullable=True))


def test_wrap_steps_sees_what_run_migrations_iterates() -> None:
    engine = sa.create_engine("sqlite://")
    seen: list[tuple[object, ...]] = []

    def original(heads: Any, ctx: Any) -> list[Any]:
        seen.append(("original", tuple(heads)))
        return []

    def wrap(function: alembic_compat.StepsFunction) -> alembic_compat.StepsFunction:
        def steps(heads: Any, ctx: Any) -> Iterator[Any]:
            seen.append(("wrapped", ctx))
            yield from function(heads, ctx)
        return steps

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"fn": original})
        alembic_compat.wrap_steps(context, wrap)
        context.run_migrations()
    assert seen == [("wrapped", context), ("original", ())]


def test_environment_behind_the_context_proxy() -> None:
    from alembic import context as context_module

    assert alembic_compat.environment_behind(context_module) is context_module  # no command running
    environment = EnvironmentContext(Config(), None, fn=test_environment_behind_the_context_proxy)  # type: ignore[arg-type]
    with environment:
        assert alembic_compat.environment_behind(context_module) is environment
        assert environment.context_opts["fn"] is test_environment_behind_the_context_proxy
    assert alembic_compat.environment_behind(context_module) is context_module


def test_installed_as_op_nests_and_restores() -> None:
    from alembic import op

    outer_sql, inner_sql = io.StringIO(), io.StringIO()
    with alembic_compat.installed_as_op(_offline_operations(outer_sql)):
        with alembic_compat.installed_as_op(_offline_operations(inner_sql)):
            op.execute("SELECT 'inner'")
        op.execute("SELECT 'outer'")
    assert "'inner'" in inner_sql.getvalue() and "'inner'" not in outer_sql.getvalue()
    assert "'outer'" in outer_sql.getvalue()
    with pytest.raises((NameError, AttributeError)):  # nothing installed any more: op refuses
        op.execute("SELECT 1")


def test_environment_kept_brings_the_running_context_back() -> None:
    from alembic import context as context_module

    running = EnvironmentContext(Config(), None, fn=test_environment_kept_brings_the_running_context_back)  # type: ignore[arg-type]
    with running:
        with alembic_compat.environment_kept(), EnvironmentContext(Config(), None):  # type: ignore[arg-type]
            pass
        assert alembic_compat.environment_behind(context_module) is running


def test_upgrade_ops_of_compares_without_computing_the_downgrade() -> None:
    engine = sa.create_engine("sqlite://")
    metadata = sa.MetaData()
    _orders(metadata)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "target_metadata": metadata})
        upgrade = alembic_compat.upgrade_ops_of(context, metadata)
    created = [op.table_name for op in upgrade.ops if isinstance(op, alembic_ops.CreateTableOp)]
    assert sorted(created) == ["customers", "orders"]
    assert alembic_compat.can_skip_reverse()  # the fast path exists on every Alembic pyproject.toml allows


def test_table_dropped_by_keeps_the_table_it_drops() -> None:
    orders = _orders(sa.MetaData())
    dropped = alembic_compat.table_dropped_by(alembic_ops.DropTableOp.from_table(orders))
    assert dropped is not None
    assert [c.name for c in dropped.columns if isinstance(c, sa.Column)] == ["id", "customer_id", "note"]
    assert {c.name for c in dropped.columns if isinstance(c, sa.ForeignKeyConstraint)} == {"fk_customer"}
    assert alembic_compat.table_dropped_by(alembic_ops.DropTableOp("orders")) is None


def test_render_body_is_autogenerate_s_indented_python() -> None:
    upgrade = alembic_ops.UpgradeOps(ops=[alembic_ops.CreateTableOp.from_table(_orders(sa.MetaData()))])
    body = alembic_compat.render_body(upgrade, _autogen_context())
    first, *lines = [line for line in body.splitlines() if line.strip()]
    assert first.startswith("# ### commands auto generated") and lines[-1].strip().startswith("# ### end"), body
    assert all(line.startswith("    ") for line in lines), body  # the writer drops both comment lines
    assert lines[0] == "    op.create_table('orders',", body
    assert "sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name='fk_customer')" in body


def test_render_type_writes_the_type_and_its_arguments() -> None:
    autogen = _autogen_context()
    assert alembic_compat.render_type(sa.String(20), autogen) == "sa.String(length=20)"
    assert alembic_compat.render_type(sa.Numeric(10, 2), autogen) == "sa.Numeric(precision=10, scale=2)"


def test_type_variants_lists_with_variant() -> None:
    varied = sa.String().with_variant(sa.String(255), "mysql", "mariadb")
    variants = alembic_compat.type_variants(varied)
    assert set(variants) == {"mysql", "mariadb"}
    assert all(isinstance(v, sa.String) and v.length == 255 for v in variants.values())
    assert alembic_compat.type_variants(sa.String(10)) == {}


def test_run_post_write_hooks_is_alembic_s_runner_by_type(tmp_path: Path) -> None:
    """Alembic's ``_run_hooks``: each hook of ``Config.get_hooks_list()`` by its ``type``, in order, with
    its options."""
    import sys

    from alembic.script import write_hooks
    from alembic.util import CommandError

    seen: list[tuple[str, dict[str, str]]] = []
    write_hooks.register("memstack_pin")(lambda path, options: seen.append((path, dict(options))))
    path = tmp_path / "0001_x.py"
    path.write_text("x  =  1\n", encoding="utf-8")
    formatter = tmp_path / "fmt.py"  # a formatter every Python has (the oldest-versions venv has no ruff)
    formatter.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                         "p.write_text(' '.join(p.read_text().split()) + '\\n')\n", encoding="utf-8")
    alembic_compat.run_post_write_hooks(str(path), [
        {"_hook_name": "first", "type": "memstack_pin", "flag": "1"},
        {"_hook_name": "fmt", "type": "exec", "executable": sys.executable,
         "options": f"{formatter} REVISION_SCRIPT_FILENAME"},
    ])
    assert seen == [(str(path), {"_hook_name": "first", "type": "memstack_pin", "flag": "1"})]
    assert path.read_text(encoding="utf-8") == "x = 1\n"  # the exec hook ran the command on the file
    with pytest.raises(CommandError):
        alembic_compat.run_post_write_hooks(str(path), [{"_hook_name": "bad", "type": "no_such_type"}])


def _script_directory(tmp_path: Path, revisions: dict[str, str | None]) -> Any:
    """A plain Alembic script directory holding one empty revision per id (its down revision as given)."""
    from alembic.script import ScriptDirectory

    versions = tmp_path / "versions"
    versions.mkdir()
    (tmp_path / "script.py.mako").write_text("", encoding="utf-8")
    for rid, down in revisions.items():
        (versions / f"{rid}_x.py").write_text(
            f"revision = {rid!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n"
            "def upgrade():\n    pass\ndef downgrade():\n    pass\n", encoding="utf-8")
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    return ScriptDirectory.from_config(config)


def test_present_revisions_builds_the_map_from_the_scripts_kept(tmp_path: Path) -> None:
    """``ScriptDirectory._load_revisions`` yields the scripts its revision map is built from; a map built
    from a filtered (and re-parented) subset is the one Alembic then walks."""
    script = _script_directory(tmp_path, {"a1": None, "b2": "a1", "c3": "b2"})

    def keep(candidate: Any) -> bool:
        if candidate.revision == "c3":
            candidate.down_revision = "a1"  # b2 hidden: c3 follows a1 directly
        return bool(candidate.revision != "b2")

    alembic_compat.present_revisions(script, keep)
    assert {s.revision for s in script.walk_revisions()} == {"a1", "c3"}
    assert script.get_revision("c3").down_revision == "a1"
    assert script.get_heads() == ["c3"]


def test_set_branch_labels_before_the_map_is_read(tmp_path: Path) -> None:
    """``Script._orig_branch_labels`` is what the revision map reads a script's labels from."""
    script = _script_directory(tmp_path, {"a1": None, "b2": "a1"})

    def keep(candidate: Any) -> bool:
        if candidate.revision == "a1":
            alembic_compat.set_branch_labels(candidate, ("pinned",))
        return True

    alembic_compat.present_revisions(script, keep)
    assert script.get_revision("pinned@head").revision == "b2"
    assert "pinned" in script.get_revision("a1").branch_labels


def test_revisions_from_source_is_what_the_script_directory_loads_with(tmp_path: Path) -> None:
    """``ScriptDirectory`` reads revision files through ``alembic.util.pyfiles.load_module_py``: inside the
    block the loader given reads them (and Alembic's module name and file still reach it); after it, Alembic's own."""
    from alembic.util import pyfiles

    from memstack.engine.run.revision_code import load_alembic_script

    script = _script_directory(tmp_path, {"a1": None, "b2": "a1"})
    loaded: list[tuple[str, Path]] = []

    def load(module_id: str, path: Path) -> Any:
        loaded.append((module_id, path))
        return load_alembic_script(module_id, path)

    original = pyfiles.load_module_py
    with alembic_compat.revisions_from_source(load):
        assert script.get_revision("b2").down_revision == "a1"
    assert pyfiles.load_module_py is original
    versions = tmp_path / "versions"
    assert sorted(loaded) == [("a1_x_py", versions / "a1_x.py"), ("b2_x_py", versions / "b2_x.py")]
    module = script.get_revision("b2").module
    assert (module.__name__, module.__file__) == ("b2_x_py", str(tmp_path / "versions" / "b2_x.py"))
