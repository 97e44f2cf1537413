"""``squashmigrations --cleanup`` over a fleet (``--targets``, ``--schemas``): every target is read, the
ones not past the squash are named and nothing is removed; once all are past, each one is settled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.databases import sqlite_url_for
from support.fleets import make_schemas, migrate_target, version_rows, workspace
from support.projects import write_pyproject
from support.running import cli, migrate
from test_squash_synthetic import Tree

from memstack.engine.fleet.targets import Target


def test_cleanup_checks_every_target_of_a_file(make_component: Callable[..., str], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Tree(make_component, tmp_path / "project")
    past = [sqlite_url_for(tmp_path, f"past{i}.db") for i in range(2)]
    behind = sqlite_url_for(tmp_path, "behind.db")
    for url in past:
        migrate(tree.project, url)
    migrate(tree.project, behind, tree.a, "0001")
    squash = tree.squash("0003")["squashes"][0]
    before = tree.files(tree.a)
    listing = tmp_path / "tenants.txt"
    gone = f"sqlite:///{tmp_path}/no/such/folder/gone.db"
    listing.write_text("\n".join(["# the fleet", *past, behind, gone]) + "\n")

    refused = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
                  "--targets", str(listing))
    assert refused.code == 1, refused
    assert "behind.db (not past" in refused.err and squash["name"] in refused.err
    assert "gone.db (could not be read" in refused.err
    assert "past0.db" not in refused.err and "past1.db" not in refused.err
    assert tree.files(tree.a) == before  # nothing removed
    query = " UNION ALL ".join(f"SELECT '{url}'" for url in [*past, behind])  # run on the configured database
    by_query = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
                   "--targets-sql", query)
    assert by_query.code == 1 and "behind.db (not past" in by_query.err and "past0.db" not in by_query.err, by_query
    assert tree.files(tree.a) == before

    sharded = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
                  "--targets", str(listing), "--shard", "1/2")
    assert sharded.code == 2 and "--shard" in sharded.err, sharded
    squashing = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", tree.a, "0004",
                    "--targets", str(listing))
    assert squashing.code == 2 and "--cleanup" in squashing.err, squashing

    migrate(tree.project, behind)
    listing.write_text("\n".join([*past, behind]) + "\n")
    done = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
               "--targets", str(listing))
    assert done.code == 0, done
    assert "3 database(s) checked" in done.err + done.out
    assert tree.files(tree.a) == [f"{squash['name']}.py", "0004_a4.py"]
    for url in [*past, behind]:
        rows = version_rows(Target(url))
        assert not rows & {tree.ids["A1"], tree.ids["A2"], tree.ids["A3"]}, url
        assert migrate(tree.project, url).steps() == []


@pytest.mark.postgres
@pytest.mark.slow_faults  # about 30 s: scratch proofs and schemas on the server
def test_cleanup_over_schemas_names_the_schema_behind(make_component: Callable[..., str], tmp_path: Path,
                                                      postgres_url: str, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Tree(make_component, tmp_path / "project")
    monkeypatch.setenv("MEMSTACK_DATABASE_URL", postgres_url)
    ahead, late = make_schemas(postgres_url, ["sqf_ahead", "sqf_late"])
    ws = workspace(tree.project, postgres_url)
    migrate_target(ws, ahead)
    migrate_target(ws, late, tree.b)  # A1, A2 (B1 needs A2), B1, B2: not A3
    squash = tree.squash("0003")["squashes"][0]
    before = tree.files(tree.a)

    refused = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
                  "--schemas", "sqf_%")
    assert refused.code == 1, refused
    assert "#schema=sqf_late (not past" in refused.err and "sqf_ahead" not in refused.err
    assert tree.files(tree.a) == before

    ran = cli(capsys, monkeypatch, tree.project, None, "migrate", "--schemas", "sqf_%")
    assert ran.code == 0, ran
    done = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
               "--schemas", "sqf_%", "--json")
    assert done.code == 0, done
    assert tree.files(tree.a) == [f"{squash['name']}.py", "0004_a4.py"]
    for target in (ahead, late):
        assert not version_rows(target) & {tree.ids["A1"], tree.ids["A2"], tree.ids["A3"]}
    again = cli(capsys, monkeypatch, tree.project, None, "showmigrations", "--schemas", "sqf_%", "--json")
    assert again.code == 0 and '"behind"' not in again.out, again


def test_a_shared_component_is_not_cleaned_up_on_targets(make_component: Callable[..., str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tree = Tree(make_component, tmp_path / "project")
    url = sqlite_url_for(tmp_path, "tenant.db")
    migrate(tree.project, url)
    tree.squash("0003")
    write_pyproject(tree.project, [tree.a, tree.b], extra=f'tenant_components = ["{tree.b}"]')
    before = tree.files(tree.a)
    listing = tmp_path / "tenants.txt"
    listing.write_text(url + "\n")
    refused = cli(capsys, monkeypatch, tree.project, None, "squashmigrations", "--cleanup", tree.a,
                  "--targets", str(listing))
    assert refused.code == 1 and "shared component" in refused.err and "--database-url" in refused.err, refused
    assert tree.files(tree.a) == before
