"""The project of an application that calls memstack from its own code (the start-up call).

A service manager starts the application from ``/`` or its home folder, not the project root:
the working directory then finds nothing, but the calling module's file (or ``__main__``'s)
lies inside the project. Its error names what the application can pass, not the CLI's options.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import FrameType

from memstack.core.errors import ConfigurationError
from memstack.core.settings import find_project_root


def caller_file(frame: FrameType | None) -> str | None:
    """The file of the first frame outside memstack (the application's module), if any."""
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name != "memstack" and not name.startswith("memstack."):
            return frame.f_code.co_filename
        frame = frame.f_back
    return None


def project_for_caller(project_dir: str | os.PathLike[str] | None, caller: str | None) -> Path | None:
    """``project_dir`` when given (or MEMSTACK_PROJECT_DIR set, None: settings read it); else the
    project above the working directory, the caller's file, or ``__main__``'s file."""
    if project_dir is not None:
        return Path(project_dir)
    if os.environ.get("MEMSTACK_PROJECT_DIR"):
        return None
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    starts = [Path.cwd()] + [Path(f).resolve().parent for f in (caller, main) if f and Path(f).is_file()]
    for start in starts:
        try:
            return find_project_root(start, environ={})
        except ConfigurationError as exc:
            if not exc.message.startswith("no memstack project found"):
                raise  # a project, broken (its pyproject.toml is not valid TOML): said as it is
            continue
    raise ConfigurationError(
        f"no memstack project found above the working directory {Path.cwd()}"
        + (f" nor above the calling module {caller}" if caller else ""),
        hint="pass project_dir= to migrate_on_startup (the folder holding pyproject.toml with [tool.memstack]), "
        "or set MEMSTACK_PROJECT_DIR",
    )
