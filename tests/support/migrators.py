"""A ``manage.py`` running in the background, for fault tests: read its stderr while it runs,
send it a signal, wait for it to end.

Waits are on real events (a line the child prints, a lock the server shows), never fixed sleeps.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from support.running import Result, manage_argv, signals_as_a_terminal_sends_them, subprocess_env


def signal_masks(pid: int) -> str:
    """The process's blocked, ignored and caught signal masks (``/proc``), for a failure's message."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError as exc:
        return f"({exc})"
    return " ".join(line.replace("\t", "") for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


class Migrator:
    """``python manage.py --project-dir P --database-url U ARGS`` started now, stdout/stderr collected."""

    def __init__(self, project: Path, url: str, *args: str, pythonpath: Sequence[Path] = (), **env: str) -> None:
        self.process = subprocess.Popen(
            manage_argv(project, *args, url=url), cwd=project, env=subprocess_env(None, pythonpath, **env),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=signals_as_a_terminal_sends_them)
        self._out: list[str] = []
        self._err: list[str] = []
        self.signals_before = ""  # the child's signal masks as a signal was sent (send)
        self._readers = [threading.Thread(target=self._read, args=(stream, into), daemon=True)
                         for stream, into in ((self.process.stdout, self._out), (self.process.stderr, self._err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.append(line)

    @property
    def err(self) -> str:
        return "".join(self._err)

    @property
    def out(self) -> str:
        return "".join(self._out)

    def wait_for_err(self, fragment: str, timeout: float = 60) -> None:
        """Until stderr holds ``fragment`` (fails if the process ends first or time runs out)."""
        wait_until(lambda: fragment in self.err, timeout, f"{fragment!r} on stderr",
                   stop=lambda: self.process.poll() is not None and fragment not in self.err,
                   detail=lambda: self.err)

    def send(self, signal_number: int) -> None:
        self.signals_before = signal_masks(self.process.pid)
        self.process.send_signal(signal_number)

    def finish(self, timeout: float = 120) -> Result:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(10)
        return Result(code, self.out, self.err)

    def __enter__(self) -> Migrator:
        return self

    def __exit__(self, *_: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, *,
               stop: Callable[[], bool] = lambda: False, detail: Callable[[], str] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if stop() or time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}\n{detail()}")
        time.sleep(0.05)

