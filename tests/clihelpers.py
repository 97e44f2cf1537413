"""Running ``manage.py`` in-process through its real error boundary."""

from __future__ import annotations

import pytest

from memstack.cli import main


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``main(args)``: (exit status, stdout, stderr)."""
    with pytest.raises(SystemExit) as excinfo:
        main(list(args))
    out, err = capsys.readouterr()
    code = excinfo.value.code
    return (code if isinstance(code, int) else 1 if code else 0), out, err
