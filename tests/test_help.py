"""``manage.py COMMAND --help`` of every built-in command, through the real entry point.

A newcomer's first stop: each page must exit 0, show its usage line and say what the command
does (a description) and show how (an example).
"""

from __future__ import annotations

import pkgutil
import re

import pytest
from support.projects import REPO_ROOT
from support.running import manage

import memstack.cli.commands

BUILT_IN = sorted(module.name for module in pkgutil.iter_modules(memstack.cli.commands.__path__)
                  if not module.name.startswith("_"))


def test_every_built_in_command_is_listed_by_the_top_level_help() -> None:
    result = manage(REPO_ROOT, None, "--help")
    assert result.code == 0, result
    listed = set(re.findall(r"^  ([a-z]+)  ", result.out, re.M))
    assert set(BUILT_IN) <= listed


@pytest.mark.parametrize("name", BUILT_IN)
def test_help_of_a_built_in_command(name: str) -> None:
    result = manage(REPO_ROOT, None, name, "--help")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith(f"Usage: manage.py {name} "), result
    description = [line for line in lines[1:] if line.strip() and not line.startswith("Options:")]
    assert description and not description[0].lstrip().startswith("-"), f"{name}: no description\n{result.out}"
    examples = result.out.split("Example", 1)[-1] if "Example" in result.out else ""
    assert re.search(rf"^\s+.*manage\.py .*\b{name}\b", examples, re.M), f"{name}: no example\n{result.out}"
    assert "Options:" in result.out
    assert "Traceback" not in result.text
