"""Hints name the command the person ran, spelled where they are written (issue 22).

The CLI boundary learns the program once (``sys.argv[0]``: ``memstack`` for the console script
and ``python -m memstack``, ``manage.py`` otherwise) and the wordings build their commands from
it; no finished text is rewritten, so a ``manage.py`` that is data (a path, a revision's text)
is printed as it is.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from support.running import cli

from memstack.cli.context import AppContext
from memstack.cli.errors import fix_text, for_person, spell_fix
from memstack.cli.worded import command, program_of, ran_as
from memstack.engine.errors import TagExists, UnknownTag
from memstack.engine.review.checks import run


@pytest.mark.parametrize(("argv0", "program"), [
    ("/venv/bin/memstack", "memstack"), ("/usr/lib/python3/site-packages/memstack/__main__.py", "memstack"),
    ("manage.py", "manage.py"), ("/srv/app/manage.py", "manage.py"), ("", "manage.py"),
])
def test_program_from_argv(argv0: str, program: str) -> None:
    assert program_of(argv0) == program


def test_wordings_and_fixes_are_spelled_for_the_program() -> None:
    assert for_person(TagExists("v1")).hint == "delete it first with 'manage.py tag --delete v1'"  # the default
    with ran_as("memstack"):
        assert command("migrate", "memo") == "memstack migrate memo"
        assert for_person(TagExists("v1")).hint == "delete it first with 'memstack tag --delete v1'"
        assert spell_fix(run("makemigrations", "shop")) == "memstack makemigrations shop"
        assert fix_text(None, UnknownTag("v2")) == "list them with 'memstack tag --list'"
    assert command("migrate") == "manage.py migrate"  # the block's end puts the default back


def test_text_that_is_data_is_not_rewritten() -> None:
    err = io.StringIO()
    app = AppContext(stderr=err)
    with ran_as("memstack"):
        app.info("read /srv/app/manage.py and 'manage.py migrate' in the runbook")
        app.warn("manage.py is the checkout's script")
    assert err.getvalue().splitlines() == ["read /srv/app/manage.py and 'manage.py migrate' in the runbook",
                                           "warning: manage.py is the checkout's script"]


def test_the_console_script_spells_memstack(project: Path, migrated_sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(Path(sys.prefix) / "bin" / "memstack")])
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "tag", "--delete", "nope")
    assert result.code == 1 and "fix: list them with 'memstack tag --list'" in result.err, result.err
    monkeypatch.setattr(sys, "argv", ["manage.py"])
    result = cli(capsys, monkeypatch, project, migrated_sqlite_url, "tag", "--delete", "nope")
    assert result.code == 1 and "fix: list them with 'manage.py tag --list'" in result.err, result.err
