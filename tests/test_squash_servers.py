"""A synthetic component with cross-component dependencies squashed on PostgreSQL and MariaDB (issue 26's
"Done when": the SQLite cases are in test_squash_synthetic.py): the squash is proven on the server,
its dependents rewired, and databases at every replaced revision, fresh ones and finished ones reach
the same catalog."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest
from support.databases import temporary_database
from support.running import migrate, shown
from test_squash import catalog, proof_url
from test_squash_synthetic import Tree

from memstack.testing.snapshot import describe_difference


@pytest.mark.slow_faults  # about a minute a server: scratch proofs and seven databases
@pytest.mark.parametrize("kind", [pytest.param("postgres", marks=pytest.mark.postgres),
                                  pytest.param("mariadb", marks=pytest.mark.mariadb)])
def test_synthetic_squash_on_a_server(kind: str, make_component: Callable[..., str], tmp_path: Path) -> None:
    tree = Tree(make_component, tmp_path / "project")
    names = ("old", "fresh", "A1", "A2", "A3", "B1")
    with ExitStack() as stack:
        urls = {name: stack.enter_context(temporary_database(kind)) for name in names}
        migrate(tree.project, urls["old"])
        expected = catalog(urls["old"])
        for number in ("A1", "A2", "A3"):
            migrate(tree.project, urls[number], tree.a, number[1])
        migrate(tree.project, urls["B1"], tree.b, "0001")  # A1, A2 and B1
        report = tree.squash("0003", proof_url=(proof_url(kind),))
        squash = report["squashes"][0]
        assert len(squash["replaces"]) == 3
        assert [p["dialect"] for p in report["proof"]][1:] == [
            "postgresql" if kind == "postgres" else "mysql"] and all(p["agrees"] for p in report["proof"])

        steps = migrate(tree.project, urls["fresh"]).steps()
        assert [s[2] for s in steps if s[1] == tree.a] == [squash["name"], "0004_a4"]
        for name, url in urls.items():
            if name not in ("old", "fresh"):
                migrate(tree.project, url)
            assert describe_difference(expected, catalog(url)) == [], name
            assert all(shown(tree.project, url).values()), name
