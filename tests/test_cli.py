"""The click layer: the components command, command discovery, call_command, the error boundary."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.projects import LABELS, REPO_ROOT, write_pyproject
from support.running import Terminal, main_exit

import memstack
from memstack.cli import call_command, cli, main
from memstack.cli.context import AppContext
from memstack.core.errors import ConfigurationError, MemstackError

ANSI = "\x1b["

HELLO = '''
import click


@click.command(short_help="Say hello from a component.")
@click.option("--name", default="world")
def command(name: str) -> None:
    """Say hello."""
    click.echo(f"hello {name}")
'''

BROKEN = 'raise ImportError("simulated: optional dependency frobnicate is missing")\n'

NO_COMMAND = "x = 1  # forgot to define `command`\n"

EXPLODES = '''
import click


@click.command()
def command() -> None:
    raise RuntimeError("kaboom inside a command")
'''


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=AppContext())




@pytest.fixture
def cmd_project(tmp_path: Path, make_component) -> tuple[Path, str]:
    """A project whose own component ships hello, broken, nocommand, explodes and multi_word."""
    package = make_component({
        "commands/hello.py": HELLO,
        "commands/broken.py": BROKEN,
        "commands/nocommand.py": NO_COMMAND,
        "commands/explodes.py": EXPLODES,
        "commands/multi_word.py": HELLO,
        "commands/_helpers.py": "",
    }, prefix="cmds")
    root = tmp_path / "cmdproject"
    write_pyproject(root, ["memstack.memo", package])
    return root, package


# --------------------------------------------------------------------------- components


def test_components_text(project: Path) -> None:
    result = invoke("--project-dir", str(project), "components")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "auth  (memstack.auth)  migrations: migrations/auth"
    assert lines[1].strip() == "tables: api_keys, permissions, role_permissions, roles, user_roles, users"
    assert [line.split()[0] for line in lines[::2]] == LABELS
    assert "    tables: task_logs" in lines
    assert ANSI not in result.output


def test_components_json(project: Path) -> None:
    result = invoke("--project-dir", str(project), "components", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["label"] for row in rows] == LABELS
    for row in rows:
        assert set(row) == {"label", "package", "tables", "migrations_path"}
        assert row["package"] == f"memstack.{row['label']}"
        assert row["migrations_path"] == f"migrations/{row['label']}"
    by_label = {row["label"]: row for row in rows}
    assert by_label["ontology"]["tables"] == ["edge_type_maps", "edge_types", "entity_types"]
    assert by_label["memory"]["tables"] == ["memories"]
    assert sum(len(row["tables"]) for row in rows) == 16
    assert result.stderr == ""


def test_global_options_after_the_command_name(project: Path) -> None:
    result = invoke("components", "--json", "--project-dir", str(project), "-v", "0")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 7


def test_project_dir_from_the_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMSTACK_PROJECT_DIR", str(project))
    result = invoke("components", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 7


def test_components_from_a_subfolder(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = project / "some" / "where"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = invoke("components", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["migrations_path"] == "migrations/auth"


# --------------------------------------------------------------------------- discovery


def test_component_command_is_listed_and_runs(cmd_project: tuple[Path, str]) -> None:
    root, _package = cmd_project
    help_result = invoke("--project-dir", str(root), "--help")
    assert help_result.exit_code == 0, help_result.output
    assert "hello" in help_result.stdout
    assert "Say hello from a component." in help_result.stdout
    assert "multi-word" in help_result.stdout
    assert "_helpers" not in help_result.stdout and "helpers" not in help_result.stdout
    assert "components" in help_result.stdout

    result = invoke("--project-dir", str(root), "hello", "--name", "memstack")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello memstack\n"
    assert invoke("--project-dir", str(root), "multi-word").stdout == "hello world\n"
    assert "Say hello." in invoke("--project-dir", str(root), "hello", "--help").stdout


def test_component_commands_need_the_project(cmd_project: tuple[Path, str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no project here: only the built-in commands
    result = invoke("--help")
    assert result.exit_code == 0, result.output
    assert "components" in result.stdout
    assert "hello" not in result.stdout


def test_broken_command_is_listed_as_failed(cmd_project: tuple[Path, str]) -> None:
    root, _package = cmd_project
    result = invoke("--project-dir", str(root), "--help")
    assert result.exit_code == 0, result.output
    broken_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("broken"))
    assert "failed to load" in broken_line
    nocommand_line = next(line for line in result.stdout.splitlines() if line.strip().startswith("nocommand"))
    assert "failed to load" in nocommand_line


def test_running_a_broken_command_exits_1(cmd_project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, package = cmd_project
    code, out, err = main_exit(capsys, "--project-dir", str(root), "broken")
    assert code == 1
    assert out == ""
    assert f"command 'broken' failed to load from {package}.commands.broken" in err
    assert "ImportError: simulated: optional dependency frobnicate is missing" in err
    assert "Traceback" not in err

    code, _out, err = main_exit(capsys, "--project-dir", str(root), "nocommand")
    assert code == 1
    assert "failed to load" in err

    # the others still work
    code, out, _err = main_exit(capsys, "--project-dir", str(root), "hello")
    assert (code, out) == (0, "hello world\n")
    code, out, _err = main_exit(capsys, "--project-dir", str(root), "components", "--json")
    assert code == 0
    assert [row["label"] for row in json.loads(out)] == ["memo", package]


def test_broken_command_with_traceback(cmd_project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, _package = cmd_project
    code, _out, err = main_exit(capsys, "--traceback", "--project-dir", str(root), "broken")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "broken.py" in err


# --------------------------------------------------------------------------- call_command


def test_call_command_prints_to_the_given_stream(project: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    result = call_command("components", json=True, project_dir=str(project), stdout=out, stderr=err)
    assert result is None
    rows = json.loads(out.getvalue())
    assert [row["label"] for row in rows] == LABELS
    assert err.getvalue() == ""


def test_call_command_from_the_package(project: Path) -> None:
    out = io.StringIO()
    memstack.call_command("components", project_dir=project, stdout=out)
    assert out.getvalue().startswith("auth  (memstack.auth)")


def test_call_command_component_command(cmd_project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, _package = cmd_project
    call_command("hello", name="there", project_dir=str(root))  # an option called "name", too
    assert capsys.readouterr().out == "hello there\n"
    memstack.call_command("hello", "--name", "again", project_dir=str(root))
    assert capsys.readouterr().out == "hello again\n"
    memstack.call_command("hello", name="third", project_dir=str(root))
    assert capsys.readouterr().out == "hello third\n"


def test_call_command_raises_instead_of_exiting(tmp_path: Path, project: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a memstack project"):
        call_command("components", project_dir=str(tmp_path / "nowhere"), stdout=io.StringIO())
    with pytest.raises(MemstackError, match="Did you mean 'components'"):
        call_command("componets", project_dir=str(project))
    with pytest.raises(MemstackError, match="--bogus"):
        call_command("components", bogus=True, project_dir=str(project), stdout=io.StringIO())


def test_call_command_words_a_database_error_a_command_lets_through(project: Path) -> None:
    """onboard reads the database outside ``open_workspace``: its driver error is worded as on the
    command line (no password, a fix line), not passed on raw."""
    url = "postgresql+psycopg://postgres:sekrit@127.0.0.1:1/nowhere"  # port 1: refused at once
    with pytest.raises(MemstackError, match="cannot use the database") as raised:
        call_command("onboard", database_url=url, project_dir=str(project), stdout=io.StringIO(), stderr=io.StringIO())
    assert "sekrit" not in str(raised.value) and "fix:" in str(raised.value)


def test_call_command_raises_for_a_broken_command(cmd_project: tuple[Path, str]) -> None:
    root, _package = cmd_project
    with pytest.raises(MemstackError, match="failed to load"):
        call_command("broken", project_dir=str(root))


def test_call_command_options_are_per_call(project: Path, tmp_path: Path) -> None:
    call_command("components", project_dir=str(project), stdout=io.StringIO())
    with pytest.raises(MemstackError):  # nothing of the previous call sticks
        call_command("components", project_dir=str(tmp_path / "nowhere"), stdout=io.StringIO())


# --------------------------------------------------------------------------- exit statuses


def test_exit_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = main_exit(capsys, "--project-dir", str(project), "components")
    assert code == 0
    assert out.startswith("auth")
    assert main_exit(capsys, "--help").code == 0
    code, out, _err = main_exit(capsys, "--version")
    assert code == 0
    assert memstack.__version__ in out


def test_exit_1_unknown_project_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = main_exit(capsys, "--project-dir", str(tmp_path / "nowhere"), "components")
    assert code == 1
    assert out == ""
    assert err.startswith("error: ")
    assert "is not a memstack project" in err
    assert "fix: " in err


@pytest.mark.parametrize(("pyproject", "message"), [
    ('[tool.memstack]\ncomponents = "memstack.auth"\n', "must be a list"),
    ('[tool.memstack]\ncomponents = ["memstack.auth", "memstack.nope"]\n', "'memstack.nope' cannot be found"),
    ('[tool.memstack]\nlock_timeout = "soon"\n', "lock_timeout"),
    ('[tool.memstack]\ndatabase_url = "oracle://scott:tiger@h/orcl"\n', "unsupported database URL scheme"),
], ids=["components-not-a-list", "unknown-package", "bad-lock-timeout", "unsupported-url"])
def test_exit_1_bad_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str], pyproject: str,
                                  message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(pyproject)
    # showmigrations needs the database (components alone does not read the URL)
    code, _out, err = main_exit(capsys, "--project-dir", str(tmp_path), "showmigrations")
    assert code == 1
    assert message in err
    assert "tiger" not in err
    assert "Traceback" not in err


def test_exit_1_unexpected_exception(cmd_project: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    root, _package = cmd_project
    code, _out, err = main_exit(capsys, "--project-dir", str(root), "explodes")
    assert code == 1
    assert "error: unexpected RuntimeError: kaboom inside a command" in err
    assert "--traceback" in err
    assert "Traceback" not in err


def test_exit_2_unknown_command_suggests_the_closest(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = main_exit(capsys, "--project-dir", str(project), "componets")
    assert code == 2
    assert out == ""
    assert "Unknown command 'componets'" in err
    assert "Did you mean 'components'?" in err


def test_exit_2_unknown_command_without_a_close_match(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = main_exit(capsys, "xyzzyplugh")
    assert code == 2
    assert "Unknown command 'xyzzyplugh'" in err
    assert "Did you mean" not in err


@pytest.mark.parametrize("args", [
    ["--bogus", "components"],
    ["components", "--bogus"],
    ["-v", "9", "components"],
], ids=["global-option", "command-option", "bad-value"])
def test_exit_2_usage_errors(project: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = main_exit(capsys, "--project-dir", str(project), *args)
    assert code == 2
    assert out == ""
    assert "Usage:" in err or "Error:" in err


# --------------------------------------------------------------------------- --traceback


@pytest.mark.parametrize("where", ["before", "after"])
def test_traceback_option(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    nowhere = ["--project-dir", str(tmp_path / "nowhere")]
    args = ["--traceback", *nowhere, "components"] if where == "before" else [*nowhere, "components", "--traceback"]
    code, _out, err = main_exit(capsys, *args)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "ConfigurationError" in err
    assert "error: " in err  # the message is still shown

    code, _out, err = main_exit(capsys, *nowhere, "components")
    assert code == 1
    assert "Traceback" not in err


def test_traceback_for_an_unexpected_exception(cmd_project: tuple[Path, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    root, _package = cmd_project
    code, _out, err = main_exit(capsys, "--traceback", "--project-dir", str(root), "explodes")
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: kaboom inside a command" in err


# --------------------------------------------------------------------------- colour


def test_colour_on_a_terminal_and_not_with_no_color(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = Terminal(), Terminal()
    call_command("components", project_dir=str(project), stdout=out, stderr=err)
    assert ANSI in out.getvalue()  # sanity: a terminal gets colour, so the checks below mean something

    out, err = Terminal(), Terminal()
    call_command("components", project_dir=str(project), stdout=out, stderr=err, no_color=True)
    assert ANSI not in out.getvalue() + err.getvalue()

    monkeypatch.setenv("NO_COLOR", "1")
    out, err = Terminal(), Terminal()
    call_command("components", project_dir=str(project), stdout=out, stderr=err)
    assert ANSI not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("how", ["terminal", "--no-color", "NO_COLOR"])
def test_error_colour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    args = ["--project-dir", str(tmp_path / "nowhere"), "components"]
    if how == "--no-color":
        args.insert(0, "--no-color")
    if how == "NO_COLOR":
        monkeypatch.setenv("NO_COLOR", "1")
    with pytest.raises(SystemExit) as excinfo:
        main(args)
    assert excinfo.value.code == 1
    assert "is not a memstack project" in stderr.getvalue()
    assert (ANSI in stderr.getvalue()) is (how == "terminal")


def test_no_color_in_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    with pytest.raises(SystemExit) as excinfo:
        main(["--no-color", "componets"])
    assert excinfo.value.code == 2
    assert ANSI not in stderr.getvalue()


# --------------------------------------------------------------------------- real processes


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_manage_py_components_from_the_repo_root() -> None:
    proc = run(["manage.py", "components", "--json"], REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [row["label"] for row in rows][:7] == LABELS
    assert rows[0]["migrations_path"] == "migrations/auth"


def test_python_m_memstack_help_from_the_repo_root() -> None:
    proc = run(["-m", "memstack", "--help"], REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "components" in proc.stdout
    assert "Usage:" in proc.stdout


def test_both_entry_points_from_a_project_subfolder(project: Path) -> None:
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    for args in (["-m", "memstack", "components", "--json"], [str(REPO_ROOT / "manage.py"), "components", "--json"]):
        proc = run(args, sub)
        assert proc.returncode == 0, proc.stderr
        rows = json.loads(proc.stdout)
        assert [row["label"] for row in rows] == LABELS
        assert rows[3]["migrations_path"] == "migrations/memory"


def test_unknown_command_exit_status_in_a_process(project: Path) -> None:
    proc = run(["-m", "memstack", "componets"], project)
    assert proc.returncode == 2
    assert "Did you mean 'components'?" in proc.stderr
    assert proc.stdout == ""


def test_components_works_with_a_bad_database_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.memstack]\ncomponents = ["memstack.memo"]\n')
    code, out, _err = main_exit(capsys, "--project-dir", str(tmp_path), "--database-url", "oracle://u:pw@h/x",
                               "components")
    assert code == 0
    assert "memo" in out
