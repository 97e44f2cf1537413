"""Running memstack the ways its users do: ``call_command``, ``main()`` in-process through the real
error boundary, and ``manage.py`` / ``alembic`` as subprocesses.

In-process runs see no terminal on stdin (confirmations refuse) unless a test types answers;
subprocesses get an environment without memstack's variables, so a developer's shell cannot
change results.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from memstack import call_command
from memstack.cli import main
from support.projects import MANAGE_PY

VENV_BIN = Path(sys.executable).parent

#: ``  Applying memory 0002_add_task_id ... OK (3 ms)``
STEP_LINE = re.compile(
    r"^\s*(?P<verb>Applying|Unapplying) (?P<component>\w+) (?P<name>\d{4}_\w+) \.\.\. OK \((?P<ms>\d+) ms\)$"
)


# --------------------------------------------------------------------------- call_command


@dataclass
class Output:
    """What ``call_command`` wrote."""

    out: str
    err: str

    def steps(self) -> list[tuple[str, str, str]]:
        """(verb, component, name) of every step line on stderr, in order."""
        found = []
        for line in self.err.splitlines():
            match = STEP_LINE.match(line)
            if match:
                found.append((match["verb"], match["component"], match["name"]))
        return found


def call(project: Path, url: str | None, name: str, *args: Any, **options: Any) -> Output:
    """``call_command`` with captured streams; raises MemstackError like the library does."""
    out, err = io.StringIO(), io.StringIO()
    if url is not None:
        options["database_url"] = url
    call_command(name, *args, project_dir=str(project), stdout=out, stderr=err, **options)
    return Output(out.getvalue(), err.getvalue())


def migrate(project: Path, url: str, *args: str, yes: bool = True) -> Output:
    """``migrate ARGS`` through ``call_command`` (confirmed, as a script would)."""
    return call(project, url, "migrate", *args, yes=yes)


def shown(project: Path, url: str, *components: str) -> dict[tuple[str, str], bool]:
    """``showmigrations --json``: {(component, name): applied}."""
    rows = json.loads(call(project, url, "showmigrations", *components, json=True).out)
    return {(row["component"], row["name"]): row["applied"] for row in rows}


def applied_set(project: Path, url: str) -> set[tuple[str, str]]:
    """The (component, name) pairs ``showmigrations`` reports as applied."""
    return {key for key, applied in shown(project, url).items() if applied}


# --------------------------------------------------------------------------- exits


@dataclass
class Result:
    """How a run of memstack ended: exit status and both streams. Unpacks as ``code, out, err``."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def __iter__(self) -> Iterator[Any]:
        return iter((self.code, self.out, self.err))

    def __repr__(self) -> str:  # shown by pytest when an assertion fails
        return f"Result(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-3000:]!r})"


def ok(result: Result) -> Result:
    """``result``, after asserting it exited 0 (the streams in the failure message)."""
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    return result


def json_of(result: Result) -> Any:
    """The JSON a successful run printed."""
    return json.loads(ok(result).out)


class Terminal(io.StringIO):
    """A text stream that says it is a terminal: typed answers on stdin, or output where colour would be used."""

    def isatty(self) -> bool:
        return True


def main_exit(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """``main(args)`` with stdin left as it is: the exit status and what it printed."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as excinfo:
        main(list(args))
    out, err = capsys.readouterr()
    code = excinfo.value.code
    return Result(code if isinstance(code, int) else (1 if code else 0), out, err)


def run_main(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
             terminal_input: str | None = None) -> Result:
    """``manage.py ARGS`` in-process through the real error boundary.

    stdin is not a terminal (confirmations refuse) unless ``terminal_input`` gives the typed answers.
    """
    monkeypatch.setattr(sys, "stdin", io.StringIO("") if terminal_input is None else Terminal(terminal_input))
    return main_exit(capsys, *args)


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, url: str | None,
        *args: str, terminal_input: str | None = None) -> Result:
    """``manage.py --project-dir P [--database-url U] ARGS`` in-process (see :func:`run_main`)."""
    argv = ["--project-dir", str(project)]
    if url is not None:
        argv += ["--database-url", url]
    return run_main(capsys, monkeypatch, *argv, *args, terminal_input=terminal_input)


def history_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, project: Path, url: str,
                 *args: str) -> list[dict[str, Any]]:
    """``history --json ARGS``, asserted to succeed."""
    result = cli(capsys, monkeypatch, project, url, "history", "--json", *args)
    assert result.code == 0, result
    return json.loads(result.out)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- subprocesses


def subprocess_env(url: str | None = None, pythonpath: Sequence[Path] = (), **extra: str) -> dict[str, str]:
    """The current environment without memstack's variables, plus ``MEMSTACK_DATABASE_URL`` and PYTHONPATH."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("MEMSTACK_") or k in ("DATABASE_URL", "NO_COLOR", "PYTHONPATH")
                   or k.startswith("POSTGRES_"))}
    if url is not None:
        env["MEMSTACK_DATABASE_URL"] = url
    if "MEMSTACK_MODEL_CHECK" in os.environ:  # the test's choice (conftest: off unless a test turns it on)
        env["MEMSTACK_MODEL_CHECK"] = os.environ["MEMSTACK_MODEL_CHECK"]
    paths = [str(p) for p in pythonpath]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env.update(extra)
    return env


