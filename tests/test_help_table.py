"""The static short-help table ``--help`` lists built-in commands from, against the commands."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from memstack.cli import BUILTIN_COMMANDS, SHORT_HELP


def test_the_table_names_every_built_in_command() -> None:
    assert set(SHORT_HELP) == set(BUILTIN_COMMANDS)


@pytest.mark.parametrize("name", sorted(BUILTIN_COMMANDS))
def test_the_table_says_what_the_command_says(name: str) -> None:
    command = importlib.import_module(BUILTIN_COMMANDS[name]).command
    assert isinstance(command, click.Command)
    assert not command.hidden and not command.deprecated
    assert SHORT_HELP[name] == command.get_short_help_str(limit=10_000)


def test_top_level_help_imports_no_command_module() -> None:
    code = ("import sys\nfrom memstack.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('memstack.cli.commands.')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_start_here_names_onboard_first() -> None:
    """A newcomer's first command (issue 24): ``onboard`` leads the "Start here" lines."""
    from click.testing import CliRunner

    from memstack.cli import cli

    result = CliRunner().invoke(cli, ["--help"])
    start = result.output.split("Start here:", 1)[1].splitlines()
    lines = [line.strip() for line in start if line.strip()]
    assert lines[0].startswith("manage.py onboard")
    assert "create, migrate, seed" in lines[0]