def signals_as_a_terminal_sends_them() -> None:
    """``preexec_fn`` of a child a test sends SIGINT or SIGTERM: both at their default and unblocked.

    An ignored or blocked signal survives exec, and CI may start the suite with SIGINT ignored (a
    background job) or blocked; the child (Python) then never sees the Ctrl-C the test sends it.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run(argv: Sequence[str | Path], cwd: Path, url: str | None = None, timeout: float = 120,
        **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run a program with no terminal on stdin; returns the finished process (never raises on status)."""
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=subprocess_env(url, **extra_env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)


def manage_argv(project: Path, *args: str, url: str | None = None, find_project: bool = False) -> list[str]:
    """``python manage.py [--project-dir P] [--database-url U] ARGS``.

    ``find_project``: leave ``--project-dir`` out, so manage.py must find the project from its cwd.
    """
    argv = [sys.executable, str(MANAGE_PY)]
    if not find_project:
        argv += ["--project-dir", str(project)]
    if url is not None:
        argv += ["--database-url", url]
    return [*argv, *args]


def _finished(argv: Sequence[str | Path], cwd: Path, env: dict[str, str], timeout: float) -> Result:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def manage(project: Path, url: str | None, *args: str, pythonpath: Sequence[Path] = (), timeout: float = 120,
           env_url: str | None = None, find_project: bool = False, **extra_env: str) -> Result:
    """``python manage.py --project-dir P [--database-url U] ARGS`` in a subprocess (cwd = the project).

    ``env_url`` passes a URL through ``MEMSTACK_DATABASE_URL`` instead; ``find_project`` leaves
    ``--project-dir`` out.
    """
    return _finished(manage_argv(project, *args, url=url, find_project=find_project), project,
                     subprocess_env(env_url, pythonpath, **extra_env), timeout)


def python_m_memstack(project: Path, url: str, *args: str, stdin: str = "", find_project: bool = False,
                      pythonpath: Sequence[Path] = (), timeout: float = 120) -> Result:
    """``python -m memstack [--project-dir P] --database-url U ARGS`` in its own process (cwd = the project),
    with ``stdin`` as its input (not a terminal); clients it starts write to the real streams."""
    argv = [sys.executable, "-m", "memstack", *([] if find_project else ["--project-dir", str(project)]),
            "--database-url", url, *args]
    proc = subprocess.run(argv, cwd=project, env=subprocess_env(None, pythonpath), input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def spawn_manage(project: Path, url: str | None, *args: str, pythonpath: Sequence[Path] = (),
                 **extra_env: str) -> subprocess.Popen[str]:
    """Start ``manage.py ARGS`` in the background (stdout/stderr piped)."""
    return subprocess.Popen(manage_argv(project, *args, url=url), cwd=project,
                            env=subprocess_env(None, pythonpath, **extra_env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=signals_as_a_terminal_sends_them)


def alembic(project: Path, url: str | None, *args: str, use_config_option: bool = False, cwd: Path | None = None,
            pythonpath: Sequence[Path] = (), **extra_env: str) -> Result:
    """The plain ``alembic`` command with ``MEMSTACK_DATABASE_URL``, run from the project root
    (or from ``cwd`` with ``-c <project>/pyproject.toml``)."""
    argv: list[str | Path] = [VENV_BIN / "alembic"]
    if use_config_option:
        argv += ["-c", project / "pyproject.toml"]
    # this checkout's memstack, not the venv's (an editable install may point at another checkout)
    paths = [*pythonpath, MANAGE_PY.parent]
    return _finished([*argv, *args], cwd or project, subprocess_env(url, paths, **extra_env), 120)
